/**
 * Private Apache Kafka for fault tests: one KRaft node or an N-node cluster (combined broker
 * and controller, static voters) from the stack's cached jars, configured by the same code as
 * `make up` (infra/local/kraft.ts), on free loopback ports with a temporary data dir. The test
 * gets the bootstrap list, each node's PID and kill -9 / SIGTERM / SIGSTOP / SIGCONT / restart
 * per node; `stop()` kills everything by PID and removes the directory.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  defaultKafkaJars,
  type KafkaJars,
  type KraftNodeSpec,
  launchKraftNode,
  localCluster,
  newClusterId,
  prepareKraftNode,
} from '../kraft.ts';
import type { KafkaConfig } from '../../../lib/config.ts';
import { createKafkaClient, type TopicMetadata } from '../../../lib/kafka/index.ts';
import { silentLogger } from '../../../lib/log.ts';
import {
  destroyInstance,
  destroyInstanceNow,
  freePorts,
  managedProcess,
  onProcessExit,
  type PrivateProcess,
  privateDir,
} from './process.ts';

export interface PrivateKafkaOptions {
  /** Nodes in the cluster; 1 by default. Three or more get replication 3 and min ISR 2. */
  nodes?: number;
  /** Bound on each node start (JVM start, log recovery, joining the quorum). */
  startTimeoutMs?: number;
  /** JVM heap options per node. */
  heap?: string[];
  /** Extra broker properties, e.g. `{ 'log.flush.interval.messages': '1' }`. */
  properties?: Record<string, string>;
  /** A label for the temp directory and failure messages. */
  name?: string;
  jars?: KafkaJars;
}

export interface PrivateKafkaNode extends PrivateProcess {
  readonly nodeId: number;
  readonly brokerPort: number;
  readonly controllerPort: number;
  /** `127.0.0.1:<brokerPort>` */
  readonly address: string;
}

export interface PrivateKafka {
  /** `host:port,host:port`: what KAFKA_BROKERS takes. */
  readonly bootstrap: string;
  readonly brokers: string[];
  readonly nodes: PrivateKafkaNode[];
  readonly dir: string;
  node(nodeId: number): PrivateKafkaNode;
  /** lib/config's Kafka settings for this cluster (plaintext, no SASL). */
  kafkaConfig(clientId?: string): KafkaConfig;
  /** Waits until every running node is registered and unfenced. */
  waitForBrokers(count?: number, timeoutMs?: number): Promise<void>;
  /**
   * Partition metadata of every topic (internal ones included), from a running node; what a
   * fault aims at (the busiest leader) and waits for (every replica in sync).
   */
  topicMetadata(): Promise<TopicMetadata[]>;
  /** Waits until every partition of every topic has a leader and all its replicas in sync. */
  waitForInSync(timeoutMs?: number): Promise<void>;
  /** kill -9 of every node by PID and removal of the data dir; safe to call twice. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One metadata round trip through `brokers`: the registered, unfenced broker ids, or undefined. */
async function describeBrokers(brokers: string[]): Promise<number[] | undefined> {
  const admin = createKafkaClient(
    { brokers, clientId: 'fleetgrid-private-check', ssl: false, sasl: undefined },
    { log: silentLogger },
  ).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.controller === null ? undefined : cluster.brokers;
  } catch {
    return undefined;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

export async function startPrivateKafka(options: PrivateKafkaOptions = {}): Promise<PrivateKafka> {
  const size = options.nodes ?? 1;
  if (!Number.isInteger(size) || size < 1 || size > 9) throw new Error('nodes: 1 to 9');
  const jars = options.jars ?? defaultKafkaJars();
  if (!existsSync(jars.libs)) throw new Error(`no Kafka jars at ${jars.libs}: run \`make setup\``);
  const dir = privateDir(options.name ?? `kafka${size}`);
  const ports = await freePorts(size * 2);
  const cluster = localCluster(dir, ports.slice(0, size), ports.slice(size));
  const clusterId = newClusterId();
  const startTimeoutMs = options.startTimeoutMs ?? 90_000;
  const heap = options.heap ?? ['-Xms128m', '-Xmx512m'];

  const nodes = cluster.nodes.map((spec: KraftNodeSpec): PrivateKafkaNode => {
    const address = `127.0.0.1:${spec.brokerPort}`;
    const proc = managedProcess({
      name: `kafka-${spec.nodeId}`,
      dir,
      launch: () => launchKraftNode(spec, jars, heap),
      // A node is ready when it answers metadata itself and counts itself among the live brokers.
      ready: async () => (await describeBrokers([address]))?.includes(spec.nodeId) ?? false,
      logFiles: [join(spec.dir, 'logs', 'stdout.log'), join(spec.dir, 'logs', 'server.log')],
      startTimeoutMs,
    });
    return Object.assign(proc, {
      nodeId: spec.nodeId,
      brokerPort: spec.brokerPort,
      controllerPort: spec.controllerPort,
      address,
    });
  });

  const brokers = nodes.map((node) => node.address);
  let stopped = false;
  const forget = onProcessExit(() => destroyInstanceNow(nodes, dir));
  const instance: PrivateKafka = {
    bootstrap: brokers.join(','),
    brokers,
    nodes,
    dir,
    node(nodeId) {
      const found = nodes.find((node) => node.nodeId === nodeId);
      if (!found) throw new Error(`no node ${nodeId}`);
      return found;
    },
    kafkaConfig: (clientId = 'fleetgrid-test') => ({ brokers, clientId, ssl: false, sasl: undefined }),
    async waitForBrokers(count = nodes.filter((node) => node.running).length, timeoutMs = startTimeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const live = await describeBrokers(brokers);
        if (live && live.length >= count) return;
        if (Date.now() >= deadline)
          throw new Error(`fewer than ${count} brokers registered within ${timeoutMs} ms`);
        await sleep(250);
      }
    },
    async topicMetadata() {
      const admin = createKafkaClient(instance.kafkaConfig('fleetgrid-private-check'), {
        log: silentLogger,
      }).admin();
      try {
        await admin.connect();
        return await admin.fetchTopicMetadata(await admin.listTopics());
      } finally {
        await admin.disconnect().catch(() => {});
      }
    },
    async waitForInSync(timeoutMs = startTimeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const topics = await instance.topicMetadata().catch(() => undefined);
        const lagging = topics?.flatMap((t) =>
          t.partitions.filter((p) => p.leader < 0 || p.isr.length < p.replicas.length),
        );
        if (lagging && lagging.length === 0) return;
        if (Date.now() >= deadline)
          throw new Error(
            `${lagging?.length ?? 'some'} partitions still had replicas out of sync after ${timeoutMs} ms`,
          );
        await sleep(500);
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      forget();
      await destroyInstance(nodes, dir);
    },
  };
  try {
    for (const spec of cluster.nodes) {
      prepareKraftNode(cluster, spec.nodeId, {
        clusterId,
        jars,
        ...(options.properties ? { overrides: options.properties } : {}),
      });
    }
    // The quorum needs a majority of voters before any node is ready: start them together.
    await Promise.all(nodes.map((node) => node.start()));
    await instance.waitForBrokers(size);
  } catch (error) {
    await instance.stop();
    throw error;
  }
  return instance;
}
