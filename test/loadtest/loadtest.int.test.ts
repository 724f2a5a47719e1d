/**
 * Acceptance of issue 8: a short load test end to end through the real pipeline. The
 * command starts its own processor and sink on a private topic prefix and data dir
 * (--start-pipeline), offers a spike profile for a few seconds, and must reconcile:
 * everything Kafka acknowledged is in ClickHouse once, nothing lost, nothing duplicated.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, PROJECT_ROOT } from '../../lib/config.ts';
import { createKafkaClient } from '../../lib/kafka/index.ts';
import { silentLogger } from '../../lib/log.ts';
import type { LoadTestReport } from '../../loadtest/report.ts';

const reportDir = mkdtempSync(resolve(tmpdir(), 'fleetgrid-loadtest-test-'));

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [resolve(PROJECT_ROOT, 'bin/fleetgrid.mjs'), ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, LOG_LEVEL: 'warn' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('exit', (code) => resolveRun({ code, stdout, stderr }));
  });
}

afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

describe('fleetgrid loadtest --start-pipeline', () => {
  it('offers a short spike, reconciles every produced event once and writes the report', async () => {
    const run = await runCli([
      'loadtest',
      '--profile',
      'spike',
      '--rate',
      '100',
      '--duration',
      '12',
      '--spike-at',
      '3',
      '--spike-for',
      '2',
      '--devices',
      '30',
      '--partitions',
      '3',
      '--window-size',
      '4',
      '--grace',
      '1',
      '--drain-timeout',
      '60',
      '--start-pipeline',
      '--probe-api',
      '--report',
      reportDir,
    ]);
    expect(run.stderr.slice(-2_000) + run.stdout).toContain('reconciliation: OK');
    expect(run.code).toBe(0);

    const report = JSON.parse(readFileSync(resolve(reportDir, 'report.json'), 'utf8')) as LoadTestReport;
    // The profile: 10 s at 100/s plus 2 s at 1 000/s.
    expect(report.totals.offered).toBe(100 * 10 + 1_000 * 2);
    expect(report.totals.produced).toBe(report.totals.offered);

    const r = report.reconciliation!;
    expect(r).toMatchObject({ ok: true, lost: 0, duplicates: 0, unexpected: 0, deadLettered: 0 });
    expect(r.produced).toBe(report.totals.produced);
    expect(r.stored).toBe(report.totals.produced);
    expect(r.deviceMismatchCount).toBe(0);
    expect(r.devicesChecked).toBe(30);

    // Every part of the report is there.
    expect(report.settings.pipeline).toBe('started');
    expect(report.settings.groups).toHaveLength(2);
    expect(report.series.length).toBeGreaterThan(5);
    const point = report.series[3]!;
    for (const group of report.settings.groups) expect(point.lag[group]).toBeGreaterThanOrEqual(0);
    expect(point.cpuPct.processor).toBeGreaterThanOrEqual(0);
    expect(point.rssMiB.sink).toBeGreaterThan(0);
    expect(report.freshness.raw.count).toBe(report.totals.produced);
    expect(report.freshness.raw.p50?.ms).toBeGreaterThan(0);
    expect(report.freshness.raw.p99?.ms).toBeGreaterThanOrEqual(report.freshness.raw.p50!.ms);
    expect(report.freshness.rawSeries.length).toBeGreaterThan(5);
    expect(report.freshness.aggregates.count).toBeGreaterThan(0);
    expect(report.phases.map((p) => p.label)).toEqual(['before spike', 'spike', 'after spike']);
    expect(report.spike?.spikeEndS).toBe(5);
    expect(report.processes.map((p) => p.name)).toEqual(
      expect.arrayContaining(['loadtest', 'processor', 'sink', 'kafka']),
    );
    expect(report.backpressure.services).toBe(2);
    expect(report.backpressure.scrapes).toBeGreaterThan(0);

    // The query API started for the probe answered through the run.
    expect(report.queryApi?.requests).toBeGreaterThan(5);
    expect(report.queryApi?.p99Ms).toBeGreaterThan(0);
    expect(report.queryApi?.phases.map((p) => p.label)).toEqual([
      'before spike',
      'spike',
      'after spike',
      'drain',
    ]);

    // Memory of every started service (and the generator), sampled through the run.
    for (const name of ['loadtest', 'processor', 'sink', 'api']) {
      const memory = report.memory?.services[name];
      expect(memory?.rssMiB?.min, name).toBeGreaterThan(0);
      expect(memory?.heapUsedMiB?.min, name).toBeGreaterThan(0);
      expect(memory?.series.length, name).toBeGreaterThan(5);
    }

    const html = readFileSync(resolve(reportDir, 'report.html'), 'utf8');
    // Six charts, then the services' heap used and heap total, and the query API's latency.
    expect((html.match(/<svg /g) ?? []).length).toBe(9);
    expect(existsSync(resolve(reportDir, 'sink.log'))).toBe(true);

    // The run cleaned up after itself: no topic of its prefix is left.
    const kafka = createKafkaClient(loadConfig().kafka, { log: silentLogger });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const left = (await admin.listTopics()).filter((t) => t.startsWith(report.settings.topicPrefix));
      expect(left).toEqual([]);
    } finally {
      await admin.disconnect();
    }
  });
});
