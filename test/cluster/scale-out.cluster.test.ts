/**
 * Issue 15: scale-out proven. `fleetgrid loadtest --start-pipeline --fault scale-out` on a
 * private 3-node Kafka (replication 3, min ISR 2): the processors’ group grows 1 → 3 and
 * shrinks back to 1, three times, one member change begun every 5 s for a minute (the
 * third removal a kill -9, the others SIGTERM), and the sink is handed over halfway (stopped
 * cleanly, a new sink process on the same chDB data directory: two concurrent sinks cannot
 * share it). Every change is a rebalance under load; the run must still store every
 * acknowledged event exactly once and give every closed window, alert and device state the
 * crash-free reference gives.
 *
 * The 2-minute run at 10 s a change and 1,500 ev/s is `make bench-scale` (bench/scale.ts).
 * Not in `make test`: `make test-cluster` (vitest.cluster.config.ts), about 3 minutes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLoadTestConfig, runLoadTest } from '../../loadtest/index.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const quiet = { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream;

describe('scale-out under load on a 3-node cluster', () => {
  it('processors 1 → 3 → 1 three times and a sink handover: nothing lost, duplicated or wrong', async () => {
    const reportDir = mkdtempSync(resolve(tmpdir(), 'fleetgrid-cluster-scale-out-'));
    const { report } = await runLoadTest(
      parseLoadTestConfig({
        profile: 'constant',
        rate: 400,
        durationS: 80,
        devices: 40,
        partitions: 6,
        windowSizeS: 4,
        graceS: 1,
        startPipeline: true,
        processors: 1,
        fault: 'scale-out',
        faultAtS: 10,
        faultForS: 60,
        scaleEveryS: 5,
        faultKafkaNodes: 3,
        drainTimeoutS: 120,
        progress: false,
        reportDir,
      }),
      { progressStream: quiet },
    );
    const f = report.fault;
    const o = report.outputs;
    if (report.reconciliation?.ok && o?.ok) dirs.push(reportDir);
    else console.log(`scale-out: not reconciled, report kept in ${reportDir}`);
    // The figures for docs/reliability.md, whatever the outcome.
    console.log(
      JSON.stringify({
        events: f?.events,
        recovery: f?.recovery,
        produced: report.totals.produced,
        reconciliation: report.reconciliation,
        windows: o?.windows.judged,
        windowsWrong: o?.windows.wrong,
        alertsWrong: o?.alerts.wrong,
        statesWrong: o?.deviceState.wrong,
      }),
    );
    expect(f?.error).toBeUndefined();
    // Every change was made: 12 member changes (a kill -9 among them) and the handover.
    const events = f?.events.map((e) => e.event) ?? [];
    expect(events.filter((e) => / joined: \d processors?$/.test(e))).toHaveLength(6);
    expect(events.filter((e) => / stopped \(SIGTERM\): \d processors?$/.test(e))).toHaveLength(5);
    expect(events.filter((e) => / killed \(-9\): \d processors?$/.test(e))).toHaveLength(1);
    expect(events).toContain('sink handed over: the new sink is ready');
    expect(events.some((e) => e.startsWith('processor-3 joined: 3 processors'))).toBe(true);
    expect(events.at(-1)).toBe('scale-out done: 1 processor');
    expect(report.reconciliation).toMatchObject({ ok: true, lost: 0, duplicates: 0, unexpected: 0 });
    expect(report.reconciliation?.stored).toBe(report.totals.produced);
    expect(o?.windows.judged).toBeGreaterThan(0);
    expect(o?.windows.wrong, JSON.stringify(o?.windows.examples)).toBe(0);
    expect(o?.alerts.wrong, JSON.stringify(o?.alerts.examples)).toBe(0);
    expect(o?.deviceState.wrong).toBe(0);
    expect(o?.ok).toBe(true);
  });
});
