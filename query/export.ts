/**
 * The CSV forms of the API's answers (`?format=csv` or `Accept: text/csv`), pure: which
 * columns each export has and how a row of the JSON answer fills them. The quoting and the
 * formula guard are csv.ts's. One line per row of the answer's list; times as ISO UTC.
 */
import { type CsvColumn, toCsv } from './csv.ts';
import { GROUP_FIELDS, type GroupBy, type SummaryRow } from './service.ts';
import { TRIP_FIELDS, type Trip } from './trips.ts';

/** Routes that can answer CSV, and the file name their download suggests. */
export const CSV_EXPORTS = ['summary', 'series', 'alerts', 'trips'] as const;
export type CsvExport = (typeof CSV_EXPORTS)[number];

const col = <R>(header: string, value: (row: R) => unknown): CsvColumn<R> => ({ header, value });

const SUMMARY_FIELDS: readonly (keyof SummaryRow)[] = [
  'kind',
  'devices',
  'activeDevices',
  'events',
  'avgSpeedKmh',
  'distanceKm',
  'engineOnHours',
  'idleHours',
  'energyKwh',
  'availability',
  'capacityKw',
  'capacityFactor',
  'alertsRaised',
  'alertsOpen',
];

/**
 * The summary: one line per group (per kind, or per site, model or driver and kind), with
 * the range on every line and the group's naming fields (GROUP_FIELDS) before the figures.
 */
export function summaryCsv(
  answer: { from: string; to: string; rows: readonly SummaryRow[] },
  groupBy: GroupBy,
): string {
  type Row = SummaryRow;
  return toCsv<Row>(
    [
      col('from', () => answer.from),
      col('to', () => answer.to),
      ...GROUP_FIELDS[groupBy].map((field) => col<Row>(field, (r) => r[field])),
      ...SUMMARY_FIELDS.map((field) => col<Row>(field, (r) => r[field])),
    ],
    answer.rows,
  );
}

type SeriesPoint = { t: string; value?: number } & Partial<
  Record<'count' | 'min' | 'max' | 'avg' | 'sum' | 'revision', number | null> & { final: boolean }
>;

/** A series: raw points as t,value; bucketed ones with their statistics. */
export function seriesCsv(answer: {
  deviceId: string;
  metric: string;
  step: string;
  points: readonly SeriesPoint[];
}): string {
  const head = [
    col<SeriesPoint>('deviceId', () => answer.deviceId),
    col<SeriesPoint>('metric', () => answer.metric),
    col<SeriesPoint>('t', (p) => p.t),
  ];
  if (answer.step === 'raw')
    return toCsv([...head, col<SeriesPoint>('value', (p) => p.value)], answer.points);
  const stats = ['count', 'min', 'max', 'avg', 'sum', 'final', 'revision'] as const;
  return toCsv([...head, ...stats.map((s) => col<SeriesPoint>(s, (p) => p[s]))], answer.points);
}

interface AlertLine {
  alertId: string;
  rule: string;
  deviceId: string;
  siteId: string;
  kind: string;
  state: string;
  severity: string;
  raisedAt: string;
  resolvedAt: string | null;
  updatedAt: string;
  value: number | null;
  threshold: number | null;
  message: string;
  model: string | null;
  driverId: string | null;
  ruleVersion: number;
}

const ALERT_FIELDS: readonly (keyof AlertLine)[] = [
  'alertId',
  'rule',
  'deviceId',
  'siteId',
  'kind',
  'state',
  'severity',
  'raisedAt',
  'resolvedAt',
  'updatedAt',
  'value',
  'threshold',
  'message',
  'model',
  'driverId',
  'ruleVersion',
];

/** Alerts, one line each, every field of the JSON answer. */
export function alertsCsv(answer: { alerts: readonly AlertLine[] }): string {
  return toCsv(
    ALERT_FIELDS.map((field) => col<AlertLine>(field, (a) => a[field])),
    answer.alerts,
  );
}

/** A truck's trips, one line each, every field of the JSON answer. */
export function tripsCsv(answer: { trips: readonly Trip[] }): string {
  return toCsv(
    TRIP_FIELDS.map((field) => col<Trip>(field, (t) => t[field])),
    answer.trips,
  );
}
