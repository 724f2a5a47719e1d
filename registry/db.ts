/**
 * The registry's PostgreSQL connection: a `pg` pool configured from POSTGRES_URL and
 * POSTGRES_PASSWORD(_FILE), and the mapping of the client's failures onto FleetgridError
 * (a server that is down or restarting is retriable; bad credentials or a missing database
 * are configuration errors and are not).
 */
import pg from 'pg';
import type { PostgresConfig } from '../lib/config.ts';
import { type ErrorCode, FleetgridError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export const { DatabaseError } = pg;

export interface PoolOptions {
  max: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  applicationName: string;
}

const INT8_OID = 20;
const DATE_OID = 1082;

// Per pool, not pg's global parsers: versions (bigint) as numbers — they come from one
// sequence and stay far below 2^53 — and dates as the 'YYYY-MM-DD' they are, not local midnights.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID) return (value: string) => Number(value);
    if (oid === DATE_OID) return (value: string) => value;
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

export function createPool(config: PostgresConfig, options: PoolOptions, log: Logger): Pool {
  const pool = new pg.Pool({
    connectionString: withPassword(config),
    max: options.max,
    connectionTimeoutMillis: options.connectTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    idle_in_transaction_session_timeout: options.statementTimeoutMs * 3,
    application_name: options.applicationName,
    idleTimeoutMillis: 30_000,
    types,
  });
  // An idle connection that the server closes (restart, failover) is reported here; without a
  // listener it would crash the process. The next query opens a new connection.
  pool.on('error', (error) => log.warn({ err: toPostgresError('idle connection', error) }, 'postgres'));
  return pool;
}

/**
 * The connection string with the password in it, in memory only. pg lets the fields parsed
 * from connectionString override explicit ones — an empty password included — so a separate
 * `password` option would be ignored.
 */
function withPassword(config: PostgresConfig): string {
  if (config.password === undefined) return config.url;
  const url = new URL(config.url);
  url.password = config.password;
  return url.toString();
}

/** Where a URL points, without its password: for messages and logs. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.username ? `${parsed.username}@` : ''}${parsed.host}${parsed.pathname}`;
  } catch {
    return '(unparseable POSTGRES_URL)';
  }
}

const UNAVAILABLE =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i;

/** The SQLSTATE of a server error, if it is one. */
export function sqlState(error: unknown): string | undefined {
  return error instanceof pg.DatabaseError ? error.code : undefined;
}

/** Maps a client or server failure onto FleetgridError; constraint violations are the caller's to explain. */
export function toPostgresError(action: string, error: unknown): FleetgridError {
  if (error instanceof FleetgridError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const state = sqlState(error);
  let code: ErrorCode = 'INTERNAL';
  if (state !== undefined) {
    // 08: connection exception; 57P01-03: server shutting down or starting; 53300: too many connections.
    if (state.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(state))
      code = 'POSTGRES_UNAVAILABLE';
    else if (state === '57014') code = 'TIMEOUT';
    // 28: bad credentials; 3D000: no such database — a retry cannot help.
    else if (state.startsWith('28') || state === '3D000') code = 'CONFIG_INVALID';
  } else if (/password must be a string|no password/i.test(message)) {
    // The server wants a password and none is configured.
    return new FleetgridError(
      'CONFIG_INVALID',
      `${action}: the server asks for a password; set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE`,
      { cause: error },
    );
  } else if (UNAVAILABLE.test(message) || (error as NodeJS.ErrnoException)?.code === 'ECONNREFUSED') {
    code = 'POSTGRES_UNAVAILABLE';
  }
  return new FleetgridError(code, `${action}: ${message}`, {
    cause: error,
    ...(state !== undefined ? { details: { sqlState: state } } : {}),
  });
}
