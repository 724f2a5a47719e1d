/**
 * The pipeline's footprint at rest: `fleetgrid demo` (40 trucks, 12 turbines, 12 solar
 * arrays, about 64 events/s) against the local stack, and per service the CPU it spends
 * (% of one core, from /proc/<pid>/stat user + system time over a measured window) and its
 * resident memory at the end of the window. CPU time is what the process itself used, so
 * other load on the machine changes it little (it does change the wall-clock latencies).
 *
 *   node bench/footprint.ts [--warmup 60] [--seconds 60] [--cpu-prof-dir <dir>]
 *
 * --cpu-prof-dir passes NODE_OPTIONS=--cpu-prof to the demo and its children: each service
 * writes a .cpuprofile there when it drains (profiling adds its own cost, so figures from a
 * profiled run are for reading where the time goes, not for the table).
 *
 * The demo runs with its own topic prefix and data directory (removed afterwards) and stops
 * by itself (--duration). Its registry topics follow the prefix, so the bench first registers
 * a CDC connector for that prefix (`registry cdc up`; `cdc down` and the topics go afterwards):
 * without it no device is known and the processor quarantines every event as a dead letter,
 * which is not the demo a user runs. The processor's dead letters per second over the window
 * are printed to show it. Needs `make up`; no other demo on the same ports (8124, 9464–9467).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig, PROJECT_ROOT } from '../lib/config.ts';
import { createKafkaClient } from '../lib/kafka/index.ts';
import { silentLogger } from '../lib/log.ts';
import { parsePrometheusText, sumMetric } from '../lib/stream/index.ts';

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at > 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name}: a positive number of seconds`);
  return value;
}

function stringArg(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : undefined;
}

const WARMUP_S = arg('warmup', 60);
const WINDOW_S = arg('seconds', 60);
const PROFILE_DIR = stringArg('cpu-prof-dir');
const TICKS_PER_S = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
const SERVICES = ['simulate', 'process', 'sink', 'serve', 'notify'] as const;
/** The demo's processor metrics port (cli/demo-runner.ts DEMO_METRICS_PORTS.process). */
const PROCESSOR_METRICS = 'http://127.0.0.1:9465/metrics';

/** user + system CPU seconds of one process. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

function residentMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.replace(/\D+/g, '') ?? 0) / 1024;
}

/** The demo's children by service name, from their command lines. */
function servicePids(demoPid: number): Map<string, number> {
  const found = new Map<string, number>();
  const children = execFileSync('pgrep', ['-P', String(demoPid)], { encoding: 'utf8' }).split('\n');
  for (const text of children) {
    const pid = Number(text.trim());
    if (!pid) continue;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const name = SERVICES.find((service) => argv.includes(service));
    if (name) found.set(name, pid);
  }
  return found;
}

/** `fleetgrid <args>` under the bench's prefix and data directory, to its end. */
function fleetgrid(args: string[], env: NodeJS.ProcessEnv): void {
  execFileSync(process.execPath, [resolve(PROJECT_ROOT, 'bin/fleetgrid.mjs'), ...args], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 120_000,
  });
}

/** The processor's handled and dead-lettered input records so far, off its /metrics. */
async function processorCounts(): Promise<{ processed: number; deadLettered: number }> {
  const response = await fetch(PROCESSOR_METRICS, { signal: AbortSignal.timeout(5_000) });
  const samples = parsePrometheusText(await response.text());
  return {
    processed: sumMetric(samples, 'fleetgrid_processor_processed_total'),
    deadLettered: sumMetric(samples, 'fleetgrid_processor_dead_lettered_total'),
  };
}

/** The demo's topics go with it (its consumer groups expire by themselves). */
async function deleteTopics(prefix: string): Promise<void> {
  const admin = createKafkaClient(loadConfig().kafka, { log: silentLogger }).admin();
  await admin.connect();
  try {
    const mine = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
    if (mine.length > 0) await admin.deleteTopics(mine);
  } finally {
    await admin.disconnect();
  }
}

const run = Date.now().toString(36);
const prefix = `footprint-${run}.`;
const dataDir = mkdtempSync(join(tmpdir(), `fleetgrid-footprint-${run}-`));
// The stack's generated credentials (PostgreSQL, Alertmanager, the query secret) live there.
symlinkSync(resolve(loadConfig().dataDir, 'secrets'), join(dataDir, 'secrets'));
const benchEnv = { ...process.env, TOPIC_PREFIX: prefix, FLEETGRID_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
// The registry topics of the prefix, fed from the registry the demo seeds: its fleet known.
try {
  fleetgrid(['registry', 'cdc', 'up'], benchEnv);
} catch (error) {
  rmSync(dataDir, { recursive: true, force: true });
  throw error;
}
const demo: ChildProcess = spawn(
  process.execPath,
  [
    resolve(PROJECT_ROOT, 'bin/fleetgrid.mjs'),
    'demo',
    '--port',
    '18080',
    '--duration',
    String(WARMUP_S + WINDOW_S + 15),
  ],
  {
    env: {
      ...benchEnv,
      ...(PROFILE_DIR
        ? {
            NODE_OPTIONS:
              `${process.env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${resolve(PROFILE_DIR)}`.trim(),
          }
        : {}),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);
const exited = new Promise<void>((done) => demo.once('exit', () => done()));
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

try {
  console.error(`[footprint] demo started; warming up ${WARMUP_S} s, then measuring ${WINDOW_S} s`);
  await sleep(WARMUP_S);
  const pids = servicePids(demo.pid as number);
  if (!pids.has('process') || !pids.has('sink')) throw new Error('the demo did not start its services');
  // The profiles are named by process id.
  if (PROFILE_DIR) console.error(`[footprint] pids ${JSON.stringify(Object.fromEntries(pids))}`);
  const countsBefore = await processorCounts();
  const before = new Map([...pids].map(([name, pid]) => [name, cpuSeconds(pid)]));
  await sleep(WINDOW_S);
  const countsAfter = await processorCounts();
  const rows = [...pids].map(([name, pid]) => ({
    service: name,
    cpuPercent: ((cpuSeconds(pid) - (before.get(name) ?? 0)) / WINDOW_S) * 100,
    rssMb: residentMb(pid),
  }));
  const total = rows.reduce((sum, r) => sum + r.cpuPercent, 0);
  console.log(`| service | CPU (% of one core) | resident memory (MB) |`);
  console.log('|---|---:|---:|');
  for (const r of rows) console.log(`| ${r.service} | ${r.cpuPercent.toFixed(1)} | ${r.rssMb.toFixed(0)} |`);
  console.log(
    `| all fleetgrid services | ${total.toFixed(1)} | ${rows.reduce((s, r) => s + r.rssMb, 0).toFixed(0)} |`,
  );
  const processedPerS = (countsAfter.processed - countsBefore.processed) / WINDOW_S;
  const deadLettersPerS = (countsAfter.deadLettered - countsBefore.deadLettered) / WINDOW_S;
  console.log(
    `processor: ${processedPerS.toFixed(1)} records/s handled, ${deadLettersPerS.toFixed(2)} dead letters/s`,
  );
  if (deadLettersPerS > 0.1) {
    // Dead letters at rest mean devices the registry does not know: not the user's demo.
    console.error('[footprint] the processor dead-letters at rest: these figures are not the demo at rest');
    process.exitCode = 1;
  }
  console.log(
    `BENCH_JSON ${JSON.stringify({ warmupS: WARMUP_S, windowS: WINDOW_S, totalCpuPercent: total, processedPerS, deadLettersPerS, rows })}`,
  );
} finally {
  if (demo.exitCode === null) demo.kill('SIGTERM');
  await Promise.race([exited, sleep(60)]);
  try {
    // The connector and its replication slot (a slot left behind holds WAL for ever).
    fleetgrid(['registry', 'cdc', 'down'], benchEnv);
  } catch (error) {
    console.error(`[footprint] registry cdc down failed, connector of ${prefix} left: ${error}`);
  }
  rmSync(dataDir, { recursive: true, force: true });
  await deleteTopics(prefix).catch((error: unknown) => console.error(`[footprint] topics left: ${error}`));
}
