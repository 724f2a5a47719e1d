/**
 * The registry's write and read paths, shared by the CLI (`fleetgrid registry …`) and the
 * API (/api/v1/registry/…): validation (registry/model.ts, pure), then one transaction per
 * command against PostgreSQL, the system of record.
 *
 * Optimistic concurrency: every row carries `version` (registry.change_version, drawn by a
 * trigger on every write). Changing or deleting an existing row requires the version the
 * writer last read: a different one is a CONFLICT (HTTP 409) naming the current version,
 * a missing one is refused (428). The row is read FOR UPDATE first, so the check and the
 * write see the same row; a write that changes nothing writes nothing (no new version, no
 * CDC event). Failures are FleetgridErrors with clear messages: unknown sites and drivers
 * are INVALID_ARGUMENT, rows still referenced are CONFLICT, a server that is down is
 * POSTGRES_UNAVAILABLE (retriable).
 */
import { isDeepStrictEqual } from 'node:util';
import { FleetgridError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { PostgresConfig } from '../lib/config.ts';
import { parseRegistryConfig, type RegistryConfig, type RegistryConfigInput } from './config.ts';
import { createPool, type Pool, type PoolClient, sqlState, toPostgresError } from './db.ts';
import { migrateRegistry, REGISTRY_SCHEMA, type RegistryMigrationReport } from './migrate.ts';
import {
  DEVICE_STATUSES,
  type Device,
  type DeviceInput,
  type EntityName,
  type EntityTypes,
  entityToInput,
  type InputTypes,
  inputToColumns,
  NOUN,
  parseInput,
  type RuleInput,
  rowToEntity,
  SITE_KIND_OF,
  TABLES,
} from './model.ts';
import type { SeedPlan } from './seed.ts';

export interface ListFilter {
  kind?: string;
  siteId?: string;
  status?: string;
  ruleId?: string;
  /** Ids after this one (the previous page's nextCursor). */
  after?: string;
  limit?: number;
}

export interface Page<T> {
  items: T[];
  /** Pass as `after` for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface WriteResult<T> {
  entity: T;
  created: boolean;
  /** False when the write matched the stored row: nothing was written, the version stayed. */
  changed: boolean;
}

export interface SeedReport {
  created: Record<EntityName, number>;
  existing: Record<EntityName, number>;
}

export interface RegistryService {
  /** Applies pending migrations now. */
  migrate(): Promise<RegistryMigrationReport>;
  /** Applies pending migrations once (on first use when migrateOnUse); later calls reuse the result. */
  ready(): Promise<void>;
  list<N extends EntityName>(entity: N, filter?: ListFilter): Promise<Page<EntityTypes[N]>>;
  get<N extends EntityName>(entity: N, id: string): Promise<EntityTypes[N]>;
  /** Creates a new row; CONFLICT when the id exists. */
  create<N extends EntityName>(entity: N, body: unknown): Promise<EntityTypes[N]>;
  /**
   * Creates the row `id` when it does not exist (`ifVersion` must then be absent), or
   * replaces it when `ifVersion` is its current version.
   */
  put<N extends EntityName>(
    entity: N,
    id: string,
    body: unknown,
    ifVersion: number | undefined,
  ): Promise<WriteResult<EntityTypes[N]>>;
  /** Deletes the row at version `ifVersion`; CONFLICT while other rows refer to it. */
  remove(entity: EntityName, id: string, ifVersion: number | undefined): Promise<void>;
  /** Sets a device's status to decommissioned (at `ifVersion` when given); idempotent. */
  decommission(id: string, ifVersion?: number): Promise<WriteResult<Device>>;
  /** Registers a fleet: creates the rows that do not exist, leaves existing ones as operators left them. */
  seed(plan: SeedPlan): Promise<SeedReport>;
  close(): Promise<void>;
}

export interface RegistryServiceDeps {
  pool: Pool;
  log: Logger;
}

const FILTERS: Record<EntityName, readonly (keyof ListFilter)[]> = {
  sites: ['kind'],
  devices: ['kind', 'siteId', 'status'],
  drivers: [],
  rules: ['ruleId'],
};
const FILTER_COLUMNS: Record<string, Partial<Record<keyof ListFilter, string>>> = {
  sites: { kind: 'kind' },
  devices: { kind: 'kind', siteId: 'site_id', status: 'status' },
  drivers: {},
  rules: { ruleId: 'rule_id' },
};

const table = (entity: EntityName) => `${REGISTRY_SCHEMA}.${TABLES[entity].table}`;

function notFound(entity: EntityName, id: string): FleetgridError {
  return new FleetgridError('NOT_FOUND', `no ${NOUN[entity]} ${id}`, { details: { status: 404 } });
}

function stale(
  entity: EntityName,
  id: string,
  expected: number,
  current: number | undefined,
): FleetgridError {
  return new FleetgridError(
    'CONFLICT',
    current === undefined
      ? `${NOUN[entity]} ${id} no longer exists (the write expected version ${expected})`
      : `${NOUN[entity]} ${id} changed: the write expected version ${expected}, the current version is ${current}; read it again and retry`,
    { details: { status: 409, ...(current !== undefined ? { currentVersion: current } : {}) } },
  );
}

function versionRequired(entity: EntityName, id: string, current: number, action: string): FleetgridError {
  return new FleetgridError(
    'INVALID_ARGUMENT',
    `${NOUN[entity]} ${id} exists (version ${current}): to ${action} it, send the version you read (If-Match: "${current}", or --if-version ${current})`,
    { details: { status: 428, currentVersion: current } },
  );
}

/** Explains a constraint the database refused, in the words of the entity. */
function constraintError(entity: EntityName, id: string, error: unknown, deleting: boolean): FleetgridError {
  const state = sqlState(error);
  const constraint = (error as { constraint?: string }).constraint ?? '';
  const refTable = (error as { table?: string }).table ?? '';
  const noun = NOUN[entity];
  if (state === '23503' && deleting) {
    const referrer = refTable === 'alert_rules' ? 'alert rules' : refTable || 'other rows';
    return new FleetgridError(
      'CONFLICT',
      `cannot delete ${noun} ${id}: ${referrer} still refer to it; delete or move them first`,
      { details: { status: 409 } },
    );
  }
  if (state === '23503')
    return new FleetgridError(
      'INVALID_ARGUMENT',
      `${noun} ${id} refers to a row that does not exist (${constraint})`,
    );
  if (state === '23505') {
    const what =
      constraint === 'devices_plate'
        ? 'its plate is registered to another truck in service'
        : constraint === 'devices_driver'
          ? 'its driver already drives another truck in service'
          : constraint === 'drivers_licence_number_key'
            ? 'its licence number belongs to another driver'
            : `${noun} ${id} already exists`;
    return new FleetgridError('CONFLICT', `${noun} ${id}: ${what}`, { details: { status: 409 } });
  }
  if (state === '23514' || state === '23502')
    return new FleetgridError(
      'INVALID_ARGUMENT',
      `${noun} ${id} breaks the table rule ${constraint || state}`,
    );
  return toPostgresError(`${noun} ${id}`, error);
}

function rowEntity<N extends EntityName>(entity: N, row: Record<string, unknown>): EntityTypes[N] {
  const parsed = rowToEntity(entity, row);
  if (!parsed.ok)
    throw new FleetgridError(
      'INTERNAL',
      `stored ${NOUN[entity]} ${String(row.id)} is invalid: ${parsed.problem}`,
    );
  return parsed.entity;
}

export function createRegistryService(config: RegistryConfig, deps: RegistryServiceDeps): RegistryService {
  const { pool } = deps;
  let migrated: Promise<void> | undefined;

  function ready(): Promise<void> {
    if (!config.migrateOnUse) return Promise.resolve();
    migrated ??= migrateRegistry(pool).then(
      (report) => {
        if (report.applied.length > 0)
          deps.log.info({ applied: report.applied }, 'registry migrations applied');
      },
      (error: unknown) => {
        // Not memoised: the next request tries again (PostgreSQL may be back).
        migrated = undefined;
        throw error;
      },
    );
    return migrated;
  }

  async function withClient<T>(action: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    await ready();
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw toPostgresError(action, error);
    }
    try {
      return await work(client);
    } finally {
      client.release();
    }
  }

  async function transaction<T>(action: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    return withClient(action, async (client) => {
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw toPostgresError(action, error);
      }
    });
  }

  async function current<N extends EntityName>(
    client: PoolClient,
    entity: N,
    id: string,
  ): Promise<EntityTypes[N] | undefined> {
    const { rows } = await client.query(`SELECT * FROM ${table(entity)} WHERE id = $1 FOR UPDATE`, [id]);
    return rows[0] ? rowEntity(entity, rows[0]) : undefined;
  }

  /** Clear messages for references the foreign keys would refuse with a constraint name. */
  async function checkReferences<N extends EntityName>(
    client: PoolClient,
    entity: N,
    input: InputTypes[N],
  ): Promise<void> {
    const lookup = async (what: EntityName, id: string) =>
      (await client.query(`SELECT * FROM ${table(what)} WHERE id = $1`, [id])).rows[0] as
        | Record<string, unknown>
        | undefined;
    if (entity === 'devices') {
      const device = input as DeviceInput;
      const site = await lookup('sites', device.siteId);
      const wanted = SITE_KIND_OF[device.kind];
      if (!site)
        throw new FleetgridError(
          'INVALID_ARGUMENT',
          `device ${device.id}: unknown site ${device.siteId} (register the ${wanted} first)`,
        );
      if (site.kind !== wanted)
        throw new FleetgridError(
          'INVALID_ARGUMENT',
          `device ${device.id}: site ${device.siteId} is a ${String(site.kind)}; a ${device.kind} belongs to a ${wanted}`,
        );
      if (device.kind === 'truck' && device.driverId !== null && !(await lookup('drivers', device.driverId)))
        throw new FleetgridError(
          'INVALID_ARGUMENT',
          `device ${device.id}: unknown driver ${device.driverId}`,
        );
    }
    if (entity === 'rules') {
      const rule = input as RuleInput;
      if (rule.scope === 'site' && !(await lookup('sites', rule.scopeId)))
        throw new FleetgridError('INVALID_ARGUMENT', `rule ${rule.id}: unknown site ${rule.scopeId}`);
      if (rule.scope === 'device') {
        const device = await lookup('devices', rule.scopeId);
        if (!device)
          throw new FleetgridError('INVALID_ARGUMENT', `rule ${rule.id}: unknown device ${rule.scopeId}`);
        const kind = rule.ruleId.split('.')[0];
        if (device.kind !== kind)
          throw new FleetgridError(
            'INVALID_ARGUMENT',
            `rule ${rule.id}: device ${rule.scopeId} is a ${String(device.kind)}; ${rule.ruleId} applies to ${kind}s`,
          );
      }
    }
  }

  async function insert<N extends EntityName>(
    client: PoolClient,
    entity: N,
    input: InputTypes[N],
  ): Promise<EntityTypes[N]> {
    const columns = inputToColumns(entity, input);
    const names = Object.keys(columns);
    const { rows } = await client.query(
      `INSERT INTO ${table(entity)} (${names.join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING *`,
      Object.values(columns),
    );
    return rowEntity(entity, rows[0]);
  }

  async function update<N extends EntityName>(
    client: PoolClient,
    entity: N,
    input: InputTypes[N],
  ): Promise<EntityTypes[N]> {
    const { id, ...columns } = inputToColumns(entity, input);
    const names = Object.keys(columns);
    const { rows } = await client.query(
      `UPDATE ${table(entity)} SET ${names.map((name, i) => `${name} = $${i + 2}`).join(', ')} WHERE id = $1 RETURNING *`,
      [id, ...Object.values(columns)],
    );
    return rowEntity(entity, rows[0]);
  }

  /** Runs a write; constraint violations become messages about `entity` `id`. */
  async function write<T>(
    entity: EntityName,
    id: string,
    deleting: boolean,
    work: (client: PoolClient) => Promise<T>,
  ) {
    try {
      return await transaction(`${deleting ? 'delete' : 'write'} ${NOUN[entity]} ${id}`, work);
    } catch (error) {
      const cause = error instanceof FleetgridError && error.cause !== undefined ? error.cause : error;
      if (/^23/.test(sqlState(cause) ?? '')) throw constraintError(entity, id, cause, deleting);
      throw error;
    }
  }

  async function put<N extends EntityName>(
    entity: N,
    id: string,
    body: unknown,
    ifVersion: number | undefined,
  ): Promise<WriteResult<EntityTypes[N]>> {
    const input = parseInput(entity, body, id);
    const rowId = (input as { id: string }).id;
    return write(entity, rowId, false, async (client) => {
      const held = await current(client, entity, rowId);
      if (!held) {
        if (ifVersion !== undefined) throw stale(entity, rowId, ifVersion, undefined);
        await checkReferences(client, entity, input);
        return { entity: await insert(client, entity, input), created: true, changed: true };
      }
      if (ifVersion === undefined) throw versionRequired(entity, rowId, held.version, 'change');
      if (ifVersion !== held.version) throw stale(entity, rowId, ifVersion, held.version);
      if (isDeepStrictEqual(entityToInput(entity, held), input))
        return { entity: held, created: false, changed: false };
      await checkReferences(client, entity, input);
      return { entity: await update(client, entity, input), created: false, changed: true };
    });
  }

  return {
    migrate: () => migrateRegistry(pool),
    ready,

    async list(entity, filter = {}) {
      const limit = filter.limit ?? config.pageSize;
      if (!Number.isInteger(limit) || limit < 1 || limit > config.maxPageSize)
        throw new FleetgridError('INVALID_ARGUMENT', `limit must be 1-${config.maxPageSize}`);
      const where: string[] = [];
      const values: unknown[] = [];
      for (const key of ['kind', 'siteId', 'status', 'ruleId'] as const) {
        const value = filter[key];
        if (value === undefined) continue;
        if (!FILTERS[entity].includes(key))
          throw new FleetgridError('INVALID_ARGUMENT', `${entity} cannot be filtered by ${key}`);
        if (key === 'status' && !(DEVICE_STATUSES as readonly string[]).includes(value))
          throw new FleetgridError('INVALID_ARGUMENT', `status must be one of ${DEVICE_STATUSES.join(', ')}`);
        values.push(value);
        where.push(`${FILTER_COLUMNS[entity]?.[key]} = $${values.length}`);
      }
      if (filter.after !== undefined) {
        values.push(filter.after);
        where.push(`id > $${values.length}`);
      }
      values.push(limit + 1);
      const sql = `SELECT * FROM ${table(entity)}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT $${values.length}`;
      const rows = await withClient(`list ${entity}`, async (client) => {
        try {
          return (await client.query(sql, values)).rows;
        } catch (error) {
          throw toPostgresError(`list ${entity}`, error);
        }
      });
      const items = rows.slice(0, limit).map((row) => rowEntity(entity, row));
      return { items, nextCursor: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
    },

    async get(entity, id) {
      const rows = await withClient(`read ${NOUN[entity]} ${id}`, async (client) => {
        try {
          return (await client.query(`SELECT * FROM ${table(entity)} WHERE id = $1`, [id])).rows;
        } catch (error) {
          throw toPostgresError(`read ${NOUN[entity]} ${id}`, error);
        }
      });
      if (!rows[0]) throw notFound(entity, id);
      return rowEntity(entity, rows[0]);
    },

    async create(entity, body) {
      const input = parseInput(entity, body);
      const id = (input as { id: string }).id;
      return write(entity, id, false, async (client) => {
        const held = await current(client, entity, id);
        if (held)
          throw new FleetgridError(
            'CONFLICT',
            `${NOUN[entity]} ${id} already exists (version ${held.version})`,
            {
              details: { status: 409, currentVersion: held.version },
            },
          );
        await checkReferences(client, entity, input);
        return insert(client, entity, input);
      });
    },

    put,

    async remove(entity, id, ifVersion) {
      await write(entity, id, true, async (client) => {
        const held = await current(client, entity, id);
        if (!held) throw notFound(entity, id);
        if (ifVersion === undefined) throw versionRequired(entity, id, held.version, 'delete');
        if (ifVersion !== held.version) throw stale(entity, id, ifVersion, held.version);
        await client.query(`DELETE FROM ${table(entity)} WHERE id = $1`, [id]);
      });
    },

    async decommission(id, ifVersion) {
      return write('devices', id, false, async (client) => {
        const held = await current(client, 'devices', id);
        if (!held) throw notFound('devices', id);
        if (ifVersion !== undefined && ifVersion !== held.version)
          throw stale('devices', id, ifVersion, held.version);
        if (held.status === 'decommissioned') return { entity: held, created: false, changed: false };
        const { rows } = await client.query(
          `UPDATE ${table('devices')} SET status = 'decommissioned' WHERE id = $1 RETURNING *`,
          [id],
        );
        return { entity: rowEntity('devices', rows[0]), created: false, changed: true };
      });
    },

    async seed(plan) {
      const report: SeedReport = {
        created: { sites: 0, devices: 0, drivers: 0, rules: 0 },
        existing: { sites: 0, devices: 0, drivers: 0, rules: 0 },
      };
      // In dependency order, in one transaction: a fleet is registered whole or not at all.
      const order: [EntityName, readonly unknown[]][] = [
        ['sites', plan.sites],
        ['drivers', plan.drivers],
        ['devices', plan.devices],
        ['rules', plan.rules],
      ];
      const inputs = order.map(
        ([entity, bodies]) => [entity, bodies.map((body) => parseInput(entity, body))] as const,
      );
      const seeding = transaction('seed the registry', async (client) => {
        for (const [entity, list] of inputs) {
          for (const input of list) {
            const columns = inputToColumns(entity, input as never);
            const names = Object.keys(columns);
            const { rowCount } = await client.query(
              `INSERT INTO ${table(entity)} (${names.join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT (id) DO NOTHING`,
              Object.values(columns),
            );
            if (rowCount === 1) report.created[entity]++;
            else report.existing[entity]++;
          }
        }
      });
      try {
        await seeding;
      } catch (error) {
        // An existing row of another id holding a seeded plate, driver or licence number.
        const cause = error instanceof FleetgridError && error.cause !== undefined ? error.cause : error;
        if (sqlState(cause) === '23505')
          throw new FleetgridError(
            'CONFLICT',
            `seed: ${(cause as { detail?: string }).detail ?? 'a unique value is taken'} by a row the seed did not create; nothing was registered`,
            { details: { status: 409 } },
          );
        throw error;
      }
      return report;
    },

    close: () => pool.end(),
  };
}

/** The service on the environment's database (POSTGRES_URL), for a long-running process. */
export function openRegistryService(
  app: { postgres: PostgresConfig },
  log: Logger,
  input: RegistryConfigInput = {},
  applicationName = 'fleetgrid-registry',
): RegistryService {
  const config = parseRegistryConfig(input);
  const pool = createPool(
    app.postgres,
    {
      max: config.poolMax,
      connectTimeoutMs: config.connectTimeoutMs,
      statementTimeoutMs: config.statementTimeoutMs,
      applicationName,
    },
    log,
  );
  return createRegistryService(config, { pool, log });
}
