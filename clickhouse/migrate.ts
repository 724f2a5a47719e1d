/**
 * Versioned SQL migrations (clickhouse/migrations/NNN_name.sql), applied in order at start.
 * Idempotent twice over: every statement is `IF NOT EXISTS`, so a run interrupted halfway
 * is simply repeated; and each applied file is recorded in `schema_migrations`, so later
 * starts skip it. The checksum is of the file before placeholder substitution; a changed
 * checksum of an applied file stops the start (migrations are append-only).
 *
 * On a backend configured with a cluster (server mode, CLICKHOUSE_CLUSTER) every statement,
 * the bookkeeping table's included, is rewritten into its cluster form by cluster.ts; the
 * files stay the same, and so do their checksums.
 */
import { join } from 'node:path';
import { FleetgridError } from '../lib/errors.ts';
import {
  changedMigrationError,
  type Migration,
  loadMigrations as loadMigrationFiles,
} from '../lib/migrations.ts';
import type { ClickHouseBackend } from './backend.ts';
import { type ClusterLayout, type ClusterTables, clusterStatements } from './cluster.ts';

export type { Migration };
export const MIGRATIONS_DIR = join(import.meta.dirname, 'migrations');
export const MIGRATIONS_TABLE = 'schema_migrations';
const MIGRATIONS_TABLE_DDL = `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY version`;

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

/**
 * The statements to run: the bookkeeping table's, then each migration's by version. Without
 * a cluster they are the files' own statements, unchanged; with one, their cluster form,
 * rendered for every migration (applied ones too: a later ALTER or view must know the
 * tables an earlier file created). Rendering everything first means a statement with no
 * cluster form stops the start before anything ran.
 */
export function migrationPlan(
  migrations: readonly Migration[],
  variables: Record<string, string>,
  cluster?: ClusterLayout,
): { bookkeeping: string[]; statements: Map<number, string[]> } {
  const tables: ClusterTables = new Map();
  const form = (statement: string) => (cluster ? clusterStatements(statement, cluster, tables) : [statement]);
  const bookkeeping = form(MIGRATIONS_TABLE_DDL);
  const statements = new Map(
    migrations.map((m) => [m.version, splitStatements(renderSql(m.sql, variables)).flatMap(form)]),
  );
  return { bookkeeping, statements };
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
  const plan = migrationPlan(
    migrations,
    variables,
    backend.cluster ? { ...backend.cluster, database: backend.database } : undefined,
  );
  for (const statement of plan.bookkeeping) await backend.exec(statement);
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
        for (const statement of plan.statements.get(migration.version) ?? []) await backend.exec(statement);
      }
      report.skipped.push(migration.version);
      continue;
    }
    for (const statement of plan.statements.get(migration.version) ?? []) await backend.exec(statement);
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
