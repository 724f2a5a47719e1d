import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DLQ_HEADERS } from '../../lib/dlq.ts';
import { metricValue } from '../../lib/metrics.ts';
import { LEGACY_SCHEMAS, parseSchema } from '../../schemas/catalog.ts';
import { createSerde, frame, type Serde } from '../../schemas/serde.ts';
import type { TruckTelemetry, WindowAggregate } from '../../schemas/types.ts';
import type { TestStack } from '../helpers.ts';
import {
  createTestSerde,
  produceRaw,
  startProxy,
  readTopic,
  startProcessor,
  T0,
  truck,
  waitCaughtUp,
  waitFor,
  cleanupRedis,
  createProcessorStack,
} from './helpers.ts';

describe('fleetgrid process on bad input', () => {
  let stack: TestStack;
  let serde: Serde;

  beforeAll(async () => {
    stack = await createProcessorStack('proc-bad', 1);
    serde = await createTestSerde(stack);
  });
  afterAll(async () => {
    if (!stack) return;
    await cleanupRedis(stack);
    await stack.cleanup();
  });

  it('dead-letters each kind of bad record with its original bytes and error headers while good events still flow', async () => {
    const encode = (e: ReturnType<typeof truck>) => serde.encode('TruckTelemetry', e.value as never);
    const msg = (value: Buffer | null, key = 'good-1') => ({ key, value, headers: { 'x-test': 'keep' } });
    const valid = encode(truck('good-1', 100, T0 + 30_000));
    const before = Array.from({ length: 12 }, (_, i) => msg(encode(truck('good-1', i, T0 + i * 5_000))));
    const bad = [
      { code: 'DECODE_EMPTY', message: msg(null) },
      { code: 'DECODE_BAD_MAGIC', message: msg(Buffer.from('this is not avro at all')) },
      { code: 'DECODE_BAD_MAGIC', message: msg(Buffer.concat([Buffer.from([1]), valid.subarray(1)])) },
      { code: 'DECODE_UNKNOWN_SCHEMA', message: msg(frame(987_654_321, valid.subarray(5))) },
      { code: 'DECODE_TRUNCATED', message: msg(valid.subarray(0, valid.length - 6)) },
      {
        code: 'VALIDATION_OUT_OF_RANGE',
        message: msg(encode(truck('good-1', 101, T0 + 31_000, { lat: 100 }))),
      },
      {
        code: 'VALIDATION_OUT_OF_RANGE',
        message: msg(encode(truck('good-1', 102, T0 + 32_000, { engineTempC: Number.NaN }))),
      },
    ];
    // After the bad ones, good events for 25 minutes: stream time moves on and windows close.
    const after = Array.from({ length: 50 }, (_, i) =>
      msg(encode(truck('good-1', 12 + i, T0 + 60_000 + i * 30_000))),
    );
    // 25 min of stream time later, an event from the first minute is past maxLateness (10 min).
    const tooLate = { code: 'TOO_LATE', message: msg(encode(truck('good-1', 999, T0 + 10_000))) };
    const tail = [msg(encode(truck('good-1', 62, T0 + 60_000 + 50 * 30_000)))];
    await produceRaw(stack, stack.topics.truck, [
      ...before,
      ...bad.map((b) => b.message),
      ...after,
      tooLate.message,
      ...tail,
    ]);
    const total = before.length + bad.length + after.length + 1 + tail.length;

    const running = await startProcessor(stack, serde);
    try {
      await waitCaughtUp(stack, running.processor.groupId);
      expect(await metricValue(running.metrics, 'fleetgrid_processor_received_total')).toBe(total);
      expect(await metricValue(running.metrics, 'fleetgrid_processor_processed_total')).toBe(total);
      expect(await metricValue(running.metrics, 'fleetgrid_processor_dead_lettered_total')).toBe(
        bad.length + 1,
      );
      expect(
        await metricValue(running.metrics, 'fleetgrid_processor_dead_lettered_total', { code: 'TOO_LATE' }),
      ).toBe(1);
    } finally {
      await running.stop();
    }

    const inputs = await readTopic(stack, stack.topics.truck);
    const dlq = await readTopic(stack, stack.topics.dlq);
    const expectedLetters = [...bad, tooLate];
    expect(dlq.map((r) => r.headers[DLQ_HEADERS.code])).toEqual(expectedLetters.map((b) => b.code));
    for (const [i, letter] of dlq.entries()) {
      const source = inputs[Number(letter.headers[DLQ_HEADERS.sourceOffset])]!;
      expect(letter.value).toEqual(expectedLetters[i]!.message.value);
      expect(source.value).toEqual(letter.value);
      expect(letter.key?.toString()).toBe('good-1');
      expect(letter.headers).toMatchObject({
        'x-test': 'keep',
        [DLQ_HEADERS.sourceTopic]: stack.topics.truck,
        [DLQ_HEADERS.sourcePartition]: '0',
      });
      expect(letter.headers[DLQ_HEADERS.message]).toBeTruthy();
    }

    // Good events before and after the bad ones made it into windows.
    const aggregates = (await readTopic(stack, stack.topics.aggregates)).map((r) => serde.decode(r.value));
    const windows = (await Promise.all(aggregates)).map((d) => d.value as WindowAggregate);
    const first = windows.find((w) => w.windowStart === T0);
    expect(first?.eventCount).toBe(12);
    expect(windows.filter((w) => w.windowStart > T0).length).toBeGreaterThan(20);
  });

  it('retries a registry outage with the partition paused and never dead-letters it', async () => {
    // The processor reaches the real registry through a TCP proxy that the test can cut.
    const proxy = await startProxy(new URL(stack.config.registry.url));
    const proxied = createSerde(
      { ...stack.config.registry, url: stack.config.registry.url.replace(/:\d+/, `:${proxy.port}`) },
      { topics: stack.topics, timeoutMs: 1_000 },
    );
    const running = await startProcessor(stack, proxied, {
      groupId: 'outage',
      backoffBaseMs: 50,
      backoffCapMs: 500,
    });
    const dead = () => metricValue(running.metrics, 'fleetgrid_processor_dead_lettered_total');
    // Visible letters, not offsets: transaction markers take offsets too.
    const dlqSize = async () => (await readTopic(stack, stack.topics.dlq)).length;
    try {
      // This new group first replays the first test's records: their 8 letters, once.
      await waitCaughtUp(stack, running.processor.groupId);
      expect(await dead()).toBe(8);
      expect(await dlqSize()).toBe(16);

      // A v1 writer schema: an id the processor has never seen, so decoding it needs the registry.
      const v1 = LEGACY_SCHEMAS.TruckTelemetryV1;
      const v1Id = await serde.registerSchema('TruckTelemetry', v1);
      const { cargoTempC: _, ...v1Value } = truck('v1-truck', 1, T0 + 5 * 3_600_000).value as TruckTelemetry;
      await proxy.cut();
      await produceRaw(stack, stack.topics.truck, [
        { key: 'v1-truck', value: serde.encodeWith(v1Id, parseSchema(v1), v1Value) },
        {
          key: 'v1-truck',
          value: serde.encode(
            'TruckTelemetry',
            truck('v1-truck', 2, T0 + 5 * 3_600_000 + 1_000).value as TruckTelemetry,
          ),
        },
      ]);
      await waitFor('the registry retry to back off', async () => {
        return (
          (await metricValue(running.metrics, 'fleetgrid_processor_backoff_attempts_total', {
            operation: 'registry',
          })) >= 2
        );
      });
      expect(running.processor.stats().heldForRegistry).toEqual([`${stack.topics.truck}:0`]);
      expect(await metricValue(running.metrics, 'fleetgrid_processor_paused_partitions')).toBe(1);

      await proxy.restore();
      await waitCaughtUp(stack, running.processor.groupId);
      expect(running.processor.stats().heldForRegistry).toEqual([]);
      expect(await dead()).toBe(8);
      expect(await dlqSize()).toBe(16);
      expect(await metricValue(running.metrics, 'fleetgrid_processor_paused_partitions')).toBe(0);
    } finally {
      await running.stop();
      await proxy.close();
    }
  });
});
