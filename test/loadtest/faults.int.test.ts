/**
 * The fault harness end to end (issue 12, docs/reliability.md): `runLoadTest` with a fault
 * against the real stack, and the output reconciliation shown able to fail.
 *
 * 1. sink-kill: the run kill -9s the sink it started and restarts it; every produced event
 *    must still be stored once and every closed device-window, alert and device state must
 *    match the produced events; the report names the fault and its recovery.
 * 2. A run without a fault whose one stored window is altered after the drain (a newer
 *    revision with one event too many, produced to the run's aggregates topic): the
 *    reconciliation must fail on exactly that window.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { createKafkaClient } from '../../lib/kafka/index.ts';
import { silentLogger } from '../../lib/log.ts';
import { parseLoadTestConfig, runLoadTest } from '../../loadtest/index.ts';
import { storedOutputs } from '../../loadtest/observe.ts';
import { createSerde } from '../../schemas/serde.ts';
import type { DeviceKindSymbol, WindowAggregate } from '../../schemas/types.ts';
import { eventually } from '../support/index.ts';

const dirs: string[] = [];
const reportDir = (name: string) => {
  const dir = mkdtempSync(resolve(tmpdir(), `fleetgrid-faults-${name}-`));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const quiet = { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream;

describe('fleetgrid loadtest --fault', () => {
  it('kills the sink with -9 mid-load, restarts it, and everything still reconciles', async () => {
    const dir = reportDir('sink-kill');
    const { report } = await runLoadTest(
      parseLoadTestConfig({
        profile: 'constant',
        rate: 400,
        durationS: 16,
        devices: 40,
        partitions: 3,
        windowSizeS: 2,
        graceS: 1,
        startPipeline: true,
        fault: 'sink-kill',
        faultAtS: 4,
        faultForS: 2,
        drainTimeoutS: 90,
        progress: false,
        reportDir: dir,
      }),
      { progressStream: quiet },
    );
    const f = report.fault!;
    expect(f.schedule).toMatchObject({ kind: 'sink-kill', atS: 4, forS: 2, endS: 6 });
    expect(f.events.map((e) => e.event)).toEqual(['sink killed (-9)', 'sink restarting', 'sink ready again']);
    expect(f.events[0]!.t).toBeGreaterThanOrEqual(4);
    expect(f.events[1]!.t).toBeGreaterThanOrEqual(6);
    // The restarted sink left the group for its killed predecessor (lib/stream member-record.ts)
    // instead of waiting out that member's 30 s session: ready again well before it expires.
    expect(f.events[2]!.t - f.events[0]!.t).toBeLessThan(20);
    expect(f.error).toBeUndefined();

    // Nothing lost, nothing twice, and the derived outputs are right.
    expect(report.totals.produced).toBe(400 * 16);
    expect(report.reconciliation).toMatchObject({ ok: true, lost: 0, duplicates: 0, unexpected: 0 });
    expect(report.reconciliation!.stored).toBe(report.totals.produced);
    const o = report.outputs!;
    expect(o.windows.wrong, JSON.stringify(o.windows.examples)).toBe(0);
    // 40 devices, windows of 2 s closed over most of 16 s.
    expect(o.windows.judged).toBeGreaterThan(40 * 4);
    expect(o.deviceState).toMatchObject({ devices: 40, wrong: 0 });
    expect(o.alerts.wrong, JSON.stringify(o.alerts.examples)).toBe(0);
    expect(o.ok).toBe(true);

    // Recovery: raw rows flowed again after the restart; the time is measured from the fault's end.
    expect(f.recovery.rawResumeS).toBeGreaterThan(0);
    expect(f.recovery.seconds).toBeGreaterThanOrEqual(f.recovery.rawResumeS!);
    // The restarted sink's "ready again" is recorded, and the recovery after it is the rest.
    const back = f.events.find((e) => e.event.endsWith('ready again'));
    expect(back).toBeDefined();
    expect(f.recovery.backS).toBeCloseTo(back!.t - f.schedule.endS, 5);
    expect(f.recovery.afterBackS).toBeCloseTo(Math.max(0, f.recovery.seconds! - f.recovery.backS!), 5);

    // The fault is marked on every chart: six, then the services' heap used and heap total.
    const html = readFileSync(resolve(dir, 'report.html'), 'utf8');
    expect((html.match(/<svg /g) ?? []).length).toBe(8);
    expect((html.match(/class="fault"/g) ?? []).length).toBe(8);
    expect(html).toContain('<h2>Derived outputs</h2>');
  }, 300_000);

  it('fails the reconciliation when one stored window is wrong', async () => {
    let altered: { deviceId: string; windowStart: number; count: number } | undefined;
    const { report } = await runLoadTest(
      parseLoadTestConfig({
        profile: 'constant',
        rate: 300,
        durationS: 8,
        devices: 20,
        partitions: 3,
        windowSizeS: 2,
        graceS: 1,
        startPipeline: true,
        verifyOutputs: true,
        drainTimeoutS: 60,
        progress: false,
        reportDir: reportDir('altered'),
      }),
      {
        progressStream: quiet,
        async beforeReconcile({ runId, topics, backend, env }) {
          const { windows } = await storedOutputs(backend, runId);
          const target = [...windows].sort(
            (a, b) => a.windowStart - b.windowStart || a.deviceId.localeCompare(b.deviceId),
          )[0]!;
          const kind = (['TRUCK', 'TURBINE', 'SOLAR'] as DeviceKindSymbol[]).find((k) =>
            target.deviceId.includes(`-${k === 'SOLAR' ? 'solar' : k.toLowerCase()}-`),
          )!;
          // A newer revision of the window with one event too many: FINAL reads this one.
          const aggregate: WindowAggregate = {
            deviceId: target.deviceId,
            siteId: 'altered',
            kind,
            model: null,
            driverId: null,
            windowStart: target.windowStart,
            windowEnd: target.windowStart + 2_000,
            revision: 999,
            eventCount: target.count + 1,
            firstEventTs: target.windowStart,
            lastEventTs: target.windowStart + 1_999,
            fields: Object.entries(target.fields).map(([name, f]) => ({ name, ...f })),
            derived: {},
          };
          const app = loadConfig(env);
          const serde = createSerde(app.registry, { topics });
          await serde.registerAll(['WindowAggregate']);
          const producer = createKafkaClient(app.kafka, { log: silentLogger }).producer();
          await producer.connect();
          try {
            await producer.send(topics.aggregates, [
              { key: target.deviceId, value: serde.encode('WindowAggregate', aggregate) },
            ]);
          } finally {
            await producer.disconnect();
          }
          await eventually('the altered window', async () => {
            const now = await storedOutputs(backend, runId);
            const w = now.windows.find(
              (x) => x.deviceId === target.deviceId && x.windowStart === target.windowStart,
            );
            return w?.count === target.count + 1 ? true : undefined;
          });
          altered = { deviceId: target.deviceId, windowStart: target.windowStart, count: target.count };
        },
      },
    );
    expect(altered).toBeDefined();
    // The raw events are all there; only the one window is wrong.
    expect(report.reconciliation?.ok).toBe(true);
    const o = report.outputs!;
    expect(o.ok).toBe(false);
    expect(o.windows).toMatchObject({ wrong: 1, missing: 0, unexpected: 0 });
    expect(o.windows.examples).toEqual([
      {
        deviceId: altered!.deviceId,
        windowStart: altered!.windowStart,
        problem: 'wrong',
        detail: `event_count ${altered!.count + 1}, expected ${altered!.count}`,
      },
    ]);
    expect(o.deviceState.wrong).toBe(0);
  }, 180_000);
});
