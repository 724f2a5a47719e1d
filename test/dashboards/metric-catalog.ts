/**
 * Which metric names the fleetgrid services really export, so the tests of the Prometheus
 * rules and of the Grafana dashboards can refuse a query that names a metric nobody
 * exports (a typo there shows up as an empty panel or an alert that never fires, never
 * as an error). The names come from the components' own metric factories, instantiated
 * on a fresh registry, plus prom-client's default process metrics; components whose
 * factory is not known here are read from their source (literal `fleetgrid_…` names).
 *
 * Two names the fitness functions need are not exported by any service yet: they are
 * REQUESTED from their owner and accepted only while the owner exports nothing with
 * their stem (so a differently named or typed version fails here, and an exported one
 * is taken from the source like any other). docs/dashboards.md lists them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { createMetricsRegistry, type Registry } from '../../lib/metrics.ts';
import { createProcessorMetrics } from '../../processors/runner/metrics.ts';
import { createSinkMetrics } from '../../sinks/metrics.ts';

/** Folders whose metrics are declared with literal names (no exported factory). */
const LITERAL_OWNERS = ['producers', 'query'];

/** Metrics the rules use that `fleetgrid serve` should export (gauges computed at scrape time). */
export const REQUESTED: readonly { owner: string; name: string; labels: string }[] = [
  { owner: 'query', name: 'fleetgrid_query_freshness_seconds', labels: 'source' },
  { owner: 'query', name: 'fleetgrid_query_consumer_lag_records', labels: 'group, topic' },
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
  /** Requested names still missing (and not contradicted by a similar exported name). */
  requested: Set<string>;
}

export async function metricCatalog(): Promise<MetricCatalog> {
  const registry = createMetricsRegistry('catalog');
  createProcessorMetrics(registry);
  createSinkMetrics(registry);
  const exported = new Set([...(await namesOf(registry)), ...SCRAPE_SERIES]);
  for (const owner of LITERAL_OWNERS) {
    for (const name of literalNames(owner)) {
      exported.add(name);
      // A histogram declared literally exposes the three series of its family.
      if (/_seconds$|_bytes$/.test(name) && !name.endsWith('_total')) {
        for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${name}${suffix}`);
      }
    }
  }
  const requested = new Set<string>();
  for (const r of REQUESTED) {
    if (exported.has(r.name)) continue;
    const stem = r.name.replace(/_(seconds|records)$/, '');
    const similar = [...exported].filter((n) => n.startsWith(stem));
    if (similar.length > 0)
      throw new Error(`${r.name} was requested, but ${r.owner} exports ${similar.join(', ')}`);
    requested.add(r.name);
  }
  return { exported, requested };
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
