/**
 * A private Prometheus Alertmanager for notifier tests and benchmarks: Debian's prometheus-alertmanager on a
 * free loopback port, clustering off, basic auth with a password generated here (a bcrypt
 * hash made by htpasswd from stdin, so the password is in no argv), with the configuration
 * the test gives it. kill -9 / SIGTERM / restart (same port and data dir) like every private
 * server here; `stop()` kills it by PID and removes the directory.
 *
 * Alertmanager keeps alerts in memory only: a kill loses what it held, which is what the
 * notifier's resend after an outage is for.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts, managedProcess, type PrivateProcess, privateDir, startInstance } from './process.ts';

export interface PrivateAlertmanagerOptions {
  /** alertmanager.yml as text. */
  config: string;
  name?: string;
  startTimeoutMs?: number;
}

export interface PrivateAlertmanager extends PrivateProcess {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly auth: { username: string; password: string };
  /** The Authorization header of `auth`. */
  header(): Record<string, string>;
  stop(): Promise<void>;
}

const USER = 'fleetgrid';

export async function startPrivateAlertmanager(
  options: PrivateAlertmanagerOptions,
): Promise<PrivateAlertmanager> {
  const dir = privateDir(options.name ?? 'alertmanager');
  const [port] = (await freePorts(1)) as [number];
  const password = randomBytes(18).toString('base64url');
  const hash = execFileSync('htpasswd', ['-niB', '-C', '10', USER], { input: `${password}\n` })
    .toString()
    .trim()
    .split(':')
    .slice(1)
    .join(':');
  writeFileSync(join(dir, 'web.yml'), `basic_auth_users:\n  ${USER}: ${hash}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'alertmanager.yml'), options.config);
  const url = `http://127.0.0.1:${port}`;
  const header = () => ({ authorization: `Basic ${Buffer.from(`${USER}:${password}`).toString('base64')}` });
  const logFile = join(dir, 'alertmanager.log');
  const proc = managedProcess({
    name: 'alertmanager',
    dir,
    launch: () => {
      const log = openSync(logFile, 'a');
      const child = spawn(
        'prometheus-alertmanager',
        [
          `--config.file=${join(dir, 'alertmanager.yml')}`,
          `--storage.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          `--web.config.file=${join(dir, 'web.yml')}`,
          '--cluster.listen-address=',
        ],
        { stdio: ['ignore', log, log] },
      );
      closeSync(log);
      return child;
    },
    ready: async () =>
      (await fetch(`${url}/-/ready`, { headers: header(), signal: AbortSignal.timeout(2_000) })).ok,
    logFiles: [logFile],
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
    stopGraceMs: 10_000,
  });
  return startInstance(proc, dir, { url, port, auth: { username: USER, password }, header });
}
