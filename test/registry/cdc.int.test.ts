/**
 * Registry CDC on the stack's PostgreSQL, Kafka Connect (Debezium 3.6) and Kafka: rows that
 * exist when the connector starts (its snapshot) and every later insert, update and delete
 * reach the compacted topics keyed by id, deletes as tombstones; the registry table folded
 * from the topics equals the database; registration is idempotent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectorConfig, registryHealth, slotState } from '../../registry/cdc.ts';
import { ENTITY_NAMES, registryTopicNames, seedPlan } from '../../registry/index.ts';
import { consumeAll } from '../helpers.ts';
import { type CdcHarness, createCdcHarness } from './cdc-harness.ts';

let h: CdcHarness;

beforeAll(async () => {
  h = await createCdcHarness('registry-cdc');
  // Rows committed before the connector exists: they arrive through its initial snapshot.
  await h.service.seed(seedPlan({ trucks: 4, turbines: 2, solar: 2, seed: 42 }));
  await h.up();
});

afterAll(async () => {
  await h?.teardown();
});

describe('registry CDC', () => {
  it('delivers the rows that existed before the connector started', async () => {
    const expected = await h.databaseRows();
    // Each topic is read on its own: wait for all four.
    await h.follower.until(
      (t) => ENTITY_NAMES.every((entity) => t[entity].size === expected[entity].length),
      60_000,
      'the snapshot',
    );
    expect(h.tableRows()).toEqual(expected);
  });

  it('streams inserts, updates and deletes into the table, which ends equal to the database', async () => {
    const site = await h.service.create('sites', {
      id: 'depot-utrecht',
      kind: 'depot',
      name: 'Utrecht depot',
      lat: 52.09,
      lon: 5.12,
      timeZone: 'Europe/Amsterdam',
      vehicleCapacity: 12,
    });
    const truck = await h.service.create('devices', {
      id: 'truck-00100',
      kind: 'truck',
      siteId: 'depot-utrecht',
      model: 'tractor-40t-reefer',
      plate: 'FG-00100',
      refrigerated: true,
      cargoMinC: -25,
      cargoMaxC: -18,
    });
    const rule = await h.service.put(
      'rules',
      'truck.cargo_temp_breach:device:truck-00100',
      { params: { maxC: -15, useDeviceBand: true, forMs: 120_000 } },
      undefined,
    );
    const held = await h.service.get('devices', 'truck-00002');
    const maintenance = await h.service.put(
      'devices',
      'truck-00002',
      { ...held, status: 'maintenance' },
      held.version,
    );
    const oldRule = await h.service.get('rules', 'truck.harsh_braking:kind:truck');
    await h.service.remove('rules', 'truck.harsh_braking:kind:truck', oldRule.version);

    await h.follower.until(
      (t) =>
        t.sites.get('depot-utrecht')?.version === site.version &&
        t.devices.get('truck-00100')?.version === truck.version &&
        t.rules.get(rule.entity.id)?.version === rule.entity.version &&
        t.devices.get('truck-00002')?.status === 'maintenance' &&
        !t.rules.has('truck.harsh_braking:kind:truck'),
      60_000,
      'the changes',
    );
    expect(h.follower.table.devices.get('truck-00100')).toEqual(truck);
    expect(h.follower.table.devices.get('truck-00002')).toEqual(maintenance.entity);
    expect(h.tableRows()).toEqual(await h.databaseRows());
    // The folded rule resolves for the device as the processors will use it.
    expect(h.follower.table.resolveRule('truck.cargo_temp_breach', truck)).toMatchObject({
      enabled: true,
      params: { maxC: -15, forMs: 120_000 },
      source: { id: 'truck.cargo_temp_breach:device:truck-00100' },
    });
    expect(h.follower.table.counts().invalid).toBe(0);
  });

  it('keys records by id, writes a delete as a marked row and a tombstone, on compacted topics', async () => {
    const topic = registryTopicNames(h.stack.prefix).rules;
    const records = await consumeAll(
      h.stack,
      topic,
      h.changes.filter((c) => c.entity === 'rules').length,
      30_000,
    );
    const deleted = records.filter((r) => r.key?.toString() === 'truck.harsh_braking:kind:truck');
    expect(
      deleted.map((r) => (r.value === null ? 'tombstone' : JSON.parse(r.value.toString()).payload.__deleted)),
    ).toEqual(['false', 'true', 'tombstone']);
    const first = JSON.parse(records[0]?.value?.toString() ?? '{}');
    expect(first.schema).toMatchObject({ type: 'struct' });
    expect(first.payload).toMatchObject({ rule_id: expect.any(String), __op: 'r' });

    const resources = await h.stack.admin.describeConfigs(
      Object.values(registryTopicNames(h.stack.prefix)).map((name) => ({
        type: 'topic' as const,
        name,
        configNames: ['cleanup.policy'],
      })),
    );
    expect(resources.map((r) => r.configs['cleanup.policy'])).toEqual([
      'compact',
      'compact',
      'compact',
      'compact',
    ]);
  });

  it('registers idempotently: the same configuration, RUNNING, the slot active', async () => {
    const again = await h.up();
    expect(again).toMatchObject({ created: false, state: { connector: 'RUNNING' } });
    const stored = await h.connect.config(h.names.connector);
    expect(stored).toMatchObject(
      Object.fromEntries(
        Object.entries(
          connectorConfig({
            topicPrefix: h.stack.prefix,
            database: { host: '127.0.0.1', port: Number(new URL(h.db.url).port), name: h.db.name },
            user: stored?.['database.user'] ?? '',
            passwordRef: stored?.['database.password'] ?? '',
            heartbeatIntervalMs: 10_000,
          }),
        ).filter(([key]) => key !== 'database.hostname'),
      ),
    );
    expect(stored?.['database.password']).toMatch(/^\$\{file:/);
    const slot = await slotState(h.db.pool(1), h.names.slot);
    expect(slot).toMatchObject({ name: h.names.slot, active: true });
    expect(
      await registryHealth({ connect: h.connect, pool: h.db.pool(1), topicPrefix: h.stack.prefix }),
    ).toMatchObject({
      healthy: true,
      database: { available: true },
      connector: { name: h.names.connector, state: 'RUNNING', tasks: ['RUNNING'] },
      slot: { active: true },
    });
  });
});
