/**
 * Runs infra/local/stack.sh the way `make up` does, for tests that check what it starts. Tests
 * point it at a scratch data dir and free ports (STACK_*_PORT), so the shared stack on the
 * default ports is never touched, and stop only what that run started.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../lib/config.ts';

export interface StackRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runStack(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 180_000,
): Promise<StackRun> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      [join(PROJECT_ROOT, 'infra/local/stack.sh'), ...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The `make status` line of one service, split into its columns' words. */
export function statusLine(output: string, service: string): string {
  return output.split('\n').find((line) => line.startsWith(`${service} `)) ?? '';
}

/** psql over TCP with the password in the environment (PGPASSWORD), never in argv. */
export function psql(
  port: number,
  user: string,
  password: string,
  database: string,
  sql: string,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      'psql',
      [
        '-X',
        '-w',
        '-A',
        '-t',
        '-v',
        'ON_ERROR_STOP=1',
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-U',
        user,
        '-d',
        database,
        '-c',
        sql,
      ],
      { env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '5' }, timeout: 30_000 },
      (error, stdout, stderr) =>
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
          out: stdout.trim(),
          err: stderr,
        }),
    );
  });
}
