/**
 * The demo's process supervisor. Kept apart from cli/demo.ts so `fleetgrid --help` does
 * not load it. Children write their logs to .data/demo/<name>.log; a child that exits
 * early stops the demo with its last log lines, instead of leaving a half pipeline.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig, PROJECT_ROOT } from '../lib/config.ts';
import { ensureSecretFile } from '../lib/secrets.ts';
import { onShutdownSignal } from '../lib/stream/index.ts';
import type { DemoOptions } from './demo.ts';

/** Default /metrics ports of the services (see docs/dashboards.md; Prometheus scrapes them). */
export const DEMO_METRICS_PORTS = { simulate: 9464, process: 9465, sink: 9466, notify: 9467 } as const;

interface ChildSpec {
  name: string;
  args: string[];
  env?: Record<string, string>;
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const config = loadConfig();
  const logDir = resolve(config.dataDir, 'demo');
  mkdirSync(logDir, { recursive: true });
  const cli = resolve(PROJECT_ROOT, 'bin/fleetgrid.mjs');

  await runToEnd(cli, ['setup-topics']);
  // The fleet the simulator runs, registered in the registry (PostgreSQL): the control plane
  // is not needed by the data plane, so a registry that cannot be reached is a warning.
  const registered = await runToEnd(cli, [
    'registry',
    'seed',
    '--trucks',
    options.trucks,
    '--turbines',
    options.turbines,
    '--solar',
    options.solar,
  ]).then(
    () => true,
    (error: unknown) => {
      console.warn(
        `warning: the fleet was not registered (${(error as Error).message}); the pipeline runs without it`,
      );
      return false;
    },
  );
  // Registry writes through the API need a write token of their own (query/auth.ts).
  const writeTokenFile = resolve(config.dataDir, 'secrets', 'api-write.token');
  ensureSecretFile(writeTokenFile);

  const specs: ChildSpec[] = [
    { name: 'sink', args: ['sink', '--metrics-port', String(DEMO_METRICS_PORTS.sink)] },
    {
      name: 'process',
      // The seeded fleet is joined with the registry (unknown devices quarantined); without a
      // registry the demo still shows the pipeline, with every device processed as it is.
      args: [
        'process',
        '--metrics-port',
        String(DEMO_METRICS_PORTS.process),
        ...(registered ? [] : ['--unknown-device', 'accept']),
      ],
    },
    {
      // Alerts to the stack's Alertmanager (its password file from `make up`); links in the
      // alerts point at this demo's dashboard.
      name: 'notify',
      args: ['notify', '--metrics-port', String(DEMO_METRICS_PORTS.notify)],
      env: { API_PUBLIC_URL: process.env.API_PUBLIC_URL ?? `http://127.0.0.1:${options.port}` },
    },
    {
      name: 'serve',
      args: ['serve', '--port', options.port],
      // /api/v1/pipeline/health reads backpressure and throughput off the services' metrics.
      env: {
        API_WRITE_TOKEN_FILE: process.env.API_WRITE_TOKEN_FILE ?? writeTokenFile,
        QUERY_METRICS_URLS: Object.entries(DEMO_METRICS_PORTS)
          .map(([name, port]) => `${name}=http://127.0.0.1:${port}/metrics`)
          .join(','),
      },
    },
    {
      name: 'simulate',
      args: [
        'simulate',
        '--trucks',
        options.trucks,
        '--turbines',
        options.turbines,
        '--solar',
        options.solar,
        '--speed',
        options.speed,
        '--metrics-port',
        String(DEMO_METRICS_PORTS.simulate),
      ],
    },
  ];

  const children = new Map<string, ChildProcess>();
  let stopping = false;
  const stopAll = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\nstopping the demo (${reason}) …`);
    // Producers first, so the processors and the sink can drain what was sent.
    for (const name of ['simulate', 'serve', 'process', 'notify', 'sink']) {
      const child = children.get(name);
      if (!child || child.exitCode !== null) continue;
      child.kill('SIGTERM');
      await new Promise<void>((done) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          done();
        }, 20_000);
        child.once('exit', () => {
          clearTimeout(timer);
          done();
        });
      });
    }
    console.log('demo stopped');
  };

  for (const spec of specs) {
    // spawn needs a file descriptor that is open now, not a stream that opens later.
    const log = openSync(resolve(logDir, `${spec.name}.log`), 'a');
    const child = spawn(process.execPath, [cli, ...spec.args], {
      stdio: ['ignore', log, log],
      env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', ...spec.env },
    });
    closeSync(log);
    children.set(spec.name, child);
    child.on('exit', (code, signal) => {
      if (stopping) return;
      const tail = readTail(resolve(logDir, `${spec.name}.log`));
      console.error(`\n${spec.name} exited early (code ${code}, signal ${signal}); last log lines:\n${tail}`);
      process.exitCode = 1;
      void stopAll(`${spec.name} exited`);
    });
  }

  const apiUrl = `http://127.0.0.1:${options.port}`;
  await waitForHttp(`${apiUrl}/readyz`, 90_000, () => stopping);
  if (!stopping) {
    console.log(`
fleetgrid demo is running: ${options.trucks} trucks, ${options.turbines} turbines, ${options.solar} solar arrays.

  Dashboard        ${apiUrl}/
  HTTP API         ${apiUrl}/api/v1/fleet/summary   (OpenAPI: ${apiUrl}/docs)
  Fleet registry   ${apiUrl}/api/v1/registry/devices${registered ? '' : '   (not registered: see the warning above)'}
                   npx fleetgrid registry list devices   (writes: token in ${writeTokenFile})
  CLI              npx fleetgrid query summary
  Metrics          simulate :${DEMO_METRICS_PORTS.simulate}  process :${DEMO_METRICS_PORTS.process}  sink :${DEMO_METRICS_PORTS.sink}  notify :${DEMO_METRICS_PORTS.notify}  serve ${apiUrl}/metrics
  Prometheus       http://127.0.0.1:9090 (when \`make up\` started it)
  Alertmanager     http://127.0.0.1:9095 (alerts from \`fleetgrid notify\`; user fleetgrid, password in ${resolve(config.dataDir, 'secrets', 'alertmanager.password')})
  Logs             ${logDir}/<service>.log

Aggregates appear once the first 1-minute windows close (about 90 s). Ctrl-C stops the demo.`);
  }

  // A second Ctrl-C does not wait for the drain: the children go with the demo.
  onShutdownSignal(
    () => void stopAll('signal'),
    undefined,
    () => {
      for (const child of children.values()) if (child.exitCode === null) child.kill('SIGKILL');
    },
  );
  if (options.duration) {
    setTimeout(
      () => void stopAll(`--duration ${options.duration}s`),
      Number(options.duration) * 1_000,
    ).unref();
  }
  await new Promise<void>((done) => {
    const poll = setInterval(() => {
      if ([...children.values()].every((child) => child.exitCode !== null || child.signalCode !== null)) {
        clearInterval(poll);
        done();
      }
    }, 250);
  });
}

function runToEnd(cli: string, args: string[]): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: 'inherit' });
    child.on('exit', (code) =>
      code === 0 ? done() : fail(new Error(`fleetgrid ${args.join(' ')} exited with ${code}`)),
    );
  });
}

async function waitForHttp(url: string, timeoutMs: number, cancelled: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !cancelled()) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  if (!cancelled()) throw new Error(`${url} did not answer within ${timeoutMs / 1000}s`);
}

function readTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
