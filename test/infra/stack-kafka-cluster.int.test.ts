/**
 * Issue 15: `KAFKA_NODES=3 make up` starts three combined broker+controller nodes from the
 * same jars and node configuration as the single broker, with the internal topics replicated
 * 3 and min ISR 2; `make down` stops them. stack.sh runs here on free ports and a scratch data
 * dir, so the shared stack is never touched.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaClient } from '../../lib/kafka/index.ts';
import { silentLogger } from '../../lib/log.ts';
import { retry } from '../../lib/retry.ts';
import { ensureTopics, topicNames, topicSpecs } from '../../lib/topics.ts';
import { freePorts, isAlive } from '../support/index.ts';
import { removeDir } from '../support/index.ts';
import { runStack, statusLine } from './stack.ts';

describe('the stack Kafka with KAFKA_NODES=3', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fg-stack-cluster-'));
  let env: Record<string, string> = {};
  afterAll(async () => {
    await runStack(['down', 'kafka'], env);
    removeDir(dataDir);
  });

  it('starts three nodes with replicated internal topics, and down stops them all', async () => {
    const ports = await freePorts(6);
    env = {
      FLEETGRID_DATA_DIR: dataDir,
      KAFKA_NODES: '3',
      STACK_CLUSTER_BROKER_PORTS: ports.slice(0, 3).join(','),
      STACK_CLUSTER_CONTROLLER_PORTS: ports.slice(3).join(','),
      KAFKA_CLUSTER_HEAP: '-Xms128m -Xmx384m',
    };
    const up = await runStack(['up', 'kafka'], env);
    expect(up.code, up.stderr).toBe(0);
    const bootstrap = ports.slice(0, 3).map((port) => `127.0.0.1:${port}`);
    expect(up.stdout).toContain(bootstrap.join(','));

    const status = await runStack(['status', 'kafka'], env);
    for (const node of [1, 2, 3])
      expect(statusLine(status.stdout, `kafka-${node}`)).toMatch(/healthy\s+make up/);

    const client = createKafkaClient(
      { brokers: bootstrap, clientId: 'cluster-test', ssl: false, sasl: undefined },
      { log: silentLogger },
    );
    const admin = client.admin();
    await admin.connect();
    try {
      expect((await admin.describeCluster()).brokers.sort()).toEqual([1, 2, 3]);
      // A topic with the broker defaults, and a consumer group, which creates __consumer_offsets.
      await admin.createTopics([
        { topic: 'cluster.check', numPartitions: 3, replicationFactor: -1, configEntries: [] },
      ]);
      const consumer = client.consumer({ groupId: 'cluster-check', maxWaitTimeMs: 100 });
      await consumer.connect();
      await consumer.subscribe(['cluster.check'], { fromBeginning: true });
      await consumer.run({ concurrency: 1, eachBatch: async () => {} });
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await consumer.disconnect();
      const topics = await admin.fetchTopicMetadata(['cluster.check', '__consumer_offsets']);
      for (const topic of topics) {
        for (const partition of topic.partitions) expect(partition.replicas, topic.name).toHaveLength(3);
      }
      const configs = await admin.describeConfigs([
        { type: 'broker', name: '1', configNames: ['min.insync.replicas', 'transaction.state.log.min.isr'] },
      ]);
      const values = configs[0]?.configs ?? {};
      expect(values).toEqual({ 'min.insync.replicas': '2', 'transaction.state.log.min.isr': '2' });

      // Topics as code with replication from configuration: two copies each, both in sync for
      // a write, and the production retention (raw events kept for ever, zstd on the broker).
      const policy = { replicationFactor: 2, minInsyncReplicas: 2, retention: 'production' } as const;
      const specs = topicSpecs('cluster-policy.', 3, policy);
      await ensureTopics(admin, specs);
      const created = await admin.fetchTopicMetadata(specs.map((spec) => spec.name));
      for (const topic of created) {
        for (const partition of topic.partitions) expect(partition.replicas, topic.name).toHaveLength(2);
      }
      const truck = topicNames('cluster-policy.').truck;
      // A topic just created is not yet known to every broker: the one asked may answer "does
      // not host this topic-partition" (retriable) for a moment. Bounded: about 10 s at most.
      const [truckConfig] = await retry(
        () =>
          admin.describeConfigs([
            {
              type: 'topic',
              name: truck,
              configNames: ['min.insync.replicas', 'retention.ms', 'compression.type'],
            },
          ]),
        { policy: { baseMs: 200, capMs: 1_000, maxRetries: 15 } },
      );
      expect(truckConfig?.configs).toEqual({
        'min.insync.replicas': '2',
        'retention.ms': '-1',
        'compression.type': 'zstd',
      });
    } finally {
      await admin.disconnect();
    }

    const pids = [1, 2, 3].map((node) =>
      Number(readFileSync(join(dataDir, 'stack', 'pids', `kafka-${node}.pid`), 'utf8').trim()),
    );
    const down = await runStack(['down', 'kafka'], env);
    expect(down.code, down.stderr).toBe(0);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    expect(existsSync(join(dataDir, 'stack', 'pids', 'kafka-1.pid'))).toBe(false);
  });
});
