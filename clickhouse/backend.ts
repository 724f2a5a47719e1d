/**
 * One interface over the two ClickHouse backends (docs/design.md §2): the embedded engine (chDB,
 * in-process) and a ClickHouse server (@clickhouse/client). Everything above this file —
 * migrations, the sink, replay, the query API — speaks only this interface, so the same
 * SQL and the same tests run on both. Errors come out as FleetgridErrors: retriable
 * CLICKHOUSE_UNAVAILABLE (connection, timeout, 5xx, TOO_MANY_PARTS, memory limit) or
 * non-retriable CLICKHOUSE_REJECTED (bad data, bad SQL).
 */
import type { ClickHouseConfig } from '../lib/config.ts';
import { FleetgridError } from '../lib/errors.ts';

export type QueryParams = Record<string, unknown>;

export interface InsertOptions {
  /** insert_deduplication_token: the same token within the table's window is a no-op. */
  dedupToken?: string;
  /**
   * With columns, a buffer holds rows of these columns in this order, in `format`:
   * JSONCompactEachRow lines (one JSON array per row) by default, or RowBinary
   * (clickhouse/rowbinary.ts). Without, JSONEachRow objects.
   */
  columns?: readonly string[];
  format?: ColumnsFormat;
  /** Rows in a RowBinary buffer (required with it: binary rows cannot be counted by lines). */
  rows?: number;
}

/** The formats of a buffer of positional rows (InsertOptions.columns). */
export type ColumnsFormat = 'JSONCompactEachRow' | 'RowBinary';

export interface InsertResult {
  /** Rows sent (lines of the JSONEachRow payload). */
  rows: number;
}

export interface ClickHouseBackend {
  readonly mode: 'embedded' | 'server' | 'remote';
  readonly database: string;
  /**
   * The ClickHouse cluster the migrations target (server mode with CLICKHOUSE_CLUSTER):
   * DDL in its cluster form (clickhouse/cluster.ts). Absent: one node, or the embedded engine.
   */
  readonly cluster?: { name: string; keeperPathPrefix: string } | undefined;
  /** Runs a query and returns its rows (JSONEachRow; 64-bit integers come as strings). */
  query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<T[]>;
  /** Runs a statement without a result (DDL, INSERT … SELECT). */
  exec(sql: string, params?: QueryParams): Promise<void>;
  /** Inserts a ready buffer (JSONEachRow, or JSONCompactEachRow with `columns`) or row objects. */
  insert(table: string, rows: Buffer | readonly object[], options?: InsertOptions): Promise<InsertResult>;
  close(): Promise<void>;
}

/**
 * ClickHouse error codes after which the same request can succeed later: overload,
 * timeouts, network, and "unknown status of insert" (safe to retry thanks to the
 * deduplication token).
 */
const RETRIABLE_CODES = new Set([
  159, // TIMEOUT_EXCEEDED
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  203, // NO_FREE_CONNECTION
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  236, // ABORTED
  241, // MEMORY_LIMIT_EXCEEDED
  242, // TABLE_IS_READ_ONLY (replica lost its keeper session)
  252, // TOO_MANY_PARTS
  319, // UNKNOWN_STATUS_OF_INSERT
  425, // SYSTEM_ERROR
  473, // DEADLOCK_AVOIDED
  999, // KEEPER_EXCEPTION
]);

const RETRIABLE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Maps anything a backend throws onto the two ClickHouse error codes. */
export function toClickHouseError(action: string, error: unknown): FleetgridError {
  if (error instanceof FleetgridError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const e = (error ?? {}) as { code?: unknown; clickhouseCode?: unknown; status?: unknown; name?: unknown };
  const chCode = Number(
    e.clickhouseCode ?? (typeof e.code === 'string' && /^\d+$/.test(e.code) ? e.code : NaN),
  );
  const nodeCode = typeof e.code === 'string' ? e.code : '';
  const status = typeof e.status === 'number' ? e.status : undefined;
  const retriable =
    (Number.isFinite(chCode) && RETRIABLE_CODES.has(chCode)) ||
    RETRIABLE_NODE_CODES.has(nodeCode) ||
    (status !== undefined && status >= 500 && !Number.isFinite(chCode)) ||
    e.name === 'ChdbTimeoutError' ||
    /timeout|socket hang up|ECONNREFUSED|ECONNRESET/i.test(Number.isFinite(chCode) ? '' : message);
  return new FleetgridError(
    retriable ? 'CLICKHOUSE_UNAVAILABLE' : 'CLICKHOUSE_REJECTED',
    `${action}: ${message}`,
    {
      cause: error,
      details: {
        ...(Number.isFinite(chCode) ? { clickhouseCode: chCode } : {}),
        ...(nodeCode ? { nodeCode } : {}),
      },
    },
  );
}

/** Identifiers we put into SQL ourselves (table names): plain ones only, never user input. */
export function assertIdentifier(name: string): string {
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*(\.[a-zA-Z_][a-zA-Z0-9_]*)?$/.test(name)) {
    throw new FleetgridError('INVALID_ARGUMENT', `not a plain identifier: ${name}`);
  }
  return name;
}

export function toJsonEachRow(rows: Buffer | readonly object[]): { payload: Buffer; rows: number } {
  if (Buffer.isBuffer(rows)) {
    let lines = 0;
    for (let i = rows.indexOf(10); i !== -1; i = rows.indexOf(10, i + 1)) lines++;
    if (rows.length > 0 && rows[rows.length - 1] !== 10) lines++;
    return { payload: rows, rows: lines };
  }
  return { payload: Buffer.from(rows.map((row) => `${JSON.stringify(row)}\n`).join('')), rows: rows.length };
}

/**
 * The format, column list and row count of an insert, checked (column names go into SQL).
 * A RowBinary buffer must say its columns and rows.
 */
export function insertFormat(
  rows: Buffer | readonly object[],
  options: InsertOptions,
): {
  format: 'JSONEachRow' | ColumnsFormat;
  columns: string[] | undefined;
  payload: Buffer;
  rows: number;
} {
  const columns = Buffer.isBuffer(rows) ? options.columns?.map((c) => assertIdentifier(c)) : undefined;
  if (Buffer.isBuffer(rows) && options.format === 'RowBinary') {
    if (!columns || options.rows === undefined || !Number.isSafeInteger(options.rows) || options.rows < 0)
      throw new FleetgridError('INTERNAL', 'a RowBinary insert needs its columns and its row count');
    return { format: 'RowBinary', columns, payload: rows, rows: rows.length === 0 ? 0 : options.rows };
  }
  const { payload, rows: count } = toJsonEachRow(rows);
  return { format: columns ? 'JSONCompactEachRow' : 'JSONEachRow', columns, payload, rows: count };
}

/** Opens the writing backend of the configured mode (the sink, replay, migrations). */
export async function createBackend(config: ClickHouseConfig): Promise<ClickHouseBackend> {
  if (config.mode === 'server') {
    const { createServerBackend } = await import('./backends/server.ts');
    return createServerBackend(config);
  }
  const { createEmbeddedBackend } = await import('./backends/embedded.ts');
  return createEmbeddedBackend(config);
}
