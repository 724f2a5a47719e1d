/**
 * A private Kafka Connect worker for fault tests: distributed mode like the stack's
 * (infra/local/stack.sh write_connect_config), from the jars and the Debezium plugin `make
 * setup` fetched, on a free loopback port behind basic auth, with its own group.id and its
 * own config/offset/status topics (named after `prefix`) on a Kafka the caller names —
 * usually the stack's. Its connectors (their names, slots and topics) are the caller's to
 * choose. The caller owns it: kill -9 by PID and start again with the same port and
 * topics (so the connectors and their offsets come back); `stop()` kills it by PID and
 * removes its directory. Its topics stay on the Kafka: `topics` names them for deletion.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultKafkaJars } from '../kraft.ts';
import { freePorts, managedProcess, type PrivateProcess, privateDir, startInstance } from './process.ts';

const HERE = import.meta.dirname;
const ROOT = resolve(HERE, '../../..');

export interface PrivateConnectOptions {
  /** bootstrap.servers of the worker (plaintext), e.g. the stack's KAFKA_BROKERS. */
  bootstrap: string;
  /** Prefix of the worker's group.id and internal topics: unique per caller, e.g. a test's TOPIC_PREFIX. */
  prefix: string;
  /** The only directory its FileConfigProvider may read (the secrets its connectors reference), by real path. */
  secretsDir: string;
  /**
   * How often source offsets are committed: what a kill -9 can lose of them (changes since
   * are sent again after the restart). The stack's 5 s by default.
   */
  offsetFlushIntervalMs?: number;
  startTimeoutMs?: number;
  name?: string;
}

export interface PrivateConnect extends PrivateProcess {
  readonly url: string;
  readonly port: number;
  /** URL and credentials as lib/config's ConnectConfig (KAFKA_CONNECT_URL and its password). */
  readonly connect: { url: string; auth: { username: string; password: string } };
  /** group.id of the worker. */
  readonly groupId: string;
  /** Its config, offset and status topics, to delete once it is gone. */
  readonly topics: string[];
  readonly dir: string;
  stop(): Promise<void>;
}

/** The Debezium plugin directory the stack uses (.cache/stack/connect-plugins); it must hold the plugin. */
export function defaultConnectPlugins(env: NodeJS.ProcessEnv = process.env): string {
  const pom = readFileSync(join(HERE, '../connect-plugins/pom.xml'), 'utf8');
  const version = /<debezium\.version>([^<]+)<\/debezium\.version>/.exec(pom)?.[1];
  if (!version) throw new Error('infra/local/connect-plugins/pom.xml names no debezium.version');
  const plugins = join(env.FLEETGRID_CACHE_DIR ?? join(ROOT, '.cache'), 'stack', 'connect-plugins');
  if (!existsSync(join(plugins, `debezium-connector-postgres-${version}`)))
    throw new Error(`the Debezium PostgreSQL plugin ${version} is not under ${plugins}: run \`make setup\``);
  return plugins;
}

async function answers(url: string, authorization: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/connectors`, {
      headers: { authorization },
      signal: AbortSignal.timeout(2_000),
    });
    return response.ok;
  } catch {
    return false;
  }
}

export async function startPrivateConnect(options: PrivateConnectOptions): Promise<PrivateConnect> {
  const jars = defaultKafkaJars();
  const plugins = defaultConnectPlugins();
  const dir = privateDir(options.name ?? 'connect');
  const [port] = (await freePorts(1)) as [number];
  // REST basic auth as on the stack, with a password of its own (nothing on the command line).
  const username = 'fleetgrid';
  const password = randomBytes(24).toString('base64url');
  const users = join(dir, 'rest-users.properties');
  writeFileSync(users, `${username}: ${password}\n`, { mode: 0o600 });
  const jaas = join(dir, 'jaas.conf');
  writeFileSync(
    jaas,
    `KafkaConnect {\n  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n  file="${users}";\n};\n`,
  );
  const groupId = `${options.prefix}connect`;
  const topics = ['configs', 'offsets', 'status'].map((name) => `${options.prefix}connect-${name}`);
  const url = `http://127.0.0.1:${port}`;
  const properties: Record<string, string> = {
    'bootstrap.servers': options.bootstrap,
    'group.id': groupId,
    'config.storage.topic': topics[0] as string,
    'offset.storage.topic': topics[1] as string,
    'status.storage.topic': topics[2] as string,
    'config.storage.replication.factor': '1',
    'offset.storage.replication.factor': '1',
    'status.storage.replication.factor': '1',
    'offset.storage.partitions': '1',
    'status.storage.partitions': '1',
    'offset.flush.interval.ms': String(options.offsetFlushIntervalMs ?? 5_000),
    'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    listeners: url,
    'rest.advertised.host.name': '127.0.0.1',
    'rest.advertised.port': String(port),
    'rest.extension.classes':
      'org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension',
    'plugin.path': plugins,
    'plugin.discovery': 'service_load',
    'config.providers': 'file',
    'config.providers.file.class': 'org.apache.kafka.common.config.provider.FileConfigProvider',
    'config.providers.file.param.allowed.paths': options.secretsDir,
  };
  const worker = join(dir, 'worker.properties');
  writeFileSync(
    worker,
    `${Object.entries(properties)
      .map(([key, value]) => `${key}=${value}`)
      .join('\n')}\n`,
  );
  const authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  const proc = managedProcess({
    name: 'connect',
    dir,
    launch: () =>
      spawn(
        jars.java,
        [
          '-Xms128m',
          '-Xmx512m',
          '-XX:+UseG1GC',
          '-Djava.awt.headless=true',
          `-Djava.security.auth.login.config=${jaas}`,
          `-Dlog4j2.configurationFile=${join(HERE, '../log4j2.properties')}`,
          `-Dkafka.logs.dir=${dir}`,
          '-cp',
          `${jars.libs}/*`,
          'org.apache.kafka.connect.cli.ConnectDistributed',
          worker,
        ],
        { stdio: 'ignore' },
      ),
    ready: () => answers(url, authorization),
    logFiles: [join(dir, 'server.log')],
    startTimeoutMs: options.startTimeoutMs ?? 120_000,
    stopGraceMs: 30_000,
  });
  return startInstance(proc, dir, {
    url,
    port,
    connect: { url, auth: { username, password } },
    groupId,
    topics,
  });
}
