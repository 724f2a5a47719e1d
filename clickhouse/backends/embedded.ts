/**
 * The embedded backend: the ClickHouse engine in this process (chDB), with its data in
 * `config.dataDir`. Inserts hand the buffer to the engine zero-copy and its parser runs on
 * a libuv thread, so the event loop never parses or blocks on a batch.
 *
 * RowBinary inserts (the sink's raw tables, clickhouse/rowbinary.ts) go through a staging
 * file: chDB 3.4's `insert` accepts text formats only, and its native raw entry underneath
 * does not carry binary payloads (rows cut, tried: docs/BENCHMARKS.md), but the engine reads
 * a RowBinary file exactly: `INSERT INTO t (…) SETTINGS <token> SELECT * FROM file(<staged>,
 * 'RowBinary', <the columns' types>)`. The staged file lives in the data directory and is
 * removed after the insert; a batch under max_insert_block_size stays one block, so the
 * deduplication token keeps its meaning (test/sinks/rowbinary.int.test.ts).
 *
 * chDB binds one data directory per process and locks it (`status` file): a second
 * process cannot open it, not even read-only (tested, see docs/sinks.md). The owning
 * process therefore serves reads to others through sinks/query-server.ts.
 *
 * Within one process, several sessions may share the directory: the query endpoint and
 * `fleetgrid serve --direct` read through a session of their own made read-only
 * (`readOnly`): once `SET readonly = 1` ran, the engine refuses every write, DDL, SYSTEM
 * statement, table function that reaches outside (file, url, s3, remote, mysql,
 * postgresql, redis, executable, …) and any change of a setting, `readonly` included, for
 * the rest of the session; the writer's session is not affected.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { type ClickHouseConfig, DEFAULT_EMBEDDED_CACHE_BYTES } from '../../lib/config.ts';
import { FleetgridError } from '../../lib/errors.ts';
import {
  assertIdentifier,
  type ClickHouseBackend,
  type InsertOptions,
  insertFormat,
  type QueryParams,
  toClickHouseError,
} from '../backend.ts';

type Chdb = typeof import('chdb');
type ChdbSession = InstanceType<Chdb['Session']>;

const require = createRequire(import.meta.url);

/** A string literal of ClickHouse SQL. */
function sqlString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export interface EmbeddedOptions {
  /** A read-only session; statements stop after this many seconds (max_execution_time). */
  readOnly?: { maxExecutionTimeS: number };
}

/** The engine's read caches, each bounded to `bytes` (uncompressed blocks stay uncached: 0). */
export function embeddedCacheArgs(bytes: number): string[] {
  return [
    'mark_cache_size',
    'primary_index_cache_size',
    'index_mark_cache_size',
    'query_condition_cache_size',
  ].map((setting) => `--${setting}=${bytes}`);
}

export async function createEmbeddedBackend(
  config: Extract<ClickHouseConfig, { mode: 'embedded' }>,
  options: EmbeddedOptions = {},
): Promise<ClickHouseBackend> {
  const chdb = require('chdb') as Chdb;
  const database = assertIdentifier(config.database);
  mkdirSync(config.dataDir, { recursive: true });
  let session: ChdbSession;
  try {
    session = new chdb.Session(config.dataDir, {
      // Load tables before the first query instead of racing with it; quote 64-bit
      // integers in JSON like the server does by default, so both backends return the
      // same shapes and no UInt64 loses precision in a JS number.
      // The read caches are bounded (CLICKHOUSE_EMBEDDED_CACHE_MB): the engine sizes each
      // for a server of its own (5 GiB), which over months of reads would grow the sink's
      // resident memory far past its budget. Server settings: the first session of the
      // process sets them for all its sessions.
      connectionArgs: [
        '--async_load_databases=0',
        '--output_format_json_quote_64bit_integers=1',
        ...embeddedCacheArgs(config.cacheBytes ?? DEFAULT_EMBEDDED_CACHE_BYTES),
      ],
    });
  } catch (error) {
    // Another process owns the directory: that will not pass by retrying here.
    throw new FleetgridError(
      'CLICKHOUSE_UNAVAILABLE',
      `cannot open embedded ClickHouse at ${config.dataDir} (is another fleetgrid sink running on it?): ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error, retriable: false },
    );
  }
  try {
    await session.queryAsync(`CREATE DATABASE IF NOT EXISTS ${database}`);
    await session.queryAsync(`USE ${database}`);
    if (options.readOnly) {
      const seconds = options.readOnly.maxExecutionTimeS;
      if (!Number.isInteger(seconds) || seconds <= 0)
        throw new FleetgridError('INTERNAL', 'maxExecutionTimeS must be a positive integer');
      // Settings first: readonly = 1 forbids changing any setting afterwards, itself included.
      await session.queryAsync(`SET max_execution_time = ${seconds}`);
      await session.queryAsync('SET readonly = 1');
    }
  } catch (error) {
    session.close();
    throw toClickHouseError('open database', error);
  }
  let closed = false;
  const staging = join(config.dataDir, 'insert-staging');
  mkdirSync(staging, { recursive: true });
  const structures = new Map<string, string>();
  /** `name Type, …` of a table's columns, in the insert's order (cached: the sink's tables). */
  async function structureOf(table: string, columns: readonly string[]): Promise<string> {
    const key = `${table}(${columns.join(',')})`;
    const known = structures.get(key);
    if (known) return known;
    const result = await session.queryBindAsync(
      'SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}',
      { db: database, t: table },
      { format: 'JSONEachRow' },
    );
    const types = new Map(
      result
        .text()
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => {
          const { name, type } = JSON.parse(line) as { name: string; type: string };
          return [name, type] as const;
        }),
    );
    const structure = columns
      .map((column) => {
        const type = types.get(column);
        if (!type) throw new FleetgridError('CLICKHOUSE_REJECTED', `${table} has no column ${column}`);
        return `${column} ${type}`;
      })
      .join(', ');
    structures.set(key, structure);
    return structure;
  }

  async function run(sql: string, params: QueryParams | undefined, format: string) {
    if (closed) throw new FleetgridError('INTERNAL', 'embedded ClickHouse backend is closed');
    return params && Object.keys(params).length > 0
      ? session.queryBindAsync(sql, params, { format })
      : session.queryAsync(sql, { format });
  }

  return {
    mode: 'embedded',
    database,
    async query<T>(sql: string, params?: QueryParams) {
      try {
        const result = await run(sql, params, 'JSONEachRow');
        const text = result.text();
        if (text.length === 0) return [];
        return text
          .split('\n')
          .filter((line) => line.length > 0)
          .map((line) => JSON.parse(line) as T);
      } catch (error) {
        throw toClickHouseError('query', error);
      }
    },
    async exec(sql, params) {
      try {
        await run(sql, params, 'JSONEachRow');
      } catch (error) {
        throw toClickHouseError('exec', error);
      }
    },
    async insert(table, rows, options: InsertOptions = {}) {
      if (closed) throw new FleetgridError('INTERNAL', 'embedded ClickHouse backend is closed');
      const { format, columns, payload, rows: count } = insertFormat(rows, options);
      if (count === 0) return { rows: 0 };
      const target = `${database}.${assertIdentifier(table)}`;
      try {
        if (format === 'RowBinary') {
          const token = options.dedupToken;
          const settings = token
            ? ` SETTINGS insert_deduplicate=1, insert_deduplication_token=${sqlString(token)}`
            : '';
          const structure = await structureOf(table, columns ?? []);
          const staged = join(staging, `${randomUUID()}.rowbinary`);
          await writeFile(staged, payload);
          try {
            await session.queryAsync(
              `INSERT INTO ${target} (${(columns ?? []).join(', ')})${settings} SELECT * FROM file(${sqlString(staged)}, 'RowBinary', ${sqlString(structure)})`,
            );
          } finally {
            await rm(staged, { force: true });
          }
        } else {
          await session.insert({
            table: target,
            values: payload,
            format,
            ...(columns ? { columns } : {}),
            settings: options.dedupToken
              ? { insert_deduplicate: 1, insert_deduplication_token: options.dedupToken }
              : {},
          });
        }
      } catch (error) {
        throw toClickHouseError(`insert into ${table}`, error);
      }
      return { rows: count };
    },
    async close() {
      if (closed) return;
      closed = true;
      session.close();
      // The engine may still finish work behind a closed session; wait so that the same
      // process (tests, replay) can open a session again.
      await chdb.drainPending();
    },
  };
}
