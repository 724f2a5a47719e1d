/**
 * Issue 12 items 4 and 5 for the sink: the schema registry goes away while the sink runs,
 * or is away when it starts. The sink must hold only the partitions whose records it cannot
 * decode (paused, reason `registry`), keep its group session meanwhile (no consumer restart,
 * the same member, no rebalance), log and count the wait, and store every record once the
 * registry answers again. The registry is the shared one, reached through a loopback TCP
 * proxy this test opens and closes (the shared registry is never stopped).
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedBackend } from '../../clickhouse/index.ts';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';
import type { Logger } from '../../lib/log.ts';
import { createMetricsRegistry, metricValue, type Registry } from '../../lib/metrics.ts';
import { createSerde, type Serde } from '../../schemas/serde.ts';
import { parseSinkConfig } from '../../sinks/config.ts';
import { type ClickHouseSink, createClickHouseSink } from '../../sinks/runner.ts';
import type { TestStack } from '../helpers.ts';
import { type Proxy as TcpProxy, startProxy } from '../processors/helpers.ts';
import { baseTime, message, truck, turbine, waitFor } from './fixtures.ts';
import { count, createSinkTestStack, embeddedConfig, tempDataDir } from './harness.ts';

const SESSION_MS = 6_000;

interface Started {
  sink: ClickHouseSink;
  metrics: Registry;
  backend: ClickHouseBackend;
  warnings: string[];
  groupId: string;
  stop(): Promise<void>;
}

describe('sink without the schema registry', () => {
  let stack: TestStack;
  let producerSerde: Serde;
  const dirs: ReturnType<typeof tempDataDir>[] = [];
  let seq = 0;

  beforeAll(async () => {
    stack = await createSinkTestStack('sink-registry', { partitions: 2 });
    producerSerde = createSerde(stack.config.registry, { topics: stack.topics });
    await producerSerde.registerAll();
  });
  afterAll(async () => {
    await stack?.cleanup();
    for (const d of dirs) d.remove();
  });

  /** The sink in-process, its registry reached through `proxy`, its warnings captured. */
  async function startSinkVia(proxy: TcpProxy, name: string): Promise<Started> {
    const data = tempDataDir(name);
    dirs.push(data);
    const app = embeddedConfig(stack, data.dir);
    const backend = await createEmbeddedBackend(
      app.clickhouse as Extract<typeof app.clickhouse, { mode: 'embedded' }>,
    );
    const warnings: string[] = [];
    const log = pino(
      { level: 'warn' },
      { write: (line: string) => warnings.push(line) },
    ) as unknown as Logger;
    const metrics = createMetricsRegistry(`sink-${name}`, { defaultMetrics: false });
    const serde = createSerde(
      { ...stack.config.registry, url: stack.config.registry.url.replace(/:\d+/, `:${proxy.port}`) },
      { topics: stack.topics, timeoutMs: 1_000 },
    );
    const groupId = stack.group(name);
    const sink = createClickHouseSink(
      app,
      parseSinkConfig({
        groupId,
        lingerMs: 100,
        queryPort: 0,
        retryBaseMs: 100,
        retryCapMs: 400,
        sessionTimeoutMs: SESSION_MS,
      }),
      { kafka: stack.kafka, serde, log, registry: metrics, backend },
    );
    await sink.start();
    return {
      sink,
      metrics,
      backend,
      warnings,
      groupId,
      stop: async () => {
        await sink.stop();
        await backend.close();
      },
    };
  }

  async function produce(kind: 'truck' | 'turbine', n: number): Promise<void> {
    const producer = stack.kafka.producer();
    await producer.connect();
    const t0 = baseTime();
    const messages = [];
    for (let i = 0; i < n; i++) {
      const id = `${kind}-${i % 4}`;
      const s = seq++;
      messages.push(
        message(
          id,
          kind === 'truck'
            ? producerSerde.encode('TruckTelemetry', truck(id, t0 + s, s))
            : producerSerde.encode('TurbineTelemetry', turbine(id, t0 + s, s)),
        ),
      );
    }
    await producer.send(kind === 'truck' ? stack.topics.truck : stack.topics.turbine, messages);
    await producer.disconnect();
  }

  async function members(groupId: string): Promise<string[]> {
    const admin = stack.kafka.admin();
    await admin.connect();
    try {
      const [group] = await admin.describeGroups([groupId]);
      return (group?.members ?? []).map((m) => m.memberId).sort();
    } finally {
      await admin.disconnect();
    }
  }

  it('loses the registry mid-run: holds the partition in its group session, logs and counts, then stores everything', async () => {
    const proxy = await startProxy(new URL(stack.config.registry.url));
    const s = await startSinkVia(proxy, 'reg-midrun');
    try {
      // The truck schema is fetched and cached while the registry answers.
      await produce('truck', 20);
      expect(
        await waitFor(
          async () => (await count(s.backend, 'SELECT count() AS n FROM truck_telemetry')) === 20,
        ),
      ).toBe(true);
      const before = await members(s.groupId);
      expect(before).toHaveLength(1);

      await proxy.cut();
      // A schema the sink has never seen: its decode needs the registry.
      await produce('turbine', 12);
      expect(
        await waitFor(async () => (await metricValue(s.metrics, 'fleetgrid_sink_registry_holds_total')) >= 1),
      ).toBe(true);
      // Cached schemas still flow: the hold is per partition, not the whole sink.
      await produce('truck', 10);
      expect(
        await waitFor(
          async () => (await count(s.backend, 'SELECT count() AS n FROM truck_telemetry')) === 30,
        ),
      ).toBe(true);
      // Longer than a session: a sink blocked in its handler would have been expelled.
      await new Promise((resolve) => setTimeout(resolve, SESSION_MS + 2_000));
      expect(await count(s.backend, 'SELECT count() AS n FROM turbine_telemetry')).toBe(0);
      expect(await metricValue(s.metrics, 'fleetgrid_sink_consumer_restarts_total')).toBe(0);
      expect(await members(s.groupId)).toEqual(before);
      expect(s.warnings.some((l) => l.includes('schema registry unavailable: partition paused'))).toBe(true);

      await proxy.restore();
      expect(
        await waitFor(
          async () => (await count(s.backend, 'SELECT count() AS n FROM turbine_telemetry')) === 12,
        ),
      ).toBe(true);
      expect(await count(s.backend, 'SELECT uniqExact(event_id) AS n FROM turbine_telemetry')).toBe(12);
      expect(await count(s.backend, 'SELECT count() AS n FROM truck_telemetry')).toBe(30);
      expect(await metricValue(s.metrics, 'fleetgrid_sink_registry_wait_seconds_total')).toBeGreaterThan(0);
      expect(await members(s.groupId)).toEqual(before);
    } finally {
      await s.stop();
      await proxy.close().catch(() => {});
    }
  });

  it('starts without the registry: waits with capped backoff and stores everything once it answers', async () => {
    const proxy = await startProxy(new URL(stack.config.registry.url));
    await proxy.cut();
    const s = await startSinkVia(proxy, 'reg-start');
    try {
      // Every record so far needs a schema the new sink has not fetched.
      expect(
        await waitFor(async () => (await metricValue(s.metrics, 'fleetgrid_sink_registry_holds_total')) >= 1),
      ).toBe(true);
      expect(await count(s.backend, 'SELECT count() AS n FROM truck_telemetry')).toBe(0);
      expect(await metricValue(s.metrics, 'fleetgrid_sink_consumer_restarts_total')).toBe(0);
      await proxy.restore();
      expect(
        await waitFor(
          async () =>
            (await count(s.backend, 'SELECT count() AS n FROM truck_telemetry')) === 30 &&
            (await count(s.backend, 'SELECT count() AS n FROM turbine_telemetry')) === 12,
        ),
      ).toBe(true);
    } finally {
      await s.stop();
      await proxy.close().catch(() => {});
    }
  });
});
