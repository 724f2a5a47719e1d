/**
 * `--start-pipeline`: the load test runs the pipeline's services itself, as child
 * processes on a private topic prefix and a temporary ClickHouse data directory, so a run
 * is self-contained (the acceptance test and `make bench` use it) and measures exactly
 * the processes it started. Each child's stderr goes to a log file in the report dir.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT } from '../lib/config.ts';
import { FleetgridError } from '../lib/errors.ts';

export interface PipelineChild {
  name: string;
  pid: number;
  metricsUrl: string | undefined;
  queryUrl: string | undefined;
  groupId: string;
  /** SIGTERM (draining stop), SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  exited(): boolean;
}

interface ReadyLine {
  ready: true;
  groupId: string;
  metricsPort?: number;
  queryUrl?: string;
}

/** Spawns `args` with node and waits for its `{"ready":true,…}` line on stdout. */
async function spawnService(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
  readyTimeoutMs: number,
): Promise<PipelineChild> {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stderr?.pipe(log);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolveExit) =>
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? 128 : null);
      resolveExit(exitCode);
    }),
  );
  const ready = await new Promise<ReadyLine>((resolveReady, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new FleetgridError('TIMEOUT', `${name} was not ready within ${readyTimeoutMs} ms (see ${logFile})`),
      );
    }, readyTimeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as ReadyLine;
        if (parsed.ready) {
          clearTimeout(timer);
          resolveReady(parsed);
        }
      } catch {
        // other output: not the ready line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(
        new FleetgridError('INTERNAL', `${name} exited with ${code} before it was ready (see ${logFile})`),
      );
    });
  });
  return {
    name,
    pid: child.pid ?? -1,
    groupId: ready.groupId,
    metricsUrl: ready.metricsPort ? `http://127.0.0.1:${ready.metricsPort}/metrics` : undefined,
    queryUrl: ready.queryUrl,
    exited: () => exitCode !== undefined,
    async stop(graceMs = 30_000) {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      log.end();
      return code;
    },
  };
}

export interface StartPipelineOptions {
  topicPrefix: string;
  dataDir: string;
  partitions: number;
  windowSizeS: number;
  graceS: number;
  logDir: string;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}

export interface StartedPipeline {
  processor: PipelineChild;
  sink: PipelineChild;
  stop(): Promise<void>;
}

/** Starts one processor (`fleetgrid process`) and one sink, both on the run's prefix. */
export async function startPipeline(options: StartPipelineOptions): Promise<StartedPipeline> {
  const env: NodeJS.ProcessEnv = {
    ...(options.env ?? process.env),
    TOPIC_PREFIX: options.topicPrefix,
    FLEETGRID_DATA_DIR: options.dataDir,
    LOG_LEVEL: process.env.LOADTEST_CHILD_LOG_LEVEL ?? 'warn',
  };
  // CLICKHOUSE_QUERY_URL of the parent would point the children elsewhere.
  delete env.CLICKHOUSE_QUERY_URL;
  const timeout = options.readyTimeoutMs ?? 90_000;
  const [sink, processor] = await Promise.allSettled([
    spawnService(
      'sink',
      [resolve(PROJECT_ROOT, 'loadtest/sink-child.ts'), `${options.topicPrefix}fleetgrid-sink-clickhouse`],
      env,
      resolve(options.logDir, 'sink.log'),
      timeout,
    ),
    spawnService(
      'processor',
      [
        resolve(PROJECT_ROOT, 'bin/fleetgrid.mjs'),
        'process',
        '--metrics-port',
        '0',
        '--partitions',
        String(options.partitions),
        '--window-size',
        `${options.windowSizeS}s`,
        '--grace',
        `${options.graceS}s`,
      ],
      env,
      resolve(options.logDir, 'processor.log'),
      timeout,
    ),
  ]);
  if (sink.status === 'rejected' || processor.status === 'rejected') {
    if (sink.status === 'fulfilled') await sink.value.stop(5_000);
    if (processor.status === 'fulfilled') await processor.value.stop(5_000);
    throw sink.status === 'rejected' ? sink.reason : (processor as PromiseRejectedResult).reason;
  }
  return {
    processor: processor.value,
    sink: sink.value,
    async stop() {
      // The processor first: it stops feeding the derived topics, then the sink drains.
      await processor.value.stop();
      await sink.value.stop();
    },
  };
}
