import { describe, expect, it } from 'vitest';
import { ALL_METRICS, isDerivedMetric, metricFor, metricsOf, RAW_COLUMNS } from './catalog.ts';
import * as sql from './sql.ts';
import { tripsSql } from './sql-trips.ts';
import * as views from './sql-views.ts';

const EVIL = [
  "x' OR '1'='1",
  "'; DROP TABLE device_state; --",
  '1) UNION SELECT * FROM system.users --',
  '{evil:String}',
  '\\',
];
const range = { from: Date.UTC(2026, 0, 1), to: Date.UTC(2026, 0, 2) };

/** Every {name:Type} placeholder has a value and every value a placeholder. */
function placeholdersMatch(statement: sql.Statement): void {
  const names = new Set([...statement.sql.matchAll(/\{([a-zA-Z_][a-zA-Z0-9_]*):[^}]+\}/g)].map((m) => m[1]));
  expect([...names].sort()).toEqual(Object.keys(statement.params).sort());
}

function statementsFor(value: string): sql.Statement[] {
  const truck = metricFor('TRUCK', 'speedKmh');
  const derived = metricFor('TURBINE', 'energyKwh');
  if (!truck || !derived) throw new Error('catalog');
  return [
    sql.devicesSql({ kind: 'TRUCK', siteId: value, after: value, limit: 10 }),
    sql.deviceStateSql(value),
    sql.seriesAggregateSql(value, truck, '1m', range),
    sql.seriesAggregateSql(value, derived, '1h', range),
    sql.seriesRawSql(value, 'TRUCK', truck, range, 100),
    sql.siteExistsSql(value),
    sql.siteEnergySql(value, '1d', range),
    sql.alertsSql({ state: 'all', rule: value, deviceId: value, range, limit: 10 }),
    sql.asOfCountSql(value, 'TRUCK', range.to),
    sql.asOfSampleSql(value, 'TRUCK', range.to),
    sql.asOfSampleSql(value, 'SOLAR', range.to),
    sql.asOfEngineEventsSql(value, range.to),
    sql.asOfDiagnosticsSql(value, range.to, 10),
    sql.asOfEnergySql(
      value,
      'TURBINE',
      { dayStart: range.from, asOf: range.to },
      {
        windowSizeMs: 60_000,
        sampleIntervalMs: 1_000,
      },
    ),
    sql.asOfOpenAlertsSql(value, range.to),
    views.diagnosticsSql(value, range, 10),
    views.statusChangesSql(value, 'TURBINE', range, 60_000, 10),
    views.trackSql(value, range, 1_000, 10),
    tripsSql(value, range, 10),
    views.performanceSql(value, '1h', range),
  ];
}

describe('SQL builders', () => {
  it('carry request values only as bound parameters, never in the SQL text', () => {
    for (const value of EVIL) {
      for (const statement of statementsFor(value)) {
        expect(statement.sql).not.toContain(value);
        expect(Object.values(statement.params)).toContain(value);
        placeholdersMatch(statement);
      }
    }
  });

  it('bind times as epoch milliseconds converted in SQL', () => {
    const statement = sql.summaryPartialsSql(range, 'none');
    expect(statement.params).toEqual({ from0: range.from, to0: range.to });
    expect(statement.sql).toContain("fromUnixTimestamp64Milli({from0:Int64}, 'UTC')");
    const two = sql.summaryPartialsSql([range, { from: range.to + 1, to: range.to + 2 }], 'minute');
    expect(two.params).toEqual({ from0: range.from, to0: range.to, from1: range.to + 1, to1: range.to + 2 });
    expect(two.sql).toContain(' OR ');
    placeholdersMatch(two);
    placeholdersMatch(statement);
    placeholdersMatch(sql.summaryAlertsSql(range));
    placeholdersMatch(sql.summaryDevicesSql());
    placeholdersMatch(sql.freshnessSql());
    placeholdersMatch(sql.deadLettersSql());
  });

  it('read the registry fields each row carries for the groupings by model and driver', () => {
    const partials = sql.summaryPartialsSql(range, 'none', true);
    expect(partials.sql).toMatch(/^SELECT kind, site_id, device_id, model, driver_id,/);
    expect(partials.sql).toMatch(/GROUP BY kind, site_id, device_id, model, driver_id$/);
    // The cached per-hour partials stay per kind and site: no registry column.
    expect(sql.summaryPartialsSql(range, 'hour').sql).not.toMatch(/model|driver_id/);
    const alerts = sql.summaryAlertsSql(range, true);
    expect(alerts.sql).toMatch(/GROUP BY kind, site_id, device_id, model, driver_id$/);
    expect(sql.summaryAlertsSql(range).sql).not.toMatch(/model|driver_id/);
    expect(sql.summaryDevicesSql(true).sql).toBe(
      'SELECT kind, site_id, device_id, model, driver_id FROM device_state FINAL',
    );
    for (const statement of [partials, alerts, sql.summaryDevicesSql(true)]) placeholdersMatch(statement);
  });

  it('list alerts and device states with their registry fields and rule version', () => {
    for (const statement of [sql.alertsSql({ state: 'all', limit: 1 }), sql.alertByIdSql('a-1')])
      expect(statement.sql).toContain('message, model, driver_id, rule_version');
    for (const statement of [sql.devicesSql({ limit: 1 }), sql.deviceStateSql('d-1')])
      expect(statement.sql).toContain('SELECT device_id, site_id, kind, model, driver_id,');
  });

  it('leave out filters that were not asked for', () => {
    const statement = sql.devicesSql({ limit: 5 });
    expect(statement.sql).not.toContain('WHERE');
    expect(statement.params).toEqual({ limit: 5 });
    expect(sql.alertsSql({ state: 'open', limit: 3 }).params).toEqual({ limit: 3, state: 'RAISED' });
  });

  it('read aggregates with FINAL so only the newest window revision counts', () => {
    const truck = metricFor('TRUCK', 'speedKmh');
    if (!truck) throw new Error('catalog');
    expect(sql.seriesAggregateSql('d', truck, '1m', range).sql).toContain('FROM aggregates_1m FINAL');
    expect(sql.summaryPartialsSql(range, 'hour').sql).toContain('FROM aggregates_1m FINAL');
    expect(sql.energyPartialsSql(range).sql).toContain('FROM aggregates_1m FINAL');
    placeholdersMatch(sql.energyPartialsSql(range));
  });

  it('read settled hours from the stored rollups with FINAL, refusing what they do not hold', () => {
    const summary = sql.summaryPartialsSql(range, 'hour', false, 'rollups');
    expect(summary.sql).toContain('FROM rollups_1h FINAL');
    expect(summary.sql).toContain("sum(derived_sum['distanceKm'])");
    expect(summary.sql).not.toContain('window_start');
    placeholdersMatch(summary);
    const energy = sql.energyPartialsSql(range, 'hour', 'rollups');
    expect(energy.sql).toContain('FROM rollups_1h FINAL');
    expect(energy.sql).toContain("sum(derived_sum['energyKwh'])");
    placeholdersMatch(energy);
    // Minutes and registry fields are only in the windows.
    expect(() => sql.summaryPartialsSql(range, 'minute', false, 'rollups')).toThrow(/no minutes/);
    expect(() => sql.summaryPartialsSql(range, 'none', true, 'rollups')).toThrow(/registry fields/);
    expect(() => sql.energyPartialsSql(range, 'minute', 'rollups')).toThrow(/no minutes/);
  });

  it('put only allow-listed columns and tables into the SQL', () => {
    for (const kind of ['TRUCK', 'TURBINE', 'SOLAR'] as const) {
      for (const metric of metricsOf(kind).filter((m) => m.source === 'field')) {
        const statement = sql.seriesRawSql('d', kind, metric, range, 10);
        expect(Object.values(RAW_COLUMNS)).toContain(metric.column);
        expect(statement.sql).toMatch(/FROM (truck|turbine|solar)_telemetry FINAL/);
      }
    }
  });

  it('refuse raw samples of a derived figure', () => {
    const derived = metricFor('TRUCK', 'distanceKm');
    if (!derived) throw new Error('catalog');
    expect(() => sql.seriesRawSql('d', 'TRUCK', derived, range, 10)).toThrow(/no raw samples/);
  });
});

describe('metric catalog', () => {
  it('knows each kind’s Avro fields and derived figures, disjoint by name', () => {
    expect(metricFor('TRUCK', 'speedKmh')).toEqual({
      name: 'speedKmh',
      source: 'field',
      column: 'speed_kmh',
    });
    expect(metricFor('TRUCK', 'powerKw')).toBeUndefined();
    expect(metricFor('SOLAR', 'energyKwh')?.source).toBe('derived');
    expect(isDerivedMetric('energyKwh')).toBe(true);
    expect(isDerivedMetric('acPowerW')).toBe(false);
    expect(ALL_METRICS).toContain('vibrationMmS');
    for (const kind of ['TRUCK', 'TURBINE', 'SOLAR'] as const)
      for (const m of metricsOf(kind)) expect(m.source === 'derived').toBe(isDerivedMetric(m.name));
  });
});
