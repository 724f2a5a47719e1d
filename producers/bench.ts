/**
 * Producer benchmark: how many events per second one process generates, encodes and
 * produces to the local broker, and the cost per event of each stage.
 *
 *   node producers/bench.ts [--events 1000000] [--batch-size 2000] [--in-flight 4]
 *
 * Stages, each timed on its own:
 *   generate — the pure fleet (models, scheduling), no encoding;
 *   encode   — Confluent-framed Avro with the cached avsc types, into slabs;
 *   produce  — the whole simulator (generate + encode + sendBatch with acks=all, ordered
 *              in-flight lanes) against the real broker; its own share is what remains
 *              after generate and encode.
 * Topics get a unique prefix and are deleted afterwards. Bounded to about a minute.
 * The last line is `BENCH_JSON {...}` for `make bench`.
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/log.ts';
import { topicSpecs } from '../lib/topics.ts';
import { parseSimulatorConfig } from './config.ts';
import { createMessageEncoder } from './encoder.ts';
import { createFleet } from './fleet.ts';
import { createFleetSimulator, createSimulatorDeps } from './runner.ts';
import type { OutboundMessage } from './types.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    'batch-size': { type: 'string', default: '2000' },
    'in-flight': { type: 'string', default: '4' },
  },
});
const EVENTS = Number(args.events);
const BATCH_SIZE = Number(args['batch-size']);
const IN_FLIGHT = Number(args['in-flight']);
const FLEET = { trucks: 500, turbines: 200, solar: 300 };
const START_MS = Date.now() - 86_400_000;

function fleetOptions() {
  return {
    seed: 42,
    ...FLEET,
    intervalMs: { truck: 1_000, turbine: 1_000, solar: 1_000 },
    startMs: START_MS,
  };
}

/**
 * Stages 1 and 2, chunk by chunk as the runner does (so short-lived messages stay in the
 * young generation): the pure fleet, then encoding with fake schema ids (same sizes).
 */
function benchGenerateAndEncode(count: number) {
  const fleet = createFleet(fleetOptions());
  const encoder = createMessageEncoder({
    ids: {
      TruckTelemetry: 1,
      EngineStateChanged: 2,
      DiagnosticReported: 3,
      TurbineTelemetry: 4,
      SolarTelemetry: 5,
    },
  });
  const chunk: OutboundMessage[] = [];
  let generateMs = 0;
  let encodeMs = 0;
  const cpuStart = process.cpuUsage();
  let bytes = 0;
  let done = 0;
  while (done < count) {
    chunk.length = 0;
    const t0 = performance.now();
    done += fleet.generate(Number.POSITIVE_INFINITY, Math.min(2_500, count - done), chunk);
    const t1 = performance.now();
    for (const message of chunk) bytes += (encoder.encode(message).value as Buffer).length;
    encodeMs += performance.now() - t1;
    generateMs += t1 - t0;
  }
  const cpu = process.cpuUsage(cpuStart);
  return {
    generateUs: (generateMs * 1000) / count,
    encodeUs: (encodeMs * 1000) / count,
    cpuUs: (cpu.user + cpu.system) / count,
    bytesPerEvent: bytes / count,
  };
}

/** Stage 3: the whole simulator against the broker. */
async function benchProduce(count: number) {
  const prefix = `bench-producers-${randomUUID().slice(0, 8)}.`;
  const app = loadConfig({ ...process.env, TOPIC_PREFIX: prefix });
  const log = createLogger('bench-producers', 'warn');
  const deps = createSimulatorDeps(app, { log });
  const config = parseSimulatorConfig({
    ...FLEET,
    seed: 42,
    count,
    fromMs: START_MS,
    speed: 'max',
    batchSize: BATCH_SIZE,
    maxInFlight: IN_FLIGHT,
    partitions: 6,
    manifest: false,
  });
  const simulator = createFleetSimulator(config, deps);
  await simulator.start();
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const result = await simulator.done;
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  const admin = deps.kafka.admin();
  await admin.connect();
  await admin
    .deleteTopics({ topics: topicSpecs(prefix).map((spec) => spec.name), timeout: 10_000 })
    .catch(() => undefined);
  await admin.disconnect();
  if (result.error) throw result.error;
  return {
    seconds: elapsed / 1000,
    acked: result.status.acked,
    eventsPerSecond: (result.status.acked * 1000) / elapsed,
    cpuUs: (cpu.user + cpu.system) / result.status.acked,
  };
}

const stages = benchGenerateAndEncode(Math.min(EVENTS, 500_000));
const generated = { usPerEvent: stages.generateUs };
const encoded = { usPerEvent: stages.encodeUs, bytesPerEvent: stages.bytesPerEvent };
const produced = await benchProduce(EVENTS);
const totalUs = 1e6 / produced.eventsPerSecond;
const produceUs = Math.max(0, totalUs - generated.usPerEvent - encoded.usPerEvent);

const rows: [string, string, string][] = [
  [
    'generate',
    generated.usPerEvent.toFixed(2),
    Math.round(1e6 / generated.usPerEvent).toLocaleString('en-US'),
  ],
  ['encode', encoded.usPerEvent.toFixed(2), Math.round(1e6 / encoded.usPerEvent).toLocaleString('en-US')],
  ['produce (send + acks)', produceUs.toFixed(2), '—'],
  ['end to end', totalUs.toFixed(2), Math.round(produced.eventsPerSecond).toLocaleString('en-US')],
];
console.log(
  `producers bench: ${EVENTS.toLocaleString('en-US')} events, fleet ${FLEET.trucks}/${FLEET.turbines}/${FLEET.solar}, ` +
    `batch ${BATCH_SIZE}, ${IN_FLIGHT} lanes in flight, acks=all, no compression, ${encoded.bytesPerEvent.toFixed(0)} B/event`,
);
console.log(`${'stage'.padEnd(24)}${'µs/event'.padStart(10)}${'events/s'.padStart(14)}`);
for (const [stage, us, rate] of rows)
  console.log(`${stage.padEnd(24)}${us.padStart(10)}${rate.padStart(14)}`);
// On a shared machine wall time depends on who else runs; CPU time per event says what one
// process would do with a core of its own (process CPU includes GC and libuv threads).
const load = loadavg()
  .map((l) => l.toFixed(1))
  .join(' ');
console.log(
  `process CPU per event: generate+encode ${stages.cpuUs.toFixed(2)} µs, end to end ${produced.cpuUs.toFixed(2)} µs ` +
    `(≈ ${Math.round(1e6 / produced.cpuUs).toLocaleString('en-US')} events per CPU-second); load average ${load}`,
);
console.log(
  `BENCH_JSON ${JSON.stringify({
    component: 'producers',
    events: produced.acked,
    seconds: Math.round(produced.seconds * 100) / 100,
    eventsPerSecond: Math.round(produced.eventsPerSecond),
    usPerEvent: {
      generate: Number(generated.usPerEvent.toFixed(3)),
      encode: Number(encoded.usPerEvent.toFixed(3)),
      produce: Number(produceUs.toFixed(3)),
      total: Number(totalUs.toFixed(3)),
    },
    cpuUsPerEvent: {
      generateEncode: Number(stages.cpuUs.toFixed(3)),
      total: Number(produced.cpuUs.toFixed(3)),
    },
    loadAverage: Number(loadavg()[0]?.toFixed(2)),
    bytesPerEvent: Math.round(encoded.bytesPerEvent),
    batchSize: BATCH_SIZE,
    inFlight: IN_FLIGHT,
  })}`,
);
process.exit(0);
