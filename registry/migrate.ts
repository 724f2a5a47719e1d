/**
 * The registry's schema migrations (registry/migrations/NNN_name.sql), applied in order by
 * `make up`, `fleetgrid registry migrate` and, on first use, by the CLI and the API. Each
 * file runs in one transaction together with its record in registry.schema_migrations
 * (PostgreSQL has transactional DDL), so a migration is applied whole or not at all. A
 * session advisory lock makes concurrent starters take turns; the second finds the work
 * done. An applied file whose checksum changed stops everything: migrations are append-only.
 */
import { join } from 'node:path';
import { changedMigrationError, loadMigrations, type Migration } from '../lib/migrations.ts';
import { type Pool, type PoolClient, toPostgresError } from './db.ts';

export const REGISTRY_MIGRATIONS_DIR = join(import.meta.dirname, 'migrations');
export const REGISTRY_SCHEMA = 'registry';

/** Key of the advisory lock the migrators share (any constant; this one spells "fleetreg"). */
const LOCK_KEY = '7379382624163689842';

export interface RegistryMigrationReport {
  applied: number[];
  skipped: number[];
}

export function loadRegistryMigrations(dir = REGISTRY_MIGRATIONS_DIR): Migration[] {
  return loadMigrations(dir);
}

export async function migrateRegistry(
  pool: Pool,
  migrations: Migration[] = loadRegistryMigrations(),
): Promise<RegistryMigrationReport> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw toPostgresError('registry migrations: connect', error);
  }
  const report: RegistryMigrationReport = { applied: [], skipped: [] };
  let locked = false;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    locked = true;
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${REGISTRY_SCHEMA}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${REGISTRY_SCHEMA}.schema_migrations (
         version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ version: number; checksum: string }>(
      `SELECT version, checksum FROM ${REGISTRY_SCHEMA}.schema_migrations`,
    );
    const done = new Map(rows.map((row) => [Number(row.version), row.checksum]));
    for (const migration of migrations) {
      const recorded = done.get(migration.version);
      if (recorded !== undefined) {
        if (recorded !== migration.checksum) throw changedMigrationError(migration, recorded);
        report.skipped.push(migration.version);
        continue;
      }
      try {
        await client.query('BEGIN');
        // The file as one simple-protocol query: several statements, function bodies and all.
        await client.query(migration.sql);
        await client.query(
          `INSERT INTO ${REGISTRY_SCHEMA}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`,
          [migration.version, migration.name, migration.checksum],
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw toPostgresError(`registry migration ${migration.version}_${migration.name}`, error);
      }
      report.applied.push(migration.version);
    }
    return report;
  } catch (error) {
    throw toPostgresError('registry migrations', error);
  } finally {
    if (locked) await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    client.release();
  }
}
