/**
 * A server process a test owns: started on demand, signalled by its PID only, and cleaned up
 * whatever happens to the test. Three layers of cleanup, because a fault test's whole point
 * is to make things fail:
 *  - `stop()` from the test's `afterAll`/`afterEach` (kill -9 by PID, directory removed);
 *  - an `exit` hook of the test process for whatever the test forgot;
 *  - a reaper (a detached `sh` loop per directory) that kills the PIDs listed in the
 *    directory and removes it once the test process is gone, even after kill -9 of vitest.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type StopSignal = 'SIGKILL' | 'SIGTERM';

/** Process control of one server a test owns. */
export interface PrivateProcess {
  readonly name: string;
  /** The running process's PID, undefined while it is down. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Starts it (again) and waits until it answers; bounded by the start timeout. */
  start(): Promise<void>;
  /** kill -9 (default) or SIGTERM, and wait until it is gone; SIGTERM escalates to -9 after the grace time. */
  kill(signal?: StopSignal): Promise<void>;
  /** SIGSTOP: frozen, sockets open, answering nothing (a network-partition stand-in). */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGTERM if running, then start: same ports, same data. */
  restart(): Promise<void>;
  /** The last lines of its logs, for failure messages. */
  logTail(lines?: number): string;
}

export interface ProcessSpec {
  name: string;
  /** Directory of the instance: pid files live here, the reaper watches it. */
  dir: string;
  launch(): ChildProcess;
  /** One readiness probe; must settle within a few seconds. */
  ready(): Promise<boolean>;
  logFiles: string[];
  startTimeoutMs: number;
  /** How long SIGTERM may take before kill -9. */
  stopGraceMs?: number;
}

const live = new Set<() => void>();
let exitHookInstalled = false;

/** Registers a synchronous last-resort cleanup for the test process's exit. */
export function onProcessExit(cleanup: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const fn of live) {
        try {
          fn();
        } catch {
          // Best effort at exit; the reaper finishes the job.
        }
      }
    });
  }
  live.add(cleanup);
  return () => live.delete(cleanup);
}

/** A fresh directory under the system's temp dir, watched by a reaper for the life of this process. */
export function privateDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `fg-${name.replace(/[^a-zA-Z0-9-]/g, '-')}-`));
  startReaper(dir);
  return dir;
}

const REAPER = `
owner="$1"; dir="$2"
while kill -0 "$owner" 2>/dev/null && [ -d "$dir" ]; do sleep 1; done
[ -d "$dir" ] || exit 0
for f in "$dir"/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
rm -rf "$dir"
`;

function startReaper(dir: string): void {
  const reaper = spawn('sh', ['-c', REAPER, 'fleetgrid-reaper', String(process.pid), dir], {
    detached: true,
    stdio: 'ignore',
  });
  reaper.unref();
}

/** `count` distinct loopback ports that were free a moment ago. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Removes a directory tree; a server may still be writing into it for a moment after kill -9. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '';
  const text = readFileSync(file, 'utf8').split('\n');
  return `--- ${file}\n${text.slice(-lines).join('\n')}`;
}

export function managedProcess(spec: ProcessSpec): PrivateProcess {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const pidFile = join(spec.dir, `${spec.name}.pid`);
  const grace = spec.stopGraceMs ?? 30_000;

  const logTail = (lines = 40) =>
    spec.logFiles
      .map((file) => tail(file, lines))
      .filter(Boolean)
      .join('\n');

  async function waitExit(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const done = await Promise.race([exited.then(() => true), timedOut]);
    clearTimeout(timer);
    return done;
  }

  const self: PrivateProcess = {
    name: spec.name,
    get pid() {
      return child?.pid;
    },
    get running() {
      return child !== undefined;
    },
    async start() {
      if (child) throw new Error(`${spec.name} is already running (pid ${child.pid})`);
      const started = spec.launch();
      const pid = started.pid;
      if (pid === undefined) throw new Error(`${spec.name} could not be started`);
      child = started;
      writeFileSync(pidFile, `${pid}\n`);
      let gone = false;
      exited = new Promise((resolve) => {
        started.once('exit', () => {
          gone = true;
          if (child === started) child = undefined;
          if (existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() === String(pid))
            unlinkSync(pidFile);
          resolve();
        });
      });
      const deadline = Date.now() + spec.startTimeoutMs;
      for (;;) {
        if (gone) throw new Error(`${spec.name} exited during start-up\n${logTail()}`);
        if (await spec.ready().catch(() => false)) return;
        if (Date.now() >= deadline) {
          await self.kill('SIGKILL');
          throw new Error(`${spec.name} did not become ready within ${spec.startTimeoutMs} ms\n${logTail()}`);
        }
        await sleep(250);
      }
    },
    async kill(signal = 'SIGKILL') {
      const current = child;
      if (!current) return;
      // A frozen process ignores SIGTERM until it runs again.
      if (signal === 'SIGTERM') current.kill('SIGCONT');
      current.kill(signal);
      if (await waitExit(signal === 'SIGKILL' ? 10_000 : grace)) return;
      current.kill('SIGKILL');
      if (!(await waitExit(10_000))) throw new Error(`${spec.name} (pid ${current.pid}) survived kill -9`);
    },
    pause() {
      if (!child) throw new Error(`${spec.name} is not running`);
      child.kill('SIGSTOP');
    },
    resume() {
      if (!child) throw new Error(`${spec.name} is not running`);
      child.kill('SIGCONT');
    },
    async restart() {
      await self.kill('SIGTERM');
      await self.start();
    },
    logTail,
  };
  return self;
}

/** Stops every process of an instance (kill -9 by PID) and removes its directory. */
export async function destroyInstance(processes: PrivateProcess[], dir: string): Promise<void> {
  await Promise.allSettled(processes.map((proc) => proc.kill('SIGKILL')));
  removeDir(dir);
}

/** The synchronous variant for the exit hook: no waiting, PIDs from the processes. */
export function destroyInstanceNow(processes: PrivateProcess[], dir: string): void {
  for (const proc of processes) {
    if (proc.pid !== undefined) {
      try {
        process.kill(proc.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  removeDir(dir);
}

/**
 * Starts a one-process private server and gives it `stop()`: kill -9 by PID and removal of
 * its directory, once, also when the test process exits first; a server that fails to
 * start is removed before the error is thrown.
 */
export async function startInstance<T extends object>(
  proc: PrivateProcess,
  dir: string,
  fields: T,
): Promise<PrivateProcess & T & { dir: string; stop(): Promise<void> }> {
  let stopped = false;
  const forget = onProcessExit(() => destroyInstanceNow([proc], dir));
  const instance = Object.assign(proc, fields, {
    dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      forget();
      await destroyInstance([proc], dir);
    },
  });
  try {
    await proc.start();
  } catch (error) {
    await instance.stop();
    throw error;
  }
  return instance;
}

/** Whether a process with this PID exists (kill -0). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Polls `probe` every `everyMs` until it gives a value (not undefined) and returns that
 * value; a probe that throws counts as no value yet. Fails naming `what` after `timeoutMs`.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  everyMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
