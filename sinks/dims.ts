/**
 * The registry's dimension tables in ClickHouse, pure core (docs/registry.md "Dimension
 * tables"): one record of a registry topic → what to write into `dim_sites`, `dim_devices`
 * or `dim_drivers` (clickhouse/migrations/005_registry_dims.sql). Records are decoded by the
 * registry's own parser (registry/table.ts decodeRegistryRecord), so the dimension tables
 * and the processors' registry table read a record alike; the columns are the registry's
 * (registry/model.ts TABLES), so a dimension row reads like the PostgreSQL row it copies.
 * No I/O here: sinks/dims-feed.ts consumes the topics and runs the statements.
 */
import { FleetgridError } from '../lib/errors.ts';
import { type EntityName, type EntityTypes, TABLES } from '../registry/model.ts';
import { decodeRegistryRecord, type RegistryRecord } from '../registry/table.ts';

/** The registry entities the read side groups by (rules have no dimension table). */
export const DIM_ENTITIES = ['sites', 'devices', 'drivers'] as const;
export type DimEntity = (typeof DIM_ENTITIES)[number];

export const DIM_TABLES: Record<DimEntity, string> = {
  sites: 'dim_sites',
  devices: 'dim_devices',
  drivers: 'dim_drivers',
};

export function isDimEntity(entity: EntityName): entity is DimEntity {
  return (DIM_ENTITIES as readonly string[]).includes(entity);
}

/** A dimension row: the registry's columns, its version, and the lineage of the record. */
export type DimRow = Record<string, unknown> & {
  id: string;
  version: number;
  deleted: 0;
  kafka_offset: string;
};

export type DimChange =
  /** Insert this row (ReplacingMergeTree keeps the highest version of the id). */
  | { action: 'upsert'; table: string; id: string; row: DimRow }
  /**
   * The id is gone (a delete marker or a tombstone). Neither carries the row's version, so
   * the writer inserts the delete at the newest version the table holds for the id
   * (dimDeleteSql): on a tie the row inserted last wins.
   */
  | { action: 'delete'; table: string; id: string; offset: string }
  /** Not a registry record: dead-lettered with REGISTRY_RECORD_INVALID. */
  | { action: 'invalid'; error: FleetgridError };

/** The entity as the dimension table's columns (snake_case, the registry's own names). */
export function entityToDimRow<N extends DimEntity>(
  entity: N,
  value: EntityTypes[N],
  offset: string,
): DimRow {
  const record = value as unknown as Record<string, unknown>;
  const row: Record<string, unknown> = { id: record.id };
  for (const [field, column] of Object.entries(TABLES[entity].columns)) row[column] = record[field] ?? null;
  return {
    ...row,
    id: String(record.id),
    version: Number(record.version),
    // Epoch milliseconds: ClickHouse reads an integer into DateTime64(3) as milliseconds.
    updated_at: Date.parse(String(record.updatedAt)),
    deleted: 0,
    kafka_offset: offset,
  };
}

/** One record of `registry.<entity>` (at `offset`) → what to write. */
export function toDimChange(
  entity: DimEntity,
  record: Omit<RegistryRecord, 'entity'>,
  offset: string,
): DimChange {
  const change = decodeRegistryRecord({ entity, key: record.key, value: record.value });
  const table = DIM_TABLES[entity];
  if (change.kind === 'invalid')
    return {
      action: 'invalid',
      error: new FleetgridError('REGISTRY_RECORD_INVALID', change.problem),
    };
  if (change.kind === 'delete') return { action: 'delete', table, id: change.id, offset };
  return {
    action: 'upsert',
    table,
    id: change.id,
    row: entityToDimRow(entity, change.entity as EntityTypes[typeof entity], offset),
  };
}

/**
 * Consecutive changes of one kind, in log order: each run is one statement (one insert of
 * rows, or one INSERT … SELECT of deletes), and runs are written in order, so a delete sees
 * the upserts before it and an upsert after a delete is inserted after it.
 */
export type DimRun =
  | { action: 'upsert'; table: string; rows: DimRow[] }
  | { action: 'delete'; table: string; ids: string[]; offset: string };

export function toRuns(changes: readonly DimChange[]): DimRun[] {
  const runs: DimRun[] = [];
  for (const change of changes) {
    if (change.action === 'invalid') continue;
    const last = runs.at(-1);
    if (change.action === 'upsert') {
      if (last?.action === 'upsert' && last.table === change.table) last.rows.push(change.row);
      else runs.push({ action: 'upsert', table: change.table, rows: [change.row] });
    } else if (last?.action === 'delete' && last.table === change.table) {
      if (!last.ids.includes(change.id)) last.ids.push(change.id);
      last.offset = change.offset;
    } else {
      runs.push({ action: 'delete', table: change.table, ids: [change.id], offset: change.offset });
    }
  }
  return runs;
}

/**
 * The statement that deletes `ids`: for each id the table holds, a row marked deleted at
 * the id's newest version (other columns at their defaults). An id the table never held
 * needs nothing. A later write of the id has a higher version (the registry never reuses
 * one), or ties and, inserted later, wins; a write the connector re-sends after the delete
 * ties too and resurrects the row until the re-sent delete that follows it in the log.
 */
export function dimDeleteSql(table: string): string {
  if (!Object.values(DIM_TABLES).includes(table))
    throw new FleetgridError('INTERNAL', `not a dimension table: ${table}`);
  return `INSERT INTO ${table} (id, version, deleted, updated_at, kafka_offset)
SELECT id, max(version), 1, now64(3), {offset:UInt64}
FROM ${table}
WHERE id IN {ids:Array(String)}
GROUP BY id`;
}
