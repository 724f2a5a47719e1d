/**
 * The server backend: a ClickHouse server over HTTP(S) through @clickhouse/client.
 * `async_insert=0` because the sink already batches and needs the insert acknowledged
 * (and deduplicated by its token) before it commits offsets; an async insert would be
 * acknowledged before it is durable in a part.
 */
import { Readable } from 'node:stream';
import { createClient } from '@clickhouse/client';
import type { ClickHouseConfig } from '../../lib/config.ts';
import {
  assertIdentifier,
  type ClickHouseBackend,
  type InsertOptions,
  insertFormat,
  type QueryParams,
  toClickHouseError,
} from '../backend.ts';

export function createServerBackend(
  config: Extract<ClickHouseConfig, { mode: 'server' }>,
  options: {
    database?: string;
    requestTimeoutMs?: number;
    /**
     * A @clickhouse/client Connection to use instead of HTTP. Tests pass chDB's
     * (`chdb/connection`) to run this backend's client code on the embedded engine.
     */
    connection?: unknown;
    /**
     * The query side's connection: it creates no database (a read-only user may not) and
     * every statement stops after this many seconds. What it may read is the user's
     * business: use a read-only user (docs/security.md).
     */
    readOnly?: { maxExecutionTimeS: number };
  } = {},
): ClickHouseBackend {
  const database = assertIdentifier(options.database ?? config.database);
  const cluster = config.cluster
    ? { name: assertIdentifier(config.cluster.name), keeperPathPrefix: config.cluster.keeperPathPrefix }
    : undefined;
  // The database must exist before a client can name it as default; a bootstrap client
  // without a database creates it on first use.
  const base = {
    url: config.url,
    username: config.user,
    password: config.password,
    request_timeout: options.requestTimeoutMs ?? 60_000,
    ...(options.connection ? { connection: options.connection as never } : {}),
    clickhouse_settings: {
      async_insert: 0 as const,
      wait_end_of_query: 1 as const,
      output_format_json_quote_64bit_integers: 1 as const,
      ...(options.readOnly ? { max_execution_time: options.readOnly.maxExecutionTimeS } : {}),
    },
  };
  let client: ReturnType<typeof createClient> | undefined;
  let bootstrap: ReturnType<typeof createClient> | undefined;
  let ready: Promise<ReturnType<typeof createClient>> | undefined;

  function connect() {
    ready ??= (async () => {
      // Kept until close(): closing it would also close a connection it shares.
      if (!options.readOnly) {
        bootstrap ??= createClient(base);
        await bootstrap.command({
          query: `CREATE DATABASE IF NOT EXISTS ${database}${cluster ? ` ON CLUSTER ${cluster.name}` : ''}`,
        });
      }
      client = createClient({ ...base, database });
      return client;
    })().catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    return ready;
  }

  return {
    mode: 'server',
    database,
    ...(cluster ? { cluster } : {}),
    async query<T>(sql: string, params?: QueryParams) {
      try {
        const c = await connect();
        const result = await c.query({ query: sql, query_params: params ?? {}, format: 'JSONEachRow' });
        return (await result.json()) as T[];
      } catch (error) {
        throw toClickHouseError('query', error);
      }
    },
    async exec(sql, params) {
      try {
        const c = await connect();
        await c.command({ query: sql, query_params: params ?? {} });
      } catch (error) {
        throw toClickHouseError('exec', error);
      }
    },
    async insert(table, rows, insertOptions: InsertOptions = {}) {
      const { format, columns, payload, rows: count } = insertFormat(rows, insertOptions);
      if (count === 0) return { rows: 0 };
      try {
        const c = await connect();
        // exec with a raw values stream: the buffer goes to the server as it is, with no
        // re-serialisation by the client (RowBinary included: the server reads any input
        // format over HTTP).
        const result = await c.exec({
          query: `INSERT INTO ${assertIdentifier(table)}${columns ? ` (${columns.join(', ')})` : ''} FORMAT ${format}`,
          values: Readable.from([payload]),
          clickhouse_settings: {
            ...(insertOptions.dedupToken
              ? { insert_deduplicate: 1, insert_deduplication_token: insertOptions.dedupToken }
              : {}),
            // On a cluster the insert goes to a Distributed table: acknowledged only once
            // every shard's replicated table has it (the sink commits offsets after), and
            // with the token passed on to each shard's insert, so a retry is a no-op there.
            // (insert_distributed_sync: the older name of distributed_foreground_insert,
            // which servers before 23.7 do not know.)
            ...(cluster ? { insert_distributed_sync: 1 as const } : {}),
          },
        });
        result.stream.resume();
        await new Promise<void>((resolve, reject) => {
          result.stream.once('end', resolve).once('error', reject);
        });
      } catch (error) {
        throw toClickHouseError(`insert into ${table}`, error);
      }
      return { rows: count };
    },
    async close() {
      await client?.close();
      await bootstrap?.close();
    },
  };
}
