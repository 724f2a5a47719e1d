/**
 * Which metric names the fleetgrid services really export, so the tests of the Prometheus
 * rules and of the Grafana dashboards can refuse a query that names a metric nobody
 * exports (a typo there shows up as an empty panel or an alert that never fires, never
 * as an error). The names come from the components' own metric factories, instantiated
 * on a fresh registry, plus prom-client's default process metrics; components whose
 * factory is not known here are read from their source (literal `fleetgrid_…` names).
 *
 * Names the rules need before a component exports them are listed in PENDING with their
 * owner folder: accepted only while that folder names no metric of its prefix at all.
 * As soon as the component exports metrics, a pending name it does not export fails.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { createMetricsRegistry, type Registry } from '../../lib/metrics.ts';
import { createProcessorMetrics } from '../../processors/runner/metrics.ts';
import { createSinkMetrics } from '../../sinks/metrics.ts';

/** Metric names assumed from the DESIGN §5 convention, by owner folder and prefix. */
export const PENDING: readonly { owner: string; prefix: string; names: readonly string[] }[] = [
  {
    owner: 'producers',
    prefix: 'fleetgrid_producer_',
    names: ['fleetgrid_producer_sent_total', 'fleetgrid_producer_dead_lettered_total'],
  },
  {
    owner: 'query',
    prefix: 'fleetgrid_query_',
    names: ['fleetgrid_query_freshness_seconds', 'fleetgrid_query_consumer_lag_records'],
  },
];

/** Series Prometheus itself adds to every scrape. */
const SCRAPE_SERIES = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped'];

async function namesOf(registry: Registry): Promise<string[]> {
  const names: string[] = [];
  for (const metric of await registry.getMetricsAsJSON()) {
    names.push(metric.name);
    const type = String(metric.type);
    if (type === 'histogram')
      names.push(`${metric.name}_bucket`, `${metric.name}_sum`, `${metric.name}_count`);
    if (type === 'summary') names.push(`${metric.name}_sum`, `${metric.name}_count`);
  }
  return names;
}

function sourceFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return entry === 'node_modules' ? [] : sourceFiles(path);
    return entry.endsWith('.ts') && !entry.endsWith('.test.ts') ? [path] : [];
  });
}

/** Literal metric names in a folder's sources (`'fleetgrid_query_requests_total'`). */
export function literalNames(owner: string): Set<string> {
  const names = new Set<string>();
  for (const file of sourceFiles(join(PROJECT_ROOT, owner))) {
    for (const match of readFileSync(file, 'utf8').matchAll(/fleetgrid_[a-z0-9_]+/g)) names.add(match[0]);
  }
  return names;
}

export interface MetricCatalog {
  /** Every name a scrape of a fleetgrid service can return. */
  exported: Set<string>;
  /** Pending names accepted because their component exports no metrics yet. */
  assumed: Set<string>;
}

export async function metricCatalog(): Promise<MetricCatalog> {
  const registry = createMetricsRegistry('catalog');
  createProcessorMetrics(registry);
  createSinkMetrics(registry);
  const exported = new Set([...(await namesOf(registry)), ...SCRAPE_SERIES]);
  const assumed = new Set<string>();
  for (const pending of PENDING) {
    const literal = literalNames(pending.owner);
    const componentStarted = [...literal].some((name) => name.startsWith(pending.prefix));
    for (const name of literal) if (name.startsWith(pending.prefix)) exported.add(name);
    // Histograms declared literally expose the three series of the family.
    for (const name of literal) {
      if (name.startsWith(pending.prefix) && /_seconds$|_bytes$/.test(name)) {
        for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${name}${suffix}`);
      }
    }
    if (!componentStarted) for (const name of pending.names) assumed.add(name);
  }
  return { exported, assumed };
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'and',
  'or',
  'unless',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression selects: identifiers that are neither functions
 * (followed by `(`), keywords, label names inside `{…}` or grouping clauses, nor parts
 * of strings and durations. Enough for our expressions; parsing itself is promtool's job.
 */
export function selectedMetrics(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const match of stripped.matchAll(/(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = match[0];
    const after = stripped.slice((match.index ?? 0) + word.length).trimStart();
    if (after.startsWith('(')) continue;
    if (KEYWORDS.has(word.toLowerCase())) continue;
    names.push(word);
  }
  return names;
}
