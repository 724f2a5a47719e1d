/**
 * The compose stack (infra/compose) cannot be started on a machine without a Docker
 * engine, so what can be checked without one is checked here: the file renders with a
 * Compose client when one is installed (`docker compose config`, or Debian's
 * docker-compose 1.x), every service has a healthcheck, every published port binds
 * loopback and comes from the environment, every bind mount exists, and the metrics ports
 * agree between the services' commands, both Prometheus configs and `fleetgrid demo`.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DEMO_METRICS_PORTS } from '../../cli/demo-runner.ts';
import { PROJECT_ROOT } from '../../lib/config.ts';

const run = promisify(execFile);
const COMPOSE_DIR = join(PROJECT_ROOT, 'infra/compose');
const source = readFileSync(join(COMPOSE_DIR, 'docker-compose.yml'), 'utf8');

/** Top-level service blocks: `  name:` under `services:` up to the next one. */
function services(): Map<string, string> {
  const body = source.slice(source.indexOf('\nservices:\n'), source.indexOf('\nvolumes:\n'));
  const blocks = new Map<string, string>();
  const names = [...body.matchAll(/^ {2}([a-z][\w-]*):\n/gm)];
  names.forEach((m, i) => {
    const end = names[i + 1]?.index ?? body.length;
    blocks.set(m[1] as string, body.slice(m.index, end));
  });
  return blocks;
}

async function composeClient(): Promise<string[] | undefined> {
  for (const candidate of [['docker', 'compose'], ['docker-compose']]) {
    try {
      await run(candidate[0] as string, [...candidate.slice(1), 'version'], { timeout: 20_000 });
      return candidate;
    } catch {
      // not installed (or `docker` without the compose plugin): try the next one
    }
  }
  return undefined;
}

describe('compose stack', () => {
  const blocks = services();

  it('has the infrastructure and the fleetgrid services, each with a healthcheck', () => {
    expect([...blocks.keys()].sort()).toEqual(
      [
        'alertmanager',
        'clickhouse',
        'grafana',
        'kafka',
        'notify',
        'process',
        'prometheus',
        'redis',
        'schema-registry',
        'serve',
        'simulate',
        'sink',
      ].sort(),
    );
    for (const [name, block] of blocks) expect(block, name).toMatch(/^ {4}healthcheck:/m);
  });

  it('publishes every port on loopback only, from an environment variable with a default', () => {
    const ports = [...source.matchAll(/^ {6}- (\S*:\d+)$/gm)].map((m) => m[1] as string);
    expect(ports.length).toBe(8);
    for (const port of ports) expect(port).toMatch(/^127\.0\.0\.1:\$\{[A-Z_]+:-\d+\}:\d+$/);
  });

  it('mounts only files and folders that exist in the repository', () => {
    const mounts = [...source.matchAll(/^ {6}- (\.{1,2}\/[^:]+):/gm)].map((m) => m[1] as string);
    expect(mounts.length).toBeGreaterThanOrEqual(5);
    for (const mount of mounts) expect(existsSync(resolve(COMPOSE_DIR, mount)), mount).toBe(true);
  });

  it('scrapes each service on the metrics port its command opens, as the local stack and the demo do', () => {
    const composeTargets = readFileSync(join(COMPOSE_DIR, 'prometheus/prometheus.yml'), 'utf8');
    const localTargets = readFileSync(join(PROJECT_ROOT, 'infra/prometheus/prometheus.yml'), 'utf8');
    const expected = { ...DEMO_METRICS_PORTS, serve: 8080 };
    for (const [service, port] of Object.entries(expected)) {
      const block = blocks.get(service) ?? '';
      const flag = service === 'serve' ? '--port' : '--metrics-port';
      expect(block, service).toMatch(new RegExp(`${flag},\\s*["']?${port}["']?`));
      expect(composeTargets).toContain(`"${service}:${port}"`);
      expect(localTargets).toContain(`"127.0.0.1:${port}"`);
      expect(localTargets).toContain(`job_name: fleetgrid-${service}`);
    }
  });

  it('renders with a Compose client when this machine has one', async () => {
    const client = await composeClient();
    if (!client) {
      // No client: the structural checks above are all that can run (docs/dashboards.md).
      expect(await composeClient()).toBeUndefined();
      return;
    }
    // Compose 1.x predates the top-level `name:`; the rest of the file is the same spec.
    const file = join(COMPOSE_DIR, `.compose-check-${process.pid}.yml`);
    writeFileSync(file, client[0] === 'docker-compose' ? source.replace(/^name: .*\n/m, '') : source);
    try {
      const { stdout } = await run(
        client[0] as string,
        [...client.slice(1), '-f', file, '--env-file', join(COMPOSE_DIR, '.env.example'), 'config'],
        { timeout: 60_000 },
      );
      for (const name of blocks.keys()) expect(stdout).toContain(`  ${name}:`);
      expect(stdout).toContain('127.0.0.1:8080:8080');
    } finally {
      rmSync(file, { force: true });
    }
  });
});
