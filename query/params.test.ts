import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FleetgridError } from '../lib/errors.ts';
import { parseQueryConfig } from './config.ts';
import {
  chooseStep,
  DAY_MS,
  CURSOR_ID_MAX,
  CURSOR_MAX_LENGTH,
  decodeCursor,
  encodeCursor,
  HOUR_MS,
  parseIsoTime,
  parseParams,
  resolveRange,
  schemas,
} from './params.ts';

const caps = parseQueryConfig({}).caps;

const INJECTIONS = [
  "x' OR '1'='1",
  "'; DROP TABLE device_state; --",
  '1) UNION SELECT * FROM system.users --',
  '{deviceId:String}',
  '\\',
  "truck-1'",
  'truck 1',
  '',
  'a'.repeat(200),
];

function rejects(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FleetgridError);
    expect((error as FleetgridError).code).toBe('INVALID_ARGUMENT');
    return (error as FleetgridError).message;
  }
  throw new Error('expected a rejection');
}

describe('parseIsoTime', () => {
  it('accepts ISO times with a zone and bare dates as UTC midnight', () => {
    expect(parseIsoTime('2026-01-31T12:00:00Z')).toBe(Date.UTC(2026, 0, 31, 12));
    expect(parseIsoTime('2026-01-31T12:00:00.250+02:00')).toBe(Date.UTC(2026, 0, 31, 10, 0, 0, 250));
    expect(parseIsoTime('2026-01-31T12:00Z')).toBe(Date.UTC(2026, 0, 31, 12));
    expect(parseIsoTime('2026-01-31')).toBe(Date.UTC(2026, 0, 31));
  });

  it('refuses local times, overflowing dates, epochs and far-away years', () => {
    for (const text of [
      '2026-01-31T12:00:00',
      '2026-02-30',
      '2026-13-01',
      '2026-01-01T24:00:00Z',
      '2026-01-01T10:61:00Z',
      '1700000000000',
      'yesterday',
      '1970-01-01T00:00:00Z',
      '9999-01-01T00:00:00Z',
      ...INJECTIONS,
    ]) {
      expect(parseIsoTime(text), text).toBeUndefined();
    }
  });
});

describe('resolveRange', () => {
  const now = Date.UTC(2026, 5, 1, 12);

  it('defaults to the span before now, or the span after from', () => {
    expect(resolveRange({}, now, DAY_MS, 7 * DAY_MS)).toEqual({ from: now - DAY_MS, to: now });
    expect(resolveRange({ from: now - 2 * HOUR_MS }, now, DAY_MS, 7 * DAY_MS)).toEqual({
      from: now - 2 * HOUR_MS,
      to: now,
    });
    expect(resolveRange({ to: now - HOUR_MS }, now, DAY_MS, 7 * DAY_MS)).toEqual({
      from: now - HOUR_MS - DAY_MS,
      to: now - HOUR_MS,
    });
  });

  it('refuses an empty or reversed range, naming both ends', () => {
    expect(rejects(() => resolveRange({ from: now, to: now }, now, DAY_MS, DAY_MS))).toContain(
      'must be before to',
    );
    expect(rejects(() => resolveRange({ from: now, to: now - 1 }, now, DAY_MS, DAY_MS))).toContain(
      new Date(now).toISOString(),
    );
  });

  it('refuses a range wider than the cap and says the cap', () => {
    expect(
      rejects(() => resolveRange({ from: now - 8 * DAY_MS, to: now }, now, DAY_MS, 7 * DAY_MS)),
    ).toContain('exceeds the cap of 7d');
    expect(resolveRange({ from: now - 7 * DAY_MS, to: now }, now, DAY_MS, 7 * DAY_MS).from).toBe(
      now - 7 * DAY_MS,
    );
  });
});

describe('chooseStep', () => {
  const options = { allowRaw: true, sampleIntervalMs: 1_000, caps };

  it('picks the finest step that keeps at most 1,000 points', () => {
    expect(chooseStep(10 * 60_000, options)).toBe('raw'); // 600 samples
    expect(chooseStep(1_000_000, options)).toBe('raw'); // exactly 1,000
    expect(chooseStep(1_001_000, options)).toBe('1m');
    expect(chooseStep(DAY_MS, options)).toBe('1h'); // 1,440 minutes is too many
    expect(chooseStep(16 * HOUR_MS, options)).toBe('1m'); // 960 minutes
    expect(chooseStep(30 * DAY_MS, options)).toBe('1h'); // 720 hours
    expect(chooseStep(60 * DAY_MS, options)).toBe('1d');
    expect(chooseStep(3_000 * DAY_MS, options)).toBe('1d'); // nothing fits: the coarsest
  });

  it('never picks raw for a derived figure', () => {
    expect(chooseStep(60_000, { ...options, allowRaw: false })).toBe('1m');
  });

  it('respects the per-step caps', () => {
    expect(chooseStep(10 * 60_000, { ...options, caps: { ...caps, rawMs: 5 * 60_000 } })).toBe('1m');
  });
});

describe('parseParams', () => {
  it('parses valid parameters with defaults and types', () => {
    expect(
      parseParams(schemas.series, { metric: 'speedKmh', from: '2026-01-01', to: '2026-01-02T00:00:00Z' }),
    ).toEqual({ metric: 'speedKmh', from: Date.UTC(2026, 0, 1), to: Date.UTC(2026, 0, 2), step: 'auto' });
    expect(parseParams(schemas.devices, { kind: 'truck', limit: '10' })).toEqual({
      kind: 'truck',
      limit: 10,
    });
    expect(parseParams(schemas.alerts, {})).toEqual({ state: 'open' });
  });

  it('refuses unknown parameters by name', () => {
    expect(rejects(() => parseParams(schemas.devices, { color: 'red', size: 'xl' }))).toContain(
      'unknown parameter(s): color, size',
    );
  });

  it('refuses repeated parameters (arrays) and out-of-range numbers', () => {
    rejects(() => parseParams(schemas.devices, { kind: ['truck', 'solar'] }));
    expect(rejects(() => parseParams(schemas.devices, { limit: '1001' }))).toContain('limit');
    rejects(() => parseParams(schemas.devices, { limit: '0' }));
    rejects(() => parseParams(schemas.devices, { limit: '-1' }));
    rejects(() => parseParams(schemas.devices, { limit: '1e3' }));
  });

  it('lists the allowed metrics and rules when a name is unknown', () => {
    expect(rejects(() => parseParams(schemas.series, { metric: 'password' }))).toContain('speedKmh');
    expect(rejects(() => parseParams(schemas.alerts, { rule: 'truck.speeding' }))).toContain(
      'truck.overspeed',
    );
  });

  it('rejects SQL-injection strings in every parameter of every endpoint', () => {
    const targets: [keyof typeof schemas, string, Record<string, string>][] = [
      ['summary', 'from', {}],
      ['summary', 'to', {}],
      ['devices', 'kind', {}],
      ['devices', 'siteId', {}],
      ['devices', 'limit', {}],
      ['devices', 'cursor', {}],
      ['deviceId', 'deviceId', {}],
      ['siteId', 'siteId', {}],
      ['state', 'asOf', {}],
      ['series', 'metric', {}],
      ['series', 'from', { metric: 'speedKmh' }],
      ['series', 'to', { metric: 'speedKmh' }],
      ['series', 'step', { metric: 'speedKmh' }],
      ['energy', 'from', {}],
      ['energy', 'to', {}],
      ['energy', 'step', {}],
      ['alerts', 'state', {}],
      ['alerts', 'rule', {}],
      ['alerts', 'deviceId', {}],
      ['alerts', 'from', {}],
      ['alerts', 'to', {}],
      ['alerts', 'limit', {}],
    ];
    for (const [schema, key, rest] of targets) {
      for (const value of INJECTIONS) {
        // The cursor alphabet is base64url: an injection either fails the pattern or decodes to a non-id.
        if (schema === 'devices' && key === 'cursor') {
          const parsed = schemas.devices.safeParse({ cursor: value });
          if (parsed.success) rejects(() => decodeCursor(value));
          continue;
        }
        rejects(() => parseParams(schemas[schema], { ...rest, [key]: value }));
      }
    }
  });
});

describe('cursors', () => {
  it('round-trip any stored device id into the position after it, within the URL and parameter limits', () => {
    // Ids were not always validated at ingestion: any string may be stored (issue 11, finding 5).
    const ids = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 200 }),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 40_000 }),
      fc.constantFrom('truck-0042', "x' OR 1=1", '<img src=x onerror=alert(1)>', 'a'.repeat(10_000)),
    );
    fc.assert(
      fc.property(ids, (deviceId) => {
        const cursor = encodeCursor(deviceId);
        expect(cursor.length).toBeLessThanOrEqual(CURSOR_MAX_LENGTH);
        expect(parseParams(schemas.devices, { cursor }).cursor).toBe(cursor);
        const position = decodeCursor(cursor);
        if ([...deviceId].length <= CURSOR_ID_MAX) expect(position).toEqual({ after: deviceId });
        else
          expect(position).toEqual({
            afterPrefix: [...deviceId].slice(0, CURSOR_ID_MAX).join(''),
            afterSha256: createHash('sha256').update(deviceId, 'utf8').digest('hex'),
          });
      }),
      { numRuns: 300 },
    );
  });

  it('refuse what no page returned', () => {
    for (const bad of [
      Buffer.from("x' OR 1=1").toString('base64url'),
      Buffer.from('{"after":1}').toString('base64url'),
      Buffer.from('{"v":1,"after":"a","x":1}').toString('base64url'),
      Buffer.from('{"v":1,"afterPrefix":"a","afterSha256":"zz"}').toString('base64url'),
    ])
      rejects(() => decodeCursor(bad));
  });
});
