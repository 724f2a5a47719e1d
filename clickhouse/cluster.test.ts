import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type ClusterLayout,
  type ClusterTables,
  clusterStatements,
  REPLICATED_DEDUP_WINDOW_SECONDS,
} from './cluster.ts';
import { loadMigrations, migrationPlan, renderSql, splitStatements } from './migrate.ts';

const VARIABLES = { RAW_TTL_DAYS: '30', AGG_TTL_DAYS: '400' };
const LAYOUT: ClusterLayout = {
  name: 'fleet',
  keeperPathPrefix: '/clickhouse/tables',
  database: 'fleetgrid',
};

describe('single-node and embedded statements', () => {
  it('are byte for byte those of the files before the cluster form existed', () => {
    const migrations = loadMigrations();
    const plan = migrationPlan(migrations, VARIABLES);
    expect(plan.bookkeeping).toEqual([
      "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY version",
    ]);
    // sha256 of the statements as main rendered them before this change (migrations are
    // append-only, so these never change; a new file adds a line).
    const before: Record<number, string> = {
      1: '2db66aec5511c558c2b18e2b2309e3aac75f7e9b808b94e39a925560f1ad9c54',
      2: '5802b53de9b9f24a261a732452207daff6b0252a0f3536e9569fb55a08add69a',
      3: '22a687f9212d623b98d2f11082984a331ed89bc07ae1e261b06943d7d17158ac',
      4: 'e3a3536e328cf87523765a59d99fa4969d6bf5ddbda2db089a75cc289737c760',
      5: 'adce05274352b4c933d491ff63e7c63d14075d1568138d10d914fb2f4648c64d',
      6: 'd107c2ec4964bfeb12244976dd2f0cebf904712c6380f2c0e843f3212ccb55d8',
      7: '17855d4e0e3ea0ca5da5ab4191899b09b34f0740df29569b4a1ac31175b3ebca',
    };
    for (const m of migrations) {
      const statements = plan.statements.get(m.version) ?? [];
      expect(statements).toEqual(splitStatements(renderSql(m.sql, VARIABLES)));
      if (before[m.version] !== undefined)
        expect(createHash('sha256').update(statements.join('\n;\n')).digest('hex')).toBe(before[m.version]);
    }
  });
});

describe('cluster form of every migration', () => {
  const migrations = loadMigrations();
  const plan = migrationPlan(migrations, VARIABLES, LAYOUT);
  const all = [...plan.bookkeeping, ...migrations.flatMap((m) => plan.statements.get(m.version) ?? [])];

  it('runs every statement ON CLUSTER', () => {
    expect(all.length).toBeGreaterThan(0);
    for (const statement of all)
      expect(statement).toMatch(/^(CREATE (TABLE|VIEW) IF NOT EXISTS|ALTER TABLE) \w+ ON CLUSTER fleet\b/);
  });

  it('replicates every MergeTree table under the Keeper path with the shard and replica macros', () => {
    const creates = all.filter((s) => /^CREATE TABLE \S+ \S+ \S+ \S+ ON CLUSTER fleet\s*\(/.test(s));
    // 5 raw, aggregates_1m, device_state, alerts, dead_letters, alert_actions, 3 dims,
    // rollups_1h, rollup_progress, schema_migrations
    expect(creates).toHaveLength(16);
    for (const statement of creates) {
      expect(statement).toMatch(/^CREATE TABLE IF NOT EXISTS \w+_local ON CLUSTER fleet/);
      expect(statement).toMatch(
        /ENGINE = Replicated(Replacing)?MergeTree\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/\{table\}', '\{replica\}'/,
      );
    }
    for (const statement of all) expect(statement).not.toMatch(/ENGINE = (Replacing)?MergeTree\b/);
    // A version column stays the engine's argument, after the replication ones.
    expect(all.find((s) => s.startsWith('CREATE TABLE IF NOT EXISTS aggregates_1m_local'))).toContain(
      "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', revision)",
    );
  });

  it('carries the dedup window over to Keeper with a time limit', () => {
    for (const statement of all) expect(statement).not.toContain('non_replicated_deduplication_window');
    const windowed = all.filter((s) => s.includes('replicated_deduplication_window = 10000'));
    // every table whose single-node form had a window: 5 raw, aggregates_1m, 3 of 003, alert_actions
    expect(windowed).toHaveLength(10);
    for (const s of windowed)
      expect(s).toContain(`replicated_deduplication_window_seconds = ${REPLICATED_DEDUP_WINDOW_SECONDS}`);
  });

  it('creates a Distributed table under the single-node name right after its local table or view', () => {
    const locals = all.flatMap((s) => /^CREATE (?:TABLE|VIEW) IF NOT EXISTS (\w+)_local /.exec(s)?.[1] ?? []);
    expect(locals).toHaveLength(18); // 16 tables + 2 views
    for (const name of locals) {
      const local = all.findIndex((s) =>
        new RegExp(`^CREATE (TABLE|VIEW) IF NOT EXISTS ${name}_local `).test(s),
      );
      const distributed = all.findIndex((s) =>
        s.startsWith(
          `CREATE TABLE IF NOT EXISTS ${name} ON CLUSTER fleet AS ${name}_local ENGINE = Distributed(fleet, fleetgrid, ${name}_local`,
        ),
      );
      expect(distributed, name).toBe(local + 1);
    }
    // Inserts are sharded by the first sorting column, so rows that fold together meet.
    expect(all).toContain(
      'CREATE TABLE IF NOT EXISTS truck_telemetry ON CLUSTER fleet AS truck_telemetry_local ENGINE = Distributed(fleet, fleetgrid, truck_telemetry_local, cityHash64(device_id))',
    );
    // The rollups by their hour: a re-roll of an hour folds on the shard of its first roll.
    expect(all).toContain(
      'CREATE TABLE IF NOT EXISTS rollups_1h ON CLUSTER fleet AS rollups_1h_local ENGINE = Distributed(fleet, fleetgrid, rollups_1h_local, cityHash64(bucket_start))',
    );
    expect(all).toContain(
      'CREATE TABLE IF NOT EXISTS schema_migrations ON CLUSTER fleet AS schema_migrations_local ENGINE = Distributed(fleet, fleetgrid, schema_migrations_local, cityHash64(version))',
    );
  });

  it('makes the views read the local tables on each shard', () => {
    for (const name of ['aggregates_1h', 'aggregates_1d']) {
      const view =
        all.find((s) => s.startsWith(`CREATE VIEW IF NOT EXISTS ${name}_local ON CLUSTER fleet AS\n`)) ?? '';
      expect(view).toContain('FROM aggregates_1m_local FINAL');
      expect(view).not.toMatch(/FROM aggregates_1m\b(?!_local)/);
    }
  });

  it('adds the columns of migration 006 to the local and the Distributed tables, local first', () => {
    const statements = plan.statements.get(6) ?? [];
    expect(statements.map((s) => s.split('\n')[0])).toEqual([
      'ALTER TABLE aggregates_1m_local ON CLUSTER fleet',
      'ALTER TABLE aggregates_1m ON CLUSTER fleet',
      'ALTER TABLE alerts_local ON CLUSTER fleet',
      'ALTER TABLE alerts ON CLUSTER fleet',
      'ALTER TABLE device_state_local ON CLUSTER fleet',
      'ALTER TABLE device_state ON CLUSTER fleet',
    ]);
  });

  it('uses the configured Keeper path prefix', () => {
    const other = migrationPlan(migrations, VARIABLES, { ...LAYOUT, keeperPathPrefix: '/ch/fleetgrid' });
    expect(other.bookkeeping[0]).toContain(
      "ReplicatedMergeTree('/ch/fleetgrid/{shard}/{database}/{table}', '{replica}')",
    );
  });
});

describe('materialized views (none in the migrations yet)', () => {
  const tables = (): ClusterTables =>
    new Map([
      ['truck_telemetry', { shardColumn: 'device_id' }],
      ['speed_max', { shardColumn: 'device_id' }],
      ['dim_sites', { shardColumn: 'id' }],
    ]);

  it('run on each shard from the local source into the local target', () => {
    expect(
      clusterStatements(
        'CREATE MATERIALIZED VIEW IF NOT EXISTS speed_max_mv TO speed_max AS SELECT device_id, max(speed_kmh) AS v FROM truck_telemetry GROUP BY device_id',
        LAYOUT,
        tables(),
      ),
    ).toEqual([
      'CREATE MATERIALIZED VIEW IF NOT EXISTS speed_max_mv_local ON CLUSTER fleet TO speed_max_local AS SELECT device_id, max(speed_kmh) AS v FROM truck_telemetry_local GROUP BY device_id',
    ]);
  });

  it('are refused when the target is not sharded like the source, or is not ours', () => {
    expect(() =>
      clusterStatements(
        'CREATE MATERIALIZED VIEW IF NOT EXISTS m TO dim_sites AS SELECT device_id AS id FROM truck_telemetry',
        LAYOUT,
        tables(),
      ),
    ).toThrow(/not sharded by the same column/);
    expect(() =>
      clusterStatements(
        'CREATE MATERIALIZED VIEW IF NOT EXISTS m TO elsewhere AS SELECT 1 FROM truck_telemetry',
        LAYOUT,
        tables(),
      ),
    ).toThrow(/materialized view must read one table/);
  });
});

describe('statements without a cluster form', () => {
  const form =
    (statement: string, tables: ClusterTables = new Map()) =>
    () =>
      clusterStatements(statement, LAYOUT, tables);

  it('are refused, not passed through to one node', () => {
    expect(form('CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = Memory')).toThrow(/engine Memory/);
    expect(form('CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = ReplicatedMergeTree ORDER BY a')).toThrow(
      /engine/,
    );
    expect(form('INSERT INTO t VALUES (1)')).toThrow(/no cluster form/);
    expect(form('CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = MergeTree ORDER BY tuple()')).toThrow(
      /column to shard by/,
    );
    expect(form('CREATE TABLE IF NOT EXISTS t (a Date) ENGINE = MergeTree ORDER BY (toYear(a), a)')).toThrow(
      /column to shard by/,
    );
    expect(form('ALTER TABLE nope ADD COLUMN IF NOT EXISTS b UInt8')).toThrow(/nope/);
    expect(form('CREATE VIEW IF NOT EXISTS v AS SELECT 1 FROM elsewhere')).toThrow(/a view must read/);
  });

  it('refuses a view whose groups may span shards', () => {
    const tables: ClusterTables = new Map([['aggregates_1m', { shardColumn: 'device_id' }]]);
    expect(
      form(
        'CREATE VIEW IF NOT EXISTS by_site AS SELECT site_id, count() FROM aggregates_1m GROUP BY site_id',
        tables,
      ),
    ).toThrow(/GROUP BY its shard column device_id/);
  });
});
