/**
 * Memory after a backlog (issue 16 item 4): a backlog of --events raw events from --devices
 * devices is produced into topics of its own prefix, then the real `fleetgrid process` child
 * drains it alone, then the real `fleetgrid sink` child drains the raw topics and the
 * processor's outputs. For each: resident memory (VmRSS, sampled every 200 ms: the peak
 * during the drain, and VmHWM, the kernel's own peak) and the V8 heap, at the end of the
 * drain and after --settle seconds idle (what the target reads), plus drain rate.
 *
 *   node bench/backlog-memory.ts [--events 1000000] [--devices 5000] [--partitions 6] [--settle 15]
 *
 * The children get this process's environment (so NODE_OPTIONS / MALLOC_ARENA_MAX set on the
 * command line reach them: how levers were compared) with TOPIC_PREFIX and a data directory of
 * their own (removed afterwards; the stack's secrets linked in). Bounded: each drain stops after
 * 180 s. Needs `make up`. Prints a table, then one `BENCH_JSON {...}` line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { loadConfig, PROJECT_ROOT } from '../lib/config.ts';
import { createKafkaClient, type OutgoingMessage } from '../lib/kafka/index.ts';
import { createLogger } from '../lib/log.ts';
import { retry } from '../lib/retry.ts';
import { parsePrometheusText, sumMetric } from '../lib/stream/index.ts';
import { ensureTopics, topicNames, topicSpecs } from '../lib/topics.ts';
import { fleetEvent, RAW_TOPIC_OF } from '../processors/bench-fleet.ts';
import { createSerde } from '../schemas/serde.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    devices: { type: 'string', default: '5000' },
    partitions: { type: 'string', default: '6' },
    settle: { type: 'string', default: '15' },
  },
});
const EVENTS = Number(args.events);
const DEVICES = Number(args.devices);
const PARTITIONS = Number(args.partitions);
const SETTLE_S = Number(args.settle);
const DRAIN_LIMIT_MS = 180_000;
const MB = 1024 * 1024;

interface ProcMemory {
  rss: number;
  hwm: number;
  anon: number;
  file: number;
}

/** Resident memory of a process from /proc/<pid>/status, in bytes. */
function procMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') };
}

/**
 * Where the anonymous resident memory sits, from /proc/<pid>/smaps: glibc's main arena
 * ([heap], grown by brk) and the other anonymous mappings (V8's heap pages, glibc's thread
 * arenas, large Buffers, thread stacks).
 */
function anonBreakdown(pid: number): { brkHeap: number; otherAnon: number } {
  const out = { brkHeap: 0, otherAnon: 0 };
  let kind: keyof typeof out | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      const path = head[4] as string;
      kind =
        path === '[heap]' ? 'brkHeap' : path === '' || path.startsWith('[anon') ? 'otherAnon' : undefined;
      continue;
    }
    const anon = /^Anonymous:\s+(\d+) kB/.exec(line);
    if (anon && kind) out[kind] += Number(anon[1]) * 1024;
  }
  return out;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as { port: number }).port;
  await new Promise((done) => server.close(done));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ServiceRun {
  drainSeconds: number;
  recordsPerSecond: number;
  records: number;
  peakRssBytes: number;
  hwmBytes: number;
  drainedRssBytes: number;
  settledRssBytes: number;
  settledAnonBytes: number;
  settledFileBytes: number;
  drainedHeapUsedBytes: number;
  settledHeapUsedBytes: number;
  settledHeapTotalBytes: number;
  settledExternalBytes: number;
  settledAnon: { brkHeap: number; otherAnon: number };
  exitCode: number | null;
}

/**
 * Runs one service child until `drained(metrics)` holds, sampling its memory; then idles
 * SETTLE_S and samples again; then SIGTERM.
 */
async function runService(
  name: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
  metricsPort: number,
  progress: (m: (metric: string) => number) => { records: number; drained: boolean },
): Promise<ServiceRun> {
  const child: ChildProcess = spawn(process.execPath, [resolve(PROJECT_ROOT, 'bin/fleetgrid.mjs'), ...argv], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const pid = child.pid as number;
  const scrape = async (): Promise<((metric: string) => number) | undefined> => {
    try {
      const samples = parsePrometheusText(
        await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
      );
      return (metric) => sumMetric(samples, metric);
    } catch {
      return undefined; // not serving yet
    }
  };
  let peakRss = 0;
  let firstAt = 0;
  let records = 0;
  let last: ((metric: string) => number) | undefined;
  const deadline = performance.now() + DRAIN_LIMIT_MS;
  try {
    while (performance.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}) during the drain`);
      peakRss = Math.max(peakRss, procMemory(pid).rss);
      last = (await scrape()) ?? last;
      if (last) {
        const state = progress(last);
        records = state.records;
        if (records > 0 && firstAt === 0) firstAt = performance.now();
        if (state.drained) break;
      }
      await sleep(200);
    }
    if (performance.now() >= deadline)
      throw new Error(`${name} did not drain within ${DRAIN_LIMIT_MS / 1000} s`);
    const drainSeconds = (performance.now() - firstAt) / 1000;
    const drained = procMemory(pid);
    const drainedHeap = last ? last('fleetgrid_nodejs_heap_size_used_bytes') : 0;
    for (let t = 0; t < SETTLE_S * 5; t++) {
      peakRss = Math.max(peakRss, procMemory(pid).rss);
      await sleep(200);
    }
    const settled = procMemory(pid);
    const settledAnon = anonBreakdown(pid);
    const m = (await scrape()) ?? last;
    return {
      drainSeconds: Number(drainSeconds.toFixed(2)),
      recordsPerSecond: Math.round(records / drainSeconds),
      records,
      peakRssBytes: Math.max(peakRss, settled.rss),
      hwmBytes: settled.hwm,
      drainedRssBytes: drained.rss,
      settledRssBytes: settled.rss,
      settledAnonBytes: settled.anon,
      settledFileBytes: settled.file,
      drainedHeapUsedBytes: drainedHeap,
      settledHeapUsedBytes: m ? m('fleetgrid_nodejs_heap_size_used_bytes') : 0,
      settledHeapTotalBytes: m ? m('fleetgrid_nodejs_heap_size_total_bytes') : 0,
      settledExternalBytes: m ? m('fleetgrid_nodejs_external_memory_bytes') : 0,
      settledAnon,
      exitCode: null,
    };
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.race([exited, sleep(45_000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const prefix = `bench-mem-${Date.now().toString(36)}.`;
  const app = loadConfig({ ...process.env, TOPIC_PREFIX: prefix });
  const log = createLogger('bench', process.env.LOG_LEVEL ?? 'warn');
  const kafka = createKafkaClient(app.kafka, { log });
  const topics = topicNames(prefix);
  const admin = kafka.admin();
  await admin.connect();
  const dataDir = mkdtempSync(join(tmpdir(), 'fleetgrid-backlog-memory-'));
  // The stack's generated credentials (PostgreSQL, the query secret) live there.
  symlinkSync(resolve(app.dataDir, 'secrets'), join(dataDir, 'secrets'));
  const redis = new Redis(app.redis.url);
  try {
    await retry(() => ensureTopics(admin, topicSpecs(prefix, PARTITIONS)), {
      policy: { baseMs: 500, capMs: 2_000, maxRetries: 5 },
    });
    const serde = createSerde(app.registry, { topics });
    await serde.registerAll();

    // ---- the backlog, produced in chunks (the benchmark never holds all of it)
    const producer = kafka.producer();
    await producer.connect();
    const loadStart = performance.now();
    for (let i = 0; i < EVENTS; i += 10_000) {
      const byTopic = new Map<string, OutgoingMessage[]>();
      for (let j = i; j < Math.min(i + 10_000, EVENTS); j++) {
        const event = fleetEvent(j, DEVICES);
        const topic = topics[RAW_TOPIC_OF[event.type]];
        const list = byTopic.get(topic) ?? [];
        list.push({ key: event.value.deviceId, value: serde.encode(event.type, event.value as never) });
        byTopic.set(topic, list);
      }
      await producer.sendBatch([...byTopic].map(([topic, messages]) => ({ topic, messages })));
    }
    const loadSeconds = (performance.now() - loadStart) / 1000;
    await producer.disconnect();
    console.error(
      `[backlog-memory] ${EVENTS} events of ${DEVICES} devices produced in ${loadSeconds.toFixed(1)} s`,
    );

    const env = {
      ...process.env,
      TOPIC_PREFIX: prefix,
      FLEETGRID_DATA_DIR: dataDir,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
    };
    // ---- the processor alone, with the production defaults (as processors/bench.ts runs it)
    const processPort = await freePort();
    let emitted = 0;
    let stateBytes = 0;
    const processor = await runService(
      'fleetgrid process',
      [
        'process',
        '--metrics-port',
        String(processPort),
        '--partitions',
        String(PARTITIONS),
        '--unknown-device',
        'accept',
      ],
      env,
      processPort,
      (m) => {
        const done = m('fleetgrid_processor_processed_total');
        emitted = m('fleetgrid_processor_emitted_total');
        // The newest checkpoint of every partition as stored (gzipped): the state's own size.
        stateBytes = m('fleetgrid_processor_state_bytes');
        const held =
          m('fleetgrid_processor_output_buffered_rows_total') -
          m('fleetgrid_processor_output_acked_rows_total');
        return { records: done, drained: done >= EVENTS && held === 0 };
      },
    );
    console.error(`[backlog-memory] processor drained: ${JSON.stringify(processor)}`);

    // ---- the sink: the raw topics and the processor's outputs (complete once nothing new
    // arrived for 5 s with every buffered row written)
    const sinkPort = await freePort();
    let stableSince = 0;
    let lastReceived = -1;
    const sink = await runService(
      'fleetgrid sink',
      ['sink', '--metrics-port', String(sinkPort), '--query-port', String(await freePort())],
      env,
      sinkPort,
      (m) => {
        const received = m('fleetgrid_sink_received_records_total');
        const buffered =
          m('fleetgrid_sink_buffered_rows_added_total') - m('fleetgrid_sink_buffered_rows_removed_total');
        const now = performance.now();
        if (received !== lastReceived) {
          lastReceived = received;
          stableSince = now;
        }
        const drained = received >= EVENTS && buffered === 0 && now - stableSince >= 5_000;
        // The last 5 s waited for nothing: not counted in the rate.
        return { records: received, drained };
      },
    );
    sink.drainSeconds = Number(Math.max(0.01, sink.drainSeconds - 5).toFixed(2));
    sink.recordsPerSecond = Math.round(sink.records / sink.drainSeconds);

    const mb = (bytes: number) => String(Math.round(bytes / MB)).padStart(6);
    console.log(
      `backlog memory: ${EVENTS} events, ${DEVICES} devices, ${PARTITIONS} partitions; NODE_OPTIONS=${process.env.NODE_OPTIONS ?? ''} MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? ''}`,
    );
    console.log(
      'service     records/s   peak RSS  VmHWM  RSS drained  RSS settled (anon/file)  heap used drained/settled  heap total  external  (MiB)',
    );
    for (const [name, r] of [
      ['process', processor],
      ['sink', sink],
    ] as const) {
      console.log(
        `${name.padEnd(10)} ${String(r.recordsPerSecond).padStart(10)} ${mb(r.peakRssBytes)}    ${mb(r.hwmBytes)} ${mb(r.drainedRssBytes)}       ${mb(r.settledRssBytes)} (${Math.round(r.settledAnonBytes / MB)}/${Math.round(r.settledFileBytes / MB)})        ${mb(r.drainedHeapUsedBytes)} / ${mb(r.settledHeapUsedBytes)}        ${mb(r.settledHeapTotalBytes)}   ${mb(r.settledExternalBytes)}`,
      );
    }
    console.log(
      `BENCH_JSON ${JSON.stringify({ component: 'backlog-memory', events: EVENTS, devices: DEVICES, partitions: PARTITIONS, settleS: SETTLE_S, nodeOptions: process.env.NODE_OPTIONS ?? null, mallocArenaMax: process.env.MALLOC_ARENA_MAX ?? null, producedPerSecond: Math.round(EVENTS / loadSeconds), processorOutputs: emitted, processorStateBytes: stateBytes, processor, sink })}`,
    );
  } finally {
    const mine = (await admin.listTopics().catch(() => [] as string[])).filter((t) => t.startsWith(prefix));
    if (mine.length > 0) await admin.deleteTopics(mine, 30_000).catch(() => {});
    await admin.disconnect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `fleetgrid:device:${prefix}*`, 'COUNT', 1_000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    await redis.quit();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
