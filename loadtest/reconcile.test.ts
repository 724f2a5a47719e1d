import { describe, expect, it } from 'vitest';
import { emptyProducedTally, reconcile, type StoredTally, tallyProduced } from './reconcile.ts';

function produced() {
  const tally = emptyProducedTally();
  for (let seq = 0; seq < 10; seq++) tallyProduced(tally, 'TruckTelemetry', 'truck-1', seq);
  for (let seq = 0; seq < 5; seq++) tallyProduced(tally, 'SolarTelemetry', 'solar-1', seq);
  return tally;
}

function stored(overrides: Partial<StoredTally> = {}): StoredTally {
  return {
    tables: { truck_telemetry: { rows: 10, distinct: 10 }, solar_telemetry: { rows: 5, distinct: 5 } },
    deadLettered: {},
    byDevice: new Map([
      ['truck-1', { count: 10, minSeq: 0, maxSeq: 9 }],
      ['solar-1', { count: 5, minSeq: 0, maxSeq: 4 }],
    ]),
    ...overrides,
  };
}

describe('reconciliation', () => {
  it('tallies acknowledged events per record and per device seq range', () => {
    const tally = produced();
    expect(tally.byRecord).toEqual({ TruckTelemetry: 10, SolarTelemetry: 5 });
    expect(tally.byDevice.get('truck-1')).toEqual({ count: 10, minSeq: 0, maxSeq: 9 });
  });

  it('is ok when everything produced is stored once', () => {
    const r = reconcile(produced(), stored());
    expect(r).toMatchObject({ ok: true, produced: 15, stored: 15, lost: 0, duplicates: 0, unexpected: 0 });
    expect(r.devicesChecked).toBe(2);
  });

  it('finds a loss and the device it belongs to', () => {
    const r = reconcile(
      produced(),
      stored({
        tables: { truck_telemetry: { rows: 9, distinct: 9 }, solar_telemetry: { rows: 5, distinct: 5 } },
        byDevice: new Map([
          ['truck-1', { count: 9, minSeq: 0, maxSeq: 8 }],
          ['solar-1', { count: 5, minSeq: 0, maxSeq: 4 }],
        ]),
      }),
    );
    expect(r).toMatchObject({ ok: false, lost: 1, duplicates: 0 });
    expect(r.kinds.find((k) => k.kind === 'truck')).toMatchObject({
      produced: 10,
      storedDistinct: 9,
      lost: 1,
    });
    expect(r.deviceMismatches).toEqual([
      {
        deviceId: 'truck-1',
        produced: { count: 10, minSeq: 0, maxSeq: 9 },
        stored: { count: 9, minSeq: 0, maxSeq: 8 },
      },
    ]);
  });

  it('finds duplicates even when every event is there', () => {
    const r = reconcile(
      produced(),
      stored({
        tables: { truck_telemetry: { rows: 12, distinct: 10 }, solar_telemetry: { rows: 5, distinct: 5 } },
      }),
    );
    expect(r).toMatchObject({ ok: false, lost: 0, duplicates: 2 });
  });

  it('accounts dead-lettered events: produced = stored + dead-lettered', () => {
    const r = reconcile(
      produced(),
      stored({
        tables: { truck_telemetry: { rows: 8, distinct: 8 }, solar_telemetry: { rows: 5, distinct: 5 } },
        deadLettered: { truck: 2 },
        byDevice: new Map([
          ['truck-1', { count: 8, minSeq: 0, maxSeq: 9 }],
          ['solar-1', { count: 5, minSeq: 0, maxSeq: 4 }],
        ]),
      }),
    );
    expect(r).toMatchObject({ ok: true, stored: 13, deadLettered: 2, lost: 0 });
  });

  it('flags rows nobody produced', () => {
    const r = reconcile(
      produced(),
      stored({
        tables: { truck_telemetry: { rows: 11, distinct: 11 }, solar_telemetry: { rows: 5, distinct: 5 } },
      }),
    );
    expect(r).toMatchObject({ ok: false, unexpected: 1 });
  });
});
