/**
 * A scratch PostgreSQL database per test file on the stack's PostgreSQL (`make up`: the
 * project's own cluster on 5433, or POSTGRES_URL), created by the `fleetgrid` role (it has
 * CREATEDB) and dropped afterwards. Nothing else on that server is touched.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { loadConfig, type PostgresConfig } from '../../lib/config.ts';
import { silentLogger } from '../../lib/log.ts';
import { createPool, type Pool } from '../../registry/index.ts';

/** The stack's server as the services reach it, on its `postgres` database. */
export function adminConnection(): PostgresConfig {
  const { postgres } = loadConfig();
  const url = new URL(postgres.url);
  url.pathname = '/postgres';
  return { url: url.toString(), password: postgres.password };
}

export interface ScratchDatabase {
  name: string;
  /** POSTGRES_URL of the scratch database. */
  url: string;
  config: PostgresConfig;
  pool(max?: number): Pool;
  /** Runs one statement (or several) on the scratch database. */
  sql<R extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<R[]>;
  drop(): Promise<void>;
}

async function admin<T>(connection: PostgresConfig, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const url = new URL(connection.url);
  if (connection.password !== undefined) url.password = connection.password;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createScratchDatabase(
  label: string,
  connection = adminConnection(),
): Promise<ScratchDatabase> {
  const name = `fg_test_${label
    .replace(/[^a-z0-9]/gi, '_')
    .toLowerCase()
    .slice(0, 30)}_${randomUUID().slice(0, 8)}`;
  await admin(connection, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(connection.url);
  url.pathname = `/${name}`;
  const config: PostgresConfig = { url: url.toString(), password: connection.password };
  const pools: Pool[] = [];
  const own = createPool(
    config,
    { max: 2, connectTimeoutMs: 5_000, statementTimeoutMs: 30_000, applicationName: 'fleetgrid-test' },
    silentLogger,
  );
  return {
    name,
    url: config.url,
    config,
    pool(max = 4) {
      const pool = createPool(
        config,
        { max, connectTimeoutMs: 5_000, statementTimeoutMs: 30_000, applicationName: 'fleetgrid-test' },
        silentLogger,
      );
      pools.push(pool);
      return pool;
    },
    async sql(text, values) {
      return (await own.query(text, values)).rows;
    },
    async drop() {
      await Promise.all([own, ...pools].map((pool) => pool.end().catch(() => undefined)));
      await admin(connection, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
