/**
 * Issue 11 item 3: no record can stall a stage. Between valid events, a 1 MB record that is
 * not Avro at all (its dead letter, headers added, is over the broker's 1 MiB limit) and a
 * 998 KB Avro event with a very long deviceId and siteId go through the processor and the
 * sink, each a separate process as in production. The valid events are stored, the bad
 * records are in the DLQ with their codes (cut to the bound, saying so), and each stage
 * stops on SIGTERM within its drain timeout.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DLQ_HEADERS } from '../../lib/dlq.ts';
import type { OutgoingMessage } from '../../lib/kafka/index.ts';
import { createSerde, type Serde } from '../../schemas/serde.ts';
import { createRemoteBackend, querySecret } from '../../clickhouse/index.ts';
import type { TestStack } from '../helpers.ts';
import { type Child, startChildProcessor } from '../processors/child.ts';
import {
  cleanupRedis,
  createProcessorStack,
  readTopic,
  truck,
  waitCaughtUp,
  waitFor,
} from '../processors/helpers.ts';
import { storedRows, tempDataDir } from '../sinks/harness.ts';

const SINK_CHILD = join(import.meta.dirname, '../sinks/sink-child.ts');
const DRAIN_TIMEOUT_MS = 10_000;
/** What a stage may take past its drain timeout: leaving the group, closing the engine. */
const EXIT_MARGIN_MS = 15_000;

/** Resolves with the exit code, or 'still running' if the child outlives `ms`. */
function exitWithin(child: ChildProcess, ms: number): Promise<string> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(String(child.exitCode));
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('still running'), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(signal ?? String(code));
    });
  });
}

describe('hostile records between valid ones', () => {
  let stack: TestStack;
  let serde: Serde;
  const data = tempDataDir('hostile');
  let processor: Child | undefined;
  let sink: ChildProcess | undefined;

  beforeAll(async () => {
    stack = await createProcessorStack('hostile', 1);
    serde = createSerde(stack.config.registry, { topics: stack.topics });
    await serde.registerAll();
  });

  afterAll(async () => {
    processor?.process.kill('SIGKILL');
    sink?.kill('SIGKILL');
    if (stack) {
      await cleanupRedis(stack);
      await stack.cleanup();
    }
    data.remove();
  });

  it('stores the valid events, dead-letters the bad ones with their codes, and stops on SIGTERM within the drain timeout', async () => {
    const t0 = Date.now() - 15 * 60_000;
    const encode = (seq: number) =>
      serde.encode('TruckTelemetry', truck('good-1', seq, t0 + seq * 5_000).value as never);
    // Not Avro at all (first byte 0x01), and so large that its dead letter, with the error
    // headers added, is over the broker's default message.max.bytes (1 048 588 bytes).
    const notAvro = Buffer.alloc(1_048_300, 1);
    // Valid Avro, in range, with ids of 499 000 characters each: 998 KB.
    const longIds = serde.encode(
      'TruckTelemetry',
      truck('good-1', 1_000, t0 + 100_000, { deviceId: 'd'.repeat(499_000), siteId: 's'.repeat(499_000) })
        .value as never,
    );
    const messages: OutgoingMessage[] = [
      ...Array.from({ length: 20 }, (_, i) => ({ key: 'good-1', value: encode(i) })),
      { key: 'good-1', value: notAvro },
      { key: 'hostile-1', value: longIds },
      ...Array.from({ length: 20 }, (_, i) => ({ key: 'good-1', value: encode(20 + i) })),
    ];
    const producer = stack.kafka.producer();
    await producer.connect();
    try {
      // One record per request: the two large ones fill a request each.
      for (const message of messages) await producer.send(stack.topics.truck, [message]);
    } finally {
      await producer.disconnect();
    }

    processor = await startChildProcessor(stack.prefix, [
      '--metrics-port',
      '0',
      '--checkpoint-interval',
      '500ms',
      '--quiet-checkpoint-interval',
      '500ms',
      '--drain-timeout',
      `${DRAIN_TIMEOUT_MS}ms`,
    ]);
    let sinkOut = '';
    sink = spawn(process.execPath, [SINK_CHILD], {
      env: {
        ...process.env,
        TOPIC_PREFIX: stack.prefix,
        FLEETGRID_DATA_DIR: data.dir,
        CLICKHOUSE_URL: '',
        SINK_GROUP_ID: stack.group('sink'),
        SINK_DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const sinkChild = sink;
    const queryUrl = await new Promise<string>((resolve, reject) => {
      sinkChild.stdout?.on('data', (chunk: Buffer) => {
        sinkOut += chunk.toString();
        const match = /READY (\S+)/.exec(sinkOut);
        if (match) resolve(match[1] as string);
      });
      sinkChild.once('exit', (code) => reject(new Error(`sink exited with ${code} before it was ready`)));
    });

    // The processor gets past both records: its group commits the end of the partition.
    await waitCaughtUp(stack, `${stack.prefix}fleetgrid-processors`, 60_000);

    // The sink stores the 40 valid events, and nothing of the long ids.
    const reader = createRemoteBackend(queryUrl, { secret: querySecret({ dataDir: data.dir }) });
    await waitFor(
      'the sink to store the valid events',
      async () => (await storedRows(reader, 'truck_telemetry')) >= 40,
      60_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await storedRows(reader, 'truck_telemetry')).toBe(40);

    // Both stages dead-lettered both records, each with its code; the letters fit the limit.
    let letters: Awaited<ReturnType<typeof readTopic>> = [];
    await waitFor(
      'both stages to dead-letter both records',
      async () => {
        letters = await readTopic(stack, stack.topics.dlq);
        return letters.length >= 4;
      },
      60_000,
    );
    const byStage = (stage: string) =>
      letters
        .filter((l) => l.headers[DLQ_HEADERS.stage] === stage)
        .map((l) => l.headers[DLQ_HEADERS.code])
        .sort();
    expect(byStage('decode')).toEqual(['DECODE_BAD_MAGIC']);
    expect(byStage('validate')).toEqual(['VALIDATION_INVALID_ID']);
    expect(byStage('sink-clickhouse')).toEqual(['DECODE_BAD_MAGIC', 'VALIDATION_INVALID_ID']);
    for (const letter of letters) {
      const original =
        letter.headers[DLQ_HEADERS.code] === 'DECODE_BAD_MAGIC' ? notAvro.length : longIds.length;
      expect(letter.headers[DLQ_HEADERS.originalValueSize]).toBe(String(original));
      expect(letter.headers[DLQ_HEADERS.truncated]).toContain('value');
      expect(
        letter.value?.equals(
          (letter.headers[DLQ_HEADERS.code] === 'DECODE_BAD_MAGIC' ? notAvro : longIds).subarray(
            0,
            letter.value.length,
          ),
        ),
      ).toBe(true);
    }

    // SIGTERM: each stage drains and exits (code 0) within its drain timeout.
    const bound = DRAIN_TIMEOUT_MS + EXIT_MARGIN_MS;
    processor.process.kill('SIGTERM');
    sinkChild.kill('SIGTERM');
    const [processorExit, sinkExit] = await Promise.all([
      exitWithin(processor.process, bound),
      exitWithin(sinkChild, bound),
    ]);
    expect({ processor: processorExit, sink: sinkExit }).toEqual({ processor: '0', sink: '0' });
  }, 240_000);
});
