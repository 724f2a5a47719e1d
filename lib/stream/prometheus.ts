/**
 * The one parser of the Prometheus text exposition format (0.0.4) in fleetgrid: what the
 * query side reads off the services' /metrics for pipeline health, and what the load test
 * samples while it runs. Pure.
 */

export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_match, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(raw: string): number {
  if (raw === '+Inf') return Number.POSITIVE_INFINITY;
  if (raw === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(raw);
}

/**
 * The samples of an exposition: comments, blank lines and lines that are not samples are
 * skipped; a sample whose value is NaN is left out (it would poison every sum).
 */
export function parsePrometheusText(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const value = parseValue(match[3] as string);
    if (Number.isNaN(value)) continue;
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(LABEL)) {
      labels[label[1] as string] = unescapeLabel(label[2] as string);
    }
    out.push({ name: match[1] as string, labels, value });
  }
  return out;
}

/** Sum of every sample of `name` (all label sets). */
export function sumMetric(samples: readonly MetricSample[], name: string): number {
  let sum = 0;
  for (const sample of samples) if (sample.name === name) sum += sample.value;
  return sum;
}

export function hasMetric(samples: readonly MetricSample[], name: string): boolean {
  return samples.some((sample) => sample.name === name);
}
