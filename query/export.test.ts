import { describe, expect, it } from 'vitest';
import { alertsCsv, summaryCsv } from './export.ts';
import type { SummaryRow } from './service.ts';

const row = (extra: Partial<SummaryRow>): SummaryRow => ({
  kind: 'truck',
  devices: 1,
  activeDevices: 1,
  events: 4,
  avgSpeedKmh: 50,
  distanceKm: 1.5,
  engineOnHours: 0.1,
  idleHours: 0,
  energyKwh: null,
  availability: null,
  capacityKw: null,
  capacityFactor: null,
  alertsRaised: 1,
  alertsOpen: 0,
  ...extra,
});

describe('alertsCsv', () => {
  it('carries the model, driver and rule version after the message, guarded like every cell', () => {
    const alert = {
      alertId: 'a-1',
      rule: 'truck.overspeed',
      deviceId: 'truck-1',
      siteId: 'depot-a',
      kind: 'truck',
      state: 'RAISED',
      severity: 'WARNING',
      raisedAt: 'R',
      resolvedAt: null,
      updatedAt: 'U',
      value: 95,
      threshold: 90,
      message: 'fast',
    };
    const lines = alertsCsv({
      alerts: [
        { ...alert, model: 'tractor-40t', driverId: '=HYPERLINK("x")', ruleVersion: 7 },
        { ...alert, model: null, driverId: null, ruleVersion: 0 },
      ],
    }).split('\r\n');
    expect(lines[0]?.split(',').slice(-4)).toEqual(['message', 'model', 'driverId', 'ruleVersion']);
    expect(lines[1]).toMatch(/,fast,tractor-40t,"'=HYPERLINK\(""x""\)",7$/);
    expect(lines[2]).toMatch(/,fast,,,0$/);
  });
});

describe('summaryCsv', () => {
  it("puts each grouping's naming columns after the range, before the figures", () => {
    const answer = (rows: SummaryRow[]) => ({ from: 'F', to: 'T', rows });
    const header = (csv: string) => csv.split('\r\n')[0]?.split(',').slice(0, 6);
    expect(header(summaryCsv(answer([row({})]), 'kind'))).toEqual([
      'from',
      'to',
      'kind',
      'devices',
      'activeDevices',
      'events',
    ]);
    expect(header(summaryCsv(answer([row({ siteId: 's' })]), 'site'))).toEqual([
      'from',
      'to',
      'siteId',
      'kind',
      'devices',
      'activeDevices',
    ]);
    const byModel = summaryCsv(
      answer([row({ model: 'tractor-40t', registered: true }), row({ model: null, registered: false })]),
      'model',
    ).split('\r\n');
    expect(byModel.slice(0, 3).map((l) => l.split(',').slice(0, 5).join(','))).toEqual([
      'from,to,model,registered,kind',
      'F,T,tractor-40t,true,truck',
      'F,T,,false,truck',
    ]);
    const byDriver = summaryCsv(
      answer([row({ driverId: 'd-1', driverName: 'Ada', registered: true })]),
      'driver',
    );
    expect(byDriver.split('\r\n')[1]?.split(',').slice(2, 6)).toEqual(['d-1', 'Ada', 'true', 'truck']);
  });
});
