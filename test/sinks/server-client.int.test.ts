/**
 * The server backend's @clickhouse/client code (migrations through `command`, raw
 * JSONEachRow inserts through `exec` with a deduplication token, bound query params,
 * error mapping), run on the embedded engine via chDB's @clickhouse/client Connection.
 * What this does NOT exercise: the HTTP transport and a real server's behaviour; that is
 * server.int.test.ts, which needs CLICKHOUSE_TEST_URL.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';
import { createServerBackend } from '../../clickhouse/index.ts';
import { loadMigrations, migrate } from '../../clickhouse/index.ts';
import { count, tempDataDir } from './harness.ts';

const require = createRequire(import.meta.url);

describe('server backend client code on the engine through chdb/connection', () => {
  const data = tempDataDir('server-client');
  let backend: ClickHouseBackend;

  beforeAll(() => {
    const { createChdbConnection } = require('chdb/connection') as {
      createChdbConnection(options: { path: string }): unknown;
    };
    backend = createServerBackend(
      { mode: 'server', url: 'http://unused.invalid', user: 'default', password: '', database: 'fleetgrid' },
      { connection: createChdbConnection({ path: join(data.dir, 'ch') }) },
    );
  });

  afterAll(async () => {
    await backend?.close();
    data.remove();
  });

  it('applies the migrations once and skips them the second time', async () => {
    // Every migration of the repository, in version order.
    const versions = loadMigrations().map((m) => m.version);
    const first = await migrate(backend, { RAW_TTL_DAYS: '30', AGG_TTL_DAYS: '400' });
    expect(first.applied).toEqual(versions);
    const second = await migrate(backend, { RAW_TTL_DAYS: '30', AGG_TTL_DAYS: '400' });
    expect(second).toEqual({ applied: [], skipped: versions });
  });

  it('drops a repeated insert with the same deduplication token and binds query params', async () => {
    const row = (id: string) =>
      `${JSON.stringify({ event_id: id, device_id: 'd-1', site_id: 's', ts: Date.now() - 60_000, seq: 1, engine_on: true, schema_id: 1, kafka_partition: 0, kafka_offset: '5' })}\n`;
    const payload = Buffer.from(row('a') + row('b'));
    await backend.insert('truck_engine_events', payload, { dedupToken: 't:0:5-6' });
    await backend.insert('truck_engine_events', payload, { dedupToken: 't:0:5-6' });
    expect(
      await count(backend, 'SELECT count() AS n FROM truck_engine_events WHERE device_id = {d:String}', {
        d: 'd-1',
      }),
    ).toBe(2);
  });

  it('reports refused data as non-retriable CLICKHOUSE_REJECTED', async () => {
    await expect(
      backend.insert('truck_engine_events', Buffer.from('{"event_id":"x","ts":"not a time"}\n')),
    ).rejects.toMatchObject({ code: 'CLICKHOUSE_REJECTED', retriable: false });
  });
});
