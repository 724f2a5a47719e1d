/**
 * A private Apicurio Registry for fault tests and `fleetgrid loadtest --fault registry-kill`:
 * started like the stack's (infra/local/stack.sh start_registry: the jars `make setup`
 * fetched, H2 file storage, loopback only) on free ports with a temporary data dir, so it
 * can be killed and restarted with its schemas intact. `stop()` kills it by PID and removes
 * the directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePorts, managedProcess, type PrivateProcess, privateDir, startInstance } from './process.ts';

const HERE = import.meta.dirname;
const ROOT = resolve(HERE, '../../..');

export interface PrivateRegistryOptions {
  startTimeoutMs?: number;
  heap?: string[];
  name?: string;
  /** Directory holding quarkus-run.jar; default the stack's cache. */
  home?: string;
  /** A Java 21+ binary; default the newest JDK under /usr/lib/jvm (as stack.sh chooses). */
  java?: string;
}

export interface PrivateRegistry extends PrivateProcess {
  /** The Confluent-compatible API: what SCHEMA_REGISTRY_URL takes. */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  stop(): Promise<void>;
}

/** The stack's Apicurio directory (infra/local/pom.xml's version under .cache/stack). */
export function defaultApicurioHome(env: NodeJS.ProcessEnv = process.env): string {
  const pom = readFileSync(resolve(HERE, '../pom.xml'), 'utf8');
  const version = /<apicurio\.version>([^<]+)<\/apicurio\.version>/.exec(pom)?.[1];
  if (!version) throw new Error('infra/local/pom.xml names no apicurio.version');
  const cache = env.FLEETGRID_CACHE_DIR ?? join(ROOT, '.cache');
  return join(cache, 'stack', `apicurio-${version}`);
}

/** The newest Java of the machine, at least 21 (Apicurio 3.3 needs it; Kafka runs on 17). */
export function registryJava(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [
    env.REGISTRY_JAVA,
    ...(existsSync('/usr/lib/jvm')
      ? readdirSync('/usr/lib/jvm').map((d) => join('/usr/lib/jvm', d, 'bin/java'))
      : []),
    'java',
  ].filter((c): c is string => Boolean(c));
  let best: { java: string; major: number } | undefined;
  for (const java of candidates) {
    // -version prints the properties on stderr.
    const out = spawnSync(java, ['-XshowSettings:properties', '-version'], { encoding: 'utf8' });
    const major = Number(/java\.specification\.version = (\d+)/.exec(`${out.stdout}${out.stderr}`)?.[1]);
    if (major > (best?.major ?? 0)) best = { java, major };
  }
  if (!best || best.major < 21)
    throw new Error('Apicurio Registry needs Java 21 or newer (set REGISTRY_JAVA)');
  return best.java;
}

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/** Sets the global BACKWARD compatibility rule (idempotent PUT); false when not answered. */
async function requireBackwardCompatibility(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/config`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: 'BACKWARD' }),
      signal: AbortSignal.timeout(2_000),
    });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

export async function startPrivateRegistry(options: PrivateRegistryOptions = {}): Promise<PrivateRegistry> {
  const home = options.home ?? defaultApicurioHome();
  const jar = join(home, 'quarkus-run.jar');
  if (!existsSync(jar)) throw new Error(`no Apicurio Registry at ${home}: run \`make setup\``);
  const java = options.java ?? registryJava();
  const dir = privateDir(options.name ?? 'registry');
  const [port, managementPort] = (await freePorts(2)) as [number, number];
  const url = `http://127.0.0.1:${port}/apis/ccompat/v7`;
  const logFile = join(dir, 'registry.log');
  const heap = options.heap ?? ['-Xms64m', '-Xmx384m'];
  const args = [
    ...heap,
    '-XX:+UseSerialGC',
    '-Djava.awt.headless=true',
    '-Dquarkus.http.host=127.0.0.1',
    `-Dquarkus.http.port=${port}`,
    '-Dquarkus.management.host=127.0.0.1',
    `-Dquarkus.management.port=${managementPort}`,
    '-Dapicurio.storage.kind=sql',
    '-Dapicurio.storage.sql.kind=h2',
    `-Dapicurio.datasource.url=jdbc:h2:file:${join(dir, 'h2', 'registry')};DB_CLOSE_ON_EXIT=FALSE;WRITE_DELAY=0`,
    '-Dapicurio.datasource.jdbc.initial-size=2',
    '-Dapicurio.datasource.jdbc.min-size=2',
    '-Dapicurio.datasource.jdbc.max-size=10',
    `-Dapicurio.storage.snapshot.location=${dir}`,
    '-jar',
    jar,
  ];
  const proc = managedProcess({
    name: 'registry',
    dir,
    launch: () => {
      const out = openSync(logFile, 'a');
      return spawn(java, args, { cwd: dir, stdio: ['ignore', out, out] });
    },
    // Ready means serving with the global rule the contracts rely on, as the stack's registry
    // (infra/local/stack.sh): after a kill -9 a subject's own rule may be lost while its
    // schemas are kept, and the client then reads the global default (NONE) as a mismatch.
    ready: async () => (await healthy(url)) && (await requireBackwardCompatibility(url)),
    logFiles: [logFile],
    startTimeoutMs: options.startTimeoutMs ?? 180_000,
    stopGraceMs: 15_000,
  });
  return startInstance(proc, dir, { url, port });
}
