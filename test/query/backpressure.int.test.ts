/**
 * /api/v1/pipeline/health knows every service's backpressure at rest (issue 17): a real
 * sink (consuming a test stack's topics into a temp chDB) and a real simulator run (a few
 * events through the broker) that have never paused, and a processor's metrics, each
 * served on /metrics as the services serve them. Their pause series are exported from the
 * start, so each is "flowing" with 0 paused partitions, not "unknown".
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/log.ts';
import { createMetricsRegistry, type MetricsServer, startMetricsServer } from '../../lib/metrics.ts';
import { createProcessorMetrics } from '../../processors/runner/metrics.ts';
import { parseSimulatorConfig } from '../../producers/config.ts';
import { produceEvents } from '../../producers/runner.ts';
import { parseQueryConfig } from '../../query/config.ts';
import { createQueryApi } from '../../query/server.ts';
import { createSerde } from '../../schemas/serde.ts';
import { localQueryBackend } from '../../clickhouse/index.ts';
import { createTestStack, type TestStack } from '../helpers.ts';
import { embeddedConfig, type RunningSink, startSink, tempDataDir } from '../sinks/harness.ts';

describe('backpressure health of services that never paused', () => {
  let stack: TestStack;
  const data = tempDataDir('backpressure');
  let sink: RunningSink;
  const servers: MetricsServer[] = [];
  let api: FastifyInstance;

  beforeAll(async () => {
    stack = await createTestStack('bp-rest', { partitions: 1 });
    const serde = createSerde(stack.config.registry, { topics: stack.topics });
    await serde.registerAll();
    sink = await startSink(stack, embeddedConfig(stack, data.dir));
    const simulatorRegistry = createMetricsRegistry('simulate', { defaultMetrics: false });
    const run = await produceEvents(
      parseSimulatorConfig({ trucks: 2, turbines: 1, solar: 1, seed: 3, partitions: 1 }),
      { kafka: stack.kafka, serde, topics: stack.topics, log: stack.log, metrics: simulatorRegistry },
      40,
    );
    expect(run.status.acked).toBe(40);
    const processorRegistry = createMetricsRegistry('processor', { defaultMetrics: false });
    createProcessorMetrics(processorRegistry);
    for (const registry of [sink.registry, simulatorRegistry, processorRegistry])
      servers.push(await startMetricsServer(registry, { port: 0 }));
    const [sinkServer, simulatorServer, processorServer] = servers as [
      MetricsServer,
      MetricsServer,
      MetricsServer,
    ];
    api = await createQueryApi(
      parseQueryConfig({
        port: 0,
        metricsUrls: {
          sink: `http://127.0.0.1:${sinkServer.port}/metrics`,
          simulate: `http://127.0.0.1:${simulatorServer.port}/metrics`,
          process: `http://127.0.0.1:${processorServer.port}/metrics`,
        },
      }),
      {
        backend: localQueryBackend(sink.sink.backend()),
        log: silentLogger,
        registry: createMetricsRegistry('query-test', { defaultMetrics: false }),
      },
    );
  });

  afterAll(async () => {
    await api?.close();
    for (const server of servers) await server.close();
    await sink?.stop();
    await stack?.cleanup();
    data.remove();
  });

  it('reports the sink, the simulator and the processor as flowing, with nothing paused', async () => {
    const response = await api.inject({ method: 'GET', url: '/api/v1/pipeline/health' });
    expect(response.statusCode).toBe(200);
    const { backpressure } = response.json() as {
      backpressure: {
        available: boolean;
        services: { service: string; state: string; pausedPartitions: number }[];
      };
    };
    expect(backpressure.available).toBe(true);
    const byService = Object.fromEntries(backpressure.services.map((s) => [s.service, s]));
    for (const service of ['sink', 'simulate', 'process']) {
      expect(byService[service]?.state, service).toBe('flowing');
      expect(byService[service]?.pausedPartitions, service).toBe(0);
    }
    // The sink's series exist per consumed topic, at 0.
    const text = await (await fetch(`http://127.0.0.1:${servers[0]?.port}/metrics`)).text();
    expect(text).toMatch(/fleetgrid_sink_partition_pauses_total\{topic="truck"[^}]*\} 0\n/);
    expect(text).toMatch(/fleetgrid_sink_partition_resumes_total\{topic="alerts"[^}]*\} 0\n/);
  });
});
