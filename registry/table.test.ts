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
