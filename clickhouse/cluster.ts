/**
 * The cluster form of the migrations (docs/sinks.md "ClickHouse cluster (server mode)"):
 * derived from the single-node statements by rewriting them, so the repository keeps ONE
 * set of migration files and their checksums (append-only, recorded in schema_migrations)
 * do not change when a deployment moves to a cluster.
 *
 * Layout: every table NAME becomes a Replicated* table `NAME_local` on every node (one
 * replica set per shard) plus a Distributed table `NAME` over it, so the sink, replay's
 * readers and the query side keep the names they use today. A view reads the local tables
 * on each shard (`NAME_local`) and a Distributed `NAME` over the view gathers the shards; a
 * materialized view runs on each shard from a local table into a local table.
 * Every statement runs `ON CLUSTER`.
 *
 * Pure: statements in, statements out. A statement whose cluster form is not known here is
 * refused rather than passed through, so a new migration cannot silently create a table
 * that exists on one node only.
 */
import { FleetgridError } from '../lib/errors.ts';

export interface ClusterLayout {
  /** A cluster of the servers' `remote_servers`. */
  name: string;
  /** Keeper path under which the replicated tables live (`<prefix>/{shard}/{database}/{table}`). */
  keeperPathPrefix: string;
  /** The database the Distributed tables point at (the backend's). */
  database: string;
}

export const LOCAL_SUFFIX = '_local';

/**
 * How long Keeper keeps the hash of an inserted block (per table). The single-node tables
 * keep their last `non_replicated_deduplication_window` blocks without a time limit; the
 * replicated window has both a count and a time limit (the server's default is short), and
 * a sink that was down for hours redelivers its last uncommitted batch with the same token:
 * a week covers any outage an operator would restart a sink after.
 */
export const REPLICATED_DEDUP_WINDOW_SECONDS = 7 * 24 * 3600;

/** Tables seen so far in the migrations, with the column their rows are sharded by. */
export type ClusterTables = Map<string, { shardColumn: string }>;

const CREATE_TABLE =
  /^CREATE TABLE IF NOT EXISTS (\w+)(\s[\s\S]*?)\bENGINE = (\w+)(?:\(([^)]*)\))?([\s\S]*)$/;
const CREATE_VIEW = /^CREATE VIEW IF NOT EXISTS (\w+) AS\s([\s\S]*)$/;
const CREATE_MATERIALIZED_VIEW = /^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+)(\s[\s\S]*)$/;
const ALTER_TABLE = /^ALTER TABLE (\w+)(\s[\s\S]*)$/;

/**
 * The cluster statements of one single-node statement, in the order they must run (a local
 * table before the Distributed table over it). `tables` collects the tables created so far:
 * pass the same map through every migration in version order, applied ones included.
 */
export function clusterStatements(statement: string, layout: ClusterLayout, tables: ClusterTables): string[] {
  const onCluster = `ON CLUSTER ${layout.name}`;
  const table = CREATE_TABLE.exec(statement);
  if (table) {
    const [, name = '', columns = '', engine = '', args, rest = ''] = table;
    if (!/^(Replacing|Summing|Aggregating|Collapsing|VersionedCollapsing)?MergeTree$/.test(engine))
      throw refused(statement, `engine ${engine} has no replicated form here`);
    // A plain column, not a function call (`tuple()`, `toDate(ts)`): its value is the shard key.
    const shardColumn = /\bORDER BY \(?\s*(\w+)\b(?!\s*\()/.exec(rest)?.[1];
    if (!shardColumn) throw refused(statement, 'the sorting key does not start with a column to shard by');
    tables.set(name, { shardColumn });
    const local = `${name}${LOCAL_SUFFIX}`;
    const replicatedArgs = [
      `'${layout.keeperPathPrefix}/{shard}/{database}/{table}'`,
      `'{replica}'`,
      ...(args?.trim() ? [args.trim()] : []),
    ].join(', ');
    return [
      `CREATE TABLE IF NOT EXISTS ${local} ${onCluster}${columns}ENGINE = Replicated${engine}(${replicatedArgs})${replicatedSettings(rest)}`,
      // Rows that fold together (same sorting key) land on the same shard: the first key
      // column decides, so ReplacingMergeTree and FINAL stay exact per shard.
      `CREATE TABLE IF NOT EXISTS ${name} ${onCluster} AS ${local} ENGINE = Distributed(${layout.name}, ${layout.database}, ${local}, cityHash64(${shardColumn}))`,
    ];
  }
  const view = CREATE_VIEW.exec(statement);
  if (view) {
    const [, name = '', select = ''] = view;
    const sources = readsFrom(select);
    if (sources.length === 0 || sources.some((source) => !tables.has(source)))
      throw refused(statement, 'a view must read tables these migrations created');
    // Each shard computes the view over its own rows; the Distributed table only
    // concatenates. That is the whole answer only when every group lives on one shard.
    for (const source of sources) {
      const shardColumn = tables.get(source)?.shardColumn ?? '';
      if (!new RegExp(`\\bGROUP BY ${shardColumn}\\b`).test(select))
        throw refused(statement, `a view over ${source} must GROUP BY its shard column ${shardColumn} first`);
    }
    const local = `${name}${LOCAL_SUFFIX}`;
    return [
      `CREATE VIEW IF NOT EXISTS ${local} ${onCluster} AS\n${toLocal(select, tables)}`,
      `CREATE TABLE IF NOT EXISTS ${name} ${onCluster} AS ${local} ENGINE = Distributed(${layout.name}, ${layout.database}, ${local})`,
    ];
  }
  const materialized = CREATE_MATERIALIZED_VIEW.exec(statement);
  if (materialized) {
    const [, name = '', target = '', body = ''] = materialized;
    const sources = readsFrom(body);
    const targetShard = tables.get(target)?.shardColumn;
    if (!targetShard || sources.length !== 1 || !tables.has(sources[0] ?? ''))
      throw refused(
        statement,
        'a materialized view must read one table and write one table these migrations created',
      );
    // The view runs on the shard that received the insert and writes that shard's target:
    // the target's rows must belong there, i.e. both tables are sharded by the same column.
    if (tables.get(sources[0] ?? '')?.shardColumn !== targetShard)
      throw refused(statement, `${sources[0]} and ${target} are not sharded by the same column`);
    // Its rows are read through the target's Distributed table: no Distributed of its own.
    return [
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${name}${LOCAL_SUFFIX} ${onCluster} TO ${target}${LOCAL_SUFFIX}${toLocal(body, tables)}`,
    ];
  }
  const alter = ALTER_TABLE.exec(statement);
  if (alter) {
    const [, name = '', clauses = ''] = alter;
    if (!tables.has(name)) throw refused(statement, `${name} is not a table these migrations created`);
    // The Distributed table keeps its own column list: it gets the same columns.
    return [
      `ALTER TABLE ${name}${LOCAL_SUFFIX} ${onCluster}${clauses}`,
      `ALTER TABLE ${name} ${onCluster}${clauses}`,
    ];
  }
  throw refused(statement, 'no cluster form for this kind of statement');
}

/** The tables a SELECT reads (after FROM or JOIN). */
function readsFrom(select: string): string[] {
  return [...select.matchAll(/\b(?:FROM|JOIN) (\w+)/g)].map((m) => m[1] ?? '');
}

/** The same SELECT over the local tables of this shard. */
function toLocal(select: string, tables: ClusterTables): string {
  return select.replace(/\b(FROM|JOIN) (\w+)/g, (_m, verb: string, source: string) =>
    tables.has(source) ? `${verb} ${source}${LOCAL_SUFFIX}` : `${verb} ${source}`,
  );
}

/**
 * The single-node deduplication window becomes the replicated one (hashes in Keeper, shared
 * by the replicas of a shard, so a retry on another replica is still a no-op).
 */
function replicatedSettings(rest: string): string {
  return rest.replace(
    /\bnon_replicated_deduplication_window = (\d+)/,
    (_m, blocks: string) =>
      `replicated_deduplication_window = ${blocks}, replicated_deduplication_window_seconds = ${REPLICATED_DEDUP_WINDOW_SECONDS}`,
  );
}

function refused(statement: string, why: string): FleetgridError {
  return new FleetgridError(
    'CONFIG_INVALID',
    `migration statement cannot target a ClickHouse cluster (${why}): ${statement.slice(0, 80)}…`,
  );
}
