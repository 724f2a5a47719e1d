/**
 * The read side's use cases, one function per endpoint: validated parameters in, JSON
 * answers out, ClickHouse through the read-only backend (sinks/query-client.ts). No HTTP
 * here (server.ts maps routes onto these), so the CLI's numbers and the API's numbers come
 * from the same code. Every statement runs with a client-side timeout and the matching
 * max_execution_time; statements of one request run concurrently where independent.
 */
import { FleetgridError } from '../lib/errors.ts';
import type { ClickHouseBackend } from '../sinks/backend.ts';
import type { DeviceKindSymbol } from '../schemas/types.ts';
import { DEFAULT_VALIDATION } from '../schemas/validate.ts';
import { isDerivedMetric, KIND_OF_SYMBOL, KIND_SYMBOL, type Kind, metricFor } from './catalog.ts';
import type { QueryConfig } from './config.ts';
import {
  chooseStep,
  DEFAULT_ALERTS_SPAN_MS,
  DEFAULT_SERIES_SPAN_MS,
  DEFAULT_SUMMARY_SPAN_MS,
  capOf,
  decodeCursor,
  encodeCursor,
  resolveRange,
  type Step,
  stepMs,
  type TimeRange,
} from './params.ts';
import {
  type EnergyPartial,
  emptyKindPartial,
  HOUR_MS,
  HourCache,
  hourSpans,
  mergeSummaryPartials,
  type SummaryPartial,
  settledBefore,
  splitRange,
} from './rollup.ts';
import * as sql from './sql.ts';
import { eventFromRow, foldState, stateFromRow, stateView, utcDayStart } from './state.ts';

export interface QueryServiceDeps {
  backend: ClickHouseBackend;
  now?: () => number;
  /** Called once per statement sent (metrics, tests counting statements). */
  onStatement?: (outcome: 'ok' | 'error' | 'timeout', seconds: number) => void;
}

const iso = (ms: number) => new Date(ms).toISOString();
const n = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));
const nullableNumber = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** Rounds a derived figure for display stability (float sums differ in the last bits between engines). */
const round = (v: number, digits = 6) => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

export type QueryService = ReturnType<typeof createQueryService>;

export function createQueryService(config: QueryConfig, deps: QueryServiceDeps) {
  const now = deps.now ?? Date.now;
  const { backend } = deps;
  const settings = sql.settingsClause(config.queryTimeoutMs);

  async function run<T = Record<string, unknown>>(statement: sql.Statement): Promise<T[]> {
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
      const rows = await Promise.race([
        backend.query<T>(statement.sql + settings, statement.params),
        timeout,
      ]);
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

  async function lookupDevice(deviceId: string): Promise<Record<string, unknown>> {
    const [row] = await run(sql.deviceStateSql(deviceId));
    if (!row) throw notFound(`device ${deviceId} is unknown`);
    return row;
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
  const summaryCache = new HourCache<SummaryPartial>(cacheOptions);
  const energyCache = new HourCache<EnergyPartial>(cacheOptions);
  // Minute partials are 60 times larger: only the few hours holding the edges of recent
  // requests. Unsettled hours change with every sink batch: recomputed in the background
  // once older than recentTtlMs, so these reports trail the tables by at most that (plus one scan).
  const minuteCaches = <V>() => ({
    settled: new HourCache<Map<number, V>>({ ...cacheOptions, maxEntries: 24 }),
    recent: new HourCache<Map<number, V>>({ maxEntries: 8, ttlMs: config.rollupCache.recentTtlMs, now }),
  });
  const summaryMinuteCaches = minuteCaches<SummaryPartial>();
  const energyMinuteCaches = minuteCaches<EnergyPartial>();
  const inFlight = new Map<string, Promise<Map<number, unknown>>>();

  function toSummaryPartial(rows: Record<string, unknown>[]): SummaryPartial {
    const partial: SummaryPartial = {};
    for (const r of rows) {
      partial[String(r.kind)] = {
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
      };
    }
    return partial;
  }

  /** Partials of the hours of `span` (or of its minutes), every bucket present, empty ones too. */
  async function computeSummaryBuckets(
    span: TimeRange,
    group: 'hour' | 'minute',
  ): Promise<Map<number, SummaryPartial>> {
    const byBucket = new Map<number, Record<string, unknown>[]>();
    for (const row of await run(sql.summaryPartialsSql(span, group))) {
      const bucket = Number(row.bucket);
      byBucket.set(bucket, [...(byBucket.get(bucket) ?? []), row]);
    }
    const out = new Map<number, SummaryPartial>();
    const width = group === 'hour' ? HOUR_MS : 60_000;
    for (let b = span.from; b < span.to; b += width) out.set(b, toSummaryPartial(byBucket.get(b) ?? []));
    return out;
  }

  const computeSummaryHours = (span: TimeRange) => computeSummaryBuckets(span, 'hour');

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
    caches: { settled: HourCache<Map<number, V>>; recent: HourCache<Map<number, V>> },
    compute: (span: TimeRange) => Promise<Map<number, Map<number, V>>>,
  ): Promise<[number, V][]> {
    const out: [number, V][] = [];
    for (const edge of edges) {
      // A settled edge lies within one hour (two when the range holds no whole hour); the
      // unsettled tail spans the last one or two hours.
      const cache = edge.to <= settled ? caches.settled : caches.recent;
      const hours: number[] = [];
      for (let h = Math.floor(edge.from / HOUR_MS) * HOUR_MS; h < edge.to; h += HOUR_MS) hours.push(h);
      for (const minutes of await cachedHours(cache, hours, compute)) {
        // Windows that start in [from, to): a minute counts when its start is inside.
        for (const [m, partial] of minutes) if (m >= edge.from && m < edge.to) out.push([m, partial]);
      }
    }
    return out;
  }

  async function computeEnergyBuckets(
    span: TimeRange,
    group: 'hour' | 'minute',
  ): Promise<Map<number, EnergyPartial>> {
    const out = new Map<number, EnergyPartial>();
    const width = group === 'hour' ? HOUR_MS : 60_000;
    for (let b = span.from; b < span.to; b += width) out.set(b, {});
    for (const row of await run(sql.energyPartialsSql(span, group))) {
      const partial = out.get(Number(row.bucket));
      if (!partial) continue;
      const site = partial[String(row.site_id)] ?? { TURBINE: 0, SOLAR: 0 };
      partial[String(row.site_id)] = site;
      if (row.kind === 'TURBINE') site.TURBINE += n(row.kwh);
      else if (row.kind === 'SOLAR') site.SOLAR += n(row.kwh);
    }
    return out;
  }

  const computeEnergyHours = (span: TimeRange) => computeEnergyBuckets(span, 'hour');

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

  /**
   * The partials of `hours`: missing ones are computed now (one grouped query per
   * contiguous span), stale ones are served and recomputed in the background.
   */
  async function cachedHours<V>(
    cache: HourCache<V>,
    hours: readonly number[],
    compute: (span: TimeRange) => Promise<Map<number, V>>,
  ): Promise<V[]> {
    if (hours.length === 0) return [];
    const { missing, stale } = cache.lookup(hours);
    // Kept here too: a request for more hours than the cache holds must not lose the
    // ones evicted while it computes the rest.
    const fresh = new Map<number, V>();
    // One span after the other: parallel scans would only contend for the same cores.
    for (const span of hourSpans(missing)) {
      for (const [hour, value] of await computeOnce(cache, span, compute)) fresh.set(hour, value);
    }
    for (const span of hourSpans(stale)) {
      // Served stale meanwhile; on failure the stale partials stay and a later request retries.
      computeOnce(cache, span, compute).catch(() => undefined);
    }
    return hours.map((hour) => {
      const value = fresh.get(hour) ?? cache.get(hour);
      if (value === undefined)
        throw new FleetgridError('INTERNAL', `hour ${iso(hour)} missing from the rollup cache`);
      return value;
    });
  }

  /** Concurrent requests needing the same span share one scan instead of each running it. */
  function computeOnce<V>(
    cache: HourCache<V>,
    span: TimeRange,
    compute: (span: TimeRange) => Promise<Map<number, V>>,
  ): Promise<Map<number, V>> {
    const key = `${cache.id}:${span.from}:${span.to}`;
    const running = inFlight.get(key) as Promise<Map<number, V>> | undefined;
    if (running) return running;
    const work = compute(span)
      .then((values) => {
        for (const [hour, value] of values) cache.set(hour, value);
        return values;
      })
      .finally(() => inFlight.delete(key));
    inFlight.set(key, work);
    return work;
  }

  return {
    async summary(params: { from?: number | undefined; to?: number | undefined }) {
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
      const [partials, devices, alerts] = await Promise.all([
        Promise.all([
          cachedHours(summaryCache, split.hours, computeSummaryHours),
          edgeMinutes(split.live, settled, summaryMinuteCaches, computeSummaryMinutes).then((pairs) =>
            pairs.map(([, partial]) => partial),
          ),
        ]),
        run(sql.summaryDevicesSql()),
        run(sql.summaryAlertsSql(range)),
      ]);
      const merged = mergeSummaryPartials(partials.flat());
      const none = { ...emptyKindPartial(), activeDevices: 0 };
      const dev = (kind: DeviceKindSymbol) => n(devices.find((r) => r.kind === kind)?.devices);
      const truck = merged.TRUCK ?? none;
      const turbine = merged.TURBINE ?? none;
      const solar = merged.SOLAR ?? none;
      const alertRow = alerts[0] ?? {};
      return {
        from: iso(range.from),
        to: iso(range.to),
        truck: {
          devices: dev('TRUCK'),
          activeDevices: truck.activeDevices,
          events: truck.events,
          avgSpeedKmh: truck.speedCount === 0 ? null : round(truck.speedSum / truck.speedCount),
          distanceKm: round(truck.distanceKm),
          engineOnHours: round(truck.engineOnSeconds / 3600),
          idleHours: round(truck.idleSeconds / 3600),
        },
        turbine: {
          devices: dev('TURBINE'),
          activeDevices: turbine.activeDevices,
          events: turbine.events,
          energyKwh: round(turbine.energyKwh),
          availability:
            turbine.coveredSeconds === 0 ? null : round(turbine.availableSeconds / turbine.coveredSeconds),
        },
        solar: {
          devices: dev('SOLAR'),
          activeDevices: solar.activeDevices,
          events: solar.events,
          energyKwh: round(solar.energyKwh),
        },
        alerts: { raised: n(alertRow.raised), open: n(alertRow.open) },
      };
    },

    async devices(params: {
      kind?: Kind | undefined;
      siteId?: string | undefined;
      limit?: number | undefined;
      cursor?: string | undefined;
    }) {
      const limit = params.limit ?? 100;
      const after = params.cursor === undefined ? undefined : decodeCursor(params.cursor);
      const rows = await run(
        sql.devicesSql({
          kind: params.kind === undefined ? undefined : KIND_SYMBOL[params.kind],
          siteId: params.siteId,
          after,
          limit: limit + 1,
        }),
      );
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
        run(sql.asOfCountSql(deviceId, kind, asOf)),
        run(sql.asOfOpenAlertsSql(deviceId, asOf)),
        ...sql.asOfEventsSql(deviceId, kind, asOf, 10_000).map((s) => run(s)),
      ]);
      const eventCount = n(countRows[0]?.events);
      if (eventCount === 0) throw notFound(`device ${deviceId} has no events at or before ${iso(asOf)}`);
      const events = eventSets.flat().map(eventFromRow);
      let energyTodayKwh: number | null = null;
      if (kind !== 'TRUCK') {
        const lastSeen = Math.max(...events.map((e) => e.value.ts));
        const [energy] = await run(
          sql.asOfEnergySql(deviceId, kind, { dayStart: utcDayStart(lastSeen), asOf }, config),
        );
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
        const rows = await run(sql.seriesRawSql(deviceId, kind, metric, range, cap + 1));
        return {
          ...head,
          truncated: rows.length > cap,
          points: rows.slice(0, cap).map((r) => ({ t: iso(Number(r.t)), value: Number(r.value) })),
        };
      }
      const width = stepMs(step, config.sampleIntervalMs);
      const rows = await run(sql.seriesAggregateSql(deviceId, metric, step, range));
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
      const [exists] = await run(sql.siteExistsSql(siteId));
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
        for (const r of await run(sql.siteEnergySql(siteId, bucketStep, range)))
          add(Number(r.t), r.kind, n(r.kwh));
      } else {
        // Hourly and daily buckets are sums of hours and minutes: from the caches (rollup.ts).
        const at = now();
        const settled = settledBefore(at, config);
        const split = splitRange(storedPart(range, at), settled);
        const bucketOf = (ms: number) =>
          bucketStep === '1d' ? utcDayStart(ms) : Math.floor(ms / HOUR_MS) * HOUR_MS;
        const [hourly, minutes] = await Promise.all([
          cachedHours(energyCache, split.hours, computeEnergyHours),
          edgeMinutes(split.live, settled, energyMinuteCaches, computeEnergyMinutes),
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
      const rows = await run(
        sql.alertsSql({ state: params.state, rule: params.rule, deviceId: params.deviceId, range, limit }),
      );
      return {
        state: params.state,
        from: range ? iso(range.from) : null,
        to: range ? iso(range.to) : null,
        alerts: rows.map((r) => ({
          alertId: String(r.alert_id),
          rule: String(r.rule),
          deviceId: String(r.device_id),
          siteId: String(r.site_id),
          kind: String(r.kind).toLowerCase(),
          state: String(r.state),
          severity: String(r.severity),
          raisedAt: iso(Number(r.raised_at_ms)),
          resolvedAt:
            r.resolved_at_ms === null || r.resolved_at_ms === undefined
              ? null
              : iso(Number(r.resolved_at_ms)),
          updatedAt: iso(Number(r.ts_ms)),
          value: nullableNumber(r.value),
          threshold: nullableNumber(r.threshold),
          message: String(r.message),
        })),
      };
    },

    /** Freshness and dead letters (the ClickHouse part of /pipeline/health). */
    async storedHealth() {
      const [freshness, deadLetters] = await Promise.all([
        run(sql.freshnessSql()),
        run(sql.deadLettersSql()),
      ]);
      return { freshness, deadLetters };
    },

    /** Ready when ClickHouse answers and the sink's migrations have created the tables. */
    async ping() {
      const [row] = await run({
        sql: "SELECT count() AS tables FROM system.tables WHERE database = currentDatabase() AND name IN ('device_state', 'aggregates_1m', 'alerts')",
        params: {},
      });
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
