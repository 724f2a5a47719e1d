import { describe, expect, it } from 'vitest';
import { createFleet, type FleetOptions } from './fleet.ts';
import { parseFaultSpec } from './faults.ts';
import { createManifestBuilder } from './manifest.ts';
import type { OutboundMessage } from './types.ts';

const START = Date.UTC(2026, 3, 1, 8, 0, 0);
const BASE: FleetOptions = {
  seed: 42,
  trucks: 6,
  turbines: 3,
  solar: 4,
  intervalMs: { truck: 1000, turbine: 1000, solar: 1000 },
  startMs: START,
};

function generateAll(options: FleetOptions, untilMs: number, maxEvents = Number.POSITIVE_INFINITY) {
  const fleet = createFleet(options);
  const out: OutboundMessage[] = [];
  const events = fleet.generate(untilMs, maxEvents, out);
  fleet.drain(out);
  return { fleet, out, events };
}

describe('the fleet', () => {
  it('gives the same events for the same seed and different ones for another seed', () => {
    const a = generateAll(BASE, START + 120_000).out.map((m) => m.event);
    const b = generateAll(BASE, START + 120_000).out.map((m) => m.event);
    const c = generateAll({ ...BASE, seed: 43 }, START + 120_000).out.map((m) => m.event);
    expect(a.length).toBeGreaterThan(1000);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('gives different event ids to runs that start at different times', () => {
    const a = generateAll(BASE, START + 5_000).out[0]?.event.value.eventId;
    const b = generateAll({ ...BASE, startMs: START + 1 }, START + 5_000).out[0]?.event.value.eventId;
    expect(a).toBeDefined();
    expect(a).not.toBe(b);
  });

  it('ticks every device about once per interval, in event-time order, from jittered phases', () => {
    const { out, fleet } = generateAll(BASE, START + 600_000);
    const telemetry = out.filter((m) => m.event.type.endsWith('Telemetry'));
    const ts = out.map((m) => m.event.value.ts);
    expect(ts.every((t, i) => i === 0 || t >= (ts[i - 1] as number))).toBe(true);
    for (const device of fleet.devices) {
      const own = out.filter((m) => m.key === device.deviceId);
      const seqs = own.map((m) => m.event.value.seq);
      expect(seqs).toEqual(seqs.map((_, i) => i));
    }
    // 13 devices × 600 ticks, minus truck samples lost to modem dropouts.
    expect(telemetry.length).toBeGreaterThan(13 * 590 - 600);
    expect(telemetry.length).toBeLessThanOrEqual(13 * 615);
    const firstTicks = new Set(
      fleet.devices.map((d) => out.find((m) => m.key === d.deviceId)?.event.value.ts),
    );
    expect(firstTicks.size).toBeGreaterThan(10);
  });

  it('stops at exactly the requested number of events', () => {
    const { out, events } = generateAll(BASE, Number.POSITIVE_INFINITY, 12_345);
    expect(events).toBe(12_345);
    expect(out.length).toBe(12_345);
  });

  it('injects faults at the requested rates and counts each one, and the manifest agrees', () => {
    const faults = parseFaultSpec('late=0.01,ooo=0.02,dup=0.03,poison=0.01,skew=0.3,v1=0.5');
    const { fleet, out, events } = generateAll(
      { ...BASE, trucks: 20, faults },
      Number.POSITIVE_INFINITY,
      60_000,
    );
    const counts = fleet.faultCounts();
    const manifest = createManifestBuilder({ seed: 42, faults, devices: fleet.devices });
    for (const message of out) manifest.record(message);
    const built = manifest.build();

    const byClass = (cls: OutboundMessage['class']) => out.filter((m) => m.class === cls).length;
    expect(byClass('clean')).toBe(events);
    expect(byClass('duplicate')).toBe(counts.duplicates);
    expect(out.filter((m) => m.delivery === 'late').length).toBe(counts.late);
    expect(out.filter((m) => m.delivery === 'out-of-order').length).toBe(counts.outOfOrder);
    expect(out.filter((m) => m.legacy && m.class === 'clean').length).toBe(counts.legacyEvents);
    for (const flavor of ['garbage', 'unknown-schema', 'truncated', 'out-of-range'] as const) {
      expect(out.filter((m) => m.poison === flavor).length).toBe(counts.poison[flavor]);
      expect(counts.poison[flavor]).toBeGreaterThan(0);
    }
    expect(built.totals.faults).toEqual(counts);
    expect(built.totals.events).toBe(60_000);
    expect(built.totals.messages).toBe(out.length);
    // The rates come out as asked, within sampling error.
    expect(counts.duplicates / events).toBeCloseTo(0.03, 2);
    expect(counts.late / events).toBeCloseTo(0.01, 2);
    expect(counts.skewedDevices).toBeGreaterThan(0);
    expect(counts.legacyEvents).toBeGreaterThan(0);

    // Duplicates repeat id and seq of a clean event; poison never reuses a clean id.
    const cleanIds = new Set(out.filter((m) => m.class === 'clean').map((m) => m.event.value.eventId));
    expect(out.filter((m) => m.class === 'duplicate').every((m) => cleanIds.has(m.event.value.eventId))).toBe(
      true,
    );
    const corrupted = out.filter((m) => m.poison === 'out-of-range');
    expect(corrupted.every((m) => !cleanIds.has(m.event.value.eventId))).toBe(true);
    expect(
      out.filter((m) => m.poison === 'garbage').every((m) => m.garbage !== null && m.garbage[0] !== 0),
    ).toBe(true);
    // Legacy writers are trucks without a refrigerated hold.
    expect(
      out
        .filter((m) => m.legacy)
        .every((m) => m.event.type === 'TruckTelemetry' && m.event.value.cargoTempC === null),
    ).toBe(true);
  });

  it('shifts the event times of skewed devices by their skew, and only theirs', () => {
    const plain = generateAll(BASE, START + 30_000);
    const skewed = generateAll({ ...BASE, faults: parseFaultSpec('skew=1') }, START + 30_000);
    for (const device of skewed.fleet.devices) {
      expect(device.skewMs).not.toBe(0);
      const a = plain.out.find((m) => m.key === device.deviceId)?.event.value.ts as number;
      const b = skewed.out.find((m) => m.key === device.deviceId)?.event.value.ts as number;
      expect(b - a).toBe(device.skewMs);
    }
  });
});
