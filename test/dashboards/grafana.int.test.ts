/**
 * The Grafana dashboards of infra/grafana are code, so they are tested like code:
 * - structure: well-formed JSON, unique panel ids, datasource uids that the provisioning
 *   defines, links to dashboards that exist, variables that are defined;
 * - every ClickHouse query, expanded the way the grafana-clickhouse-datasource plugin
 *   expands it (grafana-expand.ts), runs on the embedded engine (chDB, with the sink's
 *   own migrations) against fixture data at every level of detail, and returns columns
 *   of the types its panel needs (a time and a number for a time series, the geomap's
 *   lat/lon, the x/y of an XY chart, the fields that links and overrides name);
 * - every PromQL expression parses (promtool) and selects only metrics the services
 *   export or the fitness rules record.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { POWER_CURVE_TABLE } from '../../domain/power-curve.ts';
import { ALERT_RULES } from '../../processors/alerts/rules.ts';
import { parseQueryConfig } from '../../query/config.ts';
import { chooseStep } from '../../query/params.ts';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';
import { createEmbeddedBackend } from '../../clickhouse/index.ts';
import { migrate } from '../../clickhouse/index.ts';
import { buildWorld, type FixtureWorld, loadWorld, MINUTE } from './fixtures.ts';
import { expandQuery, type TimeRange, type Variables } from './grafana-expand.ts';
import { metricCatalog, selectedMetrics } from './metric-catalog.ts';

const run = promisify(execFile);
const GRAFANA_DIR = join(PROJECT_ROOT, 'infra/grafana');
const CLICKHOUSE_UID = 'fleetgrid-clickhouse';
const PROMETHEUS_UID = 'fleetgrid-prometheus';

// --- the dashboards as data -------------------------------------------------------------
interface Target {
  refId: string;
  datasource?: { uid?: string; type?: string };
  rawSql?: string;
  format?: number;
  expr?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid?: string };
  targets?: Target[];
  panels?: Panel[];
  options?: Record<string, unknown>;
  fieldConfig?: {
    defaults?: { links?: { url: string }[] };
    overrides?: { matcher: { id: string; options: string }; properties: { id: string; value: unknown }[] }[];
  };
}
interface Variable {
  name: string;
  type: string;
  query: string | { rawSql: string };
  datasource?: { uid?: string };
  multi?: boolean;
  includeAll?: boolean;
  current?: { value: string | string[] };
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
  links: { url: string }[];
}

const dashboards: { file: string; json: Dashboard }[] = readdirSync(join(GRAFANA_DIR, 'dashboards'))
  .filter((file) => file.endsWith('.json'))
  .sort()
  .map((file) => ({ file, json: JSON.parse(readFileSync(join(GRAFANA_DIR, 'dashboards', file), 'utf8')) }));

function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

function provisionedUids(): Set<string> {
  const text = readFileSync(join(GRAFANA_DIR, 'provisioning/datasources/fleetgrid.yml'), 'utf8');
  return new Set([...text.matchAll(/^\s+uid:\s*(\S+)/gm)].map((m) => m[1] as string));
}

const chTargets = (p: Panel) => (p.targets ?? []).filter((t) => t.datasource?.uid === CLICKHOUSE_UID);
const sqlOf = (v: Variable) => (typeof v.query === 'string' ? v.query : v.query.rawSql);

// --- column types ---------------------------------------------------------------------------
const isTime = (type: string) => /^(Nullable\()?DateTime/.test(type);
const isNumber = (type: string) => /^(Nullable\()?(U?Int\d+|Float\d+|Decimal)/.test(type);

interface Result {
  columns: Map<string, string>;
  rows: Record<string, unknown>[];
}

async function runTarget(backend: ClickHouseBackend, sql: string): Promise<Result> {
  const described = await backend.query<{ name: string; type: string }>(`DESCRIBE (${sql})`);
  const rows = await backend.query<Record<string, unknown>>(sql);
  return { columns: new Map(described.map((c) => [c.name, c.type])), rows };
}

/** What the panel needs from its data, as problems (empty = fine). */
function shapeProblems(panel: Panel, results: Result[]): string[] {
  const problems: string[] = [];
  const where = `panel ${panel.id} "${panel.title}"`;
  const first = results[0];
  if (!first) return [`${where}: no ClickHouse result`];
  const numeric = (r: Result, name: string) => {
    const type = r.columns.get(name);
    if (type === undefined)
      problems.push(`${where}: no column ${name} (has ${[...r.columns.keys()].join(', ')})`);
    else if (!isNumber(type)) problems.push(`${where}: column ${name} is ${type}, not a number`);
  };
  results.forEach((r, i) => {
    if (r.rows.length === 0) problems.push(`${where}: target ${i} returned no row on the fixture data`);
  });
  const types = [...first.columns.values()];
  switch (panel.type) {
    case 'timeseries':
      if (!types.some(isTime)) problems.push(`${where}: a time series needs a DateTime column`);
      if (!types.some(isNumber)) problems.push(`${where}: a time series needs a numeric column`);
      break;
    case 'stat':
      if (!types.some(isNumber)) problems.push(`${where}: a stat needs a numeric column`);
      if (first.rows.length !== 1)
        problems.push(`${where}: a stat expects one row, got ${first.rows.length}`);
      break;
    case 'bargauge': {
      const fields = String((panel.options?.reduceOptions as { fields?: string })?.fields ?? '');
      const name = /^\/\^(\w+)\$\/$/.exec(fields)?.[1];
      if (!name) problems.push(`${where}: bar gauge should name its value field as /^name$/`);
      else numeric(first, name);
      break;
    }
    case 'geomap': {
      const layers = (panel.options?.layers ?? []) as {
        location?: { latitude?: string; longitude?: string };
        filterData?: { id?: string; options?: string };
      }[];
      // A layer drawn from one query's frame (filterData byRefId) needs its lat/lon in that frame.
      const refIds = chTargets(panel).map((t) => t.refId);
      for (const layer of layers) {
        const refId = layer.filterData?.id === 'byRefId' ? layer.filterData.options : undefined;
        const frame = refId === undefined ? first : results[refIds.indexOf(refId)];
        if (!frame) {
          problems.push(`${where}: a layer draws query ${refId}, which does not exist`);
          continue;
        }
        numeric(frame, layer.location?.latitude ?? '(latitude)');
        numeric(frame, layer.location?.longitude ?? '(longitude)');
      }
      break;
    }
    case 'xychart': {
      const series = (panel.options?.series ?? []) as {
        frame: { matcher: { options: number } };
        x: { matcher: { options: string } };
        y: { matcher: { options: string } };
      }[];
      if (series.length === 0) problems.push(`${where}: XY chart without series mapping`);
      for (const s of series) {
        const frame = results[s.frame.matcher.options];
        if (!frame)
          problems.push(`${where}: series maps frame ${s.frame.matcher.options}, which does not exist`);
        else {
          numeric(frame, s.x.matcher.options);
          numeric(frame, s.y.matcher.options);
        }
      }
      break;
    }
    case 'table':
      break;
    default:
      problems.push(`${where}: panel type ${panel.type} has no shape check; add one`);
  }
  // Fields named by links and by-name overrides must exist (tables and geomaps show columns as fields).
  const named = new Set<string>();
  const links = [
    ...(panel.fieldConfig?.defaults?.links ?? []),
    ...(panel.fieldConfig?.overrides ?? []).flatMap((o) =>
      o.properties.filter((p) => p.id === 'links').flatMap((p) => p.value as { url: string }[]),
    ),
  ];
  for (const l of links) for (const m of l.url.matchAll(/__data\.fields\.(\w+)/g)) named.add(m[1] as string);
  if (panel.type === 'table' || panel.type === 'geomap') {
    for (const o of panel.fieldConfig?.overrides ?? [])
      if (o.matcher.id === 'byName') named.add(o.matcher.options);
  }
  for (const name of named) {
    if (!results.some((r) => r.columns.has(name)))
      problems.push(`${where}: links or overrides name ${name}, no such column`);
  }
  return problems;
}

// --- structure ----------------------------------------------------------------------------------
describe('Grafana dashboards are well formed', () => {
  const uids = provisionedUids();

  it('the provisioning defines the ClickHouse and Prometheus datasources the dashboards use', () => {
    expect([...uids].sort()).toEqual([CLICKHOUSE_UID, PROMETHEUS_UID]);
    expect(dashboards.map((d) => d.file)).toEqual(['fleet.json', 'pipeline-health.json', 'power.json']);
  });

  it('panel ids are unique, grid positions fit, and every datasource uid exists', () => {
    const problems: string[] = [];
    for (const { file, json } of dashboards) {
      const ids = allPanels(json).map((p) => p.id);
      if (new Set(ids).size !== ids.length) problems.push(`${file}: duplicate panel ids ${ids.join(',')}`);
      for (const p of allPanels(json)) {
        const g = p.gridPos;
        if (!(g.w > 0 && g.h > 0 && g.x >= 0 && g.x + g.w <= 24))
          problems.push(`${file} ${p.id}: bad gridPos`);
        if (p.type === 'row') continue;
        const targets = p.targets ?? [];
        if (targets.length === 0) problems.push(`${file} ${p.id}: no query`);
        if (new Set(targets.map((t) => t.refId)).size !== targets.length)
          problems.push(`${file} ${p.id}: refIds`);
        for (const uid of [p.datasource?.uid, ...targets.map((t) => t.datasource?.uid)]) {
          if (!uid || !uids.has(uid))
            problems.push(`${file} ${p.id}: datasource uid ${uid} is not provisioned`);
        }
        for (const t of targets) {
          if (t.datasource?.uid === CLICKHOUSE_UID && !t.rawSql) problems.push(`${file} ${p.id}: empty SQL`);
          if (t.datasource?.uid === PROMETHEUS_UID && !t.expr) problems.push(`${file} ${p.id}: empty PromQL`);
        }
      }
      for (const v of json.templating.list) {
        if (v.type === 'query' && !uids.has(v.datasource?.uid ?? ''))
          problems.push(`${file}: variable ${v.name}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('dashboard uids are unique and every link points at one of them', () => {
    const known = new Set(dashboards.map((d) => d.json.uid));
    expect(known.size).toBe(dashboards.length);
    const urls = dashboards.flatMap(({ json }) => [
      ...json.links.map((l) => l.url),
      ...[...JSON.stringify(json.panels).matchAll(/"url":\s*"([^"]+)"/g)].map((m) => m[1] as string),
    ]);
    expect(urls.length).toBeGreaterThan(5);
    for (const url of urls) {
      const uid = /^\/d\/([\w-]+)\//.exec(url)?.[1];
      expect(uid && known.has(uid), url).toBe(true);
    }
  });

  it('the power curve drawn on the Power dashboard is the documented one', () => {
    const power = dashboards.find((d) => d.json.uid === 'fleetgrid-power')?.json as Dashboard;
    const sql = allPanels(power)
      .flatMap((p) => p.targets ?? [])
      .map((t) => t.rawSql ?? '')
      .find((s) => s.includes('curve_kw')) as string;
    const points = [
      ...(/arrayJoin\(\[(.*)\]\)/.exec(sql)?.[1] ?? '').matchAll(/\(([\d.]+), ([\d.]+)\)/g),
    ].map((m) => [Number(m[1]), Number(m[2])] as const);
    // Every point of domain/power-curve.ts, plus the flat part up to cut-out.
    expect(points.slice(0, POWER_CURVE_TABLE.length)).toEqual(POWER_CURVE_TABLE.map(([w, p]) => [w, p]));
    expect(points.at(-1)).toEqual([25, 3000]);
  });
});

describe('Grafana condition-monitoring panels', () => {
  /** Grafana's variable in a panel title, as written in the JSON. */
  const LOD_SUFFIX = ` ($${'{lod}'})`;
  /** Panel title (without the level of detail) → the rule whose thresholds it draws. */
  const RULE_OF_PANEL: Record<string, string> = {
    'Engine temperature': 'truck.engine_overheat',
    'Cargo temperature': 'truck.cargo_temp_breach',
    Vibration: 'turbine.high_vibration',
    'Solar panel temperature': 'solar.panel_overheat',
  };

  it('draw the thresholds of the alert rules themselves (processors/alerts/rules.ts)', () => {
    const panels = dashboards.flatMap(({ json }) => allPanels(json));
    for (const [title, ruleId] of Object.entries(RULE_OF_PANEL)) {
      const panel = panels.find((p) => p.title.replace(LOD_SUFFIX, '') === title) as Panel & {
        description?: string;
        fieldConfig: { defaults: { thresholds?: { steps: { value: number | null }[] } } };
      };
      expect(panel, title).toBeDefined();
      const rule = ALERT_RULES.find((r) => r.id === ruleId);
      if (rule?.type !== 'sustained') throw new Error(`${ruleId} is not a threshold rule`);
      const limits = [...new Set([...rule.resolveWhen, ...rule.when].map((p) => p.value))].sort(
        (a, b) => a - b,
      );
      const steps = panel.fieldConfig.defaults.thresholds?.steps
        .map((s) => s.value)
        .filter((v) => v !== null);
      expect(steps, title).toEqual(limits);
      expect(panel.description, title).toContain(ruleId);
    }
  });
});

// --- ClickHouse panels on the embedded engine ----------------------------------------------------
describe('Grafana ClickHouse panels run on the embedded engine', () => {
  let backend: ClickHouseBackend;
  let world: FixtureWorld;
  const dataDir = mkdtempSync(join(tmpdir(), 'fleetgrid-grafana-'));

  beforeAll(async () => {
    backend = await createEmbeddedBackend({ mode: 'embedded', dataDir, database: 'fleetgrid' });
    await migrate(backend, { RAW_TTL_DAYS: '30', AGG_TTL_DAYS: '400' });
    world = buildWorld();
    await loadWorld(backend, world);
  });

  afterAll(async () => {
    await backend?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Time ranges ending just after the fixture data, and the level of detail `auto` must pick. */
  const ranges = (): { span: number; lod: string }[] => [
    { span: 15 * MINUTE, lod: 'raw' },
    { span: 6 * 60 * MINUTE, lod: '1m' },
    { span: 7 * 24 * 60 * MINUTE, lod: '1h' },
    { span: 90 * 24 * 60 * MINUTE, lod: '1d' },
  ];
  const rangeOf = (span: number): TimeRange => ({
    fromMs: world.end + MINUTE - span,
    toMs: world.end + MINUTE,
  });

  /** Resolves the dashboard's variables in order, as Grafana does on load (query variables run). */
  async function resolveVariables(
    d: Dashboard,
    range: TimeRange,
    pick: Record<string, string>,
  ): Promise<Variables> {
    const vars: Variables = {};
    for (const v of d.templating.list) {
      let options: string[];
      if (v.type === 'custom') options = sqlOf(v).split(',');
      else if (v.type === 'query') {
        const rows = await backend.query<Record<string, unknown>>(expandQuery(sqlOf(v), vars, range));
        options = rows.map((row) => String(Object.values(row)[0]));
      } else throw new Error(`variable type ${v.type} not handled`);
      const chosen = pick[v.name];
      if (chosen !== undefined) {
        expect(options, `${v.name} offers ${chosen}`).toContain(chosen);
        vars[v.name] = { values: [chosen], all: false, multi: Boolean(v.multi) };
      } else if (v.includeAll) {
        vars[v.name] = { values: options, all: true, multi: Boolean(v.multi) };
      } else {
        const current = v.current?.value;
        const value = v.type === 'custom' && typeof current === 'string' ? current : (options[0] ?? '');
        vars[v.name] = { values: [value], all: false, multi: Boolean(v.multi) };
      }
    }
    return vars;
  }

  async function problemsOf(d: Dashboard, vars: Variables, range: TimeRange): Promise<string[]> {
    const problems: string[] = [];
    for (const panel of allPanels(d)) {
      const targets = chTargets(panel);
      if (targets.length === 0) continue;
      const results: Result[] = [];
      for (const t of targets) {
        const sql = expandQuery(t.rawSql ?? '', vars, range);
        try {
          results.push(await runTarget(backend, sql));
        } catch (error) {
          problems.push(`panel ${panel.id} "${panel.title}" ${t.refId}: ${(error as Error).message}\n${sql}`);
        }
      }
      if (results.length === targets.length) problems.push(...shapeProblems(panel, results));
    }
    return problems;
  }

  for (const { file } of dashboards) {
    it(`${file}: every ClickHouse query returns rows of its panel's shape at every level of detail`, async () => {
      const d = dashboards.find((x) => x.file === file)?.json as Dashboard;
      if (!allPanels(d).some((p) => chTargets(p).length > 0)) return;
      const problems: string[] = [];
      for (const { span, lod } of ranges()) {
        const range = rangeOf(span);
        const vars = await resolveVariables(d, range, {});
        // `auto` must pick what the API's `auto` picks for this span.
        if (vars.lod) expect(vars.lod.values, `lod for a span of ${span / MINUTE} min`).toEqual([lod]);
        for (const p of await problemsOf(d, vars, range)) problems.push(`[${lod}] ${p}`);
      }
      expect(problems).toEqual([]);
    });
  }

  it('auto picks the step the API picks, on both sides of every boundary', async () => {
    const fleet = dashboards.find((x) => x.json.uid === 'fleetgrid-fleet')?.json as Dashboard;
    const lodVariable = fleet.templating.list.find((v) => v.name === 'lod') as Variable;
    const api = parseQueryConfig({});
    const seconds = [60, 1_000, 1_001, 59_999, 60_000, 60_001, 3_600_000, 3_600_001, 90 * 86_400];
    for (const s of seconds) {
      const range = { fromMs: world.end - s * 1000, toMs: world.end };
      const sql = expandQuery(
        sqlOf(lodVariable),
        { step: { values: ['auto'], all: false, multi: false } },
        range,
      );
      const [row] = await backend.query<{ lod: string }>(sql);
      const expected = chooseStep(s * 1000, {
        allowRaw: true,
        sampleIntervalMs: api.sampleIntervalMs,
        caps: api.caps,
      });
      expect(row?.lod, `span ${s} s`).toBe(expected);
    }
  });

  it('the `step` choice overrides auto, like the API', async () => {
    const fleet = dashboards.find((x) => x.json.uid === 'fleetgrid-fleet')?.json as Dashboard;
    const vars = await resolveVariables(fleet, rangeOf(6 * 60 * MINUTE), { step: '1h' });
    expect(vars.lod?.values).toEqual(['1h']);
  });

  it('drill-down: a depot narrows the trucks, a truck narrows every fleet panel to it', async () => {
    const fleet = dashboards.find((x) => x.json.uid === 'fleetgrid-fleet')?.json as Dashboard;
    const range = rangeOf(6 * 60 * MINUTE);
    const depotOnly = await resolveVariables(fleet, range, { depot: 'depot-rotterdam' });
    expect(depotOnly.truck?.values).toEqual(['truck-001', 'truck-002']);
    const vars = await resolveVariables(fleet, range, { depot: 'depot-rotterdam', truck: 'truck-001' });
    expect(await problemsOf(fleet, vars, range)).toEqual([]);
    for (const panel of allPanels(fleet)) {
      for (const t of chTargets(panel)) {
        const rows = await backend.query<Record<string, unknown>>(expandQuery(t.rawSql ?? '', vars, range));
        for (const row of rows) {
          if ('device_id' in row) expect(row.device_id, panel.title).toBe('truck-001');
        }
      }
    }
  });

  it('the Power dashboard filtered to one plant and turbine still fills every panel', async () => {
    const power = dashboards.find((x) => x.json.uid === 'fleetgrid-power')?.json as Dashboard;
    const range = rangeOf(6 * 60 * MINUTE);
    const vars = await resolveVariables(power, range, { plant: 'plant-northsea', turbine: 'turbine-001' });
    expect(await problemsOf(power, vars, range)).toEqual([]);
  });

  it("a trip's link (one truck, the trip's range in ms) makes the map's Track layer draw exactly that trip", async () => {
    const fleet = dashboards.find((x) => x.json.uid === 'fleetgrid-fleet')?.json as Dashboard;
    const table = allPanels(fleet).find((p) => p.title === 'Trips in the range') as Panel;
    const map = allPanels(fleet).find((p) => p.title === 'Truck positions') as Panel;
    const range = rangeOf(6 * 60 * MINUTE);
    const all = await resolveVariables(fleet, range, {});
    const trips = await backend.query<{ device_id: string; from_ms: string; to_ms: string }>(
      expandQuery(table.targets?.[0]?.rawSql ?? '', all, range),
    );
    expect(trips.length).toBeGreaterThan(0);
    const trip = trips[0] as (typeof trips)[number];
    // What the link sets: var-truck, from = from_ms, to = to_ms (the trip's first and last sample).
    // Digits only: a link interpolates the text of a field, and Grafana's `from`/`to` want epoch ms.
    expect([trip.from_ms, trip.to_ms]).toEqual([
      expect.stringMatching(/^\d+$/),
      expect.stringMatching(/^\d+$/),
    ]);
    const linked = { fromMs: Number(trip.from_ms), toMs: Number(trip.to_ms) };
    const vars = await resolveVariables(fleet, linked, { truck: trip.device_id });
    const track = map.targets?.find((t) => t.refId === 'B')?.rawSql ?? '';
    const rows = await backend.query<{ device_id: string; t: string }>(
      `SELECT device_id, toUnixTimestamp64Milli(time) AS t FROM (${expandQuery(track, vars, linked)})`,
    );
    const raw = (world.rows.truck_telemetry ?? [])
      .filter(
        (r) =>
          r.device_id === trip.device_id &&
          (r.ts as number) >= linked.fromMs &&
          (r.ts as number) <= linked.toMs,
      )
      .map((r) => r.ts as number)
      .sort((a, b) => a - b);
    expect(rows.map((r) => Number(r.t))).toEqual(raw);
    expect([raw[0], raw.at(-1)]).toEqual([linked.fromMs, linked.toMs]);
    expect(new Set(rows.map((r) => r.device_id))).toEqual(new Set([trip.device_id]));
  });

  it('the speed series equals the raw samples at raw detail and the newest window revision at 1m', async () => {
    const fleet = dashboards.find((x) => x.json.uid === 'fleetgrid-fleet')?.json as Dashboard;
    const speed = allPanels(fleet).find((p) => p.title.startsWith('Speed')) as Panel;
    const sql = speed.targets?.[0]?.rawSql ?? '';
    const range = rangeOf(15 * MINUTE);
    const vars = await resolveVariables(fleet, range, { depot: 'depot-lyon', truck: 'truck-003' });
    const rows = await backend.query<{ t: string; speed_kmh: number }>(expandQuery(sql, vars, range));
    const raw = (world.rows.truck_telemetry ?? []).filter(
      (r) =>
        r.device_id === 'truck-003' && (r.ts as number) >= range.fromMs && (r.ts as number) <= range.toMs,
    );
    expect(rows.length).toBe(raw.length);
    expect(rows.map((r) => r.speed_kmh)).toEqual(raw.map((r) => Math.fround(r.speed_kmh as number)));
  });
});

// --- Prometheus panels ----------------------------------------------------------------------------
describe('Grafana Prometheus panels', () => {
  const exprs = dashboards.flatMap(({ file, json }) =>
    allPanels(json).flatMap((p) =>
      (p.targets ?? [])
        .filter((t) => t.datasource?.uid === PROMETHEUS_UID)
        .map((t) => ({
          where: `${file} panel ${p.id} "${p.title}"`,
          // Grafana's own range variables, with the values Grafana would send.
          expr: (t.expr ?? '').replace(/\$__rate_interval|\$__interval|\$__range/g, '1m'),
        })),
    ),
  );

  it('every PromQL expression parses (promtool check rules)', async () => {
    expect(exprs.length).toBeGreaterThan(15);
    const dir = mkdtempSync(join(tmpdir(), 'fleetgrid-promql-'));
    try {
      const rules = exprs.map(
        (e, i) => `      - record: dashboard:expr_${i}\n        expr: ${JSON.stringify(e.expr)}`,
      );
      writeFileSync(
        join(dir, 'dashboards.yml'),
        `groups:\n  - name: dashboards\n    rules:\n${rules.join('\n')}\n`,
      );
      const { stdout } = await run('promtool', ['check', 'rules', join(dir, 'dashboards.yml')], {
        timeout: 60_000,
      });
      expect(stdout).toContain(`SUCCESS: ${exprs.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every PromQL expression selects metrics the services export or the fitness rules record', async () => {
    const rules = readFileSync(join(PROJECT_ROOT, 'infra/prometheus/rules/fleetgrid.yml'), 'utf8');
    const recorded = new Set([...rules.matchAll(/- record: ([\w:]+)/g)].map((m) => m[1] as string));
    const { exported, requested } = await metricCatalog();
    // ALERTS is the series Prometheus writes for its own alerting rules.
    const known = (name: string) =>
      exported.has(name) || recorded.has(name) || requested.has(name) || name === 'ALERTS';
    const unknown = exprs.flatMap((e) =>
      selectedMetrics(e.expr)
        .filter((n) => !known(n))
        .map((n) => `${e.where}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });
});
