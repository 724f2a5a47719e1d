import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../schemas/types.ts';
import {
  alertLabels,
  chunks,
  coalesce,
  createOpenAlerts,
  deviceLink,
  maxResendIntervalMs,
  registryFacts,
  toPostable,
} from './core.ts';

const T0 = Date.UTC(2026, 11, 1, 8, 0, 0);
const URL = 'https://fleet.example.com/';

function alert(overrides: Partial<Alert> = {}): Alert {
  return {
    alertId: 'a-1',
    rule: 'truck.overspeed',
    deviceId: 'truck-00001',
    siteId: 'depot-lyon',
    kind: 'TRUCK',
    model: null,
    driverId: null,
    ruleVersion: 0,
    state: 'RAISED',
    severity: 'WARNING',
    raisedAt: T0,
    resolvedAt: null,
    ts: T0,
    value: 97.123456789,
    threshold: 90,
    message: 'speed 97 km/h above 90 km/h for 30 s',
    ...overrides,
  };
}

const resolved = (a: Alert, at: number): Alert => ({ ...a, state: 'RESOLVED', resolvedAt: at, ts: at });

describe('toPostable', () => {
  it('labels route by rule, severity, site and kind, with the registry facts where present', () => {
    const postable = toPostable(
      alert(),
      { siteName: 'Lyon depot', model: 'tractor-40t', plate: 'AB-123' },
      URL,
    );
    expect(postable.labels).toEqual({
      alertname: 'truck.overspeed',
      severity: 'warning',
      deviceId: 'truck-00001',
      siteId: 'depot-lyon',
      kind: 'truck',
      alertId: 'a-1',
      source: 'fleetgrid',
      siteName: 'Lyon depot',
      model: 'tractor-40t',
      plate: 'AB-123',
    });
    expect(postable.annotations).toEqual({
      summary: 'speed 97 km/h above 90 km/h for 30 s',
      message: 'speed 97 km/h above 90 km/h for 30 s',
      link: 'https://fleet.example.com/devices/truck-00001',
      value: '97.1235',
      threshold: '90',
    });
    expect(postable.generatorURL).toBe('https://fleet.example.com/devices/truck-00001');
    expect(postable.startsAt).toBe('2026-12-01T08:00:00.000Z');
    expect(postable.endsAt).toBeUndefined();
  });

  it('a resolution ends at resolvedAt and omits missing values and empty facts', () => {
    const postable = toPostable(
      resolved(alert({ value: null, threshold: null }), T0 + 90_000),
      { siteName: '', plate: undefined },
      URL,
    );
    expect(postable.endsAt).toBe('2026-12-01T08:01:30.000Z');
    expect(postable.startsAt).toBe('2026-12-01T08:00:00.000Z');
    expect(Object.keys(postable.annotations).sort()).toEqual(['link', 'message', 'summary']);
    expect(postable.labels.siteName).toBeUndefined();
    expect(postable.labels.plate).toBeUndefined();
  });

  it('never ends an alert before it starts', () => {
    const postable = toPostable(
      { ...alert(), state: 'RESOLVED', resolvedAt: T0 - 5, ts: T0 - 5 },
      undefined,
      URL,
    );
    expect(postable.endsAt).toBe(postable.startsAt);
  });

  it('escapes the device id in the link', () => {
    expect(deviceLink('http://127.0.0.1:8080', 'truck/1 ?x')).toBe(
      'http://127.0.0.1:8080/devices/truck%2F1%20%3Fx',
    );
  });
});

describe('registryFacts', () => {
  it('takes the site name and the device fields from the registry rows', () => {
    const rows = {
      sites: new Map([['depot-lyon', { name: 'Lyon depot' }]]),
      devices: new Map([['truck-00001', { model: 'tractor-40t', plate: 'AB-123', driverId: null }]]),
    };
    expect(registryFacts(rows, alert())).toEqual({
      siteName: 'Lyon depot',
      model: 'tractor-40t',
      plate: 'AB-123',
      driverId: undefined,
    });
    expect(
      alertLabels(alert({ deviceId: 'unknown' }), registryFacts(rows, alert({ deviceId: 'unknown' }))),
    ).toEqual(expect.not.objectContaining({ model: expect.anything() }));
    expect(registryFacts(undefined, alert())).toEqual({
      siteName: undefined,
      model: undefined,
      plate: undefined,
      driverId: undefined,
    });
  });
});

describe('open alerts', () => {
  it('a raise opens, its resolution closes with the labels of the raise', () => {
    const open = createOpenAlerts(URL);
    const raised = open.apply('p0', alert(), { plate: 'AB-123' });
    expect(open.size).toBe(1);
    // The plate changed in the registry meanwhile: the resolution must still match the raise.
    const end = open.apply('p0', resolved(alert(), T0 + 60_000), { plate: 'ZZ-999' });
    expect(end.labels).toEqual(raised.labels);
    expect(end.endsAt).toBeDefined();
    expect(open.size).toBe(0);
    expect(open.has('a-1')).toBe(false);
  });

  it('folding a log twice gives the same set (a rebuild after restart)', () => {
    const log = [
      alert({ alertId: 'a' }),
      alert({ alertId: 'b' }),
      resolved(alert({ alertId: 'a' }), T0 + 1),
      alert({ alertId: 'c' }),
    ];
    const once = createOpenAlerts(URL);
    for (const record of log) once.apply('p0', record, undefined);
    const twice = createOpenAlerts(URL);
    for (const record of [...log, ...log]) twice.apply('p0', record, undefined);
    expect(['a', 'b', 'c'].map((id) => once.has(id))).toEqual([false, true, true]);
    expect(['a', 'b', 'c'].map((id) => twice.has(id))).toEqual([false, true, true]);
  });

  it('is due when never sent, then again only after the resend interval; all due after an outage', () => {
    const open = createOpenAlerts(URL);
    open.apply('p0', alert({ alertId: 'a' }), undefined);
    open.apply('p0', alert({ alertId: 'b' }), undefined);
    expect(open.due(T0, 60_000).map((p) => p.labels.alertId)).toEqual(['a', 'b']);
    open.markSent(['a'], T0);
    expect(open.due(T0 + 59_999, 60_000).map((p) => p.labels.alertId)).toEqual(['b']);
    open.markSent(['b'], T0 + 10_000);
    expect(open.due(T0 + 60_000, 60_000).map((p) => p.labels.alertId)).toEqual(['a']);
    expect(open.due(T0 + 70_000, 60_000)).toHaveLength(2);
    open.markSent(['a', 'b'], T0 + 70_000);
    expect(open.due(T0 + 70_001, 60_000)).toHaveLength(0);
    open.markAllDue();
    expect(open.due(T0 + 70_001, 60_000)).toHaveLength(2);
  });

  it('a revoked partition drops its alerts only', () => {
    const open = createOpenAlerts(URL);
    open.apply('p0', alert({ alertId: 'a' }), undefined);
    open.apply('p1', alert({ alertId: 'b' }), undefined);
    expect(open.dropOwner('p0')).toBe(1);
    expect(open.has('a')).toBe(false);
    expect(open.has('b')).toBe(true);
  });

  it('property: the open set is the alerts whose last record is a raise', () => {
    const op = fc.record({ id: fc.constantFrom('a', 'b', 'c', 'd'), raise: fc.boolean() });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const open = createOpenAlerts(URL);
        const last = new Map<string, boolean>();
        for (const { id, raise } of ops) {
          const a = alert({ alertId: id });
          open.apply('p0', raise ? a : resolved(a, T0 + 1), undefined);
          last.set(id, raise);
        }
        for (const id of ['a', 'b', 'c', 'd']) expect(open.has(id)).toBe(last.get(id) === true);
        expect(open.size).toBe([...last.values()].filter(Boolean).length);
      }),
    );
  });
});

describe('coalesce and chunks', () => {
  it('keeps the last change of each alert, in the order of the last changes', () => {
    const a = toPostable(alert({ alertId: 'a' }), undefined, URL);
    const b = toPostable(alert({ alertId: 'b' }), undefined, URL);
    const aEnd = toPostable(resolved(alert({ alertId: 'a' }), T0 + 5), undefined, URL);
    const out = coalesce([a, b, aEnd]);
    expect(out).toEqual([b, aEnd]);
  });

  it('splits into bounded requests without losing or reordering any', () => {
    fc.assert(
      fc.property(fc.array(fc.integer(), { maxLength: 50 }), fc.integer({ min: 1, max: 7 }), (items, max) => {
        const parts = chunks(items, max);
        expect(parts.flat()).toEqual(items);
        for (const part of parts) expect(part.length).toBeLessThanOrEqual(max);
        expect(parts.every((part) => part.length > 0)).toBe(true);
      }),
    );
  });

  it('resends at most every third of resolve_timeout', () => {
    expect(maxResendIntervalMs(300_000)).toBe(100_000);
  });
});
