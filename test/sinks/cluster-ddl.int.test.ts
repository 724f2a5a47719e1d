/**
 * The cluster form of the migrations (clickhouse/cluster.ts) through ClickHouse's own parser:
 * every statement is parsed and formatted back by the engine (chDB's `formatQuery`), so a
 * rewrite that breaks the syntax, or puts ON CLUSTER or an engine argument where the parser
 * reads something else, fails here. What this does NOT exercise: running the statements on a
 * cluster (distributed DDL, Keeper, replication, Distributed inserts); no ClickHouse server
 * or Keeper runs on this machine (docs/sinks.md "ClickHouse cluster (server mode)").
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClickHouseBackend,
  createEmbeddedBackend,
  createServerBackend,
  migrate,
} from '../../clickhouse/index.ts';
import { clusterStatements } from '../../clickhouse/cluster.ts';
import { loadMigrations, migrationPlan } from '../../clickhouse/migrate.ts';
import { tempDataDir } from './harness.ts';

const require = createRequire(import.meta.url);

describe('cluster DDL through the engine parser', () => {
  const data = tempDataDir('cluster-ddl');
  let engine: ClickHouseBackend;

  beforeAll(async () => {
    engine = await createEmbeddedBackend({ mode: 'embedded', dataDir: data.dir, database: 'fleetgrid' });
  });

  afterAll(async () => {
    await engine?.close();
    data.remove();
  });

  it('parses every statement of every migration with ON CLUSTER and the replicated engine in place', async () => {
    const plan = migrationPlan(
      loadMigrations(),
      { RAW_TTL_DAYS: '30', AGG_TTL_DAYS: '400' },
      { name: 'fleet', keeperPathPrefix: '/clickhouse/tables', database: 'fleetgrid' },
    );
    const statements = [...plan.bookkeeping, ...[...plan.statements.values()].flat()];
    expect(statements).toHaveLength(42);
    // No migration has a materialized view yet: the rule's output, on a table of 001.
    statements.push(
      ...clusterStatements(
        'CREATE MATERIALIZED VIEW IF NOT EXISTS speed_mv TO truck_engine_events AS SELECT * FROM truck_telemetry',
        { name: 'fleet', keeperPathPrefix: '/clickhouse/tables', database: 'fleetgrid' },
        new Map([
          ['truck_telemetry', { shardColumn: 'device_id' }],
          ['truck_engine_events', { shardColumn: 'device_id' }],
        ]),
      ),
    );
    for (const statement of statements) {
      const [row] = await engine.query<{ formatted: string }>('SELECT formatQuery({q:String}) AS formatted', {
        q: statement,
      });
      const formatted = row?.formatted ?? '';
      expect(formatted).toMatch(
        /^(CREATE (TABLE|VIEW|MATERIALIZED VIEW) IF NOT EXISTS|ALTER TABLE) \w+ ON CLUSTER fleet\b/,
      );
      if (statement.startsWith('CREATE MATERIALIZED VIEW'))
        expect(formatted).toMatch(
          /ON CLUSTER fleet TO truck_engine_events_local\s+AS SELECT \*\s+FROM truck_telemetry_local$/,
        );
      if (/ENGINE = Replicated/.test(statement))
        expect(formatted).toMatch(
          /ENGINE = Replicated\w*MergeTree\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/\{table\}', '\{replica\}'/,
        );
      if (/ENGINE = Distributed/.test(statement))
        expect(formatted).toMatch(/ENGINE = Distributed\(fleet, fleetgrid, \w+_local/);
    }
  });
});

describe('the server backend configured with a cluster, on the engine through chdb/connection', () => {
  const data = tempDataDir('cluster-server');
  afterAll(() => data.remove());

  it('creates the database ON CLUSTER: the engine looks the cluster up (and has none)', async () => {
    const { createChdbConnection } = require('chdb/connection') as {
      createChdbConnection(options: { path: string }): unknown;
    };
    const backend = createServerBackend(
      {
        mode: 'server',
        url: 'http://unused.invalid',
        user: 'default',
        password: '',
        database: 'fleetgrid',
        cluster: { name: 'fleet', keeperPathPrefix: '/clickhouse/tables' },
      },
      { connection: createChdbConnection({ path: join(data.dir, 'ch') }) },
    );
    try {
      expect(backend.cluster).toEqual({ name: 'fleet', keeperPathPrefix: '/clickhouse/tables' });
      await expect(migrate(backend, { RAW_TTL_DAYS: '30', AGG_TTL_DAYS: '400' })).rejects.toThrow(
        /Requested cluster 'fleet' not found/,
      );
    } finally {
      await backend.close();
    }
  });
});
