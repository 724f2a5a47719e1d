import { describe, expect, it } from 'vitest';
import { formatValue, renderAlerts, renderHealth, renderSeries, renderSummary, table } from './format.ts';

describe('table', () => {
  it('aligns text left and numbers right under their headers', () => {
    const out = table(
      [
        { name: 'truck-1', n: 5 },
        { name: 'turbine-10', n: 1234 },
      ],
      [
        { header: 'device', value: (r) => r.name },
        { header: 'events', value: (r) => r.n },
      ],
    );
    expect(out.split('\n')).toEqual([
      'device      events',
      '----------  ------',
      'truck-1          5',
      'turbine-10    1234',
    ]);
  });

  it('prints a header even without rows', () => {
    expect(table([], [{ header: 'a', value: () => 1 }])).toBe('a\n-');
  });
});

describe('formatValue', () => {
  it('rounds for reading and marks missing values', () => {
    expect(formatValue(null)).toBe('-');
    expect(formatValue(50)).toBe('50');
    expect(formatValue(76.6666)).toBe('76.67');
    expect(formatValue(1234.56)).toBe('1234.6');
    expect(formatValue(0.1)).toBe('0.1000');
    expect(formatValue(true)).toBe('yes');
    expect(formatValue(['a', 'b'])).toBe('a,b');
    expect(formatValue([])).toBe('-');
  });
});

describe('reports', () => {
  it('render the summary figures of every kind', () => {
    const out = renderSummary({
      from: 'A',
      to: 'B',
      truck: {
        devices: 2,
        activeDevices: 1,
        events: 10,
        avgSpeedKmh: 50,
        distanceKm: 1.5,
        engineOnHours: 2,
        idleHours: 0,
      },
      turbine: { devices: 1, activeDevices: 1, events: 5, energyKwh: 50, availability: 0.75 },
      solar: { devices: 0, activeDevices: 0, events: 0, energyKwh: 0 },
      alerts: { raised: 3, open: 1 },
    });
    expect(out).toMatch(/truck\s+2\s+1\s+10/);
    expect(out).toContain('availability 75 %');
    expect(out).toContain('3 raised in range, 1 open now');
  });

  it('render a summary by driver with the unregistered bucket and drivers without a name said in words', () => {
    const row = { kind: 'truck', devices: 1, activeDevices: 1, events: 4, alertsOpen: 0 };
    const out = renderSummary({
      from: 'A',
      to: 'B',
      groupBy: 'driver',
      groups: [
        { ...row, driverId: 'driver-1', driverName: 'Ada', registered: true },
        { ...row, driverId: null, driverName: null, registered: true },
        { ...row, driverId: null, driverName: null, registered: false },
      ],
    });
    const lines = out.split('\n');
    expect(lines[0]).toContain('Fleet summary by driver');
    expect(out).toMatch(/driver-1\s+Ada\s+truck\s+1\s+1\s+4/);
    expect(out).toMatch(/\(none\)\s+-\s+truck/);
    expect(out).toMatch(/\(unregistered\)\s+-\s+truck/);
  });

  it('render raw and aggregated series differently', () => {
    expect(renderSeries({ step: 'raw', points: [{ t: 'T', value: 1.5 }] })).toMatch(/T\s+1\.50/);
    expect(
      renderSeries({
        step: '1m',
        points: [{ t: 'T', count: 2, min: 1, max: 2, avg: 1.5, sum: 3, final: true, revision: 1 }],
      }),
    ).toMatch(/T\s+2\s+1\s+2\s+1\.50\s+3\s+yes\s+1/);
  });

  it('render alerts and a health report with unavailable parts explained', () => {
    expect(
      renderAlerts({
        alerts: [
          { raisedAt: 'T', rule: 'r', deviceId: 'd', severity: 'WARNING', state: 'RAISED', resolvedAt: null },
        ],
      }),
    ).toContain('r');
    const enriched = renderAlerts({
      alerts: [
        {
          raisedAt: 'T',
          rule: 'r',
          deviceId: 'd',
          model: 'tractor-40t',
          driverId: 'driver-7',
          ruleVersion: 3,
        },
      ],
    }).split('\n');
    expect(enriched[0]).toMatch(/device +model +driver +rule version/);
    expect(enriched[2]).toMatch(/d +tractor-40t +driver-7 +3/);
    const health = renderHealth({
      at: 'T',
      freshness: { seconds: null },
      consumerLag: { available: false, reason: 'no Kafka' },
      deadLetters: { total: 0, byStage: [], byCode: [] },
      backpressure: { available: false, reason: 'no URLs' },
    });
    expect(health).toContain('no events stored');
    expect(health).toContain('consumer lag: unavailable (no Kafka)');
    expect(health).toContain('backpressure: unavailable (no URLs)');
  });
});
