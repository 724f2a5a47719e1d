import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSerde, type Serde } from '../../schemas/serde.ts';
import { createEmbeddedBackend } from '../../sinks/backends/embedded.ts';
import { createRemoteBackend } from '../../sinks/query-client.ts';
import type { TestStack } from '../helpers.ts';
import { baseTime, message, truck, waitFor } from './fixtures.ts';
import { count, tempDataDir, createSinkTestStack } from './harness.ts';

const CHILD = join(import.meta.dirname, 'sink-child.ts');

function spawnSink(stack: TestStack, dataDir: string): { child: ChildProcess; ready: Promise<string> } {
  const child = spawn(process.execPath, [CHILD], {
    env: {
      ...process.env,
      TOPIC_PREFIX: stack.prefix,
      FLEETGRID_DATA_DIR: dataDir,
      CLICKHOUSE_URL: '',
      SINK_GROUP_ID: stack.group('sink'),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /READY (\S+)/.exec(out);
      if (match) resolve(match[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`sink child exited with ${code} before it was ready`)));
  });
  return { child, ready };
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
    const remote = createRemoteBackend(await ready, 'fleetgrid');
    const drained = await waitFor(
      async () => (await count(remote, 'SELECT count() AS n FROM truck_telemetry')) >= produced,
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
      expect(await count(backend, 'SELECT count() AS n FROM schema_migrations')).toBe(3);
    } finally {
      await backend.close();
    }
  }, 200_000);
});
