/**
 * The read side's use cases, one function per endpoint: validated parameters in, JSON
 * answers out, ClickHouse through the read-only backend (clickhouse/query-client.ts). No HTTP
 * here (server.ts maps routes onto these), so the CLI's numbers and the API's numbers come
 * from the same code. Every statement runs with a client-side timeout and the matching
 * max_execution_time; statements of one request run concurrently where independent.
 */
import { FleetgridError } from '../lib/errors.ts';
import type { QueryBackend } from '../clickhouse/index.ts';
import type { AlertAction, AlertCommand, DeviceKindSymbol } from '../schemas/types.ts';
import { DEFAULT_VALIDATION } from '../schemas/validate.ts';
import { isDerivedMetric, KIND_OF_SYMBOL, KIND_SYMBOL, KINDS, type Kind, metricFor } from './catalog.ts';
import type { QueryConfig } from './config.ts';
import {
  chooseStep,
  DEFAULT_ALERTS_SPAN_MS,
  DEFAULT_SERIES_SPAN_MS,
  DEFAULT_SUMMARY_SPAN_MS,
  type SUMMARY_GROUPINGS,
  capOf,
  decodeCursor,
  encodeCursor,
  resolveRange,
  type Step,
  stepMs,
  type TimeRange,
} from './params.ts';
import {
  addKindPartials,
  type ComputeHours,
  compactPartials,
  createDayCompactor,
  createHourReader,
  type EnergyPartial,
  emptyKindPartial,
  groupKey,
  HOUR_MS,
  HourCache,
  mergeSummaryPartials,
  parseGroupKey,
  regroupPartial,
  type SummaryPartial,
  settledBefore,
  splitAtMark,
  splitRange,
} from './rollup.ts';
import type { WindowSource } from './sql.ts';
import { progressOf } from '../sinks/rollups.ts';
import { type RegistryGrouping, registryGroupOf, rowRegistryFields } from './registry-grouping.ts';
import type { TemplateArgs, TemplateName } from './templates.ts';
import { actionsView } from './alert-actions.ts';
import type { RecentCommands } from './recent-commands.ts';
import { eventFromRow, foldState, stateFromRow, stateView, utcDayStart } from './state.ts';
import { simplifyTrack, trackBucketMs } from './track.ts';
import { TRIP_RULES } from './trip-rules.ts';
import { parseTripId, tripOfRow } from './trips.ts';
import {
  capacityFactor,
  capacityOf,
  type DeviceRating,
  elapsedHours,
  groupCapacityKw,
  performancePoints,
  secondsByStatus,
  statusRuns,
} from './views.ts';

/** A silence longer than this cuts a status run (the timeline shows no data there). */
export const STATUS_GAP_MS = 60_000;
/** Positions a track reads at most; longer ranges are thinned in the database first. */
export const TRACK_MAX_POSITIONS = 20_000;

export interface QueryServiceDeps {
  backend: QueryBackend;
  now?: () => number;
  /** Called once per statement sent (metrics, tests counting statements). */
  onStatement?: (outcome: 'ok' | 'error' | 'timeout', seconds: number) => void;
  /**
   * Devices' sizes from the fleet registry (rated kW, kWp), for capacity factors and the
   * performance ratio; absent or failing: the documented defaults (views.ts capacityOf).
   */
  ratings?: () => Promise<ReadonlyMap<string, DeviceRating>>;
  /** Commands seen but perhaps not projected yet (query/recent-commands.ts). */
  recentCommands?: RecentCommands;
}

/** Rows of alert_actions read for one answer: a page of alerts rarely has more than a few each. */
const MAX_ACTION_ROWS = 10_000;

/** An alert_actions row back into the command it records. */
export function commandOfRow(r: Record<string, unknown>): AlertCommand {
  return {
    commandId: String(r.command_id),
    alertId: String(r.alert_id),
    action: String(r.action) as AlertAction,
    rule: String(r.rule),
    deviceId: String(r.device_id),
    by: String(r.by),
    comment: String(r.comment),
    shelvedUntil:
      r.shelved_until_ms === null || r.shelved_until_ms === undefined ? null : Number(r.shelved_until_ms),
    silenceId: r.silence_id === null || r.silence_id === undefined ? null : String(r.silence_id),
    ts: Number(r.ts_ms),
  };
}

const iso = (ms: number) => new Date(ms).toISOString();
const n = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));
const nullableNumber = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export type GroupBy = (typeof SUMMARY_GROUPINGS)[number];

export interface SummaryParams {
  from?: number | undefined;
  to?: number | undefined;
  siteId?: string | undefined;
  groupBy?: GroupBy | undefined;
}

/** One group of the summary: every field present, null where it does not apply to the kind. */
export interface SummaryRow {
  siteId?: string;
  /** groupBy=model: the registry's model; null in the unregistered bucket. */
  model?: string | null;
  /** groupBy=driver: the driver's id (null: a registered device without a driver, or unregistered)… */
  driverId?: string | null;
  /** …and name, where the driver is registered. */
  driverName?: string | null;
  /** groupBy=model|driver: false for the bucket of devices the registry does not know. */
  registered?: boolean;
  kind: Kind;
  devices: number;
  activeDevices: number;
  events: number;
  avgSpeedKmh: number | null;
  distanceKm: number | null;
  engineOnHours: number | null;
  idleHours: number | null;
  energyKwh: number | null;
  availability: number | null;
  capacityKw: number | null;
  capacityFactor: number | null;
  alertsRaised: number;
  alertsOpen: number;
}

/** The fields that name a group, per grouping (besides the kind): the JSON rows, the CSV, the CLI. */
export const GROUP_FIELDS = {
  kind: [],
  site: ['siteId'],
  model: ['model', 'registered'],
  driver: ['driverId', 'driverName', 'registered'],
} as const satisfies Record<GroupBy, readonly (keyof SummaryRow)[]>;

/** The figures each kind has in the summary's per-kind shape. */
export const KIND_FIELDS = {
  truck: ['devices', 'activeDevices', 'events', 'avgSpeedKmh', 'distanceKm', 'engineOnHours', 'idleHours'],
  turbine: [
    'devices',
    'activeDevices',
    'events',
    'energyKwh',
    'availability',
    'capacityKw',
    'capacityFactor',
  ],
  solar: ['devices', 'activeDevices', 'events', 'energyKwh', 'capacityKw', 'capacityFactor'],
} as const satisfies Record<Kind, readonly (keyof SummaryRow)[]>;

function emptyRow(kind: Kind): SummaryRow {
  return {
    kind,
    devices: 0,
    activeDevices: 0,
    events: 0,
    avgSpeedKmh: null,
    distanceKm: kind === 'truck' ? 0 : null,
    engineOnHours: kind === 'truck' ? 0 : null,
    idleHours: kind === 'truck' ? 0 : null,
    energyKwh: kind === 'truck' ? null : 0,
    availability: null,
    capacityKw: null,
    capacityFactor: null,
    alertsRaised: 0,
    alertsOpen: 0,
  };
}

const scopeOf = (params: SummaryParams) => (params.siteId === undefined ? {} : { siteId: params.siteId });

/** Rounds a derived figure for display stability (float sums differ in the last bits between engines). */
const round = (v: number, digits = 6) => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

export type QueryService = ReturnType<typeof createQueryService>;

/** Minute partials per hour, from a cache of settled hours and a short-lived one of recent hours. */
interface MinuteReaders<V> {
  settled: (hours: readonly number[]) => Promise<Map<number, V>[]>;
  recent: (hours: readonly number[]) => Promise<Map<number, V>[]>;
}

export function createQueryService(config: QueryConfig, deps: QueryServiceDeps) {
  const now = deps.now ?? Date.now;
  const { backend } = deps;

  /** Runs a statement of the catalogue (templates.ts) with the client-side timeout. */
  async function run<N extends TemplateName>(
    name: N,
    args: TemplateArgs<N>,
  ): Promise<Record<string, unknown>[]> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new FleetgridError('TIMEOUT', `query exceeded ${config.queryTimeoutMs} ms`, { retriable: true }),
          ),
        config.queryTimeoutMs,
      );
    });
    try {
      const rows = await Promise.race([backend.run(name, args), timeout]);
      deps.onStatement?.('ok', (performance.now() - started) / 1000);
      return rows;
    } catch (error) {
      const timedOut = error instanceof FleetgridError && error.code === 'TIMEOUT';
      deps.onStatement?.(timedOut ? 'timeout' : 'error', (performance.now() - started) / 1000);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  function alertOfRow(r: Record<string, unknown>) {
    return {
      alertId: String(r.alert_id),
      rule: String(r.rule),
      deviceId: String(r.device_id),
      siteId: String(r.site_id),
      kind: String(r.kind).toLowerCase(),
      state: String(r.state) as 'RAISED' | 'RESOLVED',
      severity: String(r.severity),
      raisedAt: iso(Number(r.raised_at_ms)),
      resolvedAt:
        r.resolved_at_ms === null || r.resolved_at_ms === undefined ? null : iso(Number(r.resolved_at_ms)),
      updatedAt: iso(Number(r.ts_ms)),
      value: nullableNumber(r.value),
      threshold: nullableNumber(r.threshold),
      message: String(r.message),
      // In force when the transition was processed; null and 0 for a row written before
      // the registry join (clickhouse/migrations/006_registry_enrichment.sql).
      ...rowRegistryFields(r),
      ruleVersion: n(r.rule_version),
    };
  }

  async function commandsByAlert(alertIds: readonly string[]): Promise<Map<string, AlertCommand[]>> {
    const out = new Map<string, AlertCommand[]>(alertIds.map((id) => [id, []]));
    if (alertIds.length === 0) return out;
    const rows = await run('alertActions', { alertIds: [...alertIds], limit: MAX_ACTION_ROWS });
    for (const row of rows) out.get(String(row.alert_id))?.push(commandOfRow(row));
    for (const id of alertIds) out.get(id)?.push(...(deps.recentCommands?.forAlert(id) ?? []));
    return out;
  }

  async function commandsOf(alertId: string): Promise<AlertCommand[]> {
    return (await commandsByAlert([alertId])).get(alertId) ?? [];
  }

  /** Alerts with what operators did to them: acknowledged, shelved, the history. */
  async function withActions<A extends { alertId: string }>(alerts: A[]) {
    const commands = await commandsByAlert(alerts.map((a) => a.alertId));
    const at = now();
    return alerts.map((a) => ({ ...a, ...actionsView(commands.get(a.alertId) ?? [], at) }));
  }

  async function lookupDevice(deviceId: string): Promise<Record<string, unknown>> {
    const [row] = await run('deviceState', { deviceId });
    if (!row) throw notFound(`device ${deviceId} is unknown`);
    return row;
  }

  /** The device's kind, after checking that it is one of `kinds` (what the report exists for). */
  async function deviceKind(
    deviceId: string,
    kinds: readonly DeviceKindSymbol[],
    what: string,
  ): Promise<DeviceKindSymbol> {
    const kind = String((await lookupDevice(deviceId)).kind) as DeviceKindSymbol;
    if (!kinds.includes(kind))
      throw new FleetgridError(
        'INVALID_ARGUMENT',
        `${deviceId} is a ${KIND_OF_SYMBOL[kind]}: ${what} are kept for a ${kinds.map((k) => KIND_OF_SYMBOL[k]).join(' or ')} only`,
      );
    return kind;
  }

  /** Positions of a range thinned in the database to TRACK_MAX_POSITIONS, then simplified for `zoom`. */
  async function trackOf(deviceId: string, range: TimeRange, zoom: number | undefined) {
    const bucketMs = trackBucketMs(range.to - range.from, TRACK_MAX_POSITIONS);
    const rows = await run('track', { deviceId, range, bucketMs, limit: TRACK_MAX_POSITIONS + 1 });
    const positions = rows
      .slice(0, TRACK_MAX_POSITIONS)
      .map((r) => ({ t: Number(r.t), lat: Number(r.lat), lon: Number(r.lon) }));
    const points = simplifyTrack(positions, zoom);
    return {
      zoom: zoom ?? null,
      positions: positions.length,
      thinnedToMs: bucketMs > 1 ? bucketMs : null,
      points: points.map((p) => ({ t: iso(p.t), lat: p.lat, lon: p.lon })),
    };
  }

  function resolveStep(
    requested: Step | 'auto',
    range: TimeRange,
    allowRaw: boolean,
  ): { step: Step; stepMs: number } {
    const step =
      requested === 'auto'
        ? chooseStep(range.to - range.from, {
            allowRaw,
            sampleIntervalMs: config.sampleIntervalMs,
            caps: config.caps,
          })
        : requested;
    if (step === 'raw' && !allowRaw)
      throw new FleetgridError(
        'INVALID_ARGUMENT',
        'step raw: this metric exists per window only; use 1m, 1h or 1d',
      );
    const cap = capOf(step, config.caps);
    // The generic cap was applied at parsing; each step has its own, tighter for fine steps.
    resolveRange(range, now(), 1, cap);
    return { step, stepMs: step === 'raw' ? 0 : stepMs(step, config.sampleIntervalMs) };
  }

  /**
   * The part of a range that can hold windows: validation refuses events more than
   * DEFAULT_VALIDATION.maxFutureMs ahead of the clock, so a `to` in the future adds nothing
   * but empty hours to compute and cache; the answer still echoes the requested range.
   */
  function storedPart(range: TimeRange, at: number): TimeRange {
    const limit = Math.ceil((at + DEFAULT_VALIDATION.maxFutureMs + config.windowSizeMs) / 60_000) * 60_000;
    return range.to <= limit ? range : { from: range.from, to: Math.max(range.from + 1, limit) };
  }

  // Settled hours of the fleet-wide reports, computed once (rollup.ts explains why it is exact).
  const cacheOptions = { maxEntries: config.rollupCache.maxHours, ttlMs: config.rollupCache.ttlMs, now };
  // Minute partials are 60 times larger: only the few hours holding the edges of recent
  // requests. Unsettled hours change with every sink batch: recomputed in the background
  // once older than recentTtlMs, so these reports trail the tables by at most that (plus one scan).
  const minuteReaders = <V>(compute: ComputeHours<Map<number, V>>): MinuteReaders<V> => ({
    settled: createHourReader(new HourCache<Map<number, V>>({ ...cacheOptions, maxEntries: 24 }), compute),
    recent: createHourReader(
      new HourCache<Map<number, V>>({ maxEntries: 8, ttlMs: config.rollupCache.recentTtlMs, now }),
      compute,
    ),
  });

  /**
   * Rows of summaryPartialsSql as a partial keyed by kind and site, and by `detailOf` the
   * row where given (the groupings by model and driver: several rows, one per device, may
   * fall on one key and are added).
   */
  function toSummaryPartial(
    rows: Record<string, unknown>[],
    detailOf?: (row: Record<string, unknown>) => string | null,
  ): SummaryPartial {
    const partial: SummaryPartial = {};
    for (const r of rows) {
      const key = groupKey(String(r.kind), String(r.site_id), detailOf?.(r));
      partial[key] = addKindPartials(partial[key], {
        events: n(r.events),
        speedSum: n(r.speed_sum),
        speedCount: n(r.speed_count),
        distanceKm: n(r.distance_km),
        engineOnSeconds: n(r.engine_on_seconds),
        idleSeconds: n(r.idle_seconds),
        energyKwh: n(r.energy_kwh),
        availableSeconds: n(r.available_seconds),
        coveredSeconds: n(r.covered_seconds),
        devices: Array.isArray(r.devices) ? r.devices.map(String) : [],
      });
    }
    return partial;
  }

  /**
   * Where the stored hourly rollups end (sinks/rollups.ts): settled hours before it are read
   * from rollups_1h, the others from the windows. Read at every computation of hours (one
   * row), so the cache's next refresh of an hour picks up a rollup written since.
   */
  async function rollupsUntil(): Promise<number> {
    return progressOf((await run('rollupProgress', {}))[0]) ?? Number.NEGATIVE_INFINITY;
  }

  /** Hour partials of a span: the part the rollups hold from them, the rest from the windows. */
  async function computeHours<V>(
    span: TimeRange,
    compute: (span: TimeRange, group: 'hour', source: WindowSource) => Promise<Map<number, V>>,
  ): Promise<Map<number, V>> {
    const { rollups, windows } = splitAtMark(span, await rollupsUntil());
    const out = new Map<number, V>();
    if (rollups) for (const [hour, v] of await compute(rollups, 'hour', 'rollups')) out.set(hour, v);
    if (windows) for (const [hour, v] of await compute(windows, 'hour', 'windows')) out.set(hour, v);
    return out;
  }

  /** Partials of the hours of `span` (or of its minutes), every bucket present, empty ones too. */
  async function computeSummaryBuckets(
    span: TimeRange,
    group: 'hour' | 'minute',
    source: WindowSource = 'windows',
  ): Promise<Map<number, SummaryPartial>> {
    const byBucket = new Map<number, Record<string, unknown>[]>();
    for (const row of await run('summaryPartials', { ranges: [span], group, source })) {
      const bucket = Number(row.bucket);
      byBucket.set(bucket, [...(byBucket.get(bucket) ?? []), row]);
    }
    const out = new Map<number, SummaryPartial>();
    const width = group === 'hour' ? HOUR_MS : 60_000;
    for (let b = span.from; b < span.to; b += width) out.set(b, toSummaryPartial(byBucket.get(b) ?? []));
    return out;
  }

  const computeSummaryHours = (span: TimeRange) => computeHours(span, computeSummaryBuckets);

  /** Minute partials of whole settled hours, for the unaligned edges of a range that lie in them. */
  async function computeSummaryMinutes(span: TimeRange): Promise<Map<number, Map<number, SummaryPartial>>> {
    const minutes = await computeSummaryBuckets(span, 'minute');
    const out = new Map<number, Map<number, SummaryPartial>>();
    for (let h = span.from; h < span.to; h += HOUR_MS) {
      const hour = new Map<number, SummaryPartial>();
      for (let m = h; m < h + HOUR_MS; m += 60_000) hour.set(m, minutes.get(m) ?? {});
      out.set(h, hour);
    }
    return out;
  }

  /**
   * Per-minute partials of the edges of a range: settled edges from a minute cache (an
   * edge of an old range would otherwise scan whole old parts every time), the unsettled
   * tail from the short-lived recent cache. Returns [minute start, partial] pairs.
   */
  async function edgeMinutes<V>(
    edges: readonly TimeRange[],
    settled: number,
    readers: MinuteReaders<V>,
  ): Promise<[number, V][]> {
    const out: [number, V][] = [];
    for (const edge of edges) {
      // A settled edge lies within one hour (two when the range holds no whole hour); the
      // unsettled tail spans the last one or two hours.
      const read = edge.to <= settled ? readers.settled : readers.recent;
      const hours: number[] = [];
      for (let h = Math.floor(edge.from / HOUR_MS) * HOUR_MS; h < edge.to; h += HOUR_MS) hours.push(h);
      for (const minutes of await read(hours)) {
        // Windows that start in [from, to): a minute counts when its start is inside.
        for (const [m, partial] of minutes) if (m >= edge.from && m < edge.to) out.push([m, partial]);
      }
    }
    return out;
  }

  async function computeEnergyBuckets(
    span: TimeRange,
    group: 'hour' | 'minute',
    source: WindowSource = 'windows',
  ): Promise<Map<number, EnergyPartial>> {
    const out = new Map<number, EnergyPartial>();
    const width = group === 'hour' ? HOUR_MS : 60_000;
    for (let b = span.from; b < span.to; b += width) out.set(b, {});
    for (const row of await run('energyPartials', { range: span, group, source })) {
      const partial = out.get(Number(row.bucket));
      if (!partial) continue;
      const site = partial[String(row.site_id)] ?? { TURBINE: 0, SOLAR: 0 };
      partial[String(row.site_id)] = site;
      if (row.kind === 'TURBINE') site.TURBINE += n(row.kwh);
      else if (row.kind === 'SOLAR') site.SOLAR += n(row.kwh);
    }
    return out;
  }

  const computeEnergyHours = (span: TimeRange) => computeHours(span, computeEnergyBuckets);

  async function computeEnergyMinutes(span: TimeRange): Promise<Map<number, Map<number, EnergyPartial>>> {
    const minutes = await computeEnergyBuckets(span, 'minute');
    const out = new Map<number, Map<number, EnergyPartial>>();
    for (let h = span.from; h < span.to; h += HOUR_MS) {
      const hour = new Map<number, EnergyPartial>();
      for (let m = h; m < h + HOUR_MS; m += 60_000) hour.set(m, minutes.get(m) ?? {});
      out.set(h, hour);
    }
    return out;
  }

  const noRatings: ReadonlyMap<string, DeviceRating> = new Map();

  /**
   * The registry's dimensions of every registered device (dim_devices FINAL): what the
   * groupings by model and driver join on. Read per request: a registry change shows in
   * the next answer.
   */
  async function deviceDimensions(): Promise<{
    devices: Map<string, { model: string; driverId: string | null }>;
    driverNames: Map<string, string>;
  }> {
    const devices = new Map<string, { model: string; driverId: string | null }>();
    const driverNames = new Map<string, string>();
    for (const r of await run('dimDevices', {})) {
      const driverId = r.driver_id === null || r.driver_id === undefined ? null : String(r.driver_id);
      devices.set(String(r.id), { model: String(r.model), driverId });
      if (driverId !== null && typeof r.driver_name === 'string' && r.driver_name !== '')
        driverNames.set(driverId, String(r.driver_name));
    }
    return { devices, driverNames };
  }

  /** Rows per kind (or per site, model or driver, and kind) of the summary; see summary() below. */
  async function summaryGroups(params: SummaryParams, groupBy: GroupBy) {
    // Without bounds: from the start of the hour 24 h ago, so that the default range has
    // no unaligned head to scan live (rollup.ts), only the unsettled tail.
    const at = now();
    const defaults =
      params.from === undefined && params.to === undefined
        ? { from: Math.floor((at - DEFAULT_SUMMARY_SPAN_MS) / HOUR_MS) * HOUR_MS, to: at }
        : params;
    const range = resolveRange(defaults, at, DEFAULT_SUMMARY_SPAN_MS, config.caps.reportMs);
    const settled = settledBefore(at, config);
    const split = splitRange(storedPart(range, at), settled);
    // Model and driver are those each row carries, else the dimension tables' (per device,
    // registry-grouping.ts): the cached hours are per site and kind, so these read the range
    // per device and registry fields in one statement.
    const byDimension = groupBy === 'model' || groupBy === 'driver';
    const perDevice = byDimension ? { perDevice: true } : {};
    const [partialRows, devices, alerts, ratings, dimensions] = await Promise.all([
      byDimension
        ? run('summaryPartials', { ranges: [storedPart(range, at)], group: 'none', perDevice: true })
        : Promise.all([
            summaryHours(split.hours).then((parts) => summaryDays(split.hours, parts)),
            edgeMinutes(split.live, settled, summaryMinutes).then((pairs) => pairs.map(([, p]) => p)),
          ]).then((parts) => parts.flat()),
      run('summaryDevices', perDevice),
      run('summaryAlerts', { range, ...perDevice }),
      deps.ratings ? deps.ratings() : Promise.resolve(noRatings),
      byDimension ? deviceDimensions() : Promise.resolve(undefined),
    ]);
    const { siteId } = params;
    if (siteId !== undefined && !devices.some((r) => String(r.site_id) === siteId))
      throw notFound(`site ${siteId} is unknown`);
    /** A row's group of the grouping by model or driver: its own fields, else the device's current ones. */
    const dimensionOf = (row: Record<string, unknown>): string | null =>
      registryGroupOf(
        groupBy as RegistryGrouping,
        rowRegistryFields(row),
        dimensions?.devices.get(String(row.device_id)),
      );
    const partials = byDimension
      ? [toSummaryPartial(partialRows as Record<string, unknown>[], dimensionOf)]
      : (partialRows as SummaryPartial[]);
    // The one extension point of grouping: a group's key from its kind, site and (model or
    // driver) detail.
    const keyOf = (g: { kind: string; siteId: string; detail?: string | null }) => {
      if (siteId !== undefined && g.siteId !== siteId) return undefined;
      if (byDimension) return groupKey(g.kind, '', g.detail ?? null);
      return groupKey(g.kind, groupBy === 'site' ? g.siteId : '');
    };
    const merged = mergeSummaryPartials(partials.map((p) => regroupPartial(p, keyOf)));
    const deviceGroups = new Map<string, { devices: number; ids: string[] }>();
    const addDevices = (key: string | undefined, count: number, ids: string[]) => {
      if (key === undefined) return;
      const acc = deviceGroups.get(key) ?? { devices: 0, ids: [] };
      acc.devices += count;
      acc.ids.push(...ids);
      deviceGroups.set(key, acc);
    };
    for (const r of devices) {
      const group = { kind: String(r.kind), siteId: String(r.site_id) };
      if (byDimension) addDevices(keyOf({ ...group, detail: dimensionOf(r) }), 1, [String(r.device_id)]);
      else addDevices(keyOf(group), n(r.devices), Array.isArray(r.ids) ? r.ids.map(String) : []);
    }
    const alertGroups = new Map<string, { raised: number; open: number }>();
    for (const r of alerts) {
      const key = keyOf({
        kind: String(r.kind),
        siteId: String(r.site_id),
        ...(byDimension ? { detail: dimensionOf(r) } : {}),
      });
      if (key === undefined) continue;
      const acc = alertGroups.get(key) ?? { raised: 0, open: 0 };
      acc.raised += n(r.raised);
      acc.open += n(r.open);
      alertGroups.set(key, acc);
    }
    const hours = elapsedHours(range, at);
    const keys = [...new Set([...Object.keys(merged), ...deviceGroups.keys(), ...alertGroups.keys()])];
    const rows: SummaryRow[] = keys
      .map((key) => {
        const group = parseGroupKey(key);
        const detail = group.detail ?? null;
        const symbol = group.kind as DeviceKindSymbol;
        const p = merged[key] ?? { ...emptyKindPartial(), activeDevices: 0 };
        const d = deviceGroups.get(key);
        const a = alertGroups.get(key);
        const capacityKw = groupCapacityKw(symbol, d?.ids ?? [], ratings);
        const power = symbol === 'TURBINE' || symbol === 'SOLAR';
        return {
          ...(groupBy === 'site' ? { siteId: group.siteId } : {}),
          ...(groupBy === 'model' ? { model: detail, registered: detail !== null } : {}),
          ...(groupBy === 'driver'
            ? {
                driverId: detail === '' ? null : detail,
                driverName: (detail && dimensions?.driverNames.get(detail)) || null,
                registered: detail !== null,
              }
            : {}),
          kind: KIND_OF_SYMBOL[symbol] ?? (group.kind.toLowerCase() as Kind),
          devices: d?.devices ?? 0,
          activeDevices: p.activeDevices,
          events: p.events,
          avgSpeedKmh:
            symbol !== 'TRUCK' ? null : p.speedCount === 0 ? null : round(p.speedSum / p.speedCount),
          distanceKm: symbol === 'TRUCK' ? round(p.distanceKm) : null,
          engineOnHours: symbol === 'TRUCK' ? round(p.engineOnSeconds / 3600) : null,
          idleHours: symbol === 'TRUCK' ? round(p.idleSeconds / 3600) : null,
          energyKwh: power ? round(p.energyKwh) : null,
          availability:
            symbol !== 'TURBINE'
              ? null
              : p.coveredSeconds === 0
                ? null
                : round(p.availableSeconds / p.coveredSeconds),
          capacityKw: power ? capacityKw : null,
          capacityFactor: power ? capacityFactor(p.energyKwh, capacityKw, hours) : null,
          alertsRaised: a?.raised ?? 0,
          alertsOpen: a?.open ?? 0,
        };
      })
      .sort(
        (x, y) =>
          (x.siteId ?? '').localeCompare(y.siteId ?? '') ||
          // The unregistered bucket last; then by the dimension's value.
          Number(x.registered === false) - Number(y.registered === false) ||
          (x.model ?? x.driverId ?? '').localeCompare(y.model ?? y.driverId ?? '') ||
          KINDS.indexOf(x.kind) - KINDS.indexOf(y.kind),
      );
    return { from: iso(range.from), to: iso(range.to), rows };
  }

  const summaryHours = createHourReader(new HourCache<SummaryPartial>(cacheOptions), computeSummaryHours);
  // Whole days of cached hours merged once (rollup.ts compactPartials): the warm cost of a long range.
  const summaryDays = createDayCompactor(compactPartials);
  const energyHours = createHourReader(new HourCache<EnergyPartial>(cacheOptions), computeEnergyHours);
  const summaryMinutes = minuteReaders(computeSummaryMinutes);
  const energyMinutes = minuteReaders(computeEnergyMinutes);

  return {
    /**
     * The fleet summary: per kind for the whole fleet or one site (`siteId`), or one row
     * per group (`groupBy`: kind, or site and kind). Formulas: docs/query.md.
     */
    async summary(params: SummaryParams) {
      const answer = await summaryGroups(params, params.groupBy ?? 'kind');
      if (params.groupBy !== undefined)
        return {
          from: answer.from,
          to: answer.to,
          ...scopeOf(params),
          groupBy: params.groupBy,
          groups: answer.rows,
        };
      const kind = (k: Kind) => answer.rows.find((r) => r.kind === k);
      const pick = <K extends keyof SummaryRow>(row: SummaryRow | undefined, keys: readonly K[]) =>
        Object.fromEntries(keys.map((key) => [key, row?.[key] ?? (key === 'devices' ? 0 : null)]));
      const alerts = answer.rows.reduce(
        (acc, r) => ({ raised: acc.raised + r.alertsRaised, open: acc.open + r.alertsOpen }),
        { raised: 0, open: 0 },
      );
      return {
        from: answer.from,
        to: answer.to,
        ...scopeOf(params),
        truck: pick(kind('truck') ?? emptyRow('truck'), KIND_FIELDS.truck),
        turbine: pick(kind('turbine') ?? emptyRow('turbine'), KIND_FIELDS.turbine),
        solar: pick(kind('solar') ?? emptyRow('solar'), KIND_FIELDS.solar),
        alerts,
      };
    },

    /** The summary as rows of one shape (the CSV export, and `groupBy`). */
    summaryRows: (params: SummaryParams) => summaryGroups(params, params.groupBy ?? 'kind'),

    async devices(params: {
      kind?: Kind | undefined;
      siteId?: string | undefined;
      limit?: number | undefined;
      cursor?: string | undefined;
    }) {
      const limit = params.limit ?? 100;
      const after = params.cursor === undefined ? {} : decodeCursor(params.cursor);
      const rows = await run('devices', {
        ...(params.kind === undefined ? {} : { kind: KIND_SYMBOL[params.kind] }),
        ...(params.siteId === undefined ? {} : { siteId: params.siteId }),
        ...after,
        limit: limit + 1,
      });
      const page = rows.slice(0, limit).map((row) => stateView(stateFromRow(row)));
      const last = page.at(-1);
      return {
        devices: page,
        nextCursor: rows.length > limit && last ? encodeCursor(String(last.deviceId)) : null,
      };
    },

    async state(deviceId: string, params: { asOf?: number | undefined }) {
      const row = await lookupDevice(deviceId);
      const current = stateFromRow(row);
      if (params.asOf === undefined)
        return { deviceId, asOf: null, source: 'projection', state: stateView(current) };
      const asOf = params.asOf;
      const kind = current.kind;
      const [countRows, openRows, ...eventSets] = await Promise.all([
        run('asOfCount', { deviceId, kind, asOf }),
        run('asOfOpenAlerts', { deviceId, asOf }),
        run('asOfSample', { deviceId, kind, asOf }),
        ...(kind === 'TRUCK'
          ? [
              run('asOfEngineEvents', { deviceId, asOf }),
              run('asOfDiagnostics', { deviceId, asOf, limit: 10_000 }),
            ]
          : []),
      ]);
      const eventCount = n(countRows[0]?.events);
      if (eventCount === 0) throw notFound(`device ${deviceId} has no events at or before ${iso(asOf)}`);
      const events = eventSets.flat().map(eventFromRow);
      let energyTodayKwh: number | null = null;
      if (kind !== 'TRUCK') {
        const lastSeen = Math.max(...events.map((e) => e.value.ts));
        const [energy] = await run('asOfEnergy', {
          deviceId,
          kind,
          dayStart: utcDayStart(lastSeen),
          asOf,
          windowSizeMs: config.windowSizeMs,
          sampleIntervalMs: config.sampleIntervalMs,
        });
        energyTodayKwh = n(energy?.kwh);
      }
      const state = foldState({ deviceId, siteId: current.siteId, kind }, events, {
        eventCount,
        energyTodayKwh,
        openAlerts: openRows.map((r) => String(r.rule)),
      });
      return { deviceId, asOf: iso(asOf), source: 'event-fold', state: stateView(state) };
    },

    async series(
      deviceId: string,
      params: { metric: string; from?: number | undefined; to?: number | undefined; step: Step | 'auto' },
    ) {
      // Parse-level cap: the widest step's; the chosen step's own cap is checked below.
      // Without `from`, a raw series looks back as far as the raw cap allows, others 24 h.
      const span = params.step === 'raw' ? config.caps.rawMs : DEFAULT_SERIES_SPAN_MS;
      const range = resolveRange(params, now(), span, config.caps.dayMs);
      // The step (and its cap) depends only on whether the metric is per event or per
      // window, known from its name: a bad range costs no statement, not even the lookup.
      const { step } = resolveStep(params.step, range, !isDerivedMetric(params.metric));
      const row = await lookupDevice(deviceId);
      const kind = String(row.kind) as DeviceKindSymbol;
      const metric = metricFor(kind, params.metric);
      if (!metric)
        throw new FleetgridError(
          'INVALID_ARGUMENT',
          `metric ${params.metric} does not exist for a ${KIND_OF_SYMBOL[kind]}`,
        );
      const head = {
        deviceId,
        kind: KIND_OF_SYMBOL[kind],
        metric: metric.name,
        step,
        from: iso(range.from),
        to: iso(range.to),
      };
      if (step === 'raw') {
        const cap = config.caps.rawPoints;
        const rows = await run('seriesRaw', { deviceId, kind, metric: metric.name, range, limit: cap + 1 });
        return {
          ...head,
          truncated: rows.length > cap,
          points: rows.slice(0, cap).map((r) => ({ t: iso(Number(r.t)), value: Number(r.value) })),
        };
      }
      const width = stepMs(step, config.sampleIntervalMs);
      const rows = await run('seriesAggregate', { deviceId, metric: metric.name, step, range });
      const at = now();
      return {
        ...head,
        truncated: false,
        points: rows.map((r) => {
          const t = Number(r.t);
          const count = n(r.count);
          const sum = n(r.sum);
          return {
            t: iso(t),
            count,
            min: Number(r.min),
            max: Number(r.max),
            avg: count === 0 ? null : sum / count,
            sum,
            // No window of the bucket can be revised any more once maxLateness has passed its end.
            final: t + width + config.maxLatenessMs <= at,
            revision: n(r.revision),
          };
        }),
      };
    },

    async energy(
      siteId: string,
      params: { from?: number | undefined; to?: number | undefined; step: Exclude<Step, 'raw'> | 'auto' },
    ) {
      const range = resolveRange(params, now(), DEFAULT_SERIES_SPAN_MS, config.caps.reportMs);
      const { step } = resolveStep(params.step, range, false);
      const [exists] = await run('siteExists', { siteId });
      if (n(exists?.devices) === 0) throw notFound(`site ${siteId} is unknown`);
      const bucketStep = step as Exclude<Step, 'raw'>;
      const points = new Map<number, { turbineKwh: number; solarKwh: number }>();
      const add = (t: number, kind: unknown, kwh: number) => {
        const point = points.get(t) ?? { turbineKwh: 0, solarKwh: 0 };
        if (kind === 'TURBINE') point.turbineKwh += kwh;
        else point.solarKwh += kwh;
        points.set(t, point);
      };
      if (bucketStep === '1m') {
        // Minute buckets: read live for this site (capped at 7 days by the 1m cap).
        for (const r of await run('siteEnergy', { siteId, step: bucketStep, range }))
          add(Number(r.t), r.kind, n(r.kwh));
      } else {
        // Hourly and daily buckets are sums of hours and minutes: from the caches (rollup.ts).
        const at = now();
        const settled = settledBefore(at, config);
        const split = splitRange(storedPart(range, at), settled);
        const bucketOf = (ms: number) =>
          bucketStep === '1d' ? utcDayStart(ms) : Math.floor(ms / HOUR_MS) * HOUR_MS;
        const [hourly, minutes] = await Promise.all([
          energyHours(split.hours),
          edgeMinutes(split.live, settled, energyMinutes),
        ]);
        const addSite = (t: number, partial: EnergyPartial | undefined) => {
          const site = partial?.[siteId];
          if (!site) return;
          add(bucketOf(t), 'TURBINE', site.TURBINE);
          add(bucketOf(t), 'SOLAR', site.SOLAR);
        };
        split.hours.forEach((hour, i) => {
          addSite(hour, hourly[i]);
        });
        for (const [minute, partial] of minutes) addSite(minute, partial);
      }
      const list = [...points.entries()]
        .sort(([a], [b]) => a - b)
        .map(([t, p]) => ({
          t: iso(t),
          turbineKwh: round(p.turbineKwh),
          solarKwh: round(p.solarKwh),
          totalKwh: round(p.turbineKwh + p.solarKwh),
        }));
      const totals = [...points.values()];
      const turbineKwh = round(totals.reduce((sum, p) => sum + p.turbineKwh, 0));
      const solarKwh = round(totals.reduce((sum, p) => sum + p.solarKwh, 0));
      return {
        siteId,
        step,
        from: iso(range.from),
        to: iso(range.to),
        totals: { turbineKwh, solarKwh, totalKwh: round(turbineKwh + solarKwh) },
        points: list,
      };
    },

    /** One alert with its whole action history; NOT_FOUND when no such alert is stored. */
    async alert(alertId: string) {
      const [row] = await run('alertById', { alertId });
      if (!row) throw new FleetgridError('NOT_FOUND', 'no such alert');
      const [alert] = await withActions([alertOfRow(row)]);
      return alert as NonNullable<typeof alert>;
    },

    /** The recorded commands of an alert (projection plus those seen but not yet projected). */
    commandsOf,

    /** A recorded command by its id (projection, then those seen but not yet projected). */
    async command(commandId: string): Promise<AlertCommand | undefined> {
      const recent = deps.recentCommands?.byId(commandId);
      if (recent) return recent;
      const [row] = await run('alertCommand', { commandId });
      return row ? commandOfRow(row) : undefined;
    },

    async alerts(params: {
      state: 'open' | 'resolved' | 'all';
      rule?: string | undefined;
      deviceId?: string | undefined;
      from?: number | undefined;
      to?: number | undefined;
      limit?: number | undefined;
    }) {
      // Open alerts are listed whatever their age unless a range is asked for; closed ones default to 7 days.
      const ranged = params.state !== 'open' || params.from !== undefined || params.to !== undefined;
      const range = ranged
        ? resolveRange(params, now(), DEFAULT_ALERTS_SPAN_MS, config.caps.reportMs)
        : undefined;
      const limit = params.limit ?? 100;
      const rows = await run('alerts', {
        state: params.state,
        ...(params.rule === undefined ? {} : { rule: params.rule }),
        ...(params.deviceId === undefined ? {} : { deviceId: params.deviceId }),
        ...(range === undefined ? {} : { range }),
        limit,
      });
      return {
        state: params.state,
        from: range ? iso(range.from) : null,
        to: range ? iso(range.to) : null,
        alerts: await withActions(rows.map(alertOfRow)),
      };
    },

    /** The oldest and newest stored data (raw events, windows): where a dashboard's default range starts. */
    async extent() {
      const [row] = await run('extent', {});
      const rows = n(row?.rows);
      const oldest = rows > 0 ? nullableNumber(row?.oldest_ms) : null;
      const newest = rows > 0 ? nullableNumber(row?.newest_ms) : null;
      return {
        oldest: oldest === null ? null : iso(oldest),
        newest: newest === null ? null : iso(newest),
        rows,
      };
    },

    /** A truck's diagnostic reports in a range (the code history of its page). */
    async diagnostics(
      deviceId: string,
      params: { from?: number | undefined; to?: number | undefined; limit?: number | undefined },
    ) {
      const range = resolveRange(params, now(), DEFAULT_SERIES_SPAN_MS, config.caps.reportMs);
      const kind = await deviceKind(deviceId, ['TRUCK'], 'diagnostic codes');
      const limit = params.limit ?? 1_000;
      const rows = await run('diagnostics', { deviceId, range, limit: limit + 1 });
      return {
        deviceId,
        kind: KIND_OF_SYMBOL[kind],
        from: iso(range.from),
        to: iso(range.to),
        truncated: rows.length > limit,
        diagnostics: rows.slice(0, limit).map((r) => ({
          t: iso(Number(r.t)),
          code: String(r.code),
          severity: String(r.severity),
          description: String(r.description),
          active: Boolean(r.active),
        })),
      };
    },

    /** A turbine's or solar array's status as runs (its status timeline), with seconds per status. */
    async status(deviceId: string, params: { from?: number | undefined; to?: number | undefined }) {
      const range = resolveRange(params, now(), DEFAULT_SERIES_SPAN_MS, config.caps.minuteMs);
      const kind = await deviceKind(deviceId, ['TURBINE', 'SOLAR'], 'a status timeline');
      const cap = config.caps.rawPoints;
      const rows = await run('statusChanges', {
        deviceId,
        kind: kind as 'TURBINE' | 'SOLAR',
        range,
        gapMs: STATUS_GAP_MS,
        limit: cap + 1,
      });
      const runs = statusRuns(
        rows.slice(0, cap).map((r) => ({
          t: Number(r.t),
          status: String(r.status),
          previousT: Number(r.previous_t),
          lastT: Number(r.last_t),
        })),
        STATUS_GAP_MS,
      );
      return {
        deviceId,
        kind: KIND_OF_SYMBOL[kind],
        from: iso(range.from),
        to: iso(range.to),
        gapSeconds: STATUS_GAP_MS / 1000,
        truncated: rows.length > cap,
        seconds: secondsByStatus(runs),
        runs: runs.map((r) => ({ from: iso(r.from), to: iso(r.to), status: r.status })),
      };
    },

    /** A truck's positions in a range, thinned in the database and simplified for a map zoom (track.ts). */
    async track(
      deviceId: string,
      params: { from?: number | undefined; to?: number | undefined; zoom?: number | undefined },
    ) {
      const range = resolveRange(params, now(), DEFAULT_SERIES_SPAN_MS, config.caps.minuteMs);
      await deviceKind(deviceId, ['TRUCK'], 'a track');
      return {
        deviceId,
        from: iso(range.from),
        to: iso(range.to),
        ...(await trackOf(deviceId, range, params.zoom)),
      };
    },

    /** A truck's trips that start in a range (trip-rules.ts, sql-trips.ts), oldest first. */
    async trips(deviceId: string, params: { from?: number | undefined; to?: number | undefined }) {
      const range = resolveRange(params, now(), DEFAULT_SERIES_SPAN_MS, config.caps.minuteMs);
      await deviceKind(deviceId, ['TRUCK'], 'trips');
      const cap = TRIP_RULES.maxTrips;
      const rows = await run('trips', { deviceId, range, limit: cap + 1 });
      return {
        deviceId,
        from: iso(range.from),
        to: iso(range.to),
        truncated: rows.length > cap,
        trips: rows.slice(0, cap).map((r) => tripOfRow(deviceId, r)),
      };
    },

    /** One trip with its track (the raw positions from its start to its end, simplified for `zoom`). */
    async trip(deviceId: string, id: string, params: { zoom?: number | undefined }) {
      const parsed = parseTripId(id);
      if (!parsed || parsed.deviceId !== deviceId) throw notFound(`trip ${id} is not a trip of ${deviceId}`);
      await deviceKind(deviceId, ['TRUCK'], 'trips');
      const [row] = await run('trips', {
        deviceId,
        range: { from: parsed.startMs, to: parsed.startMs + 1 },
        limit: 1,
      });
      if (!row) throw notFound(`trip ${id} is unknown (no trip of ${deviceId} starts then)`);
      const trip = tripOfRow(deviceId, row);
      const range = { from: parsed.startMs, to: Number(row.end_ms) + 1 };
      return { trip, track: await trackOf(deviceId, range, params.zoom) };
    },

    /**
     * Per step, a turbine's energy, availability and capacity factor, or a solar array's
     * energy, irradiation, capacity factor and performance ratio (views.ts).
     */
    async performance(
      deviceId: string,
      params: { from?: number | undefined; to?: number | undefined; step: Exclude<Step, 'raw'> | 'auto' },
    ) {
      const at = now();
      const range = resolveRange(params, at, DEFAULT_SERIES_SPAN_MS, config.caps.reportMs);
      const { step } = resolveStep(params.step, range, false);
      const kind = (await deviceKind(deviceId, ['TURBINE', 'SOLAR'], 'performance figures')) as
        | 'TURBINE'
        | 'SOLAR';
      const bucketStep = step as Exclude<Step, 'raw'>;
      const [rows, ratings] = await Promise.all([
        run('performance', { deviceId, step: bucketStep, range }),
        deps.ratings ? deps.ratings() : Promise.resolve(noRatings),
      ]);
      const capacity = capacityOf(kind, ratings.get(deviceId));
      const { points, totals } = performancePoints(
        kind,
        rows.map((r) => ({
          t: Number(r.t),
          energyKwh: n(r.energy_kwh),
          coveredSeconds: n(r.covered_seconds),
          availableSeconds: n(r.available_seconds),
          irradiationKwhM2: n(r.irradiation_kwh_m2),
        })),
        { capacityKw: capacity.kw, stepMs: stepMs(bucketStep, config.sampleIntervalMs), range, now: at },
      );
      return {
        deviceId,
        kind: KIND_OF_SYMBOL[kind],
        step,
        from: iso(range.from),
        to: iso(range.to),
        capacityKw: capacity.kw,
        capacitySource: capacity.source,
        totals,
        points,
      };
    },

    /** Newest stored times per table (the freshness gauges). */
    freshness() {
      return run('freshness', {});
    },

    /** Freshness and dead letters (the ClickHouse part of /pipeline/health). */
    async storedHealth() {
      const [freshness, deadLetters, deadLetterTotals] = await Promise.all([
        run('freshness', {}),
        run('deadLetters', {}),
        run('deadLetterTotals', {}),
      ]);
      return { freshness, deadLetters, deadLetterTotals };
    },

    /** Ready when ClickHouse answers and the sink's migrations have created the tables. */
    async ping() {
      const [row] = await run('projectionTables', {});
      if (n(row?.tables) < 3)
        throw new FleetgridError(
          'CLICKHOUSE_UNAVAILABLE',
          'the projection tables do not exist yet (the sink creates them at start: run `fleetgrid sink` once)',
        );
    },
  };
}

export function notFound(message: string): FleetgridError {
  // INVALID_ARGUMENT with a marker: the closed code set has no NOT_FOUND, and a 404 is a caller problem.
  return new FleetgridError('INVALID_ARGUMENT', message, { details: { status: 404 } });
}
