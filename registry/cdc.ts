/**
 * Change data capture of the registry: the Debezium PostgreSQL connector in Kafka Connect
 * streams registry.sites|drivers|devices|alert_rules into the compacted topics
 * registry.sites|drivers|devices|rules (docs/registry.md "CDC").
 *
 * The connector's configuration is pure and built here (`connectorConfig`), so the format
 * of the topics — the contract with their readers (registry/table.ts) — is one reviewed
 * function. `cdcUp` makes it so, idempotently: topics created, schema migrated (the
 * migration owns the publication), the configuration PUT to Connect, then it waits until
 * the connector and its task are RUNNING. `cdcDown` deletes the connector and then its
 * replication slot, which would otherwise hold WAL on the server forever.
 */
import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectConfig, PostgresConfig } from '../lib/config.ts';
import { FleetgridError } from '../lib/errors.ts';
import type { KafkaAdmin } from '../lib/kafka/index.ts';
import { type Clock, systemClock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import { retry } from '../lib/retry.ts';
import { readSecret, readSecretFile } from '../lib/secrets.ts';
import { DEFAULT_TOPIC_POLICY, ensureTopics, type TopicPolicy } from '../lib/topics.ts';
import { createPool, type Pool, toPostgresError } from './db.ts';
import { REGISTRY_SCHEMA } from './migrate.ts';
import { ENTITY_NAMES, TABLES } from './model.ts';
import { registryTopicNames, registryTopicSpecs } from './topics.ts';

/** The publication registry/migrations creates: exactly the four registry tables. */
export const REGISTRY_PUBLICATION = 'fleetgrid_registry';

export interface CdcNames {
  /** The Kafka Connect connector. */
  connector: string;
  /** The PostgreSQL replication slot (cluster-wide: one per connector). */
  slot: string;
  /** Debezium's topic.prefix (its logical server name); the registry topics are `<this>.<table>`. */
  serverName: string;
  heartbeatTopic: string;
}

/** Names derived from TOPIC_PREFIX, so that tests and environments sharing a cluster never meet. */
export function cdcNames(topicPrefix: string): CdcNames {
  // Slot names are [a-z0-9_], at most 63 characters: a prefix is represented by its hash.
  const slot =
    topicPrefix === ''
      ? 'fleetgrid_registry'
      : `fleetgrid_registry_${createHash('sha256').update(topicPrefix).digest('hex').slice(0, 12)}`;
  return {
    connector: `${topicPrefix}fleetgrid-registry-cdc`,
    slot,
    serverName: `${topicPrefix}registry`,
    heartbeatTopic: `${topicPrefix}registry.heartbeat`,
  };
}

export interface ConnectorOptions {
  topicPrefix: string;
  /** The database as the Connect worker reaches it. */
  database: { host: string; port: number; name: string };
  user: string;
  /**
   * What database.password says: a config-provider reference resolved by the worker (e.g.
   * `${file:/path/connect-secrets.properties:postgres.debezium.password}`), never the password
   * itself — a literal would be stored in Connect's config topic and shown by its REST API.
   */
  passwordRef: string;
  heartbeatIntervalMs: number;
}

const CONFIG_REFERENCE = /^\$\{[A-Za-z0-9_]+:[^}]+\}$/;

/** The Debezium connector's configuration: the format of the registry topics (docs/registry.md). */
export function connectorConfig(options: ConnectorOptions): Record<string, string> {
  if (!CONFIG_REFERENCE.test(options.passwordRef))
    throw new FleetgridError(
      'CONFIG_INVALID',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Kafka's config-provider syntax, not a template.
      'the CDC database password must be a config provider reference such as ${file:/path:key}, not a literal',
    );
  const names = cdcNames(options.topicPrefix);
  const tables = ENTITY_NAMES.map((name) => `${REGISTRY_SCHEMA}.${TABLES[name].table}`);
  const escaped = names.serverName.replace(/[.\\+*?^$()[\]{}|-]/g, '\\$&');
  return {
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    'tasks.max': '1',
    'database.hostname': options.database.host,
    'database.port': String(options.database.port),
    'database.dbname': options.database.name,
    'database.user': options.user,
    'database.password': options.passwordRef,
    // PostgreSQL's own logical decoding output plugin: nothing to install on the server.
    'plugin.name': 'pgoutput',
    'slot.name': names.slot,
    // The slot outlives a stopped connector: changes committed while Connect is down wait in
    // it. `fleetgrid registry cdc down` drops it when the connector is deleted.
    'slot.drop.on.stop': 'false',
    // The publication belongs to the schema (registry/migrations): Debezium only uses it.
    'publication.name': REGISTRY_PUBLICATION,
    'publication.autocreate.mode': 'disabled',
    'schema.include.list': REGISTRY_SCHEMA,
    'table.include.list': tables.join(','),
    'topic.prefix': names.serverName,
    // First start: every existing row (a snapshot), then the stream from the slot. Also a
    // snapshot again whenever the stored offset cannot be resumed (a slot dropped by
    // `cdc down` or invalidated, while Connect still holds the old connector's offsets):
    // 'initial' refused to start then, and readers fold a re-snapshot idempotently.
    'snapshot.mode': 'when_needed',
    // How long the task waits for a batch of changes to gather before it hands them to Connect:
    // the default 500 ms is most of the commit-to-topic latency (docs/benchmarks/registry.md);
    // master data changes rarely, so waking up more often costs nothing measurable.
    'poll.interval.ms': '50',
    'decimal.handling.mode': 'double',
    'tombstones.on.delete': 'true',
    // While the registry is quiet but other databases of the cluster write WAL, the slot
    // would hold all of it: the driver confirms the server's keepalive positions when no
    // change is outstanding, and heartbeats give the offsets a chance to move too.
    'lsn.flush.mode': 'connector_and_driver',
    'heartbeat.interval.ms': String(options.heartbeatIntervalMs),
    // Keep retrying while PostgreSQL is away (restart, failover) instead of failing the task.
    'errors.max.retries': '-1',
    'key.converter': 'org.apache.kafka.connect.storage.StringConverter',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter.schemas.enable': 'true',
    transforms: 'unwrap,route,routeRules,routeHeartbeat,key,heartbeatKey',
    // The row after the change, with the operation, the WAL position and the commit time;
    // a delete becomes a row marked __deleted=true (its key and LSN) followed by a tombstone.
    'transforms.unwrap.type': 'io.debezium.transforms.ExtractNewRecordState',
    'transforms.unwrap.delete.tombstone.handling.mode': 'rewrite-with-tombstone',
    'transforms.unwrap.add.fields': 'op,lsn,source.ts_ms',
    // <prefix>registry.registry.<table> → <prefix>registry.<entity>
    'transforms.route.type': 'org.apache.kafka.connect.transforms.RegexRouter',
    'transforms.route.regex': `(${escaped})\\.${REGISTRY_SCHEMA}\\.(sites|drivers|devices)`,
    'transforms.route.replacement': '$1.$2',
    'transforms.routeRules.type': 'org.apache.kafka.connect.transforms.RegexRouter',
    'transforms.routeRules.regex': `(${escaped})\\.${REGISTRY_SCHEMA}\\.alert_rules`,
    'transforms.routeRules.replacement': '$1.rules',
    'transforms.routeHeartbeat.type': 'org.apache.kafka.connect.transforms.RegexRouter',
    'transforms.routeHeartbeat.regex': `__debezium-heartbeat\\.(${escaped})`,
    'transforms.routeHeartbeat.replacement': '$1.heartbeat',
    // The key is the row id as a plain string; the heartbeat's, the server name.
    'transforms.key.type': 'org.apache.kafka.connect.transforms.ExtractField$Key',
    'transforms.key.field': 'id',
    'transforms.key.predicate': 'registryTable',
    'transforms.heartbeatKey.type': 'org.apache.kafka.connect.transforms.ExtractField$Key',
    'transforms.heartbeatKey.field': 'serverName',
    'transforms.heartbeatKey.predicate': 'registryTable',
    'transforms.heartbeatKey.negate': 'true',
    predicates: 'registryTable',
    'predicates.registryTable.type': 'org.apache.kafka.connect.transforms.predicates.TopicNameMatches',
    'predicates.registryTable.pattern': `${escaped}\\.(sites|drivers|devices|rules)`,
    // Topics Connect creates (the heartbeat's; `cdcUp` creates the registry topics itself).
    'topic.creation.default.partitions': '1',
    'topic.creation.default.replication.factor': '-1',
    'topic.creation.default.cleanup.policy': 'compact',
  };
}

export interface ConnectorState {
  connector: string;
  tasks: { id: number; state: string; trace?: string }[];
}

/** RUNNING connector with every task RUNNING (and at least one). */
export function isHealthy(state: ConnectorState | undefined): boolean {
  return (
    state !== undefined &&
    state.connector === 'RUNNING' &&
    state.tasks.length > 0 &&
    state.tasks.every((task) => task.state === 'RUNNING')
  );
}

// ---------------------------------------------------------------------------------------
// Kafka Connect's REST API

export interface ConnectClient {
  /** Creates or updates the connector (PUT /connectors/{name}/config): idempotent. */
  putConfig(name: string, config: Record<string, string>): Promise<{ created: boolean }>;
  status(name: string): Promise<ConnectorState | undefined>;
  config(name: string): Promise<Record<string, string> | undefined>;
  /** The source offset Connect has committed for the connector (Debezium's WAL position), if any. */
  committedLsn(name: string): Promise<number | undefined>;
  /** Deletes the connector; false when there was none. */
  remove(name: string): Promise<boolean>;
  /** Restarts the connector's failed instance and tasks (POST …/restart?onlyFailed=true). */
  restartFailed(name: string): Promise<void>;
}

export function createConnectClient(connect: ConnectConfig, timeoutMs = 10_000): ConnectClient {
  const authorization = connect.auth
    ? `Basic ${Buffer.from(`${connect.auth.username}:${connect.auth.password}`).toString('base64')}`
    : undefined;

  async function call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> {
    let response: Response;
    try {
      response = await fetch(`${connect.url}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(authorization ? { authorization } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new FleetgridError(
        'CONNECT_UNAVAILABLE',
        `Kafka Connect at ${connect.url}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const text = await response.text();
    let json: unknown = text;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      // Plain-text answers (401 from the basic-auth extension).
    }
    if (response.status === 401 || response.status === 403)
      throw new FleetgridError(
        'CONFIG_INVALID',
        `Kafka Connect at ${connect.url} refused the credentials (HTTP ${response.status}); set KAFKA_CONNECT_PASSWORD(_FILE)`,
      );
    // 409: a rebalance is in progress; 5xx: the worker is starting or unwell — both pass.
    if (response.status === 409 || response.status >= 500)
      throw new FleetgridError(
        'CONNECT_UNAVAILABLE',
        `Kafka Connect ${method} ${path}: HTTP ${response.status} ${message(json)}`,
      );
    return { status: response.status, json };
  }

  const message = (json: unknown) =>
    typeof json === 'object' && json !== null && 'message' in json
      ? String((json as { message: unknown }).message)
      : String(json ?? '');

  const path = (name: string) => `/connectors/${encodeURIComponent(name)}`;

  return {
    async putConfig(name, config) {
      const { status, json } = await call('PUT', `${path(name)}/config`, config);
      if (status === 200 || status === 201) return { created: status === 201 };
      throw new FleetgridError(
        'CONFIG_INVALID',
        `Kafka Connect refused the connector ${name}: HTTP ${status} ${message(json)}`,
      );
    },
    async status(name) {
      const { status, json } = await call('GET', `${path(name)}/status`);
      if (status === 404) return undefined;
      const body = json as {
        connector?: { state?: string };
        tasks?: { id: number; state: string; trace?: string }[];
      };
      return {
        connector: body.connector?.state ?? 'UNKNOWN',
        tasks: (body.tasks ?? []).map((task) => ({
          id: task.id,
          state: task.state,
          ...(task.trace ? { trace: task.trace } : {}),
        })),
      };
    },
    async config(name) {
      const { status, json } = await call('GET', `${path(name)}/config`);
      return status === 404 ? undefined : (json as Record<string, string>);
    },
    async committedLsn(name) {
      const { status, json } = await call('GET', `${path(name)}/offsets`);
      if (status === 404) return undefined;
      const offsets = (json as { offsets?: { offset?: { lsn?: unknown } }[] }).offsets ?? [];
      const lsn = offsets[0]?.offset?.lsn;
      return typeof lsn === 'number' ? lsn : undefined;
    },
    async restartFailed(name) {
      const { status, json } = await call('POST', `${path(name)}/restart?includeTasks=true&onlyFailed=true`);
      if (status === 200 || status === 202 || status === 204) return;
      throw new FleetgridError(
        'INTERNAL',
        `Kafka Connect restart of ${name}: HTTP ${status} ${message(json)}`,
      );
    },
    async remove(name) {
      const { status, json } = await call('DELETE', path(name));
      if (status === 404) return false;
      if (status === 204 || status === 200) return true;
      throw new FleetgridError('INTERNAL', `Kafka Connect DELETE ${name}: HTTP ${status} ${message(json)}`);
    },
  };
}

// ---------------------------------------------------------------------------------------
// Operations

export interface CdcDeps {
  connect: ConnectClient;
  admin: KafkaAdmin;
  /** A pool on the registry database as its owner (the service's). */
  pool: Pool;
  log: Logger;
  clock?: Clock;
}

export interface CdcUpOptions extends ConnectorOptions {
  /** How long the connector and its task may take to reach RUNNING. */
  startTimeoutMs: number;
  /** Replication of the registry topics (retention: they are compacted). */
  topicPolicy?: TopicPolicy;
}

export interface CdcUpResult {
  connector: string;
  created: boolean;
  state: ConnectorState;
  topics: Record<string, string>;
}

/** Topics, then the connector's configuration, then RUNNING: safe to run again at any time. */
export async function cdcUp(options: CdcUpOptions, deps: CdcDeps): Promise<CdcUpResult> {
  const clock = deps.clock ?? systemClock;
  const names = cdcNames(options.topicPrefix);
  await ensureTopics(
    deps.admin,
    registryTopicSpecs(options.topicPrefix, options.topicPolicy ?? DEFAULT_TOPIC_POLICY),
  );
  const { rows } = await deps.pool
    .query('SELECT 1 FROM pg_publication WHERE pubname = $1', [REGISTRY_PUBLICATION])
    .catch((error: unknown) => {
      throw toPostgresError('check the registry publication', error);
    });
  if (rows.length === 0)
    throw new FleetgridError(
      'CONFIG_INVALID',
      `the publication ${REGISTRY_PUBLICATION} is missing: run \`fleetgrid registry migrate\` first`,
    );
  const config = connectorConfig(options);
  // A worker that has just started may answer 409 (rebalancing) or 5xx for a moment: retried, bounded.
  const { created } = await retry(() => deps.connect.putConfig(names.connector, config), {
    policy: { baseMs: 500, capMs: 5_000, maxRetries: 10 },
    clock,
  });
  deps.log.info({ connector: names.connector, created }, 'registry CDC connector configured');
  const state = await waitUntilRunning(deps.connect, names.connector, {
    timeoutMs: options.startTimeoutMs,
    clock,
    log: deps.log,
  });
  return {
    connector: names.connector,
    created,
    state,
    topics: registryTopicNames(options.topicPrefix),
  };
}

/**
 * Waits until the connector and its tasks run. A task found FAILED is restarted once: right
 * after a new configuration was put, the status can still show the task that failed under
 * the old one, so failing at once would refuse a configuration that works. Failing again
 * after the restart is final.
 */
export async function waitUntilRunning(
  connect: ConnectClient,
  connector: string,
  options: { timeoutMs: number; clock: Clock; log: Logger },
): Promise<ConnectorState> {
  const { clock } = options;
  const deadline = clock.now() + options.timeoutMs;
  let restarted = false;
  // After the restart a status may still show the old failure for a moment; only a failure
  // seen after the task left FAILED is the new configuration's own.
  let leftFailed = false;
  for (;;) {
    let state: ConnectorState | undefined;
    try {
      state = await connect.status(connector);
    } catch (error) {
      // A worker in the middle of a rebalance answers 409 for a moment.
      if (!(error instanceof FleetgridError && error.code === 'CONNECT_UNAVAILABLE')) throw error;
    }
    if (state !== undefined && isHealthy(state)) return state;
    const failed = state?.tasks.find((task) => task.state === 'FAILED');
    if (restarted && !failed && state?.connector !== 'FAILED') leftFailed = true;
    if (failed || state?.connector === 'FAILED') {
      if (leftFailed)
        throw new FleetgridError(
          'CONFIG_INVALID',
          `the registry CDC connector failed: ${(failed?.trace ?? 'connector FAILED').split('\n').slice(0, 3).join(' ')}`,
        );
      if (!restarted) {
        options.log.warn({ connector }, 'registry CDC connector found FAILED: restarting it once');
        await connect.restartFailed(connector);
        restarted = true;
      }
    }
    if (clock.now() >= deadline)
      throw new FleetgridError(
        'TIMEOUT',
        `the registry CDC connector is not RUNNING after ${options.timeoutMs} ms (connector ${state?.connector ?? 'missing'}, tasks ${state?.tasks.map((t) => t.state).join(',') || 'none'})${failed?.trace ? `: ${failed.trace.split('\n').slice(0, 3).join(' ')}` : ''}`,
      );
    await clock.sleep(500);
  }
}

export interface SlotState {
  name: string;
  active: boolean;
  /** WAL the server keeps for the slot: what a stopped connector costs, growing until it catches up. */
  retainedBytes: number;
  /** What Debezium has confirmed, behind the server's current position. */
  lagBytes: number;
}

/** The slot as the server sees it (pg_replication_slots is readable by any role). */
export async function slotState(pool: Pool, slot: string): Promise<SlotState | undefined> {
  const { rows } = await pool
    .query<{ active: boolean; retained: string | number; lag: string | number | null }>(
      `SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) AS retained,
              pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) AS lag
         FROM pg_replication_slots WHERE slot_name = $1`,
      [slot],
    )
    .catch((error: unknown) => {
      throw toPostgresError('read the replication slot', error);
    });
  const row = rows[0];
  if (!row) return undefined;
  return {
    name: slot,
    active: row.active,
    retainedBytes: Number(row.retained ?? 0),
    lagBytes: Number(row.lag ?? 0),
  };
}

export interface CdcDownOptions {
  topicPrefix: string;
  /** The replication role's connection (dropping a slot needs REPLICATION). */
  replication: PostgresConfig;
  /** How long to wait for the stopped task to release the slot. */
  releaseTimeoutMs: number;
}

/** Deletes the connector, then its slot once the task released it. Topics stay (they are the data). */
export async function cdcDown(
  options: CdcDownOptions,
  deps: Omit<CdcDeps, 'admin'>,
): Promise<{ connectorDeleted: boolean; slotDropped: boolean }> {
  const connectorDeleted = await deps.connect.remove(cdcNames(options.topicPrefix).connector);
  const slotDropped = await dropSlotWhenReleased(options, deps);
  return { connectorDeleted, slotDropped };
}

/**
 * Drops the connector's replication slot once no task holds it (false when there is none).
 * On its own for when the connector cannot be deleted through Connect because its worker is
 * gone (killed): the slot is released when the worker's connection closes.
 */
export async function dropSlotWhenReleased(
  options: CdcDownOptions,
  deps: Pick<CdcDeps, 'pool' | 'log' | 'clock'>,
): Promise<boolean> {
  const clock = deps.clock ?? systemClock;
  const names = cdcNames(options.topicPrefix);
  const replication = createPool(
    options.replication,
    {
      max: 1,
      connectTimeoutMs: 5_000,
      statementTimeoutMs: 10_000,
      applicationName: 'fleetgrid-registry-cdc',
    },
    deps.log,
  );
  try {
    const deadline = clock.now() + options.releaseTimeoutMs;
    for (;;) {
      const slot = await slotState(deps.pool, names.slot);
      if (!slot) return false;
      if (!slot.active) {
        try {
          await replication.query('SELECT pg_drop_replication_slot($1)', [names.slot]);
          return true;
        } catch (error) {
          // 55006: taken again in between (a task still stopping); try again below.
          if ((error as { code?: string }).code !== '55006')
            throw toPostgresError(`drop the slot ${names.slot}`, error);
        }
      }
      if (clock.now() >= deadline)
        throw new FleetgridError(
          'TIMEOUT',
          `the replication slot ${names.slot} is still in use ${options.releaseTimeoutMs} ms after the connector was deleted`,
        );
      await clock.sleep(500);
    }
  } finally {
    await replication.end();
  }
}

/** The database fields of POSTGRES_URL, as the connector needs them. */
export function databaseOf(url: string): { host: string; port: number; name: string; user: string } {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    name: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'postgres',
    user: decodeURIComponent(parsed.username),
  };
}

// ---------------------------------------------------------------------------------------
// Settings from the environment

export interface CdcSettings {
  /** The role Debezium logs in as (REPLICATION, reads the registry tables). */
  user: string;
  passwordRef: string;
  /** That role's own connection, for dropping the slot. */
  replication: PostgresConfig;
  heartbeatIntervalMs: number;
  startTimeoutMs: number;
}

/**
 * REGISTRY_CDC_DATABASE_USER (default debezium), REGISTRY_CDC_DATABASE_PASSWORD_REF (default
 * the stack's `${file:<data dir>/secrets/connect-secrets.properties:postgres.debezium.password}`),
 * and that role's password for slot management: POSTGRES_CDC_PASSWORD(_FILE), else the
 * stack's `<data dir>/secrets/postgres-debezium.password`.
 */
export function cdcSettingsFromEnv(
  app: { postgres: PostgresConfig; dataDir: string },
  env: NodeJS.ProcessEnv = process.env,
): CdcSettings {
  const user = env.REGISTRY_CDC_DATABASE_USER?.trim() || 'debezium';
  // The worker's FileConfigProvider only reads below its allowed path, compared as given:
  // name the file by its real path (a worktree's secrets dir may be a symlink to the stack's).
  const declared = join(app.dataDir, 'secrets');
  const secrets = existsSync(declared) ? realpathSync(declared) : declared;
  const passwordRef =
    env.REGISTRY_CDC_DATABASE_PASSWORD_REF?.trim() ||
    `\${file:${join(secrets, 'connect-secrets.properties')}:postgres.debezium.password}`;
  let password = readSecret(env, 'POSTGRES_CDC_PASSWORD');
  const generated = join(secrets, 'postgres-debezium.password');
  if (password === undefined && existsSync(generated)) password = readSecretFile(generated);
  const url = new URL(app.postgres.url);
  url.username = user;
  return {
    user,
    passwordRef,
    replication: { url: url.toString(), password },
    heartbeatIntervalMs: 10_000,
    startTimeoutMs: 120_000,
  };
}

// ---------------------------------------------------------------------------------------
// Health: for /api/v1/pipeline/health and `cdc status`

export interface RegistryHealth {
  /** Database reachable, connector and task RUNNING, slot in use. */
  healthy: boolean;
  database: { available: boolean; error?: string };
  connector: { name: string; state: string; tasks: string[]; error?: string };
  /** The replication slot; null when there is none (the connector was never started). */
  slot: SlotState | null;
}

/** Each part is asked on its own: one unreachable part is reported, not thrown. */
export async function registryHealth(deps: {
  connect: ConnectClient;
  pool: Pool;
  topicPrefix: string;
}): Promise<RegistryHealth> {
  const names = cdcNames(deps.topicPrefix);
  const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
  const [connector, slot] = await Promise.all([
    deps.connect.status(names.connector).then(
      (state) => ({
        name: names.connector,
        state: state?.connector ?? 'MISSING',
        tasks: state?.tasks.map((task) => task.state) ?? [],
        healthy: isHealthy(state),
      }),
      (error: unknown) => ({
        name: names.connector,
        state: 'UNREACHABLE',
        tasks: [],
        healthy: false,
        error: message(error),
      }),
    ),
    slotState(deps.pool, names.slot).then(
      (state) => ({ state: state ?? null }),
      (error: unknown) => ({ state: null, error: message(error) }),
    ),
  ]);
  const { healthy: connectorHealthy, ...connectorPart } = connector;
  const database = 'error' in slot ? { available: false, error: slot.error } : { available: true };
  return {
    healthy: connectorHealthy && database.available && slot.state?.active === true,
    database,
    connector: connectorPart,
    slot: slot.state,
  };
}

/** What `cdcUp` needs for the registry database at `postgresUrl`, from the settings. */
export function cdcUpOptions(settings: CdcSettings, topicPrefix: string, postgresUrl: string): CdcUpOptions {
  const database = databaseOf(postgresUrl);
  return {
    topicPrefix,
    database: { host: database.host, port: database.port, name: database.name },
    user: settings.user,
    passwordRef: settings.passwordRef,
    heartbeatIntervalMs: settings.heartbeatIntervalMs,
    startTimeoutMs: settings.startTimeoutMs,
  };
}
