/**
 * Versioned SQL migrations as files `NNN_name.sql`, shared by the stores that keep their
 * schema in the repository (clickhouse/migrations for ClickHouse, registry/migrations for
 * PostgreSQL). Each store applies them its own way; what they share is this: files are
 * read in version order, a version appears once, and the checksum is of the file as
 * committed, so a store can refuse to start when an applied migration was edited
 * (migrations are append-only: a change is a new file).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FleetgridError } from './errors.ts';

export interface Migration {
  version: number;
  name: string;
  checksum: string;
  sql: string;
}

export function loadMigrations(dir: string): Migration[] {
  const files = readdirSync(dir)
    .filter((file) => /^\d{3}_[a-z0-9_]+\.sql$/.test(file))
    .sort();
  const migrations = files.map((file) => {
    const sql = readFileSync(join(dir, file), 'utf8');
    return {
      version: Number(file.slice(0, 3)),
      name: file.slice(4, -4),
      checksum: createHash('sha256').update(sql).digest('hex'),
      sql,
    };
  });
  const versions = new Set(migrations.map((m) => m.version));
  if (versions.size !== migrations.length)
    throw new FleetgridError('CONFIG_INVALID', `duplicate migration version in ${dir}`);
  return migrations;
}

/** The refusal every store gives when an applied migration's file changed. */
export function changedMigrationError(migration: Migration, recordedChecksum: string): FleetgridError {
  return new FleetgridError(
    'CONFIG_INVALID',
    `migration ${migration.version}_${migration.name} changed after it was applied (checksum ${recordedChecksum.slice(0, 12)} → ${migration.checksum.slice(0, 12)}); add a new migration instead`,
  );
}
