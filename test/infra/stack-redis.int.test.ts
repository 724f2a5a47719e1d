/**
 * Issue 12: the Redis that `make up` starts keeps its data (AOF, fsync every second, under
 * the data dir), and a reused Redis that keeps nothing on disk is called out by `up` and by
 * `status`. Runs stack.sh against a scratch data dir and free ports.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freePorts, type PrivateRedis, startPrivateRedis } from '../support/index.ts';
import { removeDir } from '../support/index.ts';
import { runStack, statusLine } from './stack.ts';

describe('the stack and Redis persistence', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fg-stack-redis-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    removeDir(dataDir);
  });

  it('starts its own Redis with AOF and fsync every second under the data dir, and stops it', async () => {
    const [port] = (await freePorts(1)) as [number];
    const env = { FLEETGRID_DATA_DIR: dataDir, STACK_REDIS_PORT: String(port) };
    cleanups.push(() => runStack(['down', 'redis'], env));
    const up = await runStack(['up', 'redis'], env);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain('AOF');

    const redis = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1 });
    try {
      expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await redis.config('GET', 'appendfsync')).toEqual(['appendfsync', 'everysec']);
      expect(await redis.config('GET', 'dir')).toEqual(['dir', join(dataDir, 'stack', 'redis')]);
      expect(await redis.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
    } finally {
      redis.disconnect();
    }
    const status = await runStack(['status', 'redis'], env);
    expect(statusLine(status.stdout, 'redis')).toMatch(/healthy\s+make up\s+persistence: AOF/);

    const down = await runStack(['down', 'redis'], env);
    expect(down.code).toBe(0);
    const after = await runStack(['status', 'redis'], env);
    expect(after.code).toBe(1);
    expect(statusLine(after.stdout, 'redis')).toMatch(/down/);
    expect(existsSync(join(dataDir, 'stack', 'redis', 'appendonlydir'))).toBe(true);
  });

  it('says so when it reuses a Redis that keeps nothing on disk, and leaves it running', async () => {
    const foreign: PrivateRedis = await startPrivateRedis({ persistence: 'none' });
    cleanups.push(() => foreign.stop());
    const env = { FLEETGRID_DATA_DIR: dataDir, STACK_REDIS_PORT: String(foreign.port) };
    const up = await runStack(['up', 'redis'], env);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/reusing it .*KEEPS NOTHING ON DISK/);
    expect(up.stderr).toMatch(/warning: .* keeps nothing on disk/);
    const status = await runStack(['status', 'redis'], env);
    expect(statusLine(status.stdout, 'redis')).toMatch(
      /healthy\s+foreign \(reused\)\s+KEEPS NOTHING ON DISK/,
    );
    await runStack(['down', 'redis'], env);
    expect(foreign.running).toBe(true);
  });

  it('tells a reused Redis with AOF apart', async () => {
    const foreign = await startPrivateRedis({ persistence: 'aof' });
    cleanups.push(() => foreign.stop());
    const status = await runStack(['status', 'redis'], {
      FLEETGRID_DATA_DIR: dataDir,
      STACK_REDIS_PORT: String(foreign.port),
    });
    expect(statusLine(status.stdout, 'redis')).toMatch(/foreign \(reused\)\s+persistence: AOF/);
  });
});
