import { describe, expect, it } from 'vitest';
import type { RawEvent } from '../schemas/types.ts';
import { NO_FAULTS } from './faults.ts';
import { createFleet } from './fleet.ts';
import { createManifestBuilder, manifestOfEvents } from './manifest.ts';
import type { OutboundMessage } from './types.ts';

const T0 = Date.UTC(2026, 0, 1);

function turbineEvent(seq: number, ts: number, powerKw: number): RawEvent {
  return {
    type: 'TurbineTelemetry',
    value: {
      eventId: `id-${seq}`,
      deviceId: 'turbine-00001',
      siteId: 'wf',
      ts,
      seq,
      windSpeedMs: 8,
      rotorRpm: 10,
      powerKw,
      pitchDeg: 0,
      nacelleTempC: 20,
      vibrationMmS: 1,
      status: 'RUNNING',
    },
  };
}

function message(event: RawEvent, overrides: Partial<OutboundMessage> = {}): OutboundMessage {
  return {
    kind: 'turbine',
    key: event.value.deviceId,
    class: 'clean',
    event,
    poison: null,
    garbage: null,
    delivery: null,
    legacy: false,
    ...overrides,
  };
}

describe('the manifest', () => {
  it('summarises clean events per device-window and leaves duplicates and poison out', () => {
    const builder = createManifestBuilder({ seed: 1, faults: NO_FAULTS });
    const e0 = turbineEvent(0, T0 + 1_000, 100);
    builder.record(message(e0));
    builder.record(message(turbineEvent(1, T0 + 59_999, 300)));
    builder.record(message(e0, { class: 'duplicate' }));
    builder.record(message(turbineEvent(2, T0 + 60_000, 50), { delivery: 'late' }));
    builder.record(message(turbineEvent(3, T0 + 2_000, 9_999), { class: 'poison', poison: 'out-of-range' }));
    const manifest = builder.build();

    expect(manifest.totals).toMatchObject({ messages: 5, events: 3, duplicates: 1, poison: 1 });
    expect(manifest.totals.faults.late).toBe(1);
    expect(manifest.totals.faults.poison['out-of-range']).toBe(1);
    expect(manifest.devices['turbine-00001']).toMatchObject({
      messages: 5,
      events: 3,
      firstSeq: 0,
      lastSeq: 2,
      duplicates: 1,
    });
    expect(manifest.windows.map((w) => [w.windowStart - T0, w.eventCount])).toEqual([
      [0, 2],
      [60_000, 1],
    ]);
    expect(manifest.windows[0]?.fields.powerKw).toEqual({ count: 2, min: 100, max: 300, sum: 400 });
    expect(manifest.firstTs).toBe(T0 + 1_000);
    expect(manifest.lastTs).toBe(T0 + 60_000);
  });

  it('skips null fields and can leave windows out for long runs', () => {
    const builder = createManifestBuilder({ seed: 1, faults: NO_FAULTS, windows: false });
    builder.record(message(turbineEvent(0, T0, 1)));
    expect(builder.build().windows).toEqual([]);
  });
});

describe('the manifest of events read back', () => {
  it('equals the producer manifest for the same events, and counts repeats as duplicates', () => {
    const fleet = createFleet({
      seed: 4,
      trucks: 4,
      turbines: 2,
      solar: 2,
      intervalMs: { truck: 1_000, turbine: 1_000, solar: 1_000 },
      startMs: T0,
    });
    const out: OutboundMessage[] = [];
    fleet.generate(Number.POSITIVE_INFINITY, 5_000, out);
    const produced = createManifestBuilder({ seed: 4, faults: NO_FAULTS, devices: fleet.devices });
    for (const m of out) produced.record(m);
    const events = out.map((m) => m.event);
    const readBack = manifestOfEvents([...events, ...events.slice(0, 10)], { seed: 4, faults: NO_FAULTS });
    const expected = produced.build();
    expect(readBack.windows).toEqual(expected.windows);
    expect(readBack.totals.events).toBe(5_000);
    expect(readBack.totals.duplicates).toBe(10);
  });
});
