import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../../lib/metrics.ts';
import type { Serde } from '../../schemas/serde.ts';
import type { RawEvent } from '../../schemas/types.ts';
import type { TestStack } from '../helpers.ts';
import {
  alertSet,
  coreConfig,
  createTestSerde,
  generateStream,
  newestRevisions,
  processorOutputs,
  produceEvents,
  referenceOutputs,
  startProcessor,
  T0,
  truck,
  waitCaughtUp,
  cleanupRedis,
  createProcessorStack,
} from './helpers.ts';

describe('fleetgrid process on a known stream', () => {
  let stack: TestStack;
  let serde: Serde;

  beforeAll(async () => {
    stack = await createProcessorStack('proc-known', 3);
    serde = await createTestSerde(stack);
  });
  afterAll(async () => {
    if (!stack) return;
    await cleanupRedis(stack);
    await stack.cleanup();
  });

  it('yields exactly the expected aggregates and alerts, hand-checked for a tiny stream and equal to the in-memory reference', async () => {
    // Hand-checked truck: window [T0, T0+60s) holds speeds 50, 70, 100 × 7 (ts 0..45 s step 5 s,
    // the 100s from 15 s on), then it keeps going at 100 until 60 s, and one event at 80 s
    // (stream time T0+80 s ≥ end + grace = T0+70 s) closes the first window.
    const hand: RawEvent[] = [];
    const speeds = [50, 70, 60, 100, 100, 100, 100, 100, 100, 100, 100, 100];
    for (const [i, speedKmh] of speeds.entries()) hand.push(truck('hand-1', i, T0 + i * 5_000, { speedKmh }));
    hand.push(truck('hand-1', 12, T0 + 80_000, { speedKmh: 80 }));
    const stream = [...hand, ...generateStream({ seed: 7, minutes: 6, trucks: 4, turbines: 2, solars: 2 })];
    await produceEvents(stack, serde, stream);

    const running = await startProcessor(stack, serde);
    try {
      await waitCaughtUp(stack, running.processor.groupId);
    } finally {
      await running.stop();
    }
    const actual = await processorOutputs(stack, serde);

    const first = actual.aggregates.find((a) => a.deviceId === 'hand-1' && a.windowStart === T0);
    expect(first).toBeDefined();
    expect(first!.windowEnd).toBe(T0 + 60_000);
    expect(first!.eventCount).toBe(12);
    const speed = first!.fields.find((f) => f.name === 'speedKmh')!;
    expect(speed).toMatchObject({ count: 12, min: 50, max: 100, sum: 50 + 70 + 60 + 9 * 100 });
    // Above 90 km/h from 15 s on; 30 s later (45 s) the overspeed alert is raised; 80 km/h at
    // 80 s (≤ 85) resolves it.
    const overspeed = actual.alerts.filter((a) => a.deviceId === 'hand-1' && a.rule === 'truck.overspeed');
    expect(overspeed.map((a) => [a.state, a.raisedAt])).toEqual([
      ['RAISED', T0 + 45_000],
      ['RESOLVED', T0 + 45_000],
    ]);
    expect(overspeed[1]!.resolvedAt).toBe(T0 + 80_000);

    const expected = await referenceOutputs(stack, serde, coreConfig());
    expect(expected.aggregates.length).toBeGreaterThan(20);
    expect(expected.alerts.length).toBeGreaterThan(2);
    // Without crashes there is no replay: exactly the reference records, in the same per-key order.
    expect(actual.aggregates.length).toBe(expected.aggregates.length);
    expect(newestRevisions(actual.aggregates)).toEqual(newestRevisions(expected.aggregates));
    expect(alertSet(actual.alerts)).toEqual(alertSet(expected.alerts));
  });

  it('pauses its input while the output buffer is full and still yields the reference results', async () => {
    // Same input (from the first test), a second group with a buffer of a few rows: input
    // must pause and resume many times, and nothing may be lost or changed on the way.
    const running = await startProcessor(stack, serde, {
      groupId: 'small-buffer',
      highWaterRows: 8,
      maxSendRows: 4,
    });
    try {
      await waitCaughtUp(stack, running.processor.groupId);
      expect(
        await metricValue(running.metrics, 'fleetgrid_processor_pauses_total', { reason: 'backpressure' }),
      ).toBeGreaterThan(3);
      expect(await metricValue(running.metrics, 'fleetgrid_processor_paused_partitions')).toBe(0);
      const received = await metricValue(running.metrics, 'fleetgrid_processor_received_total');
      expect(await metricValue(running.metrics, 'fleetgrid_processor_processed_total')).toBe(received);
    } finally {
      await running.stop();
    }
    const actual = await processorOutputs(stack, serde);
    const expected = await referenceOutputs(stack, serde, coreConfig());
    expect(newestRevisions(actual.aggregates)).toEqual(newestRevisions(expected.aggregates));
    expect(alertSet(actual.alerts)).toEqual(alertSet(expected.alerts));
  });
});
