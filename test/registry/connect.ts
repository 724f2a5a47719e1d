/**
 * A private Kafka Connect worker for fault tests: distributed mode like the stack's, from the
 * stack's cached jars and Debezium plugin, on a free loopback port behind basic auth, with
 * its own group and config/offset/status topics (under the test's prefix) on the stack's
 * Kafka. The test owns it: kill -9 by PID and restart through test/support's process
 * control; `stop()` kills it and removes its directory. The shared worker is never touched.
 */
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultKafkaJars } from '../../infra/local/kraft.ts';
import type { ConnectConfig } from '../../lib/config.ts';
import {
  freePorts,
  managedProcess,
  type PrivateProcess,
  privateDir,
  startInstance,
} from '../support/index.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export interface PrivateConnect extends PrivateProcess {
  /** URL and credentials as lib/config's ConnectConfig. */
  readonly connect: ConnectConfig;
  /** The worker's own topics (delete them after the test). */
  readonly topics: string[];
  stop(): Promise<void>;
}

export interface PrivateConnectOptions {
  /** KAFKA_BROKERS of the stack (plaintext). */
  bootstrap: string;
  /** Prefix of the worker's group and topics: the test's unique TOPIC_PREFIX. */
  prefix: string;
  /** Directory the worker's FileConfigProvider may read (the secrets the connector references). */
  secretsDir: string;
  startTimeoutMs?: number;
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
  const dir = privateDir('connect');
  const [port] = (await freePorts(1)) as [number];
  const jars = defaultKafkaJars();
  const cache = process.env.FLEETGRID_CACHE_DIR ?? join(ROOT, '.cache');
  const password = randomBytes(24).toString('base64url');
  const users = join(dir, 'rest-users.properties');
  writeFileSync(users, `fleetgrid: ${password}\n`, { mode: 0o600 });
  writeFileSync(
    join(dir, 'jaas.conf'),
    `KafkaConnect {\n  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n  file="${users}";\n};\n`,
  );
  const topics = ['configs', 'offsets', 'status'].map((name) => `${options.prefix}connect-${name}`);
  const properties = {
    'bootstrap.servers': options.bootstrap,
    'group.id': `${options.prefix}connect`,
    'config.storage.topic': topics[0],
    'offset.storage.topic': topics[1],
    'status.storage.topic': topics[2],
    'config.storage.replication.factor': '1',
    'offset.storage.replication.factor': '1',
    'status.storage.replication.factor': '1',
    'offset.storage.partitions': '1',
    'status.storage.partitions': '1',
    // The stack's value: what a kill -9 can lose of the committed offsets (changes are then re-sent).
    'offset.flush.interval.ms': '5000',
    'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    listeners: `http://127.0.0.1:${port}`,
    'rest.advertised.host.name': '127.0.0.1',
    'rest.advertised.port': String(port),
    'rest.extension.classes':
      'org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension',
    'plugin.path': join(cache, 'stack', 'connect-plugins'),
    'plugin.discovery': 'service_load',
    'config.providers': 'file',
    'config.providers.file.class': 'org.apache.kafka.common.config.provider.FileConfigProvider',
    'config.providers.file.param.allowed.paths': options.secretsDir,
  };
  const worker = join(dir, 'worker.properties');
  writeFileSync(
    worker,
    Object.entries(properties)
      .map(([key, value]) => `${key}=${value}`)
      .join('\n'),
  );
  const log = join(dir, 'connect.log');
  const url = `http://127.0.0.1:${port}`;
  const authorization = `Basic ${Buffer.from(`fleetgrid:${password}`).toString('base64')}`;
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
          `-Djava.security.auth.login.config=${join(dir, 'jaas.conf')}`,
          `-Dlog4j2.configurationFile=${join(ROOT, 'infra/local/log4j2.properties')}`,
          `-Dkafka.logs.dir=${dir}`,
          '-cp',
          `${jars.libs}/*`,
          'org.apache.kafka.connect.cli.ConnectDistributed',
          worker,
        ],
        { stdio: ['ignore', 'ignore', 'ignore'] },
      ),
    ready: () => answers(url, authorization),
    logFiles: [log, join(dir, 'server.log')],
    startTimeoutMs: options.startTimeoutMs ?? 120_000,
    stopGraceMs: 30_000,
  });
  return startInstance(proc, dir, { connect: { url, auth: { username: 'fleetgrid', password } }, topics });
}
