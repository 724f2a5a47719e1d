/**
 * `fleetgrid process` as a child process, for tests that kill it (-9) or stop it (SIGTERM).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { PROJECT_ROOT } from '../../lib/config.ts';

export interface Child {
  process: ChildProcess;
  /** Resolves with the exit code or signal once the child is gone. */
  exited: Promise<string>;
  stderrTail(): string;
  kill9(): Promise<string>;
  terminate(): Promise<string>;
}

/**
 * Starts `fleetgrid process <args>` on the test's topic prefix; resolves once it printed its
 * ready line. The test devices are not in any registry: unless `args` say otherwise, the
 * child processes them as they are (`--unknown-device accept`).
 */
export async function startChildProcessor(prefix: string, args: string[]): Promise<Child> {
  const policy = args.includes('--unknown-device') ? [] : ['--unknown-device', 'accept'];
  const child = spawn(
    process.execPath,
    [resolve(PROJECT_ROOT, 'bin/fleetgrid.mjs'), 'process', ...policy, ...args],
    {
      env: { ...process.env, TOPIC_PREFIX: prefix, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8_000);
  });
  const exited = new Promise<string>((resolveExit) =>
    child.once('exit', (code, signal) => resolveExit(signal ?? String(code))),
  );
  const ready = new Promise<void>((resolveReady, reject) => {
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('"ready":true')) resolveReady();
    });
    void exited.then((how) => reject(new Error(`processor exited (${how}) before ready:\n${stderr}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    await ready;
  } finally {
    clearTimeout(timeout);
  }
  return {
    process: child,
    exited,
    stderrTail: () => stderr,
    kill9: () => {
      child.kill('SIGKILL');
      return exited;
    },
    terminate: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
