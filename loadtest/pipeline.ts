/**
 * `--start-pipeline`: the load test runs the pipeline's services itself, as child
 * processes on a private topic prefix and a temporary ClickHouse data directory, so a run
 * is self-contained (the acceptance test and `make bench` use it) and measures exactly
 * the processes it started. Each child's stderr goes to a log file in the report dir.
 * A fault run kills a child with -9 and starts it again on the same ports (its /metrics
 * and query endpoint keep their URLs), with the same arguments and environment.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT } from '../lib/config.ts';
import { FleetgridError } from '../lib/errors.ts';

export interface PipelineChild {
  name: string;
  /** The running process's PID (it changes when the child is restarted). */
  readonly pid: number;
  metricsUrl: string | undefined;
  queryUrl: string | undefined;
  groupId: string;
  /**
   * SIGTERM (draining stop), SIGKILL after `graceMs`; resolves with the exit code. A stop is
   * on purpose: exited() stays false (a scale-out's removal is not a crash).
   */
  stop(graceMs?: number): Promise<number | null>;
  /** Starts it again after kill(), on the same ports; resolves when it is ready. */
  /** kill -9 and wait until it is gone (a fault: nothing drains). */
  kill(): Promise<void>;
  /** Starts it again after kill(), on the same ports; resolves when it is ready. */
  restart(): Promise<void>;
  /** Whether it died without being killed on purpose. */
  exited(): boolean;
}

interface ReadyLine {
  ready: true;
  groupId: string;
  metricsPort?: number;
  queryUrl?: string;
}

interface Running {
  child: ChildProcess;
  exit: Promise<number | null>;
  exitCode: () => number | null | undefined;
}

/** Spawns `args` with node and waits for its `{"ready":true,…}` line on stdout. */
async function launch(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
  readyTimeoutMs: number,
): Promise<Running & { ready: ReadyLine }> {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stderr?.pipe(log);
  let exitCode: number | null | undefined;
  const exit = new Promise<number | null>((resolveExit) =>
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? 128 : null);
      log.end();
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
    void exit.then((code) => {
      clearTimeout(timer);
      reject(
        new FleetgridError('INTERNAL', `${name} exited with ${code} before it was ready (see ${logFile})`),
      );
    });
  });
  return { child, exit, exitCode: () => exitCode, ready };
}

/**
 * A child service: `args(ports)` gives its command line, with the ports it listened on
 * the first time (undefined then: free ports), so a restart keeps its URLs.
 */
async function spawnService(
  name: string,
  args: (ports: { metricsPort?: number; queryPort?: number }) => string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
  readyTimeoutMs: number,
): Promise<PipelineChild> {
  let running = await launch(name, args({}), env, logFile, readyTimeoutMs);
  const first = running.ready;
  const ports = {
    ...(first.metricsPort ? { metricsPort: first.metricsPort } : {}),
    ...(first.queryUrl ? { queryPort: Number(new URL(first.queryUrl).port) } : {}),
  };
  let killed = false;
  return {
    name,
    get pid() {
      return running.child.pid ?? -1;
    },
    groupId: first.groupId,
    metricsUrl: first.metricsPort ? `http://127.0.0.1:${first.metricsPort}/metrics` : undefined,
    queryUrl: first.queryUrl,
    exited: () => !killed && running.exitCode() !== undefined,
    async kill() {
      killed = true;
      if (running.exitCode() !== undefined) return;
      running.child.kill('SIGKILL');
      await running.exit;
    },
    async restart() {
      if (running.exitCode() === undefined) throw new FleetgridError('INTERNAL', `${name} is still running`);
      try {
        running = await launch(name, args(ports), env, logFile, readyTimeoutMs);
      } finally {
        // A restart that failed leaves a dead child: the drain must see it as exited.
        killed = false;
      }
    },
    async stop(graceMs = 30_000) {
      const current = running;
      // Stopped on purpose from here on, even one that had already exited by itself: the
      // caller looks at exited() first if it cares (fault-run.ts notes it).
      killed = true;
      if (current.exitCode() !== undefined) return current.exitCode() ?? null;
      current.child.kill('SIGTERM');
      const timer = setTimeout(() => current.child.kill('SIGKILL'), graceMs);
      const code = await current.exit;
      clearTimeout(timer);
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
  /** The processor's max lateness; undefined: its default. */
  maxLatenessS?: number | undefined;
  logDir: string;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
  /** Also start the query API (`fleetgrid serve`), reading through the sink's query endpoint. */
  queryApi?: boolean;
  /** Processors in the one group (default 1): the partitions are shared among them. */
  processors?: number;
}

export interface StartedPipeline {
  /** The first processor (the one a processor-kill fault hits). */
  processor: PipelineChild;
  /** Every processor started, the first included (and those added since, stopped or not). */
  processors: PipelineChild[];
  /** Starts one more processor in the group (a scale-out); resolves when it is ready. */
  addProcessor(): Promise<PipelineChild>;
  sink: PipelineChild;
  /** The query API (with `queryApi`): its base URL is its metricsUrl's origin. */
  api?: PipelineChild | undefined;
  stop(): Promise<void>;
}

/**
 * Starts the processors (`fleetgrid process`, one group: they share the partitions) and one
 * sink, all on the run's prefix. One sink only: in embedded mode the sink holds chDB, whose
 * data directory one process at a time can open, and the run's reconciliation reads it.
 */
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
  const processorArgs = (ports: { metricsPort?: number }) => [
    resolve(PROJECT_ROOT, 'bin/fleetgrid.mjs'),
    'process',
    '--metrics-port',
    String(ports.metricsPort ?? 0),
    '--partitions',
    String(options.partitions),
    '--window-size',
    `${options.windowSizeS}s`,
    '--grace',
    `${options.graceS}s`,
    ...(options.maxLatenessS === undefined ? [] : ['--max-lateness', `${options.maxLatenessS}s`]),
    // The load test's devices are generated, not registered: processed as they are.
    '--unknown-device',
    'accept',
  ];
  const count = options.processors ?? 1;
  const [sink, ...started] = await Promise.allSettled([
    spawnService(
      'sink',
      (ports) => [
        resolve(PROJECT_ROOT, 'loadtest/sink-child.ts'),
        ...(ports.metricsPort && ports.queryPort
          ? ['--metrics-port', String(ports.metricsPort), '--query-port', String(ports.queryPort)]
          : []),
      ],
      env,
      resolve(options.logDir, 'sink.log'),
      timeout,
    ),
    ...Array.from({ length: count }, (_, i) => {
      const name = count === 1 ? 'processor' : `processor-${i + 1}`;
      return spawnService(name, processorArgs, env, resolve(options.logDir, `${name}.log`), timeout);
    }),
  ]);
  const failed = [sink, ...started].find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed || sink.status !== 'fulfilled') {
    for (const s of [sink, ...started]) if (s.status === 'fulfilled') await s.value.stop(5_000);
    throw (failed as PromiseRejectedResult).reason;
  }
  const processors = started.map((s) => (s as PromiseFulfilledResult<PipelineChild>).value);
  /** Processors started so far (names of the ones a scale-out adds go on from here). */
  let added = processors.length;
  let api: PipelineChild | undefined;
  const sinkQueryUrl = sink.value.queryUrl;
  if (options.queryApi) {
    try {
      if (!sinkQueryUrl)
        throw new FleetgridError(
          'CONFIG_INVALID',
          'the query API child needs the sink’s query endpoint (embedded mode)',
        );
      api = await spawnService(
        'api',
        (ports) => [
          resolve(PROJECT_ROOT, 'loadtest/api-child.ts'),
          '--ch-query-url',
          sinkQueryUrl,
          ...(ports.metricsPort ? ['--port', String(ports.metricsPort)] : []),
        ],
        env,
        resolve(options.logDir, 'api.log'),
        timeout,
      );
    } catch (error) {
      await Promise.all(processors.map((p) => p.stop(5_000)));
      await sink.value.stop(5_000);
      throw error;
    }
  }
  return {
    processor: processors[0] as PipelineChild,
    processors,
    sink: sink.value,
    api,
    async addProcessor() {
      // A new name per process, taken before the start so that two starting at once differ:
      // the report charts each process it watched on its own line.
      added += 1;
      const name = `processor-${added}`;
      const child = await spawnService(
        name,
        processorArgs,
        env,
        resolve(options.logDir, `${name}.log`),
        timeout,
      );
      processors.push(child);
      return child;
    },
    async stop() {
      // The API and the processor first: the processor stops feeding the derived topics, then the sink drains.
      await api?.stop(10_000);
      await Promise.all(processors.map((p) => p.stop()));
      await sink.value.stop();
    },
  };
}
