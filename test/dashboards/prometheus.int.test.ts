/**
 * The fitness functions (infra/prometheus): the config and rules pass promtool, the rule
 * unit tests pass, every rule names only metrics the services export, and what the
 * services export passes promtool's lint. promtool comes from Debian's `prometheus`
 * package (infra/local/setup-debian.sh).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { createProcessorMetrics } from '../../processors/runner/metrics.ts';
import { createSinkMetrics } from '../../sinks/metrics.ts';
import { metricCatalog, selectedMetrics } from './metric-catalog.ts';

const run = promisify(execFile);
const PROM_DIR = join(PROJECT_ROOT, 'infra/prometheus');

async function promtool(args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  if (input === undefined) return run('promtool', args, { cwd: PROM_DIR, timeout: 60_000 });
  return new Promise((resolve, reject) => {
    const child = execFile('promtool', args, { cwd: PROM_DIR, timeout: 60_000 }, (error, stdout, stderr) =>
      error ? reject(Object.assign(error, { stdout, stderr })) : resolve({ stdout, stderr }),
    );
    child.stdin?.end(input);
  });
}

/** The `expr:` values of a rules file (block scalars included), without a YAML parser. */
function ruleExpressions(yaml: string): string[] {
  const lines = yaml.split('\n');
  const exprs: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const match = /^(\s*)(?:- )?expr:\s*(.*)$/.exec(lines[i] as string);
    if (!match) continue;
    const indent = (match[1] ?? '').length;
    const inline = (match[2] ?? '').trim();
    if (inline !== '|' && inline !== '>') {
      exprs.push(inline);
      continue;
    }
    const body: string[] = [];
    while (i + 1 < lines.length) {
      const next = lines[i + 1] as string;
      if (next.trim() !== '' && next.length - next.trimStart().length <= indent) break;
      body.push(next.trim());
      i++;
    }
    exprs.push(body.join(' ').trim());
  }
  return exprs;
}

describe('Prometheus fitness functions', () => {
  it('the scrape config and its rule files pass promtool check config', async () => {
    const { stdout } = await promtool(['check', 'config', 'prometheus.yml']);
    expect(stdout).toContain('is valid prometheus config file syntax');
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('the rule unit tests pass promtool test rules', async () => {
    const { stdout } = await promtool(['test', 'rules', 'tests/fleetgrid.test.yml']);
    expect(stdout).toContain('SUCCESS');
    expect(stdout).not.toContain('FAILED');
  });

  it('every alert of the rules file is exercised by a unit test', () => {
    const rules = readFileSync(join(PROM_DIR, 'rules/fleetgrid.yml'), 'utf8');
    const tests = readFileSync(join(PROM_DIR, 'tests/fleetgrid.test.yml'), 'utf8');
    const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    expect(alerts.length).toBeGreaterThanOrEqual(7);
    for (const alert of alerts) expect(tests, `no unit test for ${alert}`).toContain(`alertname: ${alert}`);
  });

  it('every rule selects only metrics the services export or rules record', async () => {
    const rules = readFileSync(join(PROM_DIR, 'rules/fleetgrid.yml'), 'utf8');
    const recorded = new Set([...rules.matchAll(/- record: ([\w:]+)/g)].map((m) => m[1] as string));
    const { exported, requested } = await metricCatalog();
    const exprs = ruleExpressions(rules);
    expect(exprs.length).toBeGreaterThan(20);
    const unknown = exprs
      .flatMap(selectedMetrics)
      .filter((name) => !exported.has(name) && !recorded.has(name) && !requested.has(name));
    expect(unknown).toEqual([]);
  });

  it("the processor's and the sink's own metrics pass promtool check metrics", async () => {
    // Without prom-client's default metrics: three of its gauges end in _total, which
    // promtool rightly flags but which are not ours to rename.
    const registry = createMetricsRegistry('lint', { defaultMetrics: false });
    createProcessorMetrics(registry);
    createSinkMetrics(registry);
    // promtool exits non-zero on a lint problem (bad suffix, missing help, …).
    const { stdout, stderr } = await promtool(['check', 'metrics'], await registry.metrics());
    expect(`${stdout}${stderr}`.trim()).toBe('');
  });
});
