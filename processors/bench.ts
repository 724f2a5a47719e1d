/**
 * Benchmark of the processors: events/s through one processor process (`fleetgrid
 * process`, real Kafka, Redis and registry) and µs per event per stage.
 *
 *   node processors/bench.ts [--events 400000] [--devices 1500]
 *
 * Stages are timed in isolation on the same events (decode, validate, core = windows +
 * alerts + device state, alerts alone, encode of the outputs); `produce` is the time the
 * runner spent in acks=all produce requests, which overlaps consumption. `join` is the
 * registry join's cost (issue 13): the same cores with every device registered among
 * --registered devices (default 10,000) and the seed's kind rule rows, minus without, each
 * the fastest of 3 alternating passes (`core_plain`, `core_join`). The end-to-end
 * figure is input events / (first record received → last record processed and every
 * output acknowledged). Bounded: about 30-60 s on 2 cores. Prints a table, then one
 * `BENCH_JSON {...}` line.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { loadConfig, PROJECT_ROOT } from '../lib/config.ts';
import { createKafkaClient, type OutgoingMessage } from '../lib/kafka/index.ts';
import { createLogger } from '../lib/log.ts';
import { retry } from '../lib/retry.ts';
import { GROUPS } from '../lib/stream/index.ts';
import { ensureTopics, topicNames, topicSpecs } from '../lib/topics.ts';
import { createSerde } from '../schemas/serde.ts';
import type { DeviceState } from '../schemas/types.ts';
import { validateRawEvent } from '../schemas/validate.ts';
import { createAlertEngine, type DeviceMachines } from './alerts/engine.ts';
import { type CoreJoin, createPartitionCore, parseCoreConfig } from './core/index.ts';
import { registryForStream } from './core/testing.ts';
import { makeFleetEvents, RAW_TOPIC_OF } from './bench-fleet.ts';
import { changelogTopics } from './runner/changelog.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '400000' },
    devices: { type: 'string', default: '1500' },
    partitions: { type: 'string', default: '6' },
    registered: { type: 'string', default: '10000' },
  },
});
const EVENTS = Number(args.events);
const DEVICES = Number(args.devices);
const PARTITIONS = Number(args.partitions);
/** Times `fn` after one untimed warm-up call, so the figure is for JIT-compiled code. */
function time(fn: () => void, warmUp: () => void = fn): number {
  warmUp();
  const start = performance.now();
  fn();
  return performance.now() - start;
}

async function main(): Promise<void> {
  const prefix = `bench-proc-${Date.now().toString(36)}.`;
  const app = loadConfig({ ...process.env, TOPIC_PREFIX: prefix });
  const log = createLogger('bench', process.env.LOG_LEVEL ?? 'warn');
  const kafka = createKafkaClient(app.kafka, { log });
  const topics = topicNames(prefix);
  const admin = kafka.admin();
  await admin.connect();
  // A busy broker sometimes answers a new topic's metadata with "unknown" for a moment.
  await retry(() => ensureTopics(admin, topicSpecs(prefix, PARTITIONS)), {
    policy: { baseMs: 500, capMs: 2_000, maxRetries: 5 },
  });
  const serde = createSerde(app.registry, { topics });
  await serde.registerAll();
  const coreConfig = parseCoreConfig({});
  const redis = new Redis(app.redis.url);

  try {
    const events = makeFleetEvents(EVENTS, DEVICES);
    const encoded = events.map((e) => serde.encode(e.type, e.value as never));

    // ---- stages in isolation
    const decodeMs = time(() => {
      for (const buffer of encoded) serde.decodeCached(buffer);
    });
    const now = Date.now();
    const validateMs = time(() => {
      for (const event of events) validateRawEvent(event, now);
    });
    // One core per (simulated) partition, as in the runner.
    const warmCores = Array.from({ length: PARTITIONS }, () => createPartitionCore(coreConfig));
    const cores = Array.from({ length: PARTITIONS }, () => createPartitionCore(coreConfig));
    const outputs = { aggregates: [] as unknown[], alerts: [] as unknown[], states: [] as DeviceState[] };
    const warmUpCores = () => {
      for (const [i, event] of events.entries()) warmCores[i % PARTITIONS]!.apply(event, 0);
    };
    const coreMs = time(() => {
      for (const [i, event] of events.entries()) {
        const out = cores[i % PARTITIONS]!.apply(event, 0);
        if (out.aggregates.length) outputs.aggregates.push(...out.aggregates);
        if (out.alerts.length) outputs.alerts.push(...out.alerts);
        // the runner coalesces device states per flush; keep one per device per 2,000 events
        if (i % 2_000 === 0) outputs.states.push(...out.deviceStates);
      }
    }, warmUpCores);
    // The registry join: the same events through fresh cores without and with it, alternating.
    const join: CoreJoin = {
      table: registryForStream(events, Number(args.registered)),
      unknownDevice: 'quarantine',
    };
    const corePass = (withJoin?: CoreJoin): number => {
      const fresh = Array.from({ length: PARTITIONS }, () =>
        createPartitionCore(coreConfig, undefined, withJoin),
      );
      const start = performance.now();
      for (const [i, event] of events.entries()) fresh[i % PARTITIONS]!.apply(event, 0);
      return performance.now() - start;
    };
    corePass();
    corePass(join);
    let corePlainMs = Number.POSITIVE_INFINITY;
    let coreJoinMs = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 3; round++) {
      corePlainMs = Math.min(corePlainMs, corePass());
      coreJoinMs = Math.min(coreJoinMs, corePass(join));
    }
    const engine = createAlertEngine();
    const machines = new Map<string, DeviceMachines>();
    const alertsMs = time(() => {
      machines.clear();
      const sink: never[] = [];
      for (const event of events) {
        const v = event.value;
        let m = machines.get(v.deviceId);
        if (!m) {
          m = {};
          machines.set(v.deviceId, m);
        }
        const kind =
          event.type === 'TurbineTelemetry' ? 'TURBINE' : event.type === 'SolarTelemetry' ? 'SOLAR' : 'TRUCK';
        engine.onEvent({ deviceId: v.deviceId, siteId: v.siteId, kind }, m, event, sink);
        sink.length = 0;
      }
    });
    // The runner sends each device's newest state once per transaction (1 s per partition),
    // about once per 50,000 events at the target rate: that is the state encoding to count.
    const coalescedStates = Math.ceil(events.length / 50_000) * DEVICES;
    const sampleState = outputs.states[0] ?? null;
    const encodeMs = time(() => {
      for (const a of outputs.aggregates) serde.encode('WindowAggregate', a as never);
      for (const a of outputs.alerts) serde.encode('Alert', a as never);
      if (sampleState) for (let i = 0; i < coalescedStates; i++) serde.encode('DeviceState', sampleState);
    });

    // ---- end to end: pre-load the input topics, then let one processor drain them
    const producer = kafka.producer();
    await producer.connect();
    const loadStart = performance.now();
    for (let i = 0; i < events.length; i += 10_000) {
      const byTopic = new Map<string, OutgoingMessage[]>();
      for (let j = i; j < Math.min(i + 10_000, events.length); j++) {
        const topic = topics[RAW_TOPIC_OF[events[j]!.type]];
        const list = byTopic.get(topic) ?? [];
        list.push({ key: events[j]!.value.deviceId, value: encoded[j]! });
        byTopic.set(topic, list);
      }
      await producer.sendBatch([...byTopic].map(([topic, messages]) => ({ topic, messages })));
    }
    const loadMs = performance.now() - loadStart;
    await producer.disconnect();

    // The processor runs as its own process (`fleetgrid process`), with the production
    // defaults (one transaction per partition and second: outputs, checkpoint, offset); we
    // watch its /metrics.
    const child = spawn(
      process.execPath,
      [
        resolve(PROJECT_ROOT, 'bin/fleetgrid.mjs'),
        'process',
        '--metrics-port',
        '0',
        '--partitions',
        String(PARTITIONS),
        // The benchmark's devices are not registered: processed as they are (the join still runs).
        '--unknown-device',
        'accept',
      ],
      {
        env: { ...process.env, TOPIC_PREFIX: prefix, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    const port = await new Promise<number>((done, fail) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /"metricsPort":(\d+)/.exec(out);
        if (match) done(Number(match[1]));
      });
      void exited.then((code) => fail(new Error(`fleetgrid process exited (${code}) before it was ready`)));
    });
    const scrape = async () => parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    let firstAt = 0;
    let sample = await scrape();
    const deadline = performance.now() + 60_000;
    while (performance.now() < deadline) {
      sample = await scrape();
      const done = sample('fleetgrid_processor_processed_total');
      if (done > 0 && firstAt === 0) firstAt = performance.now();
      const held =
        sample('fleetgrid_processor_output_buffered_rows_total') -
        sample('fleetgrid_processor_output_acked_rows_total');
      if (done >= events.length && held === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const endAt = performance.now();
    const done = sample('fleetgrid_processor_processed_total');
    const produceSeconds = sample('fleetgrid_processor_produce_duration_seconds_sum');
    const emitted = sample('fleetgrid_processor_emitted_total');
    const checkpointSeconds = sample('fleetgrid_processor_checkpoint_duration_seconds_sum');
    const checkpointCount = sample('fleetgrid_processor_checkpoint_duration_seconds_count');
    const rssBytes = sample('fleetgrid_process_resident_memory_bytes');
    const heapUsedBytes = sample('fleetgrid_nodejs_heap_size_used_bytes');
    // The newest checkpoint record of every partition, as stored in the changelogs (gzipped).
    const stateBytes = sample('fleetgrid_processor_state_bytes');
    child.kill('SIGTERM');
    const exitCode = await exited;

    const n = events.length;
    const us = (ms: number) => Math.round((ms * 1000 * 100) / n) / 100;
    const stages = {
      decode: us(decodeMs),
      validate: us(validateMs),
      core: us(coreMs),
      core_plain: us(corePlainMs),
      core_join: us(coreJoinMs),
      join: us(coreJoinMs - corePlainMs),
      alerts: us(alertsMs),
      windows_and_state: us(Math.max(0, coreMs - alertsMs)),
      encode: us(encodeMs),
      produce: us(produceSeconds * 1000),
    };
    const e2eSeconds = (endAt - firstAt) / 1000;
    const eventsPerSecond = Math.round(done / e2eSeconds);
    console.log(`processors benchmark: ${n} events, ${DEVICES} devices, ${PARTITIONS} partitions per topic`);
    console.log('stage                      µs/event   (isolated, single thread)');
    for (const [stage, value] of Object.entries(stages))
      console.log(`  ${stage.padEnd(24)} ${String(value).padStart(8)}`);
    console.log(
      `  (core = windows + alerts + device state; produce = acks=all requests, overlapped with consumption)`,
    );
    console.log(
      `  (join = core_join − core_plain, fastest of 3 each: ${join.table.devices.size} registered devices; target ≤ 0.3)`,
    );
    console.log(`pre-load: ${Math.round(n / (loadMs / 1000))} events/s produced by the benchmark itself`);
    console.log(
      `end to end: ${done}/${n} events in ${e2eSeconds.toFixed(2)} s = ${eventsPerSecond} events/s through one processor; ${emitted} output records`,
    );
    console.log(
      `processor process: resident memory ${Math.round(rssBytes / 1e6)} MB, V8 heap used ${Math.round(heapUsedBytes / 1e6)} MB at the end; exit code after SIGTERM ${exitCode}`,
    );
    console.log(
      `checkpoint transactions: ${checkpointCount}, mean ${Math.round((checkpointSeconds * 1000) / Math.max(1, checkpointCount))} ms (outputs + checkpoint record + offsets + commit); state ${(stateBytes / 1e6).toFixed(2)} MB gzipped for ${DEVICES} devices`,
    );
    console.log(
      `BENCH_JSON ${JSON.stringify({ component: 'processors', events: n, devices: DEVICES, partitions: PARTITIONS, registeredDevices: join.table.devices.size, eventsPerSecond, e2eSeconds: Number(e2eSeconds.toFixed(3)), outputs: emitted, rssBytes, heapUsedBytes, stateBytes, checkpoints: checkpointCount, checkpointMeanMs: Math.round((checkpointSeconds * 1000) / Math.max(1, checkpointCount)), usPerEvent: stages, complete: done === n })}`,
    );
  } finally {
    const changelogs = Object.values(changelogTopics(prefix, GROUPS.processors));
    for (const name of [...topicSpecs(prefix, PARTITIONS).map((s) => s.name), ...changelogs]) {
      await admin.deleteTopics([name], 10_000).catch(() => {});
    }
    await admin.disconnect();
    for (const pattern of [`fleetgrid:device:${prefix}*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    }
    await redis.quit();
  }
}

/** Prometheus text → a lookup summing every sample of a name (all label sets). */
function parseMetrics(text: string): (name: string) => number {
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const name = line.slice(0, line.search(/[{ ]/));
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sums.set(name, (sums.get(name) ?? 0) + value);
  }
  return (name) => sums.get(name) ?? 0;
}

await main();
process.exit(0);
