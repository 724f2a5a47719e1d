/**
 * One `fleetgrid` command of a benchmark (bench/faults.ts, bench/scale.ts), bounded: its
 * output echoed and the last of it kept; at `limitMs` it gets SIGINT (the load test still
 * drains, reports and stops its own servers), two minutes later SIGKILL.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { PROJECT_ROOT } from '../lib/config.ts';

export function runFleetgrid(
  args: string[],
  limitMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [resolve(PROJECT_ROOT, 'bin/fleetgrid.mjs'), ...args], {
      cwd: PROJECT_ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      process.stdout.write(chunk);
      output = (output + chunk.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    // SIGINT first: the load test still drains, reports and cleans up (stops its own servers).
    const soft = setTimeout(() => child.kill('SIGINT'), limitMs);
    const hard = setTimeout(() => child.kill('SIGKILL'), limitMs + 120_000);
    child.on('exit', (code) => {
      clearTimeout(soft);
      clearTimeout(hard);
      resolveRun({ code, output });
    });
  });
}
