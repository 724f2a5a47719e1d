/**
 * The action of `fleetgrid simulate` (loaded lazily by cli.ts): parses the options into
 * a SimulatorConfig, runs the simulator with a live status line on stderr (when it is a
 * terminal), stops cleanly on SIGINT/SIGTERM, writes the manifest and prints a summary.
 */
import { writeFile } from 'node:fs/promises';
import { loadConfig } from '../lib/config.ts';
import { FleetgridError } from '../lib/errors.ts';
import { createLogger } from '../lib/log.ts';
import { createMetricsRegistry, startMetricsServer } from '../lib/metrics.ts';
import { onShutdownSignal } from '../lib/stream/index.ts';
import type { SimulateOptions } from './cli.ts';
import {
  parseDuration,
  parseSimulatorConfig,
  parseSpeed,
  parseTime,
  type SimulatorConfigInput,
} from './config.ts';
import { formatFaultSpec, parseFaultSpec } from './faults.ts';
import { manifestToJson } from './manifest.ts';
import { createFleetSimulator, createSimulatorDeps, type SimulatorStatus } from './runner.ts';

function integer(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new FleetgridError('INVALID_ARGUMENT', `--${name} must be a non-negative integer, not "${text}"`);
  }
  return value;
}

/** Turns the command-line options into the simulator's config input. */
export function simulateOptionsToConfig(options: SimulateOptions, nowMs: number): SimulatorConfigInput {
  const every = options.interval ? parseDuration(options.interval) : 1_000;
  const input: SimulatorConfigInput = {
    trucks: integer('trucks', options.trucks) ?? 20,
    turbines: integer('turbines', options.turbines) ?? 10,
    solar: integer('solar', options.solar) ?? 10,
    intervalMs: {
      truck: options.truckInterval ? parseDuration(options.truckInterval) : every,
      turbine: options.turbineInterval ? parseDuration(options.turbineInterval) : every,
      solar: options.solarInterval ? parseDuration(options.solarInterval) : every,
    },
    seed: Number.parseInt(options.seed, 10),
    faults: parseFaultSpec(options.faults),
    manifest: options.manifest !== undefined,
    manifestWindows: options.manifestWindows,
    batchSize: integer('batch-size', options.batchSize) ?? 2_000,
    maxInFlight: integer('max-in-flight', options.maxInFlight) ?? 4,
    partitions: integer('partitions', options.partitions) ?? 6,
  };
  if (!Number.isSafeInteger(input.seed))
    throw new FleetgridError('INVALID_ARGUMENT', `--seed must be an integer`);
  if (options.speed !== undefined) input.speed = parseSpeed(options.speed);
  if (options.from !== undefined) input.fromMs = parseTime(options.from, nowMs);
  if (options.to !== undefined) input.toMs = parseTime(options.to, nowMs);
  if (options.duration !== undefined) input.durationMs = parseDuration(options.duration);
  const count = integer('count', options.count);
  if (count !== undefined) input.count = count;
  return input;
}

function statusLine(status: SimulatorStatus, ratePerS: number): string {
  const n = (value: number) => value.toLocaleString('en-US');
  const poison = Object.values(status.faults.poison).reduce((a, b) => a + b, 0);
  return (
    `sim ${new Date(status.simTimeMs).toISOString().slice(0, 19)}Z  events ${n(status.events)}  ` +
    `${n(Math.round(ratePerS))}/s  acked ${n(status.acked)}  backlog ${n(status.backlog)}  ` +
    `dup ${n(status.faults.duplicates)}  poison ${n(poison)}  errors ${n(status.sendErrors)}  retries ${n(status.retries)}`
  );
}

export async function runSimulateCommand(options: SimulateOptions): Promise<void> {
  const app = loadConfig();
  const log = createLogger('simulate', app.logLevel);
  const config = parseSimulatorConfig(simulateOptionsToConfig(options, Date.now()));
  const metrics = createMetricsRegistry('producers');
  const metricsPort = integer('metrics-port', options.metricsPort);
  const server =
    metricsPort !== undefined ? await startMetricsServer(metrics, { port: metricsPort }) : undefined;
  if (server) log.info({ port: server.port }, 'metrics at /metrics');
  const simulator = createFleetSimulator(config, createSimulatorDeps(app, { log, metrics }));

  const removeSignalHandler = onShutdownSignal((signal) => {
    log.info({ signal }, 'stopping: flushing what was generated');
    void simulator.stop();
  }, log);

  const tty = process.stderr.isTTY === true;
  let timer: NodeJS.Timeout | undefined;
  try {
    await simulator.start();
    // A live line on a terminal; otherwise (a service, a pipe) a log line every 10 s.
    let lastEvents = 0;
    let lastAt = Date.now();
    timer = setInterval(
      () => {
        const status = simulator.status();
        const now = Date.now();
        const rate = ((status.events - lastEvents) * 1000) / Math.max(1, now - lastAt);
        lastEvents = status.events;
        lastAt = now;
        if (tty) process.stderr.write(`\r\x1b[2K${statusLine(status, rate)}`);
        else log.info({ ...status, faults: undefined, eventsPerSecond: Math.round(rate) }, 'simulating');
      },
      tty ? 1_000 : 10_000,
    );
    const startedAt = Date.now();
    const result = await simulator.done;
    if (timer) clearInterval(timer);
    if (tty) process.stderr.write('\n');
    if (options.manifest && result.manifest)
      await writeFile(options.manifest, manifestToJson(result.manifest));
    const seconds = (Date.now() - startedAt) / 1000;
    const summary = {
      reason: result.reason,
      events: result.status.events,
      messages: result.status.messages,
      acked: result.status.acked,
      eventsPerSecond: Math.round(result.status.events / Math.max(seconds, 1e-3)),
      seconds: Math.round(seconds * 10) / 10,
      from: new Date(simulator.fromMs).toISOString(),
      simulatedUntil: new Date(result.status.simTimeMs).toISOString(),
      faults: { spec: formatFaultSpec(config.faults), ...result.status.faults },
      sendErrors: result.status.sendErrors,
      retries: result.status.retries,
      manifest: options.manifest ?? null,
      error: result.error ? { code: result.error.code, message: result.error.message } : null,
    };
    if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      process.stdout.write(
        `simulated ${summary.events.toLocaleString('en-US')} events (${summary.messages.toLocaleString('en-US')} records, ` +
          `${summary.acked.toLocaleString('en-US')} acked) in ${summary.seconds}s, ${summary.eventsPerSecond.toLocaleString('en-US')} events/s; ` +
          `ended by ${summary.reason}${options.manifest ? `; manifest: ${options.manifest}` : ''}\n`,
      );
    }
    if (result.error) throw result.error;
  } finally {
    if (timer) clearInterval(timer);
    removeSignalHandler();
    await server?.close();
  }
}
