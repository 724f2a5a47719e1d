/**
 * The actions of `fleetgrid registry …` (loaded lazily by registry/cli.ts): each opens the
 * registry service on POSTGRES_URL, runs one command through it — the same validation,
 * concurrency checks and transactions as the API — and prints a table, or JSON with --json.
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../lib/config.ts';
import { FleetgridError } from '../lib/errors.ts';
import { createKafkaClient } from '../lib/kafka/index.ts';
import { createLogger } from '../lib/log.ts';
import { parseFaultSpec } from '../producers/index.ts';
import { type Column, table } from '../query/index.ts';
import {
  cdcDown,
  cdcNames,
  cdcSettingsFromEnv,
  cdcUp,
  cdcUpOptions,
  createConnectClient,
  registryHealth,
} from './cdc.ts';
import { createPool, describeUrl } from './db.ts';
import { ENTITY_NAMES, type EntityName, type RuleScope, RULE_SCOPES } from './model.ts';
import { seedPlan } from './seed.ts';
import { openRegistryService, type RegistryService } from './service.ts';

export interface OutputOptions {
  json?: boolean;
}

/** `device`, `devices`, `rule`, … → the entity name. */
export function entityArg(text: string): EntityName {
  const name = (text.endsWith('s') ? text : `${text}s`) as EntityName;
  if (!ENTITY_NAMES.includes(name))
    throw new FleetgridError(
      'INVALID_ARGUMENT',
      `unknown entity "${text}": one of ${ENTITY_NAMES.join(', ')}`,
    );
  return name;
}

/** A non-negative whole number option. */
export function versionArg(text: string | undefined, name = 'if-version'): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,15}$/.test(text))
    throw new FleetgridError('INVALID_ARGUMENT', `--${name} must be a version number, not "${text}"`);
  return Number(text);
}

/** `--param limitKmh=80`: numbers and booleans as such, anything else as text. */
export function paramArgs(entries: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    if (at <= 0) throw new FleetgridError('INVALID_ARGUMENT', `--param ${entry}: expected name=value`);
    const raw = entry.slice(at + 1).trim();
    out[entry.slice(0, at).trim()] =
      raw === 'true'
        ? true
        : raw === 'false'
          ? false
          : raw !== '' && Number.isFinite(Number(raw))
            ? Number(raw)
            : raw;
  }
  return out;
}

/** `device:truck-00001` → scope and id. */
export function scopeArg(text: string): { scope: RuleScope; scopeId: string } {
  const at = text.indexOf(':');
  const scope = text.slice(0, at) as RuleScope;
  if (at <= 0 || !RULE_SCOPES.includes(scope))
    throw new FleetgridError(
      'INVALID_ARGUMENT',
      `--scope ${text}: expected <${RULE_SCOPES.join('|')}>:<id>, e.g. site:depot-lyon or kind:truck`,
    );
  return { scope, scopeId: text.slice(at + 1) };
}

const COLUMNS: Record<EntityName, Column[]> = {
  sites: [
    { header: 'id', value: (r) => r.id },
    { header: 'kind', value: (r) => r.kind },
    { header: 'name', value: (r) => r.name },
    { header: 'lat', value: (r) => r.lat },
    { header: 'lon', value: (r) => r.lon },
    { header: 'time zone', value: (r) => r.timeZone },
    {
      header: 'capacity',
      value: (r) => (r.kind === 'depot' ? `${r.vehicleCapacity ?? '-'} bays` : `${r.capacityKw ?? '-'} kW`),
    },
    { header: 'version', value: (r) => r.version },
  ],
  devices: [
    { header: 'id', value: (r) => r.id },
    { header: 'kind', value: (r) => r.kind },
    { header: 'site', value: (r) => r.siteId },
    { header: 'model', value: (r) => r.model },
    { header: 'status', value: (r) => r.status },
    {
      header: 'attributes',
      align: 'left',
      value: (r) =>
        r.kind === 'truck'
          ? `${r.plate}${r.refrigerated ? ` reefer ${r.cargoMinC}..${r.cargoMaxC} °C` : ''}${r.driverId ? ` driver ${r.driverId}` : ''}`
          : r.kind === 'turbine'
            ? `${r.ratedKw} kW, curve ${r.powerCurve}`
            : `${r.kwp} kWp`,
    },
    { header: 'version', value: (r) => r.version },
  ],
  drivers: [
    { header: 'id', value: (r) => r.id },
    { header: 'name', value: (r) => r.name },
    { header: 'licence', value: (r) => `${r.licenceNumber} (${r.licenceClass})` },
    { header: 'expires', value: (r) => r.licenceExpires },
    { header: 'version', value: (r) => r.version },
  ],
  rules: [
    { header: 'id', value: (r) => r.id },
    { header: 'enabled', value: (r) => r.enabled },
    { header: 'params', align: 'left', value: (r) => JSON.stringify(r.params) },
    { header: 'version', value: (r) => r.version },
  ],
};

function print(value: unknown, options: OutputOptions, render: () => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(value)}\n` : `${render()}\n`);
}

function details(entity: EntityName, row: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(row).map((key) => key.length));
  return Object.entries(row)
    .filter(([, value]) => value !== null || entity !== 'devices')
    .map(
      ([key, value]) =>
        `${key.padEnd(width)}  ${typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)}`,
    )
    .join('\n');
}

/** Opens the service on the environment's database, runs `work`, and closes it. */
export async function withRegistry<T>(work: (service: RegistryService) => Promise<T>): Promise<T> {
  const app = loadConfig();
  const log = createLogger('registry', app.logLevel === 'info' ? 'warn' : app.logLevel);
  const service = openRegistryService(app, log, { poolMax: 2 }, 'fleetgrid-registry-cli');
  try {
    return await work(service);
  } catch (error) {
    if (error instanceof FleetgridError && error.code === 'POSTGRES_UNAVAILABLE')
      throw new FleetgridError(
        'POSTGRES_UNAVAILABLE',
        `${error.message} (POSTGRES_URL ${describeUrl(app.postgres.url)}; is \`make up\` running?)`,
      );
    throw error;
  } finally {
    await service.close();
  }
}

export async function runMigrate(options: OutputOptions): Promise<void> {
  await withRegistry(async (service) => {
    const report = await service.migrate();
    print(report, options, () =>
      report.applied.length
        ? `applied migrations ${report.applied.join(', ')}`
        : `registry schema up to date (${report.skipped.length} migrations)`,
    );
  });
}

export async function runList(
  entityText: string,
  options: OutputOptions & {
    kind?: string;
    site?: string;
    status?: string;
    rule?: string;
    limit?: string;
    after?: string;
  },
): Promise<void> {
  const entity = entityArg(entityText);
  await withRegistry(async (service) => {
    const page = await service.list(entity, {
      ...(options.kind ? { kind: options.kind } : {}),
      ...(options.site ? { siteId: options.site } : {}),
      ...(options.status ? { status: options.status } : {}),
      ...(options.rule ? { ruleId: options.rule } : {}),
      ...(options.after ? { after: options.after } : {}),
      ...(options.limit ? { limit: versionArg(options.limit, 'limit') as number } : {}),
    });
    print(page, options, () =>
      [
        table(page.items as unknown as Record<string, unknown>[], COLUMNS[entity]),
        page.nextCursor ? `(more: --after ${page.nextCursor})` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );
  });
}

export async function runShow(entityText: string, id: string, options: OutputOptions): Promise<void> {
  const entity = entityArg(entityText);
  await withRegistry(async (service) => {
    const row = await service.get(entity, id);
    print(row, options, () => details(entity, row as unknown as Record<string, unknown>));
  });
}

function readBody(options: { data?: string; file?: string }): unknown {
  if ((options.data === undefined) === (options.file === undefined))
    throw new FleetgridError(
      'INVALID_ARGUMENT',
      'give the row as --data <json> or --file <path> (- for stdin)',
    );
  const text = options.data ?? readFileSync(options.file === '-' ? 0 : (options.file as string), 'utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new FleetgridError('INVALID_ARGUMENT', `the row is not JSON: ${(error as Error).message}`);
  }
}

export async function runUpsert(
  entityText: string,
  id: string | undefined,
  options: OutputOptions & { data?: string; file?: string; ifVersion?: string },
): Promise<void> {
  const entity = entityArg(entityText);
  const body = readBody(options);
  const rowId = id ?? (body as { id?: unknown }).id;
  if (typeof rowId !== 'string' && entity !== 'rules')
    throw new FleetgridError('INVALID_ARGUMENT', 'name the row: an id argument or an "id" field');
  await withRegistry(async (service) => {
    const result =
      typeof rowId === 'string'
        ? await service.put(entity, rowId, body, versionArg(options.ifVersion))
        : { entity: await service.create(entity, body), created: true, changed: true };
    print(
      result,
      options,
      () =>
        `${result.created ? 'created' : result.changed ? 'updated' : 'unchanged'} ${entity.slice(0, -1)} ${result.entity.id} (version ${result.entity.version})`,
    );
  });
}

export async function runDelete(
  entityText: string,
  id: string,
  options: OutputOptions & { ifVersion?: string },
): Promise<void> {
  const entity = entityArg(entityText);
  await withRegistry(async (service) => {
    await service.remove(entity, id, versionArg(options.ifVersion));
    print({ deleted: id }, options, () => `deleted ${entity.slice(0, -1)} ${id}`);
  });
}

export async function runDecommission(
  id: string,
  options: OutputOptions & { ifVersion?: string },
): Promise<void> {
  await withRegistry(async (service) => {
    const result = await service.decommission(id, versionArg(options.ifVersion));
    print(result, options, () =>
      result.changed
        ? `decommissioned ${id} (version ${result.entity.version})`
        : `${id} was already decommissioned`,
    );
  });
}

export async function runSetRule(
  ruleId: string,
  options: OutputOptions & {
    scope: string;
    param?: string[];
    params?: string;
    disable?: boolean;
    ifVersion?: string;
  },
): Promise<void> {
  const { scope, scopeId } = scopeArg(options.scope);
  let params: Record<string, unknown> = {};
  if (options.params !== undefined) {
    try {
      params = JSON.parse(options.params);
    } catch (error) {
      throw new FleetgridError('INVALID_ARGUMENT', `--params is not JSON: ${(error as Error).message}`);
    }
  }
  params = { ...params, ...paramArgs(options.param ?? []) };
  const body = { ruleId, scope, scopeId, params, enabled: !options.disable };
  await withRegistry(async (service) => {
    const result = await service.put(
      'rules',
      `${ruleId}:${scope}:${scopeId}`,
      body,
      versionArg(options.ifVersion),
    );
    print(
      result,
      options,
      () =>
        `${result.created ? 'created' : result.changed ? 'updated' : 'unchanged'} rule ${result.entity.id} (version ${result.entity.version}): ${result.entity.enabled ? JSON.stringify(result.entity.params) : 'disabled'}`,
    );
  });
}

export async function runSeed(
  options: OutputOptions & { trucks: string; turbines: string; solar: string; seed: string; faults?: string },
): Promise<void> {
  const count = (name: string, text: string) => {
    const value = versionArg(text, name);
    if (value === undefined) throw new FleetgridError('INVALID_ARGUMENT', `--${name} is required`);
    return value;
  };
  const seed = Number.parseInt(options.seed, 10);
  if (!Number.isSafeInteger(seed)) throw new FleetgridError('INVALID_ARGUMENT', '--seed must be an integer');
  const plan = seedPlan({
    trucks: count('trucks', options.trucks),
    turbines: count('turbines', options.turbines),
    solar: count('solar', options.solar),
    seed,
    faults: parseFaultSpec(options.faults),
  });
  await withRegistry(async (service) => {
    const report = await service.seed(plan);
    print(report, options, () =>
      ENTITY_NAMES.map(
        (name) => `${name}: ${report.created[name]} registered, ${report.existing[name]} already there`,
      ).join('\n'),
    );
  });
}

export async function runCdc(action: string, options: OutputOptions): Promise<void> {
  if (!['up', 'down', 'status'].includes(action))
    throw new FleetgridError('INVALID_ARGUMENT', `registry cdc ${action}: expected up, down or status`);
  const app = loadConfig();
  const log = createLogger('registry', app.logLevel === 'info' ? 'warn' : app.logLevel);
  const settings = cdcSettingsFromEnv(app);
  const connect = createConnectClient(app.connect);
  const names = cdcNames(app.topicPrefix);
  await withRegistry(async (service) => {
    await service.ready();
    const pool = createPool(
      app.postgres,
      {
        max: 1,
        connectTimeoutMs: 5_000,
        statementTimeoutMs: 10_000,
        applicationName: 'fleetgrid-registry-cdc',
      },
      log,
    );
    try {
      if (action === 'up') {
        const admin = createKafkaClient(app.kafka, { log }).admin();
        await admin.connect();
        try {
          const result = await cdcUp(
            { ...cdcUpOptions(settings, app.topicPrefix, app.postgres.url), topicPolicy: app.topics },
            {
              connect,
              admin,
              pool,
              log,
            },
          );
          print(result, options, () =>
            [
              `connector ${result.connector} ${result.created ? 'created' : 'configured'}: ${result.state.connector}, tasks ${result.state.tasks.map((t) => t.state).join(', ')}`,
              `topics ${Object.values(result.topics).join(', ')}`,
            ].join('\n'),
          );
        } finally {
          await admin.disconnect();
        }
      } else if (action === 'down') {
        const result = await cdcDown(
          { topicPrefix: app.topicPrefix, replication: settings.replication, releaseTimeoutMs: 60_000 },
          { connect, pool, log },
        );
        print(
          result,
          options,
          () =>
            `connector ${names.connector} ${result.connectorDeleted ? 'deleted' : 'was not there'}; slot ${names.slot} ${result.slotDropped ? 'dropped' : 'was not there'} (the topics stay)`,
        );
      } else {
        const health = await registryHealth({ connect, pool, topicPrefix: app.topicPrefix });
        const { connector, slot } = health;
        print(health, options, () =>
          [
            `connector ${connector.name}: ${connector.state === 'MISSING' ? 'not registered (fleetgrid registry cdc up)' : `${connector.state}, tasks ${connector.tasks.join(', ') || 'none'}`}${connector.error ? ` (${connector.error})` : ''}`,
            `slot ${names.slot}: ${slot ? `${slot.active ? 'active' : 'INACTIVE'}, ${slot.retainedBytes} bytes of WAL retained, ${slot.lagBytes} bytes unconfirmed` : health.database.available ? 'none' : `unknown (${health.database.error})`}`,
          ].join('\n'),
        );
        if (!health.healthy) process.exitCode = 1;
      }
    } finally {
      await pool.end();
    }
  });
}
