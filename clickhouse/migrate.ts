/**
 * Versioned SQL migrations (clickhouse/migrations/NNN_name.sql), applied in order at start.
 * Idempotent twice over: every statement is `IF NOT EXISTS`, so a run interrupted halfway
 * is simply repeated; and each applied file is recorded in `schema_migrations`, so later
 * starts skip it. The checksum is of the file before placeholder substitution; a changed
 * checksum of an applied file stops the start (migrations are append-only).
 */
import { join } from 'node:path';
import { FleetgridError } from '../lib/errors.ts';
import {
  changedMigrationError,
  type Migration,
  loadMigrations as loadMigrationFiles,
} from '../lib/migrations.ts';
import type { ClickHouseBackend } from './backend.ts';

export type { Migration };
export const MIGRATIONS_DIR = join(import.meta.dirname, 'migrations');
export const MIGRATIONS_TABLE = 'schema_migrations';

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return loadMigrationFiles(dir);
}

/** Fills {{NAME}} placeholders; an unknown one is an error, not an empty string. */
export function renderSql(sql: string, variables: Record<string, string>): string {
  return sql.replace(/\{\{([A-Z_]+)\}\}/g, (_match, name: string) => {
    const value = variables[name];
    if (value === undefined)
      throw new FleetgridError('CONFIG_INVALID', `migration placeholder {{${name}}} has no value`);
    return value;
  });
}

/** Splits a file into statements: at `;` ending a line, after dropping `--` comment lines. */
export function splitStatements(sql: string): string[] {
  const withoutComments = sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n');
  return withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
}

export interface MigrationReport {
  applied: number[];
  skipped: number[];
}

export async function migrate(
  backend: ClickHouseBackend,
  variables: Record<string, string>,
  migrations = loadMigrations(),
  now = Date.now,
  options: { reapply?: boolean } = {},
): Promise<MigrationReport> {
  await backend.exec(
    `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY version`,
  );
  const rows = await backend.query<{ version: number; checksum: string }>(
    `SELECT version, any(checksum) AS checksum FROM ${MIGRATIONS_TABLE} GROUP BY version`,
  );
  const done = new Map(rows.map((row) => [Number(row.version), row.checksum]));
  const report: MigrationReport = { applied: [], skipped: [] };
  for (const migration of migrations) {
    const recorded = done.get(migration.version);
    if (recorded !== undefined) {
      if (recorded !== migration.checksum) {
        throw changedMigrationError(migration, recorded);
      }
      // Re-running an applied file is safe (IF NOT EXISTS): replay uses it to recreate a
      // projection that an operator dropped.
      if (options.reapply) {
        for (const statement of splitStatements(renderSql(migration.sql, variables)))
          await backend.exec(statement);
      }
      report.skipped.push(migration.version);
      continue;
    }
    for (const statement of splitStatements(renderSql(migration.sql, variables))) {
      await backend.exec(statement);
    }
    await backend.insert(
      MIGRATIONS_TABLE,
      [{ version: migration.version, name: migration.name, checksum: migration.checksum, applied_at: now() }],
      // Two sinks starting together record a version once.
      { dedupToken: `migration:${migration.version}:${migration.checksum}` },
    );
    report.applied.push(migration.version);
  }
  return report;
}
