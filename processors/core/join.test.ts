import { describe, expect, it } from 'vitest';
import { createRegistryTable, type RegistryRecord, type RegistryTable } from '../../registry/table.ts';
import type { Alert, RawEvent } from '../../schemas/types.ts';
import {
  type CoreOutput,
  createPartitionCore,
  DEFAULT_CORE_CONFIG,
  type PartitionCore,
  requiredRegistryVersion,
  type UnknownDevicePolicy,
} from './index.ts';
import { deviceRow, randomStream, registryRecord, ruleRow, T0, truck, turbine } from './testing.ts';

const LEAD = 10_000;
const S = 1_000;

function tableOf(records: RegistryRecord[]): RegistryTable {
  const table = createRegistryTable({ changeLeadMs: LEAD });
  for (const record of records) expect(table.apply(record).outcome).not.toBe('invalid');
  return table;
}

function coreOf(table: RegistryTable, unknownDevice: UnknownDevicePolicy = 'quarantine', restored?: unknown) {
  return createPartitionCore(DEFAULT_CORE_CONFIG, restored, { table, unknownDevice });
}

/** All outputs of feeding `events` (plus an optional hook before each event) and a final flush far ahead. */
function feed(
  core: PartitionCore,
  events: RawEvent[],
  before?: (event: RawEvent) => void,
): CoreOutput & { rejectedCodes: string[] } {
  const all: CoreOutput = { aggregates: [], alerts: [], deviceStates: [], rejected: [] };
  for (const event of events) {
    before?.(event);
    const out = core.apply(event);
    all.aggregates.push(...out.aggregates);
    all.alerts.push(...out.alerts);
    all.deviceStates.push(...out.deviceStates);
    all.rejected.push(...out.rejected);
  }
  return { ...all, rejectedCodes: all.rejected.map((r) => r.error.code) };
}

/** Events of one truck every `step` ms in [from, to), speed from `speed(t)` (t = ms after T0). */
function drive(id: string, from: number, to: number, speed: (t: number) => number, step = S): RawEvent[] {
  const events: RawEvent[] = [];
  for (let t = from; t < to; t += step) events.push(truck(id, T0 + t, { speedKmh: speed(t) }));
  return events;
}

const byTs = (events: RawEvent[]) => events.sort((a, b) => a.value.ts - b.value.ts);
const transitions = (alerts: Alert[]) =>
  alerts.map((a) => [a.deviceId, a.rule, a.state, a.ts - T0, a.threshold, a.ruleVersion]);

describe('the stream–table join: unknown, decommissioned, maintenance, kind', () => {
  const registered = registryRecord('devices', deviceRow('truck-1', 'truck', 1), T0 - 60 * S);

  it('quarantines an unknown device (UNKNOWN_DEVICE, not retriable, counted) and changes nothing', () => {
    const core = coreOf(tableOf([registered]));
    const out = core.apply(truck('ghost', T0 + S));
    expect(out.rejected.map((r) => [r.error.code, r.error.retriable])).toEqual([['UNKNOWN_DEVICE', false]]);
    expect(out.deviceStates).toEqual([]);
    expect(core.streamTime).toBe(0);
    expect(core.stats()).toMatchObject({ unknownDevices: 1, devices: 0, applied: 0 });
    const known = core.apply(truck('truck-1', T0 + S));
    expect(known.rejected).toEqual([]);
    expect(known.deviceStates[0]).toMatchObject({
      deviceId: 'truck-1',
      model: 'truck-model',
      siteId: 'depot-1',
    });
  });

  it('accepts an unknown device by policy, with the event’s own siteId and no registry fields', () => {
    const core = coreOf(tableOf([registered]), 'accept');
    const out = core.apply(truck('ghost', T0 + S, { siteId: 'depot-9' }));
    expect(out.rejected).toEqual([]);
    expect(out.deviceStates[0]).toMatchObject({
      deviceId: 'ghost',
      siteId: 'depot-9',
      model: null,
      driverId: null,
    });
    expect(core.stats()).toMatchObject({ unknownDevices: 1, applied: 1 });
  });

  it('ignores a decommissioned device from the change point on: nothing emitted, nothing dead-lettered', () => {
    const table = tableOf([
      registered,
      registryRecord('devices', deviceRow('truck-1', 'truck', 2, { status: 'decommissioned' }), T0 + 50 * S),
    ]);
    const core = coreOf(table);
    const before = feed(
      core,
      drive('truck-1', 0, 60 * S, () => 50),
    );
    expect(before.deviceStates).toHaveLength(60);
    const after = feed(
      core,
      drive('truck-1', 60 * S, 90 * S, () => 50),
    );
    expect(after).toMatchObject({ aggregates: [], alerts: [], deviceStates: [], rejected: [] });
    expect(core.streamTime).toBe(T0 + 59 * S);
    expect(core.stats()).toMatchObject({ decommissionedIgnored: 30, applied: 60 });
  });

  it('rejects telemetry of another kind than the registered one', () => {
    const table = tableOf([registryRecord('devices', deviceRow('wt-1', 'turbine', 1), T0)]);
    const out = coreOf(table).apply(truck('wt-1', T0 + S));
    expect(out.rejected.map((r) => r.error.code)).toEqual(['DEVICE_KIND_MISMATCH']);
    expect(out.rejected[0]?.error.message).toContain('which the registry has as a turbine');
  });

  it('in maintenance: windows and state as usual, no alert transitions; open alerts resolve after, runs restart', () => {
    // Maintenance from 120 s to 240 s (commit 10 s before each change point).
    const rows = (id: string, v: number) => [
      registryRecord('devices', deviceRow(id, 'truck', v), T0 - 60 * S),
      registryRecord('devices', deviceRow(id, 'truck', v + 1, { status: 'maintenance' }), T0 + 110 * S),
      registryRecord('devices', deviceRow(id, 'truck', v + 2), T0 + 230 * S),
    ];
    const core = coreOf(tableOf([...rows('truck-1', 1), ...rows('truck-2', 11)]));
    const out = feed(
      core,
      byTs([
        // Raised at 30 s, would resolve at 150 s; resolves at the first sample after maintenance.
        ...drive('truck-1', 0, 300 * S, (t) => (t < 150 * S ? 100 : 50)),
        // A run from 100 s: without the pause it would raise at 130 s, or at 240 s if the run spanned it.
        ...drive('truck-2', 0, 300 * S, (t) => (t < 100 * S ? 50 : 100)),
      ]),
    );
    expect(transitions(out.alerts)).toEqual([
      ['truck-1', 'truck.overspeed', 'RAISED', 30 * S, 90, 0],
      ['truck-1', 'truck.overspeed', 'RESOLVED', 240 * S, 85, 0],
      ['truck-2', 'truck.overspeed', 'RAISED', 270 * S, 90, 0],
    ]);
    // Windows of the maintenance minutes are emitted as usual.
    expect(
      out.aggregates.filter((a) => a.deviceId === 'truck-1').map((a) => (a.windowStart - T0) / 60_000),
    ).toEqual([0, 1, 2, 3]);
    expect(core.stats().maintenanceSuppressed).toBe(240);
    // Open alerts are still reported open during maintenance.
    const during = out.deviceStates.filter((s) => s.deviceId === 'truck-1' && s.lastSeen === T0 + 200 * S);
    expect(during[0]?.openAlerts).toEqual(['truck.overspeed']);
  });
});

describe('rules as data in the join', () => {
  const kindRow = registryRecord(
    'rules',
    ruleRow('truck.overspeed', 'kind', 'truck', 5, { limitKmh: 90, resolveAtOrBelowKmh: 85, forMs: 30_000 }),
    T0 - 100 * S,
  );
  const deviceRule = registryRecord(
    'rules',
    ruleRow('truck.overspeed', 'device', 'truck-1', 7, {
      limitKmh: 70,
      resolveAtOrBelowKmh: 60,
      forMs: 30_000,
    }),
    T0 + 50 * S,
  );
  const devices = [
    registryRecord('devices', deviceRow('truck-1', 'truck', 1), T0 - 100 * S),
    registryRecord('devices', deviceRow('truck-2', 'truck', 2), T0 - 100 * S),
  ];
  const stream = () =>
    byTs([...drive('truck-1', 0, 120 * S, () => 80), ...drive('truck-2', 0, 120 * S, () => 80)]);

  it('a rule change alters alerting for events at or after its change point only, with its version', () => {
    const out = feed(coreOf(tableOf([...devices, kindRow, deviceRule])), stream());
    // 80 km/h is under the kind's 90 until the device row takes effect at 60 s; the run starts there.
    expect(transitions(out.alerts)).toEqual([['truck-1', 'truck.overspeed', 'RAISED', 90 * S, 70, 7]]);
    expect(out.alerts[0]?.message).toBe('speed above 70 km/h for 30 s: speedKmh 80');
  });

  it('gives identical outputs whether the change arrived before the run (replay) or mid-run in time (live)', () => {
    const events = stream();
    const replayCore = coreOf(tableOf([...devices, kindRow, deviceRule]));
    const replay = feed(replayCore, events);
    const liveTable = tableOf([...devices, kindRow]);
    const liveCore = coreOf(liveTable);
    const live = feed(liveCore, events, (event) => {
      // The record reaches the processor when stream time is at 40 s, before its change point (60 s).
      if (event.value.ts === T0 + 40 * S && event.value.deviceId === 'truck-1') liveTable.apply(deviceRule);
    });
    expect(live).toEqual(replay);
    expect(liveCore.stats().lateRegistryChanges).toBe(0);
    expect(replayCore.stats().lateRegistryChanges).toBe(0);
  });

  it('counts a change that arrives after stream time passed its change point (and the outputs differ)', () => {
    const events = stream();
    const replay = feed(coreOf(tableOf([...devices, kindRow, deviceRule])), events);
    const lateTable = tableOf([...devices, kindRow]);
    const lateCore = coreOf(lateTable);
    const late = feed(lateCore, events, (event) => {
      if (event.value.ts === T0 + 75 * S && event.value.deviceId === 'truck-1') lateTable.apply(deviceRule);
    });
    expect(lateCore.stats().lateRegistryChanges).toBe(1);
    // The live run started the run at 75 s instead of 60 s: raised 15 s later than the replay.
    expect(transitions(late.alerts)).toEqual([['truck-1', 'truck.overspeed', 'RAISED', 105 * S, 70, 7]]);
    expect(replay.alerts[0]?.ts).toBe(T0 + 90 * S);
  });

  it('a disabled rule raises nothing', () => {
    const disabled = registryRecord(
      'rules',
      ruleRow('truck.overspeed', 'device', 'truck-1', 9, {}, false),
      T0,
    );
    const out = feed(
      coreOf(tableOf([...devices, disabled])),
      drive('truck-1', 0, 120 * S, () => 120),
    );
    expect(out.alerts).toEqual([]);
  });

  it('judges underperformance from each turbine’s rated power', () => {
    const table = tableOf([
      registryRecord('devices', deviceRow('wt-half', 'turbine', 1, { rated_kw: 1500 }), T0 - 100 * S),
      registryRecord('devices', deviceRow('wt-full', 'turbine', 2, { rated_kw: 3000 }), T0 - 100 * S),
    ]);
    const events: RawEvent[] = [];
    // 10 m/s: the curve says 2464 kW for a 3 MW machine, 1232 kW for a 1.5 MW one; both make 1000 kW.
    for (let t = 0; t <= 600 * S; t += 30 * S)
      for (const id of ['wt-full', 'wt-half'])
        events.push(turbine(id, T0 + t, { windSpeedMs: 10, powerKw: 1000 }));
    const out = feed(coreOf(table), events);
    expect(transitions(out.alerts)).toEqual([
      ['wt-full', 'turbine.underperformance', 'RAISED', 600 * S, 2464 * 0.7, 0],
    ]);
  });
});

describe('a known dataset with registry and rule changes', () => {
  it('gives the hand-computed alerts and enriched aggregates', () => {
    const table = tableOf([
      registryRecord(
        'devices',
        deviceRow('truck-1', 'truck', 1, {
          site_id: 'depot-lyon',
          model: 'reefer-18t',
          driver_id: 'drv-1',
          refrigerated: true,
          cargo_min_c: 2,
          cargo_max_c: 5,
        }),
        T0 - 100 * S,
      ),
      // The driver changes at 60 s (commit at 50 s).
      registryRecord(
        'devices',
        deviceRow('truck-1', 'truck', 4, {
          site_id: 'depot-lyon',
          model: 'reefer-18t',
          driver_id: 'drv-2',
          refrigerated: true,
          cargo_min_c: 2,
          cargo_max_c: 5,
        }),
        T0 + 50 * S,
      ),
      registryRecord(
        'rules',
        ruleRow('truck.cargo_temp_breach', 'kind', 'truck', 3, {
          maxC: 8,
          useDeviceBand: true,
          forMs: 60_000,
        }),
        T0 - 100 * S,
      ),
    ]);
    const events: RawEvent[] = [];
    for (let t = 0; t < 180 * S; t += 10 * S)
      events.push(
        truck('truck-1', T0 + t, { cargoTempC: t < 120 * S ? 6 : 4, odometerKm: 1000 + t / 10_000 }),
      );
    const core = coreOf(table);
    const out = feed(core, events);
    core.onTimer(0);
    const flushed = core.onTimer(10 * 60 * S);
    // 6 °C is above the truck's own band (5 °C), not the kind's 8 °C: run from 0 s, raised at 60 s; resolved at 120 s.
    expect(
      out.alerts.map((a) => [a.state, a.ts - T0, a.threshold, a.ruleVersion, a.siteId, a.model, a.driverId]),
    ).toEqual([
      ['RAISED', 60 * S, 5, 3, 'depot-lyon', 'reefer-18t', 'drv-2'],
      ['RESOLVED', 120 * S, 5, 3, 'depot-lyon', 'reefer-18t', 'drv-2'],
    ]);
    // Windows carry the registry in force at their last event: minute 0 → drv-1, later minutes → drv-2.
    const aggregates = [...out.aggregates, ...flushed.aggregates];
    expect(
      aggregates.map((a) => [(a.windowStart - T0) / 60_000, a.eventCount, a.siteId, a.model, a.driverId]),
    ).toEqual([
      [0, 6, 'depot-lyon', 'reefer-18t', 'drv-1'],
      [1, 6, 'depot-lyon', 'reefer-18t', 'drv-2'],
      [2, 6, 'depot-lyon', 'reefer-18t', 'drv-2'],
    ]);
    expect(out.deviceStates.at(-1)).toMatchObject({
      siteId: 'depot-lyon',
      model: 'reefer-18t',
      driverId: 'drv-2',
    });
  });
});

describe('snapshots with a join', () => {
  const registered = registryRecord('devices', deviceRow('truck-1', 'truck', 1), T0 - 100 * S);
  const raising = drive('truck-1', 0, 40 * S, () => 100);

  it('record the registry version; an old snapshot (without one) restores and keeps its open alerts', () => {
    const old = createPartitionCore(DEFAULT_CORE_CONFIG);
    expect(feed(old, raising).alerts).toHaveLength(1);
    const snapshot = JSON.parse(JSON.stringify(old.snapshot()));
    expect(requiredRegistryVersion(snapshot)).toBe(0);
    // The registry has the seed's kind row, with the built-in parameters: the machine means the same.
    const seeded = registryRecord(
      'rules',
      ruleRow('truck.overspeed', 'kind', 'truck', 12, {
        limitKmh: 90,
        resolveAtOrBelowKmh: 85,
        forMs: 30_000,
      }),
      T0 - 100 * S,
    );
    const table = tableOf([registered, seeded]);
    const restored = coreOf(table, 'quarantine', snapshot);
    const out = restored.apply(truck('truck-1', T0 + 41 * S, { speedKmh: 80 }));
    expect(transitions(out.alerts)).toEqual([['truck-1', 'truck.overspeed', 'RESOLVED', 41 * S, 85, 12]]);
    expect(requiredRegistryVersion(restored.snapshot())).toBe(12);
  });

  it('restart machines whose rule row changed since the snapshot, instead of reading them under other parameters', () => {
    const table = tableOf([registered]);
    const first = coreOf(table);
    feed(first, raising);
    const snapshot = JSON.parse(JSON.stringify(first.snapshot()));
    // A device row in force at the device's last event (a history the snapshot's run did not know).
    table.apply(
      registryRecord(
        'rules',
        ruleRow('truck.overspeed', 'device', 'truck-1', 30, { limitKmh: 120, resolveAtOrBelowKmh: 110 }),
      ),
    );
    const restored = coreOf(table, 'quarantine', snapshot);
    expect(restored.snapshot()).toMatchObject({ devices: [{ state: { openAlerts: [] } }] });
    // Same snapshot under the unchanged registry keeps the machine and its open alert.
    const same = coreOf(tableOf([registered]), 'quarantine', snapshot);
    expect(same.snapshot()).toMatchObject({ devices: [{ state: { openAlerts: ['truck.overspeed'] } }] });
  });

  it('restore to identical outputs mid-stream with a registry history', () => {
    const table = tableOf([
      registered,
      registryRecord('devices', deviceRow('truck-1', 'truck', 2, { status: 'maintenance' }), T0 + 50 * S),
      registryRecord('devices', deviceRow('truck-1', 'truck', 3, { driver_id: 'drv-7' }), T0 + 90 * S),
    ]);
    const events = drive('truck-1', 0, 200 * S, (t) => (t % 70_000 < 45_000 ? 100 : 40));
    const whole = feed(coreOf(table), events);
    const a = coreOf(table);
    const head = feed(a, events.slice(0, 80));
    const b = coreOf(table, 'quarantine', JSON.parse(JSON.stringify(a.snapshot())));
    const tail = feed(b, events.slice(80));
    expect([...head.alerts, ...tail.alerts]).toEqual(whole.alerts);
    expect([...head.aggregates, ...tail.aggregates]).toEqual(whole.aggregates);
    expect(whole.alerts.length).toBeGreaterThan(0);
  });
});

describe('heartbeat_lost with a join', () => {
  const silent = (core: PartitionCore) => {
    const out = feed(core, []);
    for (let t = 0; t <= 10 * S; t += S) core.apply(truck('truck-1', T0 + t, { speedKmh: 50 }), t);
    for (let now = 20 * S; now <= 400 * S; now += 10 * S) out.alerts.push(...core.onTimer(now).alerts);
    return out.alerts;
  };

  it('uses the registry’s silence, also beyond the built-in one on an idle partition', () => {
    const table = tableOf([
      registryRecord('devices', deviceRow('truck-1', 'truck', 1), T0 - 100 * S),
      registryRecord(
        'rules',
        ruleRow('truck.heartbeat_lost', 'device', 'truck-1', 2, { silenceMs: 150_000 }),
        T0 - 100 * S,
      ),
    ]);
    expect(transitions(silent(coreOf(table)))).toEqual([
      ['truck-1', 'truck.heartbeat_lost', 'RAISED', 160 * S, 150_000, 2],
    ]);
  });

  it('is not raised for a device in maintenance at the deadline', () => {
    const table = tableOf([
      registryRecord('devices', deviceRow('truck-1', 'truck', 1), T0 - 100 * S),
      registryRecord('devices', deviceRow('truck-1', 'truck', 2, { status: 'maintenance' }), T0 + 20 * S),
    ]);
    expect(silent(coreOf(table))).toEqual([]);
    // The same silence without maintenance raises at lastSeen + 60 s.
    const active = tableOf([registryRecord('devices', deviceRow('truck-1', 'truck', 1), T0 - 100 * S)]);
    expect(transitions(silent(coreOf(active)))).toEqual([
      ['truck-1', 'truck.heartbeat_lost', 'RAISED', 70 * S, 60_000, 0],
    ]);
  });
});

describe('replay determinism over a messy stream', () => {
  it('a live run that receives each change before its change point equals a replay, through a restart', () => {
    const events = randomStream(11, { devices: 12, eventsPerDevice: 300, stepMs: 1_000 });
    const kinds = ['truck', 'turbine', 'solar'] as const;
    const records: RegistryRecord[] = [];
    let version = 0;
    for (let d = 0; d < 12; d++) {
      const kind = kinds[d % 3] as (typeof kinds)[number];
      const site = { truck: 'depot-1', turbine: 'plant-1', solar: 'plant-2' }[kind];
      records.push(
        registryRecord('devices', deviceRow(`dev-${d}`, kind, ++version, { site_id: site }), T0 - 100 * S),
      );
      // Maintenance for a minute, then back with another model and driver, at staggered times.
      const at = T0 + (30 + d * 15) * S;
      const extra = (status: string, model: string) => ({
        site_id: site,
        status,
        model,
        driver_id: kind === 'truck' ? `drv-${model}` : null,
      });
      records.push(
        registryRecord('devices', deviceRow(`dev-${d}`, kind, ++version, extra('maintenance', 'a')), at),
      );
      records.push(
        registryRecord('devices', deviceRow(`dev-${d}`, kind, ++version, extra('active', 'b')), at + 60 * S),
      );
    }
    records.push(
      registryRecord(
        'rules',
        ruleRow('truck.overspeed', 'kind', 'truck', ++version, {
          limitKmh: 60,
          resolveAtOrBelowKmh: 55,
          forMs: 5_000,
        }),
        T0 + 100 * S,
      ),
    );
    records.push(
      registryRecord(
        'rules',
        ruleRow('solar.panel_overheat', 'site', 'plant-2', ++version, {
          limitC: 50,
          resolveAtOrBelowC: 45,
          forMs: 10_000,
        }),
        T0 + 150 * S,
      ),
    );
    records.push(
      registryRecord(
        'rules',
        ruleRow('truck.engine_overheat', 'device', 'dev-3', ++version, {}, false),
        T0 + 120 * S,
      ),
    );
    const commitOf = (r: RegistryRecord) => JSON.parse(String(r.value)).payload.__source_ts_ms as number;

    const replayCore = coreOf(tableOf(records));
    const replay = feed(replayCore, events);

    // Live: the registry before the stream, then each change once stream time reaches its commit time.
    const initial = records.filter((r) => commitOf(r) < T0);
    const pending = records.filter((r) => commitOf(r) >= T0).sort((a, b) => commitOf(a) - commitOf(b));
    const table = tableOf(initial);
    let live = coreOf(table);
    const liveOut: CoreOutput = { aggregates: [], alerts: [], deviceStates: [], rejected: [] };
    events.forEach((event, i) => {
      while (pending.length > 0 && commitOf(pending[0] as RegistryRecord) <= live.streamTime)
        table.apply(pending.shift() as RegistryRecord);
      if (i === 1_700) live = coreOf(table, 'quarantine', JSON.parse(JSON.stringify(live.snapshot())));
      const out = live.apply(event);
      liveOut.aggregates.push(...out.aggregates);
      liveOut.alerts.push(...out.alerts);
      liveOut.deviceStates.push(...out.deviceStates);
      liveOut.rejected.push(...out.rejected);
    });
    expect(pending).toEqual([]);
    expect(liveOut.alerts).toEqual(replay.alerts);
    expect(liveOut.aggregates).toEqual(replay.aggregates);
    expect(liveOut.deviceStates).toEqual(replay.deviceStates);
    expect(live.stats().lateRegistryChanges).toBe(0);
    // The registry did change the outcome: versions and models from the rows, suppressed events.
    expect(new Set(replay.alerts.map((a) => a.ruleVersion)).size).toBeGreaterThan(1);
    expect(replay.aggregates.some((a) => a.model === 'b')).toBe(true);
    expect(replayCore.stats().maintenanceSuppressed).toBeGreaterThan(0);
  });
});

describe('an unknown device accepted by policy', () => {
  it('is judged by its kind’s and its event site’s rule rows', () => {
    const table = tableOf([
      registryRecord(
        'rules',
        ruleRow('truck.overspeed', 'site', 'depot-9', 4, {
          limitKmh: 60,
          resolveAtOrBelowKmh: 55,
          forMs: 10_000,
        }),
        T0 - 100 * S,
      ),
    ]);
    const events = byTs([
      ...drive('ghost-1', 0, 30 * S, () => 70).map(
        (e) => ({ ...e, value: { ...e.value, siteId: 'depot-9' } }) as RawEvent,
      ),
      ...drive('ghost-2', 0, 30 * S, () => 70),
    ]);
    const core = coreOf(table, 'accept');
    const out = feed(core, events);
    expect(transitions(out.alerts)).toEqual([['ghost-1', 'truck.overspeed', 'RAISED', 10 * S, 60, 4]]);
    expect(out.alerts[0]).toMatchObject({ siteId: 'depot-9', model: null, driverId: null });
    expect(core.stats().unknownDevices).toBe(60);
  });
});
