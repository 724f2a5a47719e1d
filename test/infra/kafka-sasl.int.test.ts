/**
 * Issue 11: the stack's broker serves SASL_SSL with SCRAM-SHA-512 on 127.0.0.1:9094, and the
 * services run through it with credentials from the environment only: `fleetgrid simulate`,
 * `fleetgrid process` and `fleetgrid sink` as child processes, data checked in ClickHouse at
 * the end. Wrong credentials or an untrusted certificate make a service stop at once with
 * KAFKA_AUTH_FAILED (not retriable), instead of retrying forever.
 *
 * Uses the stack of `make up` (STACK_KAFKA_SASL_PORT and FLEETGRID_DATA_DIR as it was started
 * with); the secret and the CA are the files the stack generated.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, PROJECT_ROOT } from '../../lib/config.ts';
import { createKafkaClient } from '../../lib/kafka/index.ts';
import { silentLogger } from '../../lib/log.ts';
import { createBackend } from '../../clickhouse/index.ts';
import { uniquePrefix } from '../helpers.ts';
import { freePorts } from '../support/index.ts';
import { removeDir } from '../support/index.ts';

const dataRoot = process.env.FLEETGRID_DATA_DIR ?? join(PROJECT_ROOT, '.data');
const SASL_ENV = {
  KAFKA_BROKERS: `127.0.0.1:${process.env.STACK_KAFKA_SASL_PORT ?? '9094'}`,
  KAFKA_SASL_MECHANISM: 'scram-sha-512',
  KAFKA_SASL_USERNAME: 'fleetgrid',
  KAFKA_SASL_PASSWORD_FILE: join(dataRoot, 'secrets', 'kafka-fleetgrid.password'),
  KAFKA_SSL_CA_FILE: join(dataRoot, 'stack', 'kafka-tls', 'ca.crt'),
};
const RAW_TABLES = [
  'truck_telemetry',
  'truck_engine_events',
  'truck_diagnostics',
  'turbine_telemetry',
  'solar_telemetry',
];

interface Service {
  child: ChildProcess;
  exited: Promise<number | string>;
  output(): string;
}

function startService(args: string[], env: Record<string, string>): Service {
  const { KAFKA_SASL_PASSWORD: _never, ...inherited } = process.env;
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin/fleetgrid.mjs'), ...args], {
    env: { ...inherited, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code ?? -1)),
  );
  return { child, exited, output: () => output };
}

/** Waits for the child's exit, failing (and killing it) if it does not come within `ms`. */
async function exitWithin(service: Service, ms: number): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    service.exited,
    new Promise<'still running'>((resolve) => {
      timer = setTimeout(() => resolve('still running'), ms);
    }),
  ]);
  clearTimeout(timer);
  if (result === 'still running') service.child.kill('SIGKILL');
  return result;
}

async function metric(port: number, name: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
    (response) => response.text(),
    () => '',
  );
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /table="([^"]+)".*\s([0-9.e+]+)$/.exec(line);
    if (match) out.set(match[1] as string, Number(match[2]));
  }
  return out;
}

describe('Kafka SASL/SCRAM over TLS (the stack listener)', () => {
  const services: Service[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    for (const service of services) service.child.kill('SIGKILL');
    await Promise.all(services.map((service) => service.exited));
    for (const dir of dirs) removeDir(dir);
  });

  it('carries simulate → process → sink end to end with credentials from the environment', async () => {
    // The same settings, parsed by the services' own config: a sanity check of the files.
    const config = loadConfig({ ...SASL_ENV });
    expect(config.kafka.ssl).toBe(true);
    expect(config.kafka.sasl?.password.length).toBeGreaterThan(20);

    const prefix = uniquePrefix('kafka-sasl');
    const dataDir = mkdtempSync(join(tmpdir(), 'fg-sasl-'));
    dirs.push(dataDir);
    const [sinkMetrics, sinkQuery] = (await freePorts(2)) as [number, number];
    const env = { ...SASL_ENV, TOPIC_PREFIX: prefix, FLEETGRID_DATA_DIR: dataDir };

    const simulate = startService(
      [
        'simulate',
        '--trucks',
        '4',
        '--turbines',
        '2',
        '--solar',
        '2',
        '--interval',
        '5s',
        '--from',
        'now-40m',
        '--to',
        'now-30m',
        '--partitions',
        '3',
        '--json',
      ],
      env,
    );
    services.push(simulate);
    expect(await exitWithin(simulate, 90_000), simulate.output()).toBe(0);
    const summary = JSON.parse(simulate.output().trim().split('\n').at(-1) as string) as {
      events: number;
      acked: number;
    };
    expect(summary.events).toBeGreaterThan(500);
    expect(summary.acked).toBe(summary.events);

    const processor = startService(
      // The simulated devices are not registered on this private cluster: processed as they are.
      ['process', '--partitions', '3', '--window-size', '60s', '--grace', '5s', '--unknown-device', 'accept'],
      env,
    );
    const sink = startService(
      [
        'sink',
        '--metrics-port',
        String(sinkMetrics),
        '--query-port',
        String(sinkQuery),
        '--linger-ms',
        '100',
      ],
      env,
    );
    services.push(processor, sink);

    // Every raw event, and the processor's closed windows, written by the sink.
    const deadline = Date.now() + 100_000;
    let written = new Map<string, number>();
    for (;;) {
      written = await metric(sinkMetrics, 'fleetgrid_sink_written_rows_total');
      const raw = RAW_TABLES.reduce((sum, table) => sum + (written.get(table) ?? 0), 0);
      if (raw >= summary.events && (written.get('aggregates_1m') ?? 0) > 0) break;
      if (Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    sink.child.kill('SIGTERM');
    processor.child.kill('SIGTERM');
    expect(await exitWithin(sink, 60_000), sink.output()).toBe(0);
    expect(await exitWithin(processor, 60_000), processor.output()).toBe(0);

    // What ClickHouse holds, read from the sink's data dir once it has stopped.
    const backend = await createBackend({
      mode: 'embedded',
      dataDir: join(dataDir, 'clickhouse'),
      database: 'fleetgrid',
    });
    try {
      let raw = 0;
      for (const table of RAW_TABLES) {
        const [row] = await backend.query<{ n: string }>(`SELECT count() AS n FROM ${table}`);
        raw += Number(row?.n ?? 0);
      }
      expect(raw).toBe(summary.events);
      const [aggregates] = await backend.query<{ n: string }>('SELECT count() AS n FROM aggregates_1m');
      expect(Number(aggregates?.n)).toBeGreaterThan(0);
    } finally {
      await backend.close();
    }
  });

  it('refuses a wrong password, an unknown user and an untrusted certificate with KAFKA_AUTH_FAILED, at once', async () => {
    const prefix = uniquePrefix('kafka-sasl-bad');
    const wrong: Record<string, Record<string, string>> = {
      'wrong password': {
        ...SASL_ENV,
        KAFKA_SASL_PASSWORD_FILE: '',
        KAFKA_SASL_PASSWORD: 'not-the-password',
      },
      'unknown user': { ...SASL_ENV, KAFKA_SASL_USERNAME: 'mallory' },
      'untrusted certificate': { ...SASL_ENV, KAFKA_SSL_CA_FILE: '', KAFKA_SSL: 'true' },
    };
    for (const [what, env] of Object.entries(wrong)) {
      for (const args of [
        ['process', '--partitions', '3'],
        ['simulate', '--count', '10'],
      ]) {
        const service = startService(args, { ...env, TOPIC_PREFIX: prefix });
        services.push(service);
        // Bounded: a service that retried a refused login would still be running here.
        const exit = await exitWithin(service, 60_000);
        expect(exit, `${what}, ${args[0]}: ${service.output()}`).toBe(1);
        expect(service.output(), `${what}, ${args[0]}`).toMatch(/KAFKA_AUTH_FAILED/);
      }
    }
    // The broker is fine and the right credentials still work.
    const admin = createKafkaClient(loadConfig({ ...SASL_ENV }).kafka, { log: silentLogger }).admin();
    await admin.connect();
    expect((await admin.describeCluster()).brokers.length).toBeGreaterThan(0);
    await admin.disconnect();
  });

  it('keeps the password out of every process command line', async () => {
    const password = readFileSync(SASL_ENV.KAFKA_SASL_PASSWORD_FILE, 'utf8').trim();
    const ps = await new Promise<string>((resolve) => {
      const child = spawn('ps', ['-eo', 'args'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      child.once('exit', () => resolve(out));
    });
    expect(ps).toContain('kafka.Kafka');
    expect(ps).not.toContain(password);
  });
});
