/**
 * The benchmarks' synthetic fleet (processors/bench.ts, bench/backlog-memory.ts): 2/3
 * trucks, 1/6 turbines, 1/6 solar arrays, one sample per device per second, smooth in time.
 * Event i is a pure function of (i, devices), so a benchmark can make a backlog of any size
 * in chunks instead of holding it all.
 */
import type { RAW_TOPIC_KEYS } from '../lib/topics.ts';
import type { RawEvent } from '../schemas/types.ts';

const T0 = Date.UTC(2026, 0, 1);

/** Event number `i` of a fleet of `devices` devices (device i % devices, its sample i / devices). */
export function fleetEvent(i: number, devices: number): RawEvent {
  const d = i % devices;
  const seq = Math.floor(i / devices);
  const ts = T0 + seq * 1_000 + (d % 1000);
  const base = { eventId: `e-${d}-${seq}`, seq, ts };
  // Smooth in time per device, like real sensors: a random walk would raise harsh-braking
  // alerts on every other sample and benchmark the alert topic instead of the processor.
  const wobble = Math.sin(seq * 0.05 + d);
  if (d < (devices * 2) / 3) {
    return {
      type: 'TruckTelemetry',
      value: {
        ...base,
        deviceId: `truck-${d}`,
        siteId: `depot-${d % 20}`,
        lat: 52 + wobble * 0.1,
        lon: 13 + wobble * 0.1,
        speedKmh: 70 + wobble * 30,
        headingDeg: 180 + wobble * 90,
        engineTempC: 90 + wobble * 5,
        fuelPct: 60,
        odometerKm: 10_000 + seq * 0.02,
        engineOn: true,
        cargoTempC: d % 3 === 0 ? 4 + wobble : null,
      },
    };
  }
  if (d < (devices * 5) / 6) {
    return {
      type: 'TurbineTelemetry',
      value: {
        ...base,
        deviceId: `turbine-${d}`,
        siteId: `plant-${d % 5}`,
        windSpeedMs: 9 + wobble * 2,
        rotorRpm: 14,
        powerKw: 1500 + wobble * 300,
        pitchDeg: 2,
        nacelleTempC: 40,
        vibrationMmS: 2 + wobble,
        status: 'RUNNING',
      },
    };
  }
  return {
    type: 'SolarTelemetry',
    value: {
      ...base,
      deviceId: `solar-${d}`,
      siteId: `plant-${d % 5}`,
      irradianceWm2: 700 + wobble * 100,
      panelTempC: 45,
      dcVoltageV: 600,
      dcCurrentA: 20,
      acPowerW: 11_000 + wobble * 1000,
      status: 'PRODUCING',
    },
  };
}

/** The first `count` events of the fleet. */
export function makeFleetEvents(count: number, devices: number): RawEvent[] {
  return Array.from({ length: count }, (_, i) => fleetEvent(i, devices));
}

/** The raw topic each event type is produced to. */
export const RAW_TOPIC_OF: Record<RawEvent['type'], (typeof RAW_TOPIC_KEYS)[number]> = {
  TruckTelemetry: 'truck',
  EngineStateChanged: 'truck',
  DiagnosticReported: 'truck',
  TurbineTelemetry: 'turbine',
  SolarTelemetry: 'solar',
};
