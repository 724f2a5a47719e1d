/**
 * The one place that says how a local Apache Kafka KRaft node is configured, formatted and
 * launched: `make up` (infra/local/stack.sh, through the CLI at the bottom) and the private
 * brokers of fault tests (test/support) both use it, so a test's broker is the stack's
 * broker on other ports.
 *
 * Every node is a combined broker and controller on loopback. One node uses a dynamic
 * quorum formatted `--standalone` (what the stack has always done, so existing data dirs
 * keep working); several nodes use static voters (`controller.quorum.voters`), the simplest
 * cluster that survives a node failure. The shared broker settings (partitions, retention,
 * threads) live in infra/local/kafka.properties; this module adds identity, listeners,
 * quorum and what depends on the cluster's size (replication factors, min ISR).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const HERE = import.meta.dirname;
const ROOT = resolve(HERE, '../..');

export interface KraftNodeSpec {
  nodeId: number;
  brokerPort: number;
  controllerPort: number;
  /** Holds the node's log dir (`log/`) and its rendered properties. */
  dir: string;
  /** Where the node's own logs go; `<dir>/logs` unless given. */
  logsDir?: string;
}

/** An extra SASL_SSL listener with SCRAM-SHA-512 (the stack's 9094). */
export interface SaslSslListener {
  port: number;
  /** PEM file holding the unencrypted PKCS#8 private key and the certificate chain. */
  keystorePem: string;
}

export interface KraftClusterSpec {
  nodes: KraftNodeSpec[];
  host?: string;
}

/** Replication settings that follow from the cluster's size: 3 and min ISR 2 from three nodes on. */
export function replicationFor(size: number): { factor: number; minIsr: number } {
  if (size >= 3) return { factor: 3, minIsr: 2 };
  return { factor: size, minIsr: 1 };
}

/** `key=value` lines of a Java properties file (no continuation lines: ours have none). */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('!')) continue;
    const at = line.search(/[=:]/);
    if (at < 0) continue;
    out.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  return out;
}

/**
 * The properties of node `nodeId` of `cluster`: the shared base settings, overridden by
 * identity, listeners, quorum, storage and replication. Pure; rendering order is stable.
 */
export function kraftNodeProperties(
  cluster: KraftClusterSpec,
  nodeId: number,
  base: Map<string, string>,
  options: { saslSsl?: SaslSslListener } = {},
): Map<string, string> {
  const host = cluster.host ?? '127.0.0.1';
  const node = cluster.nodes.find((candidate) => candidate.nodeId === nodeId);
  if (!node) throw new Error(`node ${nodeId} is not in the cluster`);
  const size = cluster.nodes.length;
  const { factor, minIsr } = replicationFor(size);
  const props = new Map(base);
  const listeners = [`PLAINTEXT://${host}:${node.brokerPort}`, `CONTROLLER://${host}:${node.controllerPort}`];
  const advertised = [`PLAINTEXT://${host}:${node.brokerPort}`];
  const protocols = ['PLAINTEXT:PLAINTEXT', 'CONTROLLER:PLAINTEXT'];
  if (options.saslSsl) {
    listeners.push(`SASL_SSL://${host}:${options.saslSsl.port}`);
    advertised.push(`SASL_SSL://${host}:${options.saslSsl.port}`);
    protocols.push('SASL_SSL:SASL_SSL');
  }
  const set = (key: string, value: string | number) => props.set(key, String(value));
  set('process.roles', 'broker,controller');
  set('node.id', nodeId);
  set('listeners', listeners.join(','));
  set('advertised.listeners', advertised.join(','));
  set('listener.security.protocol.map', protocols.join(','));
  set('controller.listener.names', 'CONTROLLER');
  set('inter.broker.listener.name', 'PLAINTEXT');
  if (size === 1) {
    props.delete('controller.quorum.voters');
    set('controller.quorum.bootstrap.servers', `${host}:${node.controllerPort}`);
  } else {
    props.delete('controller.quorum.bootstrap.servers');
    set(
      'controller.quorum.voters',
      cluster.nodes.map((voter) => `${voter.nodeId}@${host}:${voter.controllerPort}`).join(','),
    );
  }
  set('log.dirs', join(node.dir, 'log'));
  set('default.replication.factor', factor);
  set('min.insync.replicas', minIsr);
  set('offsets.topic.replication.factor', factor);
  set('transaction.state.log.replication.factor', factor);
  set('transaction.state.log.min.isr', minIsr);
  set('share.coordinator.state.topic.replication.factor', factor);
  set('share.coordinator.state.topic.min.isr', minIsr);
  if (options.saslSsl) {
    // SCRAM users live in the cluster metadata (stack.sh adds the service user); the PEM
    // keystore holds an unencrypted key, so no keystore password exists to leak.
    const listener = 'listener.name.sasl_ssl';
    set(`${listener}.sasl.enabled.mechanisms`, 'SCRAM-SHA-512');
    set(
      `${listener}.scram-sha-512.sasl.jaas.config`,
      'org.apache.kafka.common.security.scram.ScramLoginModule required;',
    );
    set(`${listener}.ssl.keystore.type`, 'PEM');
    set(`${listener}.ssl.keystore.location`, options.saslSsl.keystorePem);
    set('sasl.enabled.mechanisms', 'SCRAM-SHA-512');
  }
  return props;
}

export function renderProperties(props: Map<string, string>, header: string): string {
  const lines = [`# ${header}`];
  for (const [key, value] of props) lines.push(`${key}=${value}`);
  return `${lines.join('\n')}\n`;
}

/** A KRaft cluster id: a random UUID in Kafka's base64url form (never starting with '-'). */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export interface KafkaJars {
  /** The directory holding the broker's jars (`.cache/stack/kafka-<version>/libs`). */
  libs: string;
  java: string;
}

/** Where `stack.sh fetch` put the jars of the version infra/local/pom.xml names. */
export function defaultKafkaJars(env: NodeJS.ProcessEnv = process.env): KafkaJars {
  const pom = readFileSync(join(HERE, 'pom.xml'), 'utf8');
  const version = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)?.[1];
  if (!version) throw new Error('infra/local/pom.xml names no kafka.version');
  const cache = env.FLEETGRID_CACHE_DIR ?? join(ROOT, '.cache');
  return { libs: join(cache, 'stack', `kafka-${version}`, 'libs'), java: env.KAFKA_JAVA ?? 'java' };
}

const PROPERTIES_FILE = 'server.properties';

/**
 * Writes node `nodeId`'s properties into its dir and formats its storage on first use.
 * Returns the properties file. Formatting refuses an existing log dir, so a restart never
 * formats again.
 */
export function prepareKraftNode(
  cluster: KraftClusterSpec,
  nodeId: number,
  options: {
    clusterId: string;
    jars: KafkaJars;
    saslSsl?: SaslSslListener;
    base?: string;
    /** Last word on any property, e.g. a fault test's shorter session timeouts. */
    overrides?: Record<string, string>;
  },
): string {
  const node = cluster.nodes.find((candidate) => candidate.nodeId === nodeId);
  if (!node) throw new Error(`node ${nodeId} is not in the cluster`);
  mkdirSync(node.dir, { recursive: true });
  mkdirSync(logsOf(node), { recursive: true });
  const base = parseProperties(readFileSync(options.base ?? join(HERE, 'kafka.properties'), 'utf8'));
  const props = kraftNodeProperties(
    cluster,
    nodeId,
    base,
    options.saslSsl ? { saslSsl: options.saslSsl } : {},
  );
  for (const [key, value] of Object.entries(options.overrides ?? {})) props.set(key, value);
  const file = join(node.dir, PROPERTIES_FILE);
  // The file may name key material locations; it holds no password, but stays private anyway.
  writeFileSync(
    file,
    renderProperties(props, `node ${nodeId} of ${cluster.nodes.length}; rendered by kraft.ts`),
    {
      mode: 0o600,
    },
  );
  if (!existsSync(join(node.dir, 'log', 'meta.properties'))) {
    const args = [
      ...javaLogArgs(node),
      '-cp',
      join(options.jars.libs, '*'),
      'kafka.tools.StorageTool',
      'format',
      ...(cluster.nodes.length === 1 ? ['--standalone'] : []),
      '-t',
      options.clusterId,
      '-c',
      file,
    ];
    const result = spawnSync(options.jars.java, args, { encoding: 'utf8', timeout: 60_000 });
    if (result.status !== 0) {
      throw new Error(
        `formatting the storage of Kafka node ${nodeId} failed: ${result.error?.message ?? ''}${result.stdout}${result.stderr}`,
      );
    }
  }
  return file;
}

function logsOf(node: KraftNodeSpec): string {
  return node.logsDir ?? join(node.dir, 'logs');
}

function javaLogArgs(node: KraftNodeSpec): string[] {
  return [
    `-Dlog4j2.configurationFile=${join(HERE, 'log4j2.properties')}`,
    `-Dkafka.logs.dir=${logsOf(node)}`,
  ];
}

/** The java command line of a node; heap options as a list, e.g. ['-Xms128m', '-Xmx512m']. */
export function kraftNodeCommand(
  node: KraftNodeSpec,
  jars: KafkaJars,
  heap: string[],
): { command: string; args: string[] } {
  return {
    command: jars.java,
    args: [
      ...heap,
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-Djava.awt.headless=true',
      ...javaLogArgs(node),
      '-cp',
      join(jars.libs, '*'),
      'kafka.Kafka',
      join(node.dir, PROPERTIES_FILE),
    ],
  };
}

/** Starts a prepared node as a child; stdout and stderr go to `<logs>/stdout.log`. */
export function launchKraftNode(
  node: KraftNodeSpec,
  jars: KafkaJars,
  heap: string[],
  options: { detached?: boolean } = {},
): ChildProcess {
  const { command, args } = kraftNodeCommand(node, jars, heap);
  const out = openSync(join(logsOf(node), 'stdout.log'), 'a');
  const child = spawn(command, args, {
    stdio: ['ignore', out, out],
    detached: options.detached ?? false,
  });
  if (options.detached) child.unref();
  return child;
}

/** The nodes of a local cluster: node i (1-based) on brokerPorts[i-1] and controllerPorts[i-1]. */
export function localCluster(
  dir: string,
  brokerPorts: number[],
  controllerPorts: number[],
): KraftClusterSpec {
  if (brokerPorts.length !== controllerPorts.length || brokerPorts.length === 0) {
    throw new Error('one broker port and one controller port per node');
  }
  const nodes = brokerPorts.map((brokerPort, i) => ({
    nodeId: i + 1,
    brokerPort,
    controllerPort: controllerPorts[i] as number,
    dir: brokerPorts.length === 1 ? dir : join(dir, `node-${i + 1}`),
  }));
  return { nodes };
}

/**
 * CLI for stack.sh: `node infra/local/kraft.ts start --dir D --broker-ports 9092 --controller-ports 9093
 * --node-ids 1 --pid-file F [--logs-dir L] [--sasl-ssl-port 9094 --keystore-pem P]`. Prepares the
 * nodes (cluster id kept in `<dir>/cluster.id`; every node's storage formatted before any starts,
 * so formatting never competes with a booting JVM), starts them detached and writes their pids.
 * With several nodes, `{id}` in --pid-file and --logs-dir stands for the node id. Readiness is
 * the caller's.
 */
async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      'broker-ports': { type: 'string' },
      'controller-ports': { type: 'string' },
      'node-ids': { type: 'string', default: '1' },
      'pid-file': { type: 'string' },
      'logs-dir': { type: 'string' },
      'sasl-ssl-port': { type: 'string' },
      'keystore-pem': { type: 'string' },
      heap: { type: 'string', default: '-Xms512m -Xmx1g' },
    },
  });
  if (positionals[0] !== 'start' || !values.dir || !values['broker-ports'] || !values['controller-ports']) {
    throw new Error(
      'usage: kraft.ts start --dir D --broker-ports P[,P..] --controller-ports P[,P..] --node-ids N[,N..] --pid-file F',
    );
  }
  const numbers = (list: string) => list.split(',').map((value) => Number.parseInt(value, 10));
  const forNode = (pattern: string, nodeId: number) => resolve(pattern.replaceAll('{id}', String(nodeId)));
  const cluster = localCluster(
    resolve(values.dir),
    numbers(values['broker-ports']),
    numbers(values['controller-ports']),
  );
  const nodeIds = numbers(values['node-ids']);
  const logsDir = values['logs-dir'];
  cluster.nodes = cluster.nodes.map((node) =>
    logsDir && nodeIds.includes(node.nodeId) ? { ...node, logsDir: forNode(logsDir, node.nodeId) } : node,
  );
  mkdirSync(values.dir, { recursive: true });
  const idFile = join(values.dir, 'cluster.id');
  if (!existsSync(idFile)) writeFileSync(idFile, `${newClusterId()}\n`);
  const clusterId = readFileSync(idFile, 'utf8').trim();
  const jars = defaultKafkaJars();
  const saslSsl =
    values['sasl-ssl-port'] && values['keystore-pem']
      ? { port: Number.parseInt(values['sasl-ssl-port'], 10), keystorePem: resolve(values['keystore-pem']) }
      : undefined;
  for (const nodeId of nodeIds)
    prepareKraftNode(cluster, nodeId, { clusterId, jars, ...(saslSsl ? { saslSsl } : {}) });
  for (const nodeId of nodeIds) {
    const node = cluster.nodes.find((candidate) => candidate.nodeId === nodeId);
    if (!node) throw new Error(`no node ${nodeId}`);
    const child = launchKraftNode(node, jars, values.heap.split(/\s+/).filter(Boolean), { detached: true });
    if (values['pid-file']) writeFileSync(forNode(values['pid-file'], nodeId), `${child.pid}\n`);
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`[kraft] ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
