import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EntityName } from './model.ts';
import { createRegistryTable, decodeKey, type RegistryRecord } from './table.ts';

/** A record as Debezium writes it: ExtractNewRecordState, JsonConverter with schemas, key = the id. */
function record(entity: EntityName, row: Record<string, unknown>): RegistryRecord {
  return {
    entity,
    key: Buffer.from(String(row.id)),
    value: Buffer.from(
      JSON.stringify({ schema: { type: 'struct', optional: false }, payload: { ...row, __op: 'u' } }),
    ),
  };
}
const tombstone = (entity: EntityName, id: string): RegistryRecord => ({ entity, key: id, value: null });

const site = (id: string, version: number, name = id) => ({
  id,
  kind: 'depot',
  name,
  lat: 51.9,
  lon: 4.5,
  time_zone: 'Europe/Amsterdam',
  capacity_kw: null,
  vehicle_capacity: 20,
  version,
  updated_at: '2026-04-01T10:00:00Z',
});

const truck = (id: string, version: number, extra: Record<string, unknown> = {}) => ({
  id,
  kind: 'truck',
  site_id: 'depot-lyon',
  site_kind: 'depot',
  model: 'tractor-40t',
  status: 'active',
  plate: `P-${id}`,
  refrigerated: false,
  cargo_min_c: null,
  cargo_max_c: null,
  driver_id: null,
  rated_kw: null,
  power_curve: null,
  kwp: null,
  version,
  updated_at: '2026-04-01T10:00:00Z',
  ...extra,
});

const rule = (
  scope: string,
  scopeId: string,
  version: number,
  params: Record<string, unknown>,
  enabled = true,
) => ({
  id: `truck.overspeed:${scope}:${scopeId}`,
  rule_id: 'truck.overspeed',
  scope,
  scope_id: scopeId,
  params: JSON.stringify(params),
  enabled,
  version,
  updated_at: '2026-04-01T10:00:00Z',
});

describe('the registry table', () => {
  it('folds upserts by id and keeps the newest version', () => {
    const table = createRegistryTable();
    expect(table.apply(record('sites', site('depot-lyon', 3, 'Lyon')))).toEqual({
      outcome: 'upserted',
      id: 'depot-lyon',
    });
    expect(table.apply(record('sites', site('depot-lyon', 9, 'Lyon depot')))).toMatchObject({
      outcome: 'upserted',
    });
    expect(table.sites.get('depot-lyon')).toMatchObject({
      name: 'Lyon depot',
      timeZone: 'Europe/Amsterdam',
      version: 9,
    });
    expect(table.maxVersion()).toBe(9);
  });

  it('ignores a re-delivered older or equal version (the connector re-sends after a crash)', () => {
    const table = createRegistryTable();
    table.apply(record('devices', truck('truck-1', 5, { status: 'maintenance' })));
    expect(table.apply(record('devices', truck('truck-1', 4)))).toEqual({
      outcome: 'unchanged',
      id: 'truck-1',
    });
    expect(table.apply(record('devices', truck('truck-1', 5, { status: 'maintenance' })))).toMatchObject({
      outcome: 'unchanged',
    });
    expect(table.devices.get('truck-1')?.status).toBe('maintenance');
    expect(table.counts()).toEqual({ upserted: 1, deleted: 0, unchanged: 2, invalid: 0 });
  });

  it('deletes on a tombstone and on a delete marker', () => {
    const table = createRegistryTable();
    table.apply(record('devices', truck('truck-1', 1)));
    table.apply(record('devices', truck('truck-2', 2)));
    expect(table.apply(tombstone('devices', 'truck-1'))).toEqual({ outcome: 'deleted', id: 'truck-1' });
    expect(table.apply(record('devices', { id: 'truck-2', __deleted: 'true' }))).toMatchObject({
      outcome: 'deleted',
    });
    expect(table.apply(tombstone('devices', 'truck-2'))).toEqual({ outcome: 'unchanged', id: 'truck-2' });
    expect(table.devices.size).toBe(0);
  });

  it('counts what is not a registry record and leaves the table as it was', () => {
    const table = createRegistryTable();
    table.apply(record('devices', truck('truck-1', 1)));
    const results = [
      table.apply({ entity: 'devices', key: 'truck-1', value: 'not json' }),
      table.apply({ entity: 'devices', key: null, value: '{}' }),
      table.apply({ entity: 'devices', key: 'truck-1', value: '[1,2]' }),
      table.apply(record('devices', truck('truck-1', 7, { status: 'lost' }))),
      table.apply({ ...record('devices', truck('truck-9', 7)), key: 'truck-1' }),
      table.apply(record('rules', rule('kind', 'truck', 3, { limitKmh: -10 }))),
    ];
    expect(results.map((r) => r.outcome)).toEqual([
      'invalid',
      'invalid',
      'invalid',
      'invalid',
      'invalid',
      'invalid',
    ]);
    expect(results[3]).toMatchObject({ problem: expect.stringContaining('status') });
    expect(results[4]).toMatchObject({
      problem: expect.stringContaining("the key and the row's id truck-9 differ"),
    });
    expect(table.devices.get('truck-1')?.version).toBe(1);
    expect(table.rules.size).toBe(0);
    expect(table.counts().invalid).toBe(6);
  });

  it('reads keys as plain ids or as Connect JSON structs', () => {
    expect(decodeKey('truck-1')).toBe('truck-1');
    expect(decodeKey(Buffer.from('{"schema":{"type":"struct"},"payload":{"id":"truck-1"}}'))).toBe('truck-1');
    expect(decodeKey('{"id":"truck-2"}')).toBe('truck-2');
  });

  it('resolves rule parameters: device, then site, then model, then kind, then built in', () => {
    const table = createRegistryTable();
    const device = { id: 'truck-1', kind: 'truck' as const, siteId: 'depot-lyon', model: 'tractor-40t' };
    expect(table.resolveRule('truck.overspeed', device)).toEqual({
      enabled: true,
      params: { limitKmh: 90, resolveAtOrBelowKmh: 85, forMs: 30_000 },
      source: undefined,
    });
    const steps: [string, string, number][] = [
      ['kind', 'truck', 89],
      ['model', 'tractor-40t', 88],
      ['site', 'depot-lyon', 87],
      ['device', 'truck-1', 86],
    ];
    for (const [index, [scope, scopeId, limit]] of steps.entries()) {
      table.apply(
        record('rules', rule(scope, scopeId, 10 + index, { limitKmh: limit, resolveAtOrBelowKmh: 80 })),
      );
      expect(table.resolveRule('truck.overspeed', device)).toMatchObject({
        enabled: true,
        params: { limitKmh: limit },
        source: { id: `truck.overspeed:${scope}:${scopeId}`, version: 10 + index },
      });
    }
    // Another truck of the same site gets the site's row; one elsewhere, the model's.
    expect(table.resolveRule('truck.overspeed', { ...device, id: 'truck-2' }).params).toMatchObject({
      limitKmh: 87,
    });
    expect(
      table.resolveRule('truck.overspeed', { ...device, id: 'truck-3', siteId: 'depot-rotterdam' }).params,
    ).toMatchObject({ limitKmh: 88 });
    // A disabled device row switches the rule off for that device alone.
    table.apply(record('rules', rule('device', 'truck-1', 20, {}, false)));
    expect(table.resolveRule('truck.overspeed', device).enabled).toBe(false);
    expect(table.resolveRule('truck.overspeed', { ...device, id: 'truck-2' }).enabled).toBe(true);
    // Deleting the device row falls back to the site's.
    table.apply(tombstone('rules', 'truck.overspeed:device:truck-1'));
    expect(table.resolveRule('truck.overspeed', device)).toMatchObject({
      enabled: true,
      params: { limitKmh: 87 },
    });
  });

  it('ends where the database ended, whatever the re-deliveries (property)', () => {
    // A history of writes to a few ids with growing versions, as PostgreSQL commits them;
    // the topic holds it in order, and after a connector crash a suffix of it once more.
    const op = fc.record({
      id: fc.constantFrom('a', 'b', 'c'),
      del: fc.boolean(),
      name: fc.string({ minLength: 1, maxLength: 5 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.nat(), (ops, cut) => {
        const database = new Map<string, string>();
        const log: RegistryRecord[] = [];
        ops.forEach((o, index) => {
          if (o.del) {
            database.delete(o.id);
            log.push(record('sites', { id: o.id, __deleted: 'true' }), tombstone('sites', o.id));
          } else {
            database.set(o.id, o.name);
            log.push(record('sites', site(o.id, index + 1, o.name)));
          }
        });
        const from = log.length === 0 ? 0 : cut % log.length;
        const table = createRegistryTable();
        for (const r of [...log, ...log.slice(from)]) {
          const id = String(r.key);
          const before = table.sites.get(id)?.version;
          const outcome = table.apply(r).outcome;
          const after = table.sites.get(id)?.version;
          // A re-delivered older row never rolls a present row back.
          if (outcome !== 'deleted' && before !== undefined) expect(after).toBeGreaterThanOrEqual(before);
        }
        const folded = new Map([...table.sites].map(([id, s]) => [id, s.name]));
        expect(folded).toEqual(database);
      }),
    );
  });
});

describe('the registry table in event time', () => {
  const at = (row: Record<string, unknown>, sourceTsMs: number) => ({ ...row, __source_ts_ms: sourceTsMs });
  const T = 1_700_000_000_000;

  it('applies each change from its commit time + changeLeadMs; the first device version from -Infinity', () => {
    const table = createRegistryTable({ changeLeadMs: 5_000 });
    table.apply(record('devices', at(truck('truck-1', 1), T)));
    table.apply(record('devices', at(truck('truck-1', 2, { status: 'maintenance' }), T + 60_000)));
    table.apply(record('devices', at(truck('truck-1', 3, { status: 'decommissioned' }), T + 120_000)));
    expect(table.deviceAt('truck-1', 0)?.version).toBe(1);
    expect(table.deviceAt('truck-1', T + 65_000 - 1)?.version).toBe(1);
    expect(table.deviceAt('truck-1', T + 65_000)?.status).toBe('maintenance');
    expect(table.deviceAt('truck-1', T + 125_000)?.status).toBe('decommissioned');
    expect(table.deviceAt('truck-2', T)).toBeUndefined();
    // The maps keep the newest state, as before.
    expect(table.devices.get('truck-1')?.version).toBe(3);
    expect(table.changeLeadMs).toBe(5_000);
  });

  it('narrows a validity span to the interval the answer holds over', () => {
    const table = createRegistryTable({ changeLeadMs: 0 });
    table.apply(record('devices', at(truck('truck-1', 1), T)));
    table.apply(record('devices', at(truck('truck-1', 2), T + 100)));
    table.apply(record('devices', at(truck('truck-1', 3), T + 200)));
    const span = { from: Number.NEGATIVE_INFINITY, until: Number.POSITIVE_INFINITY };
    expect(table.deviceAt('truck-1', T + 150, span)?.version).toBe(2);
    expect(span).toEqual({ from: T + 100, until: T + 200 });
    const first = { from: Number.NEGATIVE_INFINITY, until: Number.POSITIVE_INFINITY };
    table.deviceAt('truck-1', 5, first);
    expect(first).toEqual({ from: Number.NEGATIVE_INFINITY, until: T + 100 });
  });

  it("deletes from the delete marker's change point; a device created again is not retroactive", () => {
    const table = createRegistryTable({ changeLeadMs: 0 });
    table.apply(record('devices', at(truck('truck-1', 1), T)));
    table.apply(record('devices', at({ id: 'truck-1', __deleted: 'true' }, T + 100)));
    table.apply(tombstone('devices', 'truck-1'));
    expect(table.deviceAt('truck-1', T + 99)?.version).toBe(1);
    expect(table.deviceAt('truck-1', T + 100)).toBeUndefined();
    table.apply(record('devices', at(truck('truck-1', 7), T + 300)));
    expect(table.deviceAt('truck-1', T + 200)).toBeUndefined();
    expect(table.deviceAt('truck-1', T + 300)?.version).toBe(7);
  });

  it('ignores re-deliveries: no new history, no epoch bump', () => {
    const table = createRegistryTable();
    table.apply(record('devices', at(truck('truck-1', 1), T)));
    table.apply(record('devices', at(truck('truck-1', 2, { model: 'x-2' }), T + 60_000)));
    const epoch = table.epoch();
    table.apply(record('devices', at(truck('truck-1', 1), T)));
    table.apply(record('devices', at(truck('truck-1', 2, { model: 'x-2' }), T + 60_000)));
    expect(table.epoch()).toBe(epoch);
    expect(table.deviceAt('truck-1', T + 30_000)?.model).toBe('tractor-40t');
    expect(table.deviceAt('truck-1', T + 70_000)?.model).toBe('x-2');
    // Sites and drivers do not move the epoch: lookups do not read them.
    table.apply(record('sites', at(site('depot-lyon', 3), T)));
    expect(table.epoch()).toBe(epoch);
  });

  it('never lets a newer version take effect before the one it follows', () => {
    const table = createRegistryTable({ changeLeadMs: 0 });
    table.apply(record('devices', at(truck('truck-1', 1), T)));
    table.apply(record('devices', at(truck('truck-1', 2), T + 100)));
    // A commit time behind the previous one (a clock step), or none at all.
    table.apply(record('devices', at(truck('truck-1', 3), T + 50)));
    expect(table.deviceAt('truck-1', T + 99)?.version).toBe(1);
    expect(table.deviceAt('truck-1', T + 100)?.version).toBe(3);
    table.apply(record('devices', truck('truck-1', 4)));
    expect(table.deviceAt('truck-1', T + 100)?.version).toBe(4);
  });

  it('resolves rules at a time: a rule row counts from its change point, with precedence', () => {
    const table = createRegistryTable({ changeLeadMs: 1_000 });
    const device = { id: 'truck-1', kind: 'truck' as const, siteId: 'depot-lyon', model: 'tractor-40t' };
    table.apply(record('rules', at(rule('kind', 'truck', 10, { limitKmh: 89, resolveAtOrBelowKmh: 80 }), T)));
    table.apply(
      record(
        'rules',
        at(rule('site', 'depot-lyon', 11, { limitKmh: 70, resolveAtOrBelowKmh: 60 }), T + 10_000),
      ),
    );
    table.apply(record('rules', at(rule('device', 'truck-1', 12, {}, false), T + 20_000)));
    expect(table.resolveRuleAt('truck.overspeed', device, T).source).toBeUndefined();
    expect(table.resolveRuleAt('truck.overspeed', device, T + 1_000)).toMatchObject({
      params: { limitKmh: 89 },
      source: { version: 10 },
    });
    const span = { from: Number.NEGATIVE_INFINITY, until: Number.POSITIVE_INFINITY };
    expect(table.resolveRuleAt('truck.overspeed', device, T + 11_000, span)).toMatchObject({
      enabled: true,
      params: { limitKmh: 70 },
      source: { version: 11 },
    });
    expect(span).toEqual({ from: T + 11_000, until: T + 21_000 });
    expect(table.resolveRuleAt('truck.overspeed', device, T + 21_000).enabled).toBe(false);
    // The newest-state resolution is unchanged.
    expect(table.resolveRule('truck.overspeed', device).enabled).toBe(false);
  });

  it('lists the change points applied since an epoch', () => {
    const table = createRegistryTable({ changeLeadMs: 1_000 });
    table.apply(record('devices', at(truck('truck-1', 1), T)));
    const epoch = table.epoch();
    table.apply(record('devices', at(truck('truck-1', 2), T + 5_000)));
    table.apply(record('rules', rule('kind', 'truck', 3, {})));
    expect(table.changePointsSince(epoch)).toEqual([T + 6_000, 0]);
    expect(table.changePointsSince(table.epoch())).toEqual([]);
  });
});

describe('pruning the event-time history', () => {
  const at = (row: Record<string, unknown>, sourceTsMs: number) => ({ ...row, __source_ts_ms: sourceTsMs });
  const T = 1_700_000_000_000;

  it('drops versions no lookup at or after the horizon can see, and keeps every answer from there on', () => {
    const table = createRegistryTable({ changeLeadMs: 0 });
    for (let v = 1; v <= 5; v++)
      table.apply(record('devices', at(truck('truck-1', v, { model: `m-${v}` }), T + v * 100)));
    table.apply(record('rules', at(rule('kind', 'truck', 10, { limitKmh: 80, resolveAtOrBelowKmh: 70 }), T)));
    table.apply(
      record('rules', at(rule('kind', 'truck', 11, { limitKmh: 70, resolveAtOrBelowKmh: 60 }), T + 100)),
    );
    const device = { id: 'truck-1', kind: 'truck' as const, siteId: 'depot-lyon', model: 'tractor-40t' };
    const answers = (ts: number) => [
      table.deviceAt('truck-1', ts)?.model,
      table.resolveRuleAt('truck.overspeed', device, ts).source?.version,
    ];
    const before = [T + 350, T + 400, T + 999].map(answers);
    // Versions 1 and 2 of the device (superseded by 3 at T + 300), version 10 of the rule.
    expect(table.pruneBefore(T + 350)).toBe(3);
    expect([T + 350, T + 400, T + 999].map(answers)).toEqual(before);
    expect(before[0]).toEqual(['m-3', 11]);
    expect(table.pruneBefore(T + 350)).toBe(0);
    // The newest state is untouched.
    expect(table.devices.get('truck-1')?.model).toBe('m-5');
  });
});
