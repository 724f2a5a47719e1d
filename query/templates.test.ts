import { describe, expect, it } from 'vitest';
import { FleetgridError } from '../lib/errors.ts';
import { renderTemplate, TEMPLATE_NAMES, type TemplateArgs, type TemplateName } from './templates.ts';

const range = { from: Date.UTC(2026, 0, 1), to: Date.UTC(2026, 0, 2) };

/** Arguments of every template (a new template without a sample fails to type-check). */
const SAMPLES: { [N in TemplateName]: TemplateArgs<N> } = {
  summaryPartials: { ranges: [range], group: 'none', perDevice: true },
  energyPartials: { range, group: 'minute' },
  rollupProgress: {},
  summaryDevices: {},
  summaryAlerts: { range, perDevice: true },
  dimDevices: {},
  devices: { kind: 'TRUCK', siteId: 'depot-1', after: 'truck-1', limit: 101 },
  deviceState: { deviceId: 'truck-1' },
  seriesAggregate: { deviceId: 'truck-1', metric: 'speedKmh', step: '1m', range },
  seriesRaw: { deviceId: 'truck-1', kind: 'TRUCK', metric: 'speedKmh', range, limit: 10_001 },
  siteExists: { siteId: 'plant-1' },
  siteEnergy: { siteId: 'plant-1', step: '1h', range },
  alerts: { state: 'all', rule: 'truck.overspeed', deviceId: 'truck-1', range, limit: 100 },
  alertById: { alertId: '0b1c2d3e-0000-4000-8000-000000000001' },
  alertActions: { alertIds: ['0b1c2d3e-0000-4000-8000-000000000001'], limit: 10 },
  alertCommand: { commandId: 'cmd-00000001' },
  freshness: {},
  deadLetters: {},
  deadLetterTotals: {},
  projectionTables: {},
  asOfCount: { deviceId: 'truck-1', kind: 'TRUCK', asOf: range.to },
  asOfSample: { deviceId: 'solar-1', kind: 'SOLAR', asOf: range.to },
  asOfEngineEvents: { deviceId: 'truck-1', asOf: range.to },
  asOfDiagnostics: { deviceId: 'truck-1', asOf: range.to, limit: 10_000 },
  asOfEnergy: {
    deviceId: 'wt-1',
    kind: 'TURBINE',
    dayStart: range.from,
    asOf: range.to,
    windowSizeMs: 60_000,
    sampleIntervalMs: 1_000,
  },
  asOfOpenAlerts: { deviceId: 'truck-1', asOf: range.to },
  extent: {},
  diagnostics: { deviceId: 'truck-1', range, limit: 1_001 },
  statusChanges: { deviceId: 'wt-1', kind: 'TURBINE', range, gapMs: 60_000, limit: 10_001 },
  track: { deviceId: 'truck-1', range, bucketMs: 180, limit: 20_001 },
  trips: { deviceId: 'truck-1', range, limit: 1_001 },
  performance: { deviceId: 'solar-1', step: '1h', range },
  tableRows: { table: 'dead_letters' },
  tableDistinctEvents: { table: 'truck_telemetry' },
  runRawFreshness: { runTag: 'r1a2', startMs: range.from, fromMs: range.from, toMs: range.to },
  runAggregateFreshness: { runTag: 'r1a2', startMs: range.from, graceMs: 5_000, closedByMs: range.to },
  runTableTally: { runTag: 'r1a2' },
  runDeadLetters: { runTag: 'r1a2', stage: 'sink-clickhouse' },
  runDeviceSeqRanges: { runTag: 'r1a2' },
  runRawCount: { runTag: 'r1a2' },
  runWindows: { runTag: 'r1a2' },
  runAlertTransitions: { runTag: 'r1a2' },
  runDeviceStates: { runTag: 'r1a2' },
};

const EVIL = [
  "x' OR '1'='1",
  "'; DROP TABLE device_state; --",
  "SELECT 1 -- don't\n; DROP TABLE alerts",
  "1) UNION SELECT * FROM file('/etc/passwd') --",
  '{evil:String}',
  '<img src=x onerror=alert(1)>',
];

function refusal(call: () => unknown): FleetgridError {
  try {
    call();
  } catch (error) {
    if (error instanceof FleetgridError) return error;
    throw error;
  }
  throw new Error('not refused');
}

describe('statement templates', () => {
  it('render every template of the catalogue, with a value for every placeholder and no other', () => {
    for (const name of TEMPLATE_NAMES) {
      const statement = renderTemplate(name, SAMPLES[name]);
      const placeholders = new Set(
        [...statement.sql.matchAll(/\{([a-zA-Z_][a-zA-Z0-9_]*):[^}]+\}/g)].map((m) => m[1]),
      );
      expect([...placeholders].sort(), name).toEqual(Object.keys(statement.params).sort());
      expect(statement.sql, name).not.toMatch(/;|INTO OUTFILE|SETTINGS|--/);
    }
  });

  it('never put a string argument into the SQL: it is bound, or refused by its type', () => {
    for (const name of TEMPLATE_NAMES) {
      const sample = SAMPLES[name] as Record<string, unknown>;
      for (const [key, value] of Object.entries(sample)) {
        if (typeof value !== 'string') continue;
        for (const evil of EVIL) {
          let statement: ReturnType<typeof renderTemplate> | undefined;
          try {
            statement = renderTemplate(name, { ...sample, [key]: evil });
          } catch (error) {
            expect(error, `${name}.${key}`).toBeInstanceOf(FleetgridError);
            expect((error as FleetgridError).code).toBe('INVALID_ARGUMENT');
            expect((error as FleetgridError).message).not.toContain(evil);
            continue;
          }
          expect(statement.sql, `${name}.${key}`).not.toContain(evil);
          expect(Object.values(statement.params), `${name}.${key}`).toContain(evil);
        }
      }
    }
  });

  it('refuse a name outside the catalogue, without repeating it', () => {
    for (const name of [...EVIL, 'constructor', '__proto__', 'toString', '', undefined, 42]) {
      const error = refusal(() => renderTemplate(name, {}));
      expect(error.code).toBe('INVALID_ARGUMENT');
      if (typeof name === 'string' && name !== '') expect(error.message).not.toContain(name);
    }
  });

  it('refuse unknown and ill-typed arguments, naming the parameter but not the value', () => {
    const unknown = refusal(() => renderTemplate('freshness', { '<b>sql</b>': 'DROP TABLE x' }));
    expect(unknown.message).toBe('template freshness: arguments: unexpected parameter');
    const typed = refusal(() => renderTemplate('devices', { limit: '<b>10</b>' }));
    expect(typed.message).toBe('template devices: limit: expected number');
    const table = refusal(() => renderTemplate('tableRows', { table: 'system.users' }));
    expect(table.message).toBe('template tableRows: table: not one of the allowed values');
    expect(refusal(() => renderTemplate('summaryPartials', { ranges: [], group: 'hour' })).message).toContain(
      'ranges: out of range',
    );
    expect(() => renderTemplate('deviceState', null)).toThrow(/deviceId: expected string/);
  });
});
