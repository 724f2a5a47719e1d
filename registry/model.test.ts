import { describe, expect, it } from 'vitest';
import { isFleetgridError } from '../lib/errors.ts';
import {
  type Device,
  entityToInput,
  inputToColumns,
  isTimeZone,
  parseInput,
  parseRuleRowId,
  rowToEntity,
  ruleRowId,
} from './model.ts';

const truck = {
  id: 'truck-00001',
  kind: 'truck',
  siteId: 'depot-lyon',
  model: 'tractor-40t-reefer',
  plate: 'FG-00001',
  refrigerated: true,
  cargoMinC: 2,
  cargoMaxC: 8,
  driverId: 'driver-00001',
};

function problem(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isFleetgridError(error, 'INVALID_ARGUMENT')) return error.message;
    throw error;
  }
  throw new Error('no error');
}

describe('writes are validated with clear messages', () => {
  it('accepts a complete truck and fills the defaults', () => {
    expect(parseInput('devices', truck)).toEqual({ ...truck, status: 'active' });
  });

  it('names every problem of a device, each with its field', () => {
    const message = problem(() =>
      parseInput('devices', { ...truck, id: 'bad id', cargoMinC: 9, plate: '', surprise: 1 }),
    );
    expect(message).toContain('invalid device');
    expect(message).toContain("id must be 1-128 letters, digits, '.', '_', ':' or '-'");
    expect(message).toContain('plate must not be empty');
    expect(message).toContain('unknown field(s): surprise');
  });

  it('requires the cargo band of a refrigerated truck, in order, and refuses one on a dry truck', () => {
    expect(problem(() => parseInput('devices', { ...truck, cargoMinC: 9 }))).toContain(
      'cargoMaxC (8) must be above cargoMinC (9)',
    );
    expect(problem(() => parseInput('devices', { ...truck, cargoMinC: null, cargoMaxC: null }))).toContain(
      'a refrigerated truck needs its cargo setpoint band',
    );
    expect(problem(() => parseInput('devices', { ...truck, refrigerated: false }))).toContain(
      'only a refrigerated truck has a cargo setpoint band',
    );
  });

  it('refuses negative or missing capacities and ratings', () => {
    expect(
      problem(() =>
        parseInput('sites', {
          id: 'wf-x',
          kind: 'wind_farm',
          name: 'X',
          lat: 1,
          lon: 2,
          timeZone: 'UTC',
          capacityKw: -3,
        }),
      ),
    ).toContain('capacityKw must not be negative');
    expect(
      problem(() =>
        parseInput('devices', {
          id: 'w1',
          kind: 'turbine',
          siteId: 'wf-x',
          model: 'm',
          ratedKw: -1,
          powerCurve: 'generic-3mw-112',
        }),
      ),
    ).toContain('ratedKw must be positive');
    expect(
      problem(() => parseInput('devices', { id: 's1', kind: 'solar', siteId: 'pv-x', model: 'm' })),
    ).toContain('kwp must be a number');
  });

  it('refuses unknown kinds and statuses, naming the allowed values', () => {
    expect(problem(() => parseInput('devices', { ...truck, kind: 'tractor' }))).toContain(
      'kind must be one of truck, turbine, solar',
    );
    expect(problem(() => parseInput('devices', { ...truck, status: 'broken' }))).toContain(
      'status must be one of active, maintenance, decommissioned',
    );
  });

  it('checks time zones against the IANA database', () => {
    expect(['Europe/Amsterdam', 'UTC', 'America/Los_Angeles', 'Asia/Calcutta'].map(isTimeZone)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['Europe/Nowhere', '+01:00', 'CEST', ''].map(isTimeZone)).toEqual([false, false, false, false]);
  });

  it('takes the id from the addressed path and refuses a different one in the body', () => {
    const { id: _id, ...body } = truck;
    expect(parseInput('devices', body, 'truck-00001').id).toBe('truck-00001');
    expect(problem(() => parseInput('devices', truck, 'truck-00002'))).toContain(
      'differs from the addressed device truck-00002',
    );
  });

  it('builds a rule row id from rule, scope and scope id, and reads it back', () => {
    const rule = parseInput('rules', {}, 'truck.overspeed:site:depot-lyon');
    expect(rule).toMatchObject({
      id: 'truck.overspeed:site:depot-lyon',
      scope: 'site',
      scopeId: 'depot-lyon',
    });
    expect(rule.params).toEqual({ limitKmh: 90, resolveAtOrBelowKmh: 85, forMs: 30_000 });
    expect(parseRuleRowId(ruleRowId('turbine.underperformance', 'model', 'v112-3.0'))).toEqual({
      ruleId: 'turbine.underperformance',
      scope: 'model',
      scopeId: 'v112-3.0',
    });
    expect(parseRuleRowId('truck.overspeed:planet:mars')).toBeUndefined();
    expect(problem(() => parseInput('rules', {}, 'nonsense'))).toContain('is not <rule>:<scope>:<scopeId>');
  });

  it('refuses a kind scope of another kind and invalid parameters of a rule', () => {
    expect(
      problem(() => parseInput('rules', { ruleId: 'truck.overspeed', scope: 'kind', scopeId: 'turbine' })),
    ).toContain('a kind scope must be "truck"');
    expect(
      problem(() =>
        parseInput('rules', {
          ruleId: 'truck.overspeed',
          scope: 'kind',
          scopeId: 'truck',
          params: { limitKmh: -1 },
        }),
      ),
    ).toBe('invalid rule truck.overspeed:kind:truck: params: limitKmh must be positive');
  });
});

describe('rows and entities', () => {
  const pgRow = {
    id: 'truck-00001',
    kind: 'truck',
    site_id: 'depot-lyon',
    site_kind: 'depot',
    model: 'tractor-40t-reefer',
    status: 'active',
    plate: 'FG-00001',
    refrigerated: true,
    cargo_min_c: 2,
    cargo_max_c: 8,
    driver_id: 'driver-00001',
    rated_kw: null,
    power_curve: null,
    kwp: null,
    version: 17,
    updated_at: new Date('2026-04-01T10:00:00.123Z'),
  };

  it("reads pg's and Debezium's encodings of a row as the same entity", () => {
    const fromPg = rowToEntity('devices', pgRow);
    const fromDebezium = rowToEntity('devices', {
      ...pgRow,
      version: 17,
      updated_at: '2026-04-01T10:00:00.123000Z',
      __op: 'u',
      __lsn: 123,
    });
    expect(fromPg).toEqual(fromDebezium);
    expect(fromPg).toMatchObject({
      ok: true,
      entity: { id: 'truck-00001', siteId: 'depot-lyon', version: 17 },
    });

    const driver = {
      id: 'driver-1',
      name: 'A',
      licence_number: 'L',
      licence_class: 'CE',
      version: '3',
      updated_at: '2026-01-01T00:00:00Z',
    };
    expect(rowToEntity('drivers', { ...driver, licence_expires: '2031-12-31' })).toEqual(
      rowToEntity('drivers', { ...driver, licence_expires: 22_644 }),
    );
    const rule = {
      id: 'truck.overspeed:kind:truck',
      rule_id: 'truck.overspeed',
      scope: 'kind',
      scope_id: 'truck',
      enabled: true,
      version: 4,
      updated_at: '2026-01-01T00:00:00Z',
    };
    expect(
      rowToEntity('rules', { ...rule, params: { limitKmh: 80, resolveAtOrBelowKmh: 70, forMs: 0 } }),
    ).toEqual(
      rowToEntity('rules', { ...rule, params: '{"limitKmh":80,"resolveAtOrBelowKmh":70,"forMs":0}' }),
    );
  });

  it('reports rows that break the rules the service enforces', () => {
    expect(rowToEntity('devices', { ...pgRow, id: 'bad id' })).toMatchObject({ ok: false });
    expect(rowToEntity('devices', { ...pgRow, status: 'lost' })).toMatchObject({ ok: false });
    expect(
      rowToEntity('rules', {
        id: 'truck.overspeed:kind:truck',
        rule_id: 'truck.overspeed',
        scope: 'kind',
        scope_id: 'truck',
        params: { limitKmh: -1 },
        enabled: true,
        version: 1,
        updated_at: '2026-01-01T00:00:00Z',
      }),
    ).toEqual({ ok: false, problem: 'params: limitKmh must be positive' });
  });

  it('lets a client write back what it read, unchanged', () => {
    const stored = rowToEntity('devices', pgRow);
    if (!stored.ok) throw new Error(stored.problem);
    const input = parseInput('devices', stored.entity, 'truck-00001');
    expect(input).toEqual(entityToInput('devices', stored.entity as Device));
  });

  it('writes the derived columns: the site kind of a device, the references of a rule', () => {
    expect(inputToColumns('devices', parseInput('devices', truck))).toMatchObject({
      site_id: 'depot-lyon',
      site_kind: 'depot',
      rated_kw: null,
    });
    const columns = inputToColumns(
      'rules',
      parseInput('rules', { ruleId: 'truck.overspeed', scope: 'device', scopeId: 'truck-00001' }),
    );
    expect(columns).toMatchObject({
      id: 'truck.overspeed:device:truck-00001',
      device_id: 'truck-00001',
      site_id: null,
    });
    expect(JSON.parse(String(columns.params))).toEqual({
      limitKmh: 90,
      resolveAtOrBelowKmh: 85,
      forMs: 30_000,
    });
  });
});
