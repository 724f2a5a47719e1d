import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSerde, type Serde } from '../../schemas/serde.ts';
import { createEmbeddedBackend } from '../../clickhouse/index.ts';
import { loadMigrations } from '../../clickhouse/index.ts';
import { createRemoteBackend, querySecret } from '../../clickhouse/index.ts';
import type { TestStack } from '../helpers.ts';
import { baseTime, message, truck, waitFor } from './fixtures.ts';
import { count, createSinkTestStack, storedRows, tempDataDir } from './harness.ts';

const CHILD = join(import.meta.dirname, 'sink-child.ts');

function spawnSink(
  stack: TestStack,
  dataDir: string,
  env: Record<string, string> = {},
): { child: ChildProcess; ready: Promise<string>; output: () => string } {
  let out = '';
  const child = spawn(process.execPath, [CHILD], {
    env: {
      ...process.env,
      TOPIC_PREFIX: stack.prefix,
      FLEETGRID_DATA_DIR: dataDir,
      CLICKHOUSE_URL: '',
      SINK_GROUP_ID: stack.group('sink'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /READY (\S+)/.exec(out);
      if (match) resolve(match[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`sink child exited with ${code} before it was ready`)));
  });
  return { child, ready, output: () => out };
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

describe('crash safety of the sink', () => {
  let stack: TestStack;
  let serde: Serde;
  const data = tempDataDir('sink-crash');

  beforeAll(async () => {
    stack = await createSinkTestStack('sink-crash', { partitions: 3 });
    serde = createSerde(stack.config.registry, { topics: stack.topics });
    await serde.registerAll();
  });

  afterAll(async () => {
    await stack?.cleanup();
    data.remove();
  });

  it('holds every event exactly once after repeated kill -9 mid-batch (count = distinct ids = produced, no FINAL)', async () => {
    const producer = stack.kafka.producer();
    await producer.connect();
    const t0 = baseTime();
    let produced = 0;
    const produceChunk = async (n: number) => {
      const messages = [];
      for (let i = 0; i < n; i++) {
        const deviceId = `crash-${produced % 12}`;
        messages.push(
          message(deviceId, serde.encode('TruckTelemetry', truck(deviceId, t0 + produced, produced))),
        );
        produced++;
      }
      await producer.send(stack.topics.truck, messages);
    };
    await produceChunk(3_000);
    const dataDir = join(data.dir, 'clickhouse');
    let kills = 0;
    for (let round = 0; round < 5; round++) {
      const started = Date.now();
      const { child, ready } = spawnSink(stack, data.dir);
      await ready;
      // Keep input flowing while the sink works, then kill it without warning.
      await produceChunk(1_000);
      await new Promise((resolve) => setTimeout(resolve, 150 + Math.floor(Math.random() * 600)));
      child.kill('SIGKILL');
      await exited(child);
      kills++;
      if (process.env.TEST_LOG_LEVEL === 'debug') console.error(`round ${round}: ${Date.now() - started} ms`);
    }
    await producer.disconnect();

    // A last, clean run drains the backlog.
    const { child, ready } = spawnSink(stack, data.dir);
    const remote = createRemoteBackend(await ready, { secret: querySecret({ dataDir: data.dir }) });
    const drained = await waitFor(
      async () => (await storedRows(remote, 'truck_telemetry')) >= produced,
      90_000,
      500,
    );
    expect(drained).toBe(true);
    // Let any batch in flight settle, then stop gracefully so the data dir is free.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    child.kill('SIGTERM');
    await exited(child);

    const backend = await createEmbeddedBackend({ mode: 'embedded', dataDir, database: 'fleetgrid' });
    try {
      expect(kills).toBe(5);
      expect(await count(backend, 'SELECT count() AS n FROM truck_telemetry')).toBe(produced);
      expect(await count(backend, 'SELECT uniqExact(event_id) AS n FROM truck_telemetry')).toBe(produced);
      // Six starts on the same data dir recorded each migration once.
      expect(await count(backend, 'SELECT count() AS n FROM schema_migrations')).toBe(
        loadMigrations().length,
      );
    } finally {
      await backend.close();
    }
  }, 200_000);

  it('re-cuts a batch that landed but was not committed at the same offsets, so its retry is dropped', async () => {
    const producer = stack.kafka.producer();
    await producer.connect();
    const t0 = baseTime();
    const events = Array.from({ length: 300 }, (_, i) => truck('plan-1', t0 + i, i));
    // One partition's worth: every event has the same key.
    await producer.send(
      stack.topics.truck,
      events.map((e) => message(e.deviceId, serde.encode('TruckTelemetry', e))),
    );
    await producer.disconnect();
    const dir = join(data.dir, 'plan');
    const group = stack.group('plan-sink');
    const first = spawnSink(stack, dir, {
      SINK_GROUP_ID: group,
      SINK_HANG_AFTER_FIRST_INSERT: '1',
      SINK_BATCH_ROWS: '1000',
      SINK_LINGER_MS: '5000',
    });
    await first.ready;
    expect(await waitFor(async () => first.output().includes('LANDED'), 30_000, 100)).toBe(true);
    const token = /LANDED (\S+)/.exec(first.output())?.[1] ?? '';
    const [, partition, range] = /:(\d+):(\d+-\d+)$/.exec(token) ?? [];
    // The plan of the landed batch is in Kafka, next to the unchanged offset.
    const [committed] = await stack.admin.fetchCommittedOffsets(group, [stack.topics.truck]);
    const entry = committed?.partitions.find((p) => p.partition === Number(partition));
    expect(entry?.metadata).toBe(`fleetgrid-plan:v1:${range?.split('-')[1]}`);
    first.child.kill('SIGKILL');
    await exited(first.child);

    // The next owner cuts 7-row batches, except the planned one.
    const second = spawnSink(stack, dir, { SINK_GROUP_ID: group, SINK_BATCH_ROWS: '7' });
    await second.ready;
    // Drained: the group committed the log end of every partition.
    const ends = await stack.admin.fetchTopicOffsets(stack.topics.truck);
    const drained = await waitFor(
      async () => {
        const [after] = await stack.admin.fetchCommittedOffsets(group, [stack.topics.truck]);
        return ends.every(
          (end) =>
            end.high === '0' ||
            after?.partitions.find((p) => p.partition === end.partition)?.offset === end.high,
        );
      },
      60_000,
      200,
    );
    expect(drained).toBe(true);
    const total = ends.reduce((sum, end) => sum + Number(end.high), 0);
    second.child.kill('SIGTERM');
    await exited(second.child);
    // Counted by the data dir's owner now that the sink is gone.
    const backend = await createEmbeddedBackend({
      mode: 'embedded',
      dataDir: join(dir, 'clickhouse'),
      database: 'fleetgrid',
    });
    const rows = await count(backend, 'SELECT count() AS n FROM truck_telemetry');
    const distinct = await count(backend, 'SELECT uniqExact(event_id) AS n FROM truck_telemetry');
    const plan = await count(backend, "SELECT count() AS n FROM truck_telemetry WHERE device_id = 'plan-1'");
    await backend.close();
    // Without the plan, the 7-row batches would carry other tokens and re-insert the landed rows.
    expect(rows).toBe(total);
    expect(distinct).toBe(total);
    expect(plan).toBe(events.length);
  }, 120_000);
});
