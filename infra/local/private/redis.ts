/**
 * A private redis-server for fault tests, on a free loopback port with a temporary data dir,
 * with the stack's persistence (AOF, fsync every second) or none at all (what the machine's
 * shared Redis does). The test gets its URL, its PID and kill -9 / SIGTERM / SIGSTOP /
 * SIGCONT / restart; `stop()` kills it by PID and removes the directory.
 */
import { spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { freePorts, managedProcess, type PrivateProcess, privateDir, startInstance } from './process.ts';

export interface PrivateRedisOptions {
  /** `aof`: append-only file, fsync every second (as `make up` starts Redis); `none`: nothing on disk. */
  persistence?: 'aof' | 'none';
  startTimeoutMs?: number;
  name?: string;
  /** redis-server binary; Debian's by default. */
  binary?: string;
}

export interface PrivateRedis extends PrivateProcess {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  stop(): Promise<void>;
}

/** PING over a raw socket: true when the server answers +PONG (not while loading its data). */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const persistence = options.persistence ?? 'aof';
  const dir = privateDir(options.name ?? `redis-${persistence}`);
  const [port] = (await freePorts(1)) as [number];
  const logFile = join(dir, 'redis.log');
  // Everything on the command line is public (ps); no secret is passed here.
  const args = [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--dir',
    dir,
    '--logfile',
    logFile,
    '--daemonize',
    'no',
    '--save',
    '',
    ...(persistence === 'aof'
      ? ['--appendonly', 'yes', '--appendfsync', 'everysec']
      : ['--appendonly', 'no']),
  ];
  const proc = managedProcess({
    name: 'redis',
    dir,
    launch: () => spawn(options.binary ?? 'redis-server', args, { stdio: 'ignore' }),
    ready: () => ping(port),
    logFiles: [logFile],
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
  });
  return startInstance(proc, dir, { url: `redis://127.0.0.1:${port}`, port });
}
