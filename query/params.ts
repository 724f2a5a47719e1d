/**
 * Request parsing, pure: zod schemas of every endpoint's parameters and the resolution of
 * time ranges against an injected `now`. Everything a request carries is checked here,
 * before any statement is built, so a bad request costs no ClickHouse work: unknown
 * parameters, malformed times, `from` not before `to`, ranges over the caps and names
 * outside the allow-lists all become INVALID_ARGUMENT (HTTP 400) with a clear message.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { FleetgridError } from '../lib/errors.ts';
import { ALERT_RULES } from '../processors/alerts/rules.ts';
import { ID_PATTERN, ID_RULE_TEXT } from '../schemas/ids.ts';
import { ALL_METRICS, KINDS } from './catalog.ts';
import type { QueryCaps } from './config.ts';
import { tripIdParam } from './trips.ts';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/**
 * Ids up to this many code points travel whole in a device cursor; a longer one (stored
 * before ids were validated at ingestion) as its first CURSOR_ID_MAX code points and its
 * SHA-256, which the listing resolves back to the id (sql.ts devicesSql). So any stored id
 * round-trips, and a cursor stays short enough for a URL.
 */
export const CURSOR_ID_MAX = 512;
/** The longest cursor encodeCursor makes (every code point of the prefix escaped in JSON). */
export const CURSOR_MAX_LENGTH = 6_000;

// Ids as ingestion accepts them (schemas/ids.ts); anything else cannot exist, so it is refused early.
const id = (what: string) => z.string().regex(ID_PATTERN, `${what} must be ${ID_RULE_TEXT}`);

// ISO 8601 with a zone (Z or ±hh:mm), or a bare date meaning UTC midnight. No local
// times: a server in another zone must not shift the answer.
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** Epoch ms of an ISO time, or undefined when malformed (including 2026-02-30, which Date.parse rolls over). */
export function parseIsoTime(text: string): number | undefined {
  const m = ISO_TIME.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi] = m;
  const ms = Date.parse(m[4] === undefined ? `${text}T00:00:00Z` : text);
  if (!Number.isFinite(ms)) return undefined;
  // Round-trip the calendar date and clock fields so that overflowing values are refused.
  const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0)));
  if (
    check.getUTCFullYear() !== Number(y) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    Number(h ?? 0) > 23 ||
    Number(mi ?? 0) > 59 ||
    Number(m[6] ?? 0) > 59
  )
    return undefined;
  if (ms < Date.UTC(2000, 0, 1) || ms > Date.UTC(2200, 0, 1)) return undefined;
  return ms;
}

const isoTime = z
  .string()
  .max(40)
  .transform((text, ctx) => {
    const ms = parseIsoTime(text);
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `not an ISO 8601 time with a zone (e.g. 2026-01-31T12:00:00Z)${
          // Repeated only when it cannot carry markup.
          /^[0-9A-Za-z:.+-]{1,40}$/.test(text) ? `: ${text}` : ''
        }`,
      });
      return z.NEVER;
    }
    return ms;
  });

const intParam = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, 'a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const STEPS = ['raw', '1m', '1h', '1d', 'auto'] as const;
export type Step = Exclude<(typeof STEPS)[number], 'auto'>;

export const ALERT_RULE_IDS: readonly string[] = ALERT_RULES.map((rule) => rule.id);

const range = { from: isoTime.optional(), to: isoTime.optional() };

/**
 * Groupings of the summary. kind and site are answered from the projections; model and
 * driver from the registry fields each row carries, else the registry's dimension tables
 * (docs/query.md "Groupings", query/registry-grouping.ts), with the devices the registry
 * does not know in an unregistered bucket.
 */
export const SUMMARY_GROUPINGS = ['kind', 'site', 'model', 'driver'] as const;

/** `?format=csv` (or `Accept: text/csv`) exports an answer as CSV (query/export.ts). */
const format = { format: z.enum(['json', 'csv']).optional() };

/** Zoom of the map a track is drawn at (track.ts): Leaflet's levels. */
const zoom = z
  .string()
  .regex(/^\d{1,2}$/, 'a map zoom level 0-22')
  .transform(Number)
  .pipe(z.number().int().min(0).max(22));

export const schemas = {
  summary: z.strictObject({
    ...range,
    siteId: id('siteId').optional(),
    groupBy: z
      .enum(SUMMARY_GROUPINGS, { error: `groupBy must be one of ${SUMMARY_GROUPINGS.join(', ')}` })
      .optional(),
    ...format,
  }),
  devices: z.strictObject({
    kind: z.enum(KINDS).optional(),
    siteId: id('siteId').optional(),
    limit: intParam(1, 1000).optional(),
    cursor: z
      .string()
      .max(CURSOR_MAX_LENGTH)
      .regex(/^[A-Za-z0-9_-]+$/, 'a cursor returned by a previous page')
      .optional(),
  }),
  deviceId: z.strictObject({ deviceId: id('deviceId') }),
  alertId: z.strictObject({ alertId: id('alertId') }),
  siteId: z.strictObject({ siteId: id('siteId') }),
  state: z.strictObject({ asOf: isoTime.optional() }),
  series: z.strictObject({
    metric: z.enum(ALL_METRICS as [string, ...string[]], {
      error: `metric must be one of ${ALL_METRICS.join(', ')}`,
    }),
    ...range,
    step: z.enum(STEPS).default('auto'),
    ...format,
  }),
  energy: z.strictObject({ ...range, step: z.enum(['1m', '1h', '1d', 'auto']).default('auto') }),
  alerts: z.strictObject({
    state: z.enum(['open', 'resolved', 'all']).default('open'),
    rule: z
      .enum(ALERT_RULE_IDS as [string, ...string[]], {
        error: `rule must be one of ${ALERT_RULE_IDS.join(', ')}`,
      })
      .optional(),
    deviceId: id('deviceId').optional(),
    ...range,
    limit: intParam(1, 1000).optional(),
    ...format,
  }),
  diagnostics: z.strictObject({ ...range, limit: intParam(1, 10_000).optional() }),
  status: z.strictObject(range),
  track: z.strictObject({ ...range, zoom: zoom.optional() }),
  trips: z.strictObject({ ...range, ...format }),
  tripId: z.strictObject({ deviceId: id('deviceId'), tripId: tripIdParam }),
  trip: z.strictObject({ zoom: zoom.optional() }),
  performance: z.strictObject({ ...range, step: z.enum(['1m', '1h', '1d', 'auto']).default('auto') }),
  empty: z.strictObject({}),
} as const;

/** Parses one parameter object or throws INVALID_ARGUMENT naming every problem. */
export function parseParams<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      // Named when a name could be a parameter's; anything else is not repeated.
      const names = issue.keys.map((key) => (/^[A-Za-z][A-Za-z0-9_]{0,39}$/.test(key) ? key : '(unnamed)'));
      return `unknown parameter(s): ${names.join(', ')}`;
    }
    const where = issue.path.join('.');
    return where ? `${where}: ${issue.message}` : issue.message;
  });
  throw new FleetgridError('INVALID_ARGUMENT', problems.join('; '));
}

export interface TimeRange {
  from: number;
  to: number;
}

/**
 * [from, to) from optional bounds: `to` defaults to now, `from` to `to - defaultSpan`.
 * Refuses an empty or reversed range and one wider than `maxSpan`.
 */
export function resolveRange(
  input: { from?: number | undefined; to?: number | undefined },
  now: number,
  defaultSpanMs: number,
  maxSpanMs: number,
): TimeRange {
  const to = input.to ?? (input.from !== undefined ? Math.min(now, input.from + defaultSpanMs) : now);
  const from = input.from ?? to - defaultSpanMs;
  if (from >= to) {
    throw new FleetgridError(
      'INVALID_ARGUMENT',
      `from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()})`,
    );
  }
  if (to - from > maxSpanMs) {
    throw new FleetgridError(
      'INVALID_ARGUMENT',
      `time range of ${formatSpan(to - from)} exceeds the cap of ${formatSpan(maxSpanMs)} for this request`,
    );
  }
  return { from, to };
}

export function formatSpan(ms: number): string {
  if (ms % DAY_MS === 0) return `${ms / DAY_MS}d`;
  if (ms % HOUR_MS === 0) return `${ms / HOUR_MS}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}

/** Nominal width of each step; raw uses the devices' sample interval. */
export function stepMs(step: Step, sampleIntervalMs: number): number {
  switch (step) {
    case 'raw':
      return sampleIntervalMs;
    case '1m':
      return 60_000;
    case '1h':
      return HOUR_MS;
    case '1d':
      return DAY_MS;
  }
}

export function capOf(step: Step, caps: QueryCaps): number {
  switch (step) {
    case 'raw':
      return caps.rawMs;
    case '1m':
      return caps.minuteMs;
    case '1h':
      return caps.hourMs;
    case '1d':
      return caps.dayMs;
  }
}

export const TARGET_POINTS = 1_000;

/**
 * `auto`: the finest step whose answer stays within about TARGET_POINTS points and whose
 * cap admits the range. Raw is only a candidate for per-event fields (derived figures
 * exist per window). When nothing is fine enough, the coarsest step (1d).
 */
export function chooseStep(
  spanMs: number,
  options: { allowRaw: boolean; sampleIntervalMs: number; caps: QueryCaps },
): Step {
  const candidates: Step[] = options.allowRaw ? ['raw', '1m', '1h', '1d'] : ['1m', '1h', '1d'];
  for (const step of candidates) {
    const points = Math.ceil(spanMs / stepMs(step, options.sampleIntervalMs));
    if (points <= TARGET_POINTS && spanMs <= capOf(step, options.caps)) return step;
  }
  return '1d';
}

/** Default span when a series or energy request gives no `from`: 24 h. */
export const DEFAULT_SERIES_SPAN_MS = DAY_MS;
/** Default span of summary and alert listings: 24 h and 7 days. */
export const DEFAULT_SUMMARY_SPAN_MS = DAY_MS;
export const DEFAULT_ALERTS_SPAN_MS = 7 * DAY_MS;

/** Where the next page of the device listing starts: after this id. */
export type DevicePosition = { after: string } | { afterPrefix: string; afterSha256: string };

const positionSchema = z.union([
  z.strictObject({ v: z.literal(1), after: z.string().max(4 * CURSOR_ID_MAX) }),
  z.strictObject({
    v: z.literal(1),
    afterPrefix: z.string().max(4 * CURSOR_ID_MAX),
    afterSha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
]);

/** Cursor of the device listing: base64url of a JSON position, opaque and URL-safe. */
export function encodeCursor(deviceId: string): string {
  const points = [...deviceId];
  const position =
    points.length <= CURSOR_ID_MAX
      ? { v: 1, after: deviceId }
      : {
          v: 1,
          afterPrefix: points.slice(0, CURSOR_ID_MAX).join(''),
          afterSha256: createHash('sha256').update(deviceId, 'utf8').digest('hex'),
        };
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): DevicePosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const position = positionSchema.safeParse(parsed);
  if (!position.success) throw new FleetgridError('INVALID_ARGUMENT', 'cursor: not a cursor of this API');
  const { v: _version, ...rest } = position.data;
  return rest;
}
