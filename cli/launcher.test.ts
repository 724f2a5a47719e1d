/** bin/fleetgrid.mjs relaunches a service under lib/runtime.ts's settings (same PID, process.execve). */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../lib/config.ts';

const launcher = resolve(PROJECT_ROOT, 'bin/fleetgrid.mjs');
const run = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, [launcher, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });

describe('the launcher', () => {
  it('runs a service command through the relaunch', () => {
    const result = run(['process', '--help'], { MALLOC_ARENA_MAX: '', FLEETGRID_RUNTIME_TUNING: 'on' });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: fleetgrid process');
  });

  it('refuses a malformed runtime setting with the CLI’s config error', () => {
    const result = run(['sink', '--help'], { MALLOC_ARENA_MAX: 'two' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('fleetgrid: CONFIG_INVALID: invalid runtime settings: MALLOC_ARENA_MAX');
  });
});
