/**
 * The catalogue of read statements: every statement the query side sends to ClickHouse
 * (the API, `fleetgrid serve --direct`, the load test's reconciliation, the tests' row
 * counts) has a name here and typed arguments. A client names a template and gives its
 * arguments; whoever runs it (this process, or the sink's query endpoint,
 * sinks/query-server.ts) validates them with the template's strict schema and renders the
 * SQL with the builders of sql.ts: values travel as bound parameters, and the few parts of
 * the SQL that vary (tables, columns, grouping, optional filters) are chosen from
 * allow-lists by enum arguments. No text from a client ever becomes SQL, so the endpoint
 * cannot be made to run anything else: no table function, no INTO OUTFILE, no second
 * statement, no write (docs/security.md argues the design).
 *
 * Imported by both sides: the sink's endpoint (to render) and the query side (for the
 * names and argument types). It depends only on the pure builders and allow-lists.
 */
import { z } from 'zod';
import { FleetgridError } from '../lib/errors.ts';
import { ID_PATTERN } from '../schemas/ids.ts';
import { RAW_TABLES, TABLE_COLUMNS, type TableName } from '../sinks/rows.ts';
import { ALL_METRICS, isDerivedMetric, metricFor, RAW_COLUMNS } from './catalog.ts';
import { COMMAND_ID_PATTERN } from './alert-actions.ts';
import * as sql from './sql.ts';
import * as views from './sql-views.ts';
import { tripsSql } from './sql-trips.ts';

/** Epoch milliseconds from 1970 to the year 9999: what DateTime64(3) holds. */
const epochMs = z.number().int().min(0).max(253_402_300_799_999);
const range = z.strictObject({ from: epochMs, to: epochMs });
/** Ids in a statement are ids the API accepted (schemas/ids.ts). */
const id = z.string().regex(ID_PATTERN);
const kind = z.enum(['TRUCK', 'TURBINE', 'SOLAR']);
/** Alert ids are UUID-shaped (processors/alerts/engine.ts): they fit the id rule. */
const alertIdArg = id;
const step = z.enum(['1m', '1h', '1d']);
const windowSource = z.enum(['windows', 'rollups']);
const rowLimit = z.number().int().min(1).max(1_000_001);
const positiveMs = z
  .number()
  .int()
  .min(1)
  .max(2 ** 32 - 1);
/** Load-test run tags: lower-case letters and digits (loadtest/observe.ts). */
const runTag = z.string().regex(/^[a-z0-9]{1,64}$/);
const tableName = z.enum(Object.keys(TABLE_COLUMNS) as [TableName, ...TableName[]]);
const rawTable = z.enum(RAW_TABLES);
const RAW_FIELDS = Object.keys(RAW_COLUMNS) as [string, ...string[]];

interface Template<S extends z.ZodType> {
  args: S;
  render(args: z.output<S>): sql.Statement;
}

const template = <S extends z.ZodType>(
  args: S,
  render: (args: z.output<S>) => sql.Statement,
): Template<S> => ({
  args,
  render,
});

const none = z.strictObject({});

/** A device's metric as the builders need it; the name was checked against the catalogue. */
function metricInfo(name: string, deviceKind?: z.output<typeof kind>) {
  const info = deviceKind
    ? metricFor(deviceKind, name)
    : { name, source: isDerivedMetric(name) ? ('derived' as const) : ('field' as const), column: undefined };
  if (!info) throw new FleetgridError('INVALID_ARGUMENT', 'metric: not a metric of this kind');
  return info;
}

export const TEMPLATES = {
  // --- the query API (query/service.ts) ---------------------------------------------------
  summaryPartials: template(
    z.strictObject({
      ranges: z.array(range).min(1).max(4),
      group: z.enum(['none', 'hour', 'minute']),
      perDevice: z.boolean().optional(),
      source: windowSource.optional(),
    }),
    (a) => sql.summaryPartialsSql(a.ranges, a.group, a.perDevice, a.source),
  ),
  energyPartials: template(
    z.strictObject({ range, group: z.enum(['hour', 'minute']), source: windowSource.optional() }),
    (a) => sql.energyPartialsSql(a.range, a.group, a.source),
  ),
  rollupProgress: template(none, () => sql.rollupProgressSql()),
  summaryDevices: template(z.strictObject({ perDevice: z.boolean().optional() }), (a) =>
    sql.summaryDevicesSql(a.perDevice),
  ),
  summaryAlerts: template(z.strictObject({ range, perDevice: z.boolean().optional() }), (a) =>
    sql.summaryAlertsSql(a.range, a.perDevice),
  ),
  dimDevices: template(none, () => sql.dimDevicesSql()),
  devices: template(
    z.strictObject({
      kind: kind.optional(),
      siteId: id.optional(),
      // Where the page starts (query/params.ts decodeCursor): after any stored id (ids were
      // not always validated at ingestion), or after the long one of this prefix and hash.
      after: z.string().max(2_048).optional(),
      afterPrefix: z.string().max(2_048).optional(),
      afterSha256: z
        .string()
        .regex(/^[0-9a-f]{64}$/)
        .optional(),
      limit: rowLimit,
    }),
    (a) => sql.devicesSql(a),
  ),
  deviceState: template(z.strictObject({ deviceId: id }), (a) => sql.deviceStateSql(a.deviceId)),
  seriesAggregate: template(
    z.strictObject({ deviceId: id, metric: z.enum(ALL_METRICS as [string, ...string[]]), step, range }),
    (a) => sql.seriesAggregateSql(a.deviceId, metricInfo(a.metric), a.step, a.range),
  ),
  seriesRaw: template(
    z.strictObject({ deviceId: id, kind, metric: z.enum(RAW_FIELDS), range, limit: rowLimit }),
    (a) => sql.seriesRawSql(a.deviceId, a.kind, metricInfo(a.metric, a.kind), a.range, a.limit),
  ),
  siteExists: template(z.strictObject({ siteId: id }), (a) => sql.siteExistsSql(a.siteId)),
  siteEnergy: template(z.strictObject({ siteId: id, step, range }), (a) =>
    sql.siteEnergySql(a.siteId, a.step, a.range),
  ),
  alerts: template(
    z.strictObject({
      state: z.enum(['open', 'resolved', 'all']),
      // Rule ids are data (processors/alerts/rules.ts, later the registry): bound, not listed.
      rule: z.string().min(1).max(128).optional(),
      deviceId: id.optional(),
      range: range.optional(),
      limit: rowLimit,
    }),
    (a) => sql.alertsSql(a),
  ),
  alertById: template(z.strictObject({ alertId: alertIdArg }), (a) => sql.alertByIdSql(a.alertId)),
  alertActions: template(
    z.strictObject({ alertIds: z.array(alertIdArg).min(1).max(1_000), limit: rowLimit }),
    (a) => sql.alertActionsSql(a.alertIds, a.limit),
  ),
  alertCommand: template(z.strictObject({ commandId: z.string().regex(COMMAND_ID_PATTERN) }), (a) =>
    sql.alertCommandSql(a.commandId),
  ),
  freshness: template(none, () => sql.freshnessSql()),
  deadLetters: template(none, () => sql.deadLettersSql()),
  deadLetterTotals: template(none, () => sql.deadLetterTotalsSql()),
  projectionTables: template(none, () => sql.projectionTablesSql()),
  asOfCount: template(z.strictObject({ deviceId: id, kind, asOf: epochMs }), (a) =>
    sql.asOfCountSql(a.deviceId, a.kind, a.asOf),
  ),
  asOfSample: template(z.strictObject({ deviceId: id, kind, asOf: epochMs }), (a) =>
    sql.asOfSampleSql(a.deviceId, a.kind, a.asOf),
  ),
  asOfEngineEvents: template(z.strictObject({ deviceId: id, asOf: epochMs }), (a) =>
    sql.asOfEngineEventsSql(a.deviceId, a.asOf),
  ),
  asOfDiagnostics: template(z.strictObject({ deviceId: id, asOf: epochMs, limit: rowLimit }), (a) =>
    sql.asOfDiagnosticsSql(a.deviceId, a.asOf, a.limit),
  ),
  asOfEnergy: template(
    z.strictObject({
      deviceId: id,
      kind: z.enum(['TURBINE', 'SOLAR']),
      dayStart: epochMs,
      asOf: epochMs,
      windowSizeMs: positiveMs,
      sampleIntervalMs: positiveMs,
    }),
    (a) => sql.asOfEnergySql(a.deviceId, a.kind, a, a),
  ),
  asOfOpenAlerts: template(z.strictObject({ deviceId: id, asOf: epochMs }), (a) =>
    sql.asOfOpenAlertsSql(a.deviceId, a.asOf),
  ),

  // --- the dashboard's drill-down pages (query/service.ts, sql-views.ts) -------------------
  extent: template(none, () => views.extentSql()),
  diagnostics: template(z.strictObject({ deviceId: id, range, limit: rowLimit }), (a) =>
    views.diagnosticsSql(a.deviceId, a.range, a.limit),
  ),
  statusChanges: template(
    z.strictObject({
      deviceId: id,
      kind: z.enum(['TURBINE', 'SOLAR']),
      range,
      gapMs: positiveMs,
      limit: rowLimit,
    }),
    (a) => views.statusChangesSql(a.deviceId, a.kind, a.range, a.gapMs, a.limit),
  ),
  track: template(z.strictObject({ deviceId: id, range, bucketMs: positiveMs, limit: rowLimit }), (a) =>
    views.trackSql(a.deviceId, a.range, a.bucketMs, a.limit),
  ),
  trips: template(z.strictObject({ deviceId: id, range, limit: rowLimit }), (a) =>
    tripsSql(a.deviceId, a.range, a.limit),
  ),
  performance: template(z.strictObject({ deviceId: id, step, range }), (a) =>
    views.performanceSql(a.deviceId, a.step, a.range),
  ),

  // --- inspection: row counts for operators, replay checks and tests ---------------------
  tableRows: template(z.strictObject({ table: tableName }), (a) => sql.tableRowsSql(a.table)),
  tableDistinctEvents: template(z.strictObject({ table: rawTable }), (a) =>
    sql.tableDistinctEventsSql(a.table),
  ),

  // --- the load test's reconciliation of one run (loadtest/observe.ts) --------------------
  runRawFreshness: template(
    z.strictObject({ runTag, startMs: epochMs, fromMs: epochMs, toMs: epochMs }),
    (a) => sql.runRawFreshnessSql(a),
  ),
  runAggregateFreshness: template(
    z.strictObject({
      runTag,
      startMs: epochMs,
      graceMs: z.number().int().min(0).max(86_400_000),
      closedByMs: epochMs,
    }),
    (a) => sql.runAggregateFreshnessSql(a),
  ),
  runTableTally: template(z.strictObject({ runTag }), (a) => sql.runTableTallySql(a.runTag)),
  runDeadLetters: template(
    z.strictObject({ runTag, stage: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/) }),
    (a) => sql.runDeadLettersSql(a.runTag, a.stage),
  ),
  runDeviceSeqRanges: template(z.strictObject({ runTag }), (a) => sql.runDeviceSeqRangesSql(a.runTag)),
  runRawCount: template(z.strictObject({ runTag }), (a) => sql.runRawCountSql(a.runTag)),
  runWindows: template(z.strictObject({ runTag }), (a) => sql.runWindowsSql(a.runTag)),
  runAlertTransitions: template(z.strictObject({ runTag }), (a) => sql.runAlertTransitionsSql(a.runTag)),
  runDeviceStates: template(z.strictObject({ runTag }), (a) => sql.runDeviceStatesSql(a.runTag)),
} as const;

export type TemplateName = keyof typeof TEMPLATES;
export type TemplateArgs<N extends TemplateName> = z.input<(typeof TEMPLATES)[N]['args']>;

export const TEMPLATE_NAMES = Object.keys(TEMPLATES) as TemplateName[];

/**
 * What was wrong with the arguments, in words that never repeat the request: the path of a
 * known parameter and what it must be, never the value given nor an unknown key's name.
 */
function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path.map(String).join('.') || 'arguments';
      switch (issue.code) {
        case 'unrecognized_keys':
          return `${path}: unexpected parameter`;
        case 'invalid_type':
          return `${path}: expected ${issue.expected}`;
        case 'too_big':
        case 'too_small':
          return `${path}: out of range`;
        case 'invalid_value':
          return `${path}: not one of the allowed values`;
        case 'invalid_format':
          return `${path}: bad format`;
        default:
          return `${path}: invalid`;
      }
    })
    .join('; ');
}

/**
 * Validates a template call and renders its statement. A name that is not in the catalogue
 * or arguments that do not fit are INVALID_ARGUMENT, with messages that never echo them.
 */
export function renderTemplate(name: unknown, args: unknown): sql.Statement {
  if (typeof name !== 'string' || !Object.hasOwn(TEMPLATES, name))
    throw new FleetgridError('INVALID_ARGUMENT', 'not a statement template of the catalogue');
  const entry = TEMPLATES[name as TemplateName] as unknown as Template<z.ZodType>;
  const parsed = entry.args.safeParse(args ?? {});
  if (!parsed.success)
    throw new FleetgridError('INVALID_ARGUMENT', `template ${name}: ${describeIssues(parsed.error.issues)}`);
  return entry.render(parsed.data);
}
