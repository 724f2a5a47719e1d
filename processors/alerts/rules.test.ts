import { describe, expect, it } from 'vitest';
import type { Alert, RawEvent } from '../../schemas/types.ts';
import { createPartitionCore, DEFAULT_CORE_CONFIG } from '../core/index.ts';
import { engine, solar, T0, truck, turbine } from '../core/testing.ts';
import { alertIdOf } from './engine.ts';
import { ALERT_RULES, ALERT_RULES_VERSION } from './rules.ts';

const S = 1_000;
const MIN = 60_000;

function run(events: RawEvent[]): Alert[] {
  const core = createPartitionCore(DEFAULT_CORE_CONFIG);
  return events.flatMap((event) => core.apply(event).alerts);
}

/** [state, raisedAt − T0, ts − T0] of each transition. */
function transitions(alerts: Alert[]): [string, number, number][] {
  return alerts.map((a) => [a.state, a.raisedAt - T0, a.ts - T0]);
}

function series<E extends RawEvent>(
  count: number,
  stepMs: number,
  make: (ts: number, seq: number, i: number) => E,
): E[] {
  return Array.from({ length: count }, (_, i) => make(T0 + i * stepMs, i, i));
}

/** One raise-and-resolve scenario per rule id; a rule without a scenario fails the suite. */
const SCENARIOS: Record<string, { events: () => RawEvent[]; expected: [string, number, number][] }> = {
  'truck.overspeed': {
    // > 90 from 0 s: raised at 30 s; 88 keeps it (hysteresis); 85 resolves.
    events: () => [
      ...series(7, 5 * S, (ts, seq) => truck('t1', ts, { seq, speedKmh: 95 })),
      truck('t1', T0 + 35 * S, { seq: 7, speedKmh: 88 }),
      truck('t1', T0 + 40 * S, { seq: 8, speedKmh: 85 }),
    ],
    expected: [
      ['RAISED', 30 * S, 30 * S],
      ['RESOLVED', 30 * S, 40 * S],
    ],
  },
  'truck.engine_overheat': {
    events: () => [
      truck('t1', T0, { seq: 0, engineTempC: 106 }),
      truck('t1', T0 + S, { seq: 1, engineTempC: 107 }),
      truck('t1', T0 + 2 * S, { seq: 2, engineTempC: 108 }),
      truck('t1', T0 + 3 * S, { seq: 3, engineTempC: 101 }),
      truck('t1', T0 + 4 * S, { seq: 4, engineTempC: 100 }),
    ],
    expected: [
      ['RAISED', 2 * S, 2 * S],
      ['RESOLVED', 2 * S, 4 * S],
    ],
  },
  'truck.harsh_braking': {
    events: () => [
      truck('t1', T0, { seq: 0, speedKmh: 80 }),
      truck('t1', T0 + 2 * S, { seq: 1, speedKmh: 55 }),
      // 30 km/h lost, but over 3 s: not harsh
      truck('t1', T0 + 5 * S, { seq: 2, speedKmh: 25 }),
    ],
    expected: [
      ['RAISED', 2 * S, 2 * S],
      ['RESOLVED', 2 * S, 2 * S],
    ],
  },
  'truck.cargo_temp_breach': {
    events: () => [
      ...series(11, 30 * S, (ts, seq) => truck('t1', ts, { seq, cargoTempC: 9 })),
      truck('t1', T0 + 330 * S, { seq: 11, cargoTempC: 8 }),
    ],
    expected: [
      ['RAISED', 300 * S, 300 * S],
      ['RESOLVED', 300 * S, 330 * S],
    ],
  },
  'truck.heartbeat_lost': {
    // t1 (engine on) goes silent at 0 s; t2's events carry stream time past 60 s.
    events: () => [
      truck('t1', T0, { seq: 0 }),
      truck('t2', T0 + 30 * S, { seq: 0 }),
      truck('t2', T0 + 61 * S, { seq: 1 }),
      truck('t1', T0 + 70 * S, { seq: 1 }),
      engine('t2', T0 + 72 * S, false, 2),
    ],
    expected: [
      ['RAISED', 60 * S, 60 * S],
      ['RESOLVED', 60 * S, 70 * S],
    ],
  },
  'turbine.high_vibration': {
    events: () => [
      ...series(7, 10 * S, (ts, seq) => turbine('w1', ts, { seq, vibrationMmS: 7.5 })),
      turbine('w1', T0 + 70 * S, { seq: 7, vibrationMmS: 6 }),
      turbine('w1', T0 + 80 * S, { seq: 8, vibrationMmS: 5 }),
    ],
    expected: [
      ['RAISED', 60 * S, 60 * S],
      ['RESOLVED', 60 * S, 80 * S],
    ],
  },
  'turbine.underperformance': {
    // Wind 10 m/s → 2464 kW expected. Period 1 at 1000 kW (41 %): raised at its end;
    // period 2 at 2000 kW (81 %): resolved at its end, judged when period 3 begins.
    events: () => [
      ...series(60, 10 * S, (ts, seq) => turbine('w1', ts, { seq, windSpeedMs: 10, powerKw: 1000 })),
      ...series(60, 10 * S, (ts, seq) =>
        turbine('w1', ts + 10 * MIN, { seq: seq + 60, windSpeedMs: 10, powerKw: 2000 }),
      ),
      turbine('w1', T0 + 20 * MIN, { seq: 120 }),
    ],
    expected: [
      ['RAISED', 10 * MIN, 10 * MIN],
      ['RESOLVED', 10 * MIN, 20 * MIN],
    ],
  },
  'solar.inverter_fault': {
    events: () => [
      ...series(6, MIN, (ts, seq) => solar('s1', ts, { seq, irradianceWm2: 500, acPowerW: 0 })),
      solar('s1', T0 + 6 * MIN, { seq: 6, irradianceWm2: 500, acPowerW: 50 }),
    ],
    expected: [
      ['RAISED', 5 * MIN, 5 * MIN],
      ['RESOLVED', 5 * MIN, 6 * MIN],
    ],
  },
  'solar.panel_overheat': {
    events: () => [
      ...series(7, 10 * S, (ts, seq) => solar('s1', ts, { seq, panelTempC: 86 })),
      solar('s1', T0 + 70 * S, { seq: 7, panelTempC: 82 }),
      solar('s1', T0 + 80 * S, { seq: 8, panelTempC: 80 }),
    ],
    expected: [
      ['RAISED', 60 * S, 60 * S],
      ['RESOLVED', 60 * S, 80 * S],
    ],
  },
};

describe('alert rules', () => {
  it('are versioned and have unique ids', () => {
    expect(ALERT_RULES_VERSION).toBeGreaterThanOrEqual(1);
    expect(new Set(ALERT_RULES.map((r) => r.id)).size).toBe(ALERT_RULES.length);
  });

  for (const rule of ALERT_RULES) {
    it(`${rule.id} is raised and resolved per the docs/design.md rule table`, () => {
      const scenario = SCENARIOS[rule.id];
      expect(scenario, `no scenario for ${rule.id}`).toBeDefined();
      if (!scenario) return;
      const alerts = run(scenario.events());
      expect(alerts.every((a) => a.rule === rule.id)).toBe(true);
      expect(transitions(alerts)).toEqual(scenario.expected);
      const [raised, resolved] = alerts;
      expect(raised?.alertId).toBe(alertIdOf(rule.id, raised?.deviceId ?? '', raised?.raisedAt ?? 0));
      expect(resolved?.alertId).toBe(raised?.alertId);
      expect(raised).toMatchObject({ severity: rule.severity, resolvedAt: null });
      expect(resolved?.resolvedAt).toBe(resolved?.ts);
    });
  }

  it('restarts a sustained run when one sample breaks the condition', () => {
    const alerts = run([
      // 0-20 s above 90, 90 at 25 s (not above), 30-55 s above 90: no run lasts 30 s
      ...series(3, 10 * S, (ts, seq) => truck('t1', ts, { seq, speedKmh: 95 })),
      truck('t1', T0 + 25 * S, { seq: 3, speedKmh: 90 }),
      ...series(6, 5 * S, (ts, seq) => truck('t1', ts + 30 * S, { seq: seq + 4, speedKmh: 95 })),
    ]);
    expect(alerts).toEqual([]);
  });

  it('needs the engine overheat samples to be consecutive', () => {
    const temps = [106, 107, 104, 106, 107];
    expect(run(temps.map((engineTempC, seq) => truck('t1', T0 + seq * S, { seq, engineTempC })))).toEqual([]);
  });

  it('ignores samples without cargo temperature for the cargo rule', () => {
    expect(run(series(20, 30 * S, (ts, seq) => truck('t1', ts, { seq, cargoTempC: null })))).toEqual([]);
  });

  it('does not raise heartbeat_lost for a truck whose engine is off', () => {
    const alerts = run([
      engine('t1', T0, false, 0),
      truck('t2', T0 + 30 * S, { seq: 0 }),
      truck('t2', T0 + 90 * S, { seq: 1 }),
    ]);
    expect(alerts.filter((a) => a.deviceId === 't1')).toEqual([]);
  });

  it('raises heartbeat_lost on a silent partition through the idle timer', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(truck('t1', T0, { seq: 0 }), 0);
    expect(core.onTimer(59_000).alerts).toEqual([]);
    const out = core.onTimer(60_000);
    expect(out.alerts.map((a) => [a.rule, a.state, a.raisedAt - T0])).toEqual([
      ['truck.heartbeat_lost', 'RAISED', 60 * S],
    ]);
    expect(out.deviceStates.map((d) => d.openAlerts)).toEqual([['truck.heartbeat_lost']]);
  });

  it('does not judge a 10-minute period with a turbine not RUNNING', () => {
    const alerts = run([
      ...series(60, 10 * S, (ts, seq) =>
        turbine('w1', ts, { seq, windSpeedMs: 10, powerKw: 0, status: seq === 5 ? 'FAULT' : 'RUNNING' }),
      ),
      turbine('w1', T0 + 10 * MIN, { seq: 60 }),
    ]);
    expect(alerts).toEqual([]);
  });

  it('does not raise inverter_fault at low irradiance', () => {
    expect(
      run(series(10, MIN, (ts, seq) => solar('s1', ts, { seq, irradianceWm2: 200, acPowerW: 0 }))),
    ).toEqual([]);
  });

  it('lists raised rules in the device state until they resolve', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    const states = [106, 107, 108, 99].map(
      (engineTempC, seq) =>
        core.apply(truck('t1', T0 + seq * S, { seq, engineTempC })).deviceStates[0]?.openAlerts,
    );
    expect(states).toEqual([[], [], ['truck.engine_overheat'], []]);
  });

  it('feeds the machines only events newer than the device has seen, so reordering cannot fake a run', () => {
    const alerts = run([
      truck('t1', T0 + 2 * S, { seq: 2, engineTempC: 106 }),
      truck('t1', T0, { seq: 0, engineTempC: 107 }),
      truck('t1', T0 + S, { seq: 1, engineTempC: 108 }),
    ]);
    expect(alerts).toEqual([]);
  });

  it('derives the same alertId from the same rule, device and raise time only', () => {
    const id = alertIdOf('truck.overspeed', 't1', T0);
    expect(id).toBe(alertIdOf('truck.overspeed', 't1', T0));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(alertIdOf('truck.overspeed', 't1', T0 + 1)).not.toBe(id);
    expect(alertIdOf('truck.overspeed', 't2', T0)).not.toBe(id);
    expect(alertIdOf('truck.engine_overheat', 't1', T0)).not.toBe(id);
  });
});
