/**
 * How often would each alert rule of docs/design.md §3 fire on simulated data? Runs the pure
 * fleet for a number of simulated hours (no Kafka) and evaluates every rule's raise
 * condition naively, per device, counting raises. This is how the episode rates in
 * docs/producers.md were checked: every rule must fire now and then in a long run.
 *
 *   node producers/episode-report.ts [--hours 48] [--trucks 20] [--turbines 10] [--solar 8] [--seed 42]
 */
import { parseArgs } from 'node:util';
import { createFleet } from './fleet.ts';
import { expectedPowerKw } from '../domain/power-curve.ts';
import type { OutboundMessage } from './types.ts';

const { values } = parseArgs({
  options: {
    hours: { type: 'string', default: '48' },
    trucks: { type: 'string', default: '20' },
    turbines: { type: 'string', default: '10' },
    solar: { type: 'string', default: '8' },
    seed: { type: 'string', default: '42' },
    start: { type: 'string', default: '2026-06-01T00:00:00Z' },
  },
});
const hours = Number(values.hours);
const startMs = Date.parse(values.start);
const fleet = createFleet({
  seed: Number(values.seed),
  trucks: Number(values.trucks),
  turbines: Number(values.turbines),
  solar: Number(values.solar),
  intervalMs: { truck: 1_000, turbine: 1_000, solar: 1_000 },
  startMs,
});

const raises: Record<string, number> = {};
/** Per device and rule: since when the condition holds (undefined: not holding; -1: raised). */
const holding = new Map<string, number>();
function sustained(
  deviceId: string,
  rule: string,
  condition: boolean,
  resolved: boolean,
  ts: number,
  forMs: number,
) {
  const key = `${deviceId}|${rule}`;
  const since = holding.get(key);
  if (since === -1) {
    if (resolved) holding.delete(key);
    return;
  }
  if (!condition) {
    holding.delete(key);
    return;
  }
  if (since === undefined) holding.set(key, ts);
  if (ts - (since ?? ts) >= forMs) {
    raises[rule] = (raises[rule] ?? 0) + 1;
    holding.set(key, -1);
  }
}

const previous = new Map<string, { ts: number; speedKmh: number; engineOn: boolean }>();
const overheatStreak = new Map<string, number>();
const tenMinute = new Map<
  string,
  { start: number; n: number; power: number; wind: number; allRunning: boolean; raised: boolean }
>();
const out: OutboundMessage[] = [];
for (let minute = 1; minute <= hours * 60; minute++) {
  out.length = 0;
  fleet.generate(startMs + minute * 60_000, Number.POSITIVE_INFINITY, out);
  for (const { event } of out) {
    const v = event.value;
    if (event.type === 'TruckTelemetry') {
      const t = event.value;
      sustained(v.deviceId, 'truck.overspeed', t.speedKmh > 90, t.speedKmh <= 85, v.ts, 30_000);
      const streak = t.engineTempC > 105 ? (overheatStreak.get(v.deviceId) ?? 0) + 1 : 0;
      overheatStreak.set(v.deviceId, streak);
      if (streak === 3) raises['truck.engine_overheat'] = (raises['truck.engine_overheat'] ?? 0) + 1;
      if (t.cargoTempC !== null) {
        sustained(v.deviceId, 'truck.cargo_temp_breach', t.cargoTempC > 8, t.cargoTempC <= 8, v.ts, 300_000);
      }
      const p = previous.get(v.deviceId);
      if (p && p.speedKmh - t.speedKmh >= 25 && v.ts - p.ts <= 2_000) {
        raises['truck.harsh_braking'] = (raises['truck.harsh_braking'] ?? 0) + 1;
      }
      if (p?.engineOn && v.ts - p.ts >= 60_000)
        raises['truck.heartbeat_lost'] = (raises['truck.heartbeat_lost'] ?? 0) + 1;
      previous.set(v.deviceId, { ts: v.ts, speedKmh: t.speedKmh, engineOn: t.engineOn });
    } else if (event.type === 'TurbineTelemetry') {
      const t = event.value;
      sustained(v.deviceId, 'turbine.high_vibration', t.vibrationMmS > 7, t.vibrationMmS <= 5, v.ts, 60_000);
      const w = tenMinute.get(v.deviceId) ?? {
        start: v.ts,
        n: 0,
        power: 0,
        wind: 0,
        allRunning: true,
        raised: false,
      };
      w.n++;
      w.power += t.powerKw;
      w.wind += t.windSpeedMs;
      w.allRunning &&= t.status === 'RUNNING';
      if (v.ts - w.start >= 600_000) {
        const expected = expectedPowerKw(w.wind / w.n);
        const ratio = expected > 0 ? w.power / w.n / expected : 1;
        if (w.allRunning && !w.raised && ratio < 0.7) {
          raises['turbine.underperformance'] = (raises['turbine.underperformance'] ?? 0) + 1;
          w.raised = true;
        } else if (w.raised && ratio >= 0.8) w.raised = false;
        Object.assign(w, { start: v.ts, n: 0, power: 0, wind: 0, allRunning: true });
      }
      tenMinute.set(v.deviceId, w);
    } else if (event.type === 'SolarTelemetry') {
      const s = event.value;
      sustained(
        v.deviceId,
        'solar.inverter_fault',
        s.irradianceWm2 > 300 && s.acPowerW <= 10,
        s.acPowerW > 10,
        v.ts,
        300_000,
      );
      sustained(v.deviceId, 'solar.panel_overheat', s.panelTempC > 85, s.panelTempC <= 80, v.ts, 60_000);
    }
  }
}

const devices = {
  truck: Number(values.trucks),
  turbine: Number(values.turbines),
  solar: Number(values.solar),
};
console.log(
  `${hours} simulated hours from ${values.start}, ${devices.truck} trucks, ${devices.turbine} turbines, ${devices.solar} arrays`,
);
console.log(`${'rule'.padEnd(28)}${'raises'.padStart(8)}${'per device-day'.padStart(16)}`);
for (const rule of [
  'truck.overspeed',
  'truck.engine_overheat',
  'truck.harsh_braking',
  'truck.cargo_temp_breach',
  'truck.heartbeat_lost',
  'turbine.high_vibration',
  'turbine.underperformance',
  'solar.inverter_fault',
  'solar.panel_overheat',
]) {
  const kind = rule.split('.')[0] as keyof typeof devices;
  const perDay = (raises[rule] ?? 0) / Math.max(1, devices[kind]) / (hours / 24);
  console.log(`${rule.padEnd(28)}${String(raises[rule] ?? 0).padStart(8)}${perDay.toFixed(2).padStart(16)}`);
}
