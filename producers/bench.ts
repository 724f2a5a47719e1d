/**
 * Producer benchmark: how many events per second one process generates, encodes and
 * produces to the local broker, and the cost per event of each stage.
 *
 *   node producers/bench.ts [--events 1000000] [--batch-size 2000] [--in-flight 4] [--idempotent true|false]
 *
 * One run of the whole simulator (1000 devices, backfill at full speed, acks=all, no
 * compression, ordered in-flight lanes) against the real broker. The runner times its own
 * stages: generate (the pure fleet), encode (Confluent-framed Avro into slabs, plus the
 * manifest-free batching); produce is the rest of the wall time (kafkajs building the
 * requests and waiting for acks when every lane is busy). Process CPU time per event is
 * printed too: on a shared machine it says more than wall time about what one process
 * does with a core of its own. Topics get a unique prefix and are deleted afterwards.
 * The last line is `BENCH_JSON {...}` for `make bench`.
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/log.ts';
import { topicSpecs } from '../lib/topics.ts';
import { parseSimulatorConfig } from './config.ts';
import { createFleetSimulator, createSimulatorDeps } from './runner.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    'batch-size': { type: 'string', default: '2000' },
    'in-flight': { type: 'string', default: '4' },
    idempotent: { type: 'string', default: 'true' },
  },
});
const EVENTS = Number(args.events);
const BATCH_SIZE = Number(args['batch-size']);
const IN_FLIGHT = Number(args['in-flight']);
const IDEMPOTENT = args.idempotent !== 'false';
const FLEET = { trucks: 500, turbines: 200, solar: 300 };

const prefix = `bench-producers-${randomUUID().slice(0, 8)}.`;
const app = loadConfig({ ...process.env, TOPIC_PREFIX: prefix });
const deps = createSimulatorDeps(app, { log: createLogger('bench-producers', 'warn') });
const simulator = createFleetSimulator(
  parseSimulatorConfig({
    ...FLEET,
    seed: 42,
    count: EVENTS,
    fromMs: Date.now() - 86_400_000,
    speed: 'max',
    batchSize: BATCH_SIZE,
    maxInFlight: IN_FLIGHT,
    idempotent: IDEMPOTENT,
    partitions: 6,
    manifest: false,
  }),
  deps,
);
await simulator.start();
const started = performance.now();
const cpuStart = process.cpuUsage();
const result = await simulator.done;
const elapsedMs = performance.now() - started;
const cpu = process.cpuUsage(cpuStart);
const admin = deps.kafka.admin();
await admin.connect();
await admin
  .deleteTopics(
    topicSpecs(prefix).map((spec) => spec.name),
    10_000,
  )
  .catch(() => undefined);
await admin.disconnect();
if (result.error) throw result.error;

const { acked, stageMs, bytes } = result.status;
const eventsPerSecond = (acked * 1000) / elapsedMs;
const us = {
  generate: (stageMs.generate * 1000) / acked,
  encode: (stageMs.encode * 1000) / acked,
  produce: ((elapsedMs - stageMs.generate - stageMs.encode) * 1000) / acked,
  total: (elapsedMs * 1000) / acked,
};
const cpuUs = (cpu.user + cpu.system) / acked;
const load = loadavg().map((l) => Number(l.toFixed(1)));

const rate = (perEventUs: number) => Math.round(1e6 / perEventUs).toLocaleString('en-US');
console.log(
  `producers bench: ${acked.toLocaleString('en-US')} events, fleet ${FLEET.trucks}/${FLEET.turbines}/${FLEET.solar}, ` +
    `batch ${BATCH_SIZE}, ${IN_FLIGHT} lanes in flight, acks=all, ${IDEMPOTENT ? 'idempotent' : 'not idempotent'}, no compression, ` +
    `${(bytes / acked).toFixed(0)} B/record, load average ${load.join(' ')}`,
);
console.log(`${'stage'.padEnd(26)}${'µs/event'.padStart(10)}${'events/s'.padStart(14)}`);
for (const [stage, value] of [
  ['generate', us.generate],
  ['encode + batch', us.encode],
  ['produce (kafkajs, acks)', us.produce],
  ['end to end', us.total],
] as const) {
  console.log(`${stage.padEnd(26)}${value.toFixed(2).padStart(10)}${rate(value).padStart(14)}`);
}
console.log(`process CPU per event: ${cpuUs.toFixed(2)} µs (≈ ${rate(cpuUs)} events per CPU-second)`);
console.log(
  `BENCH_JSON ${JSON.stringify({
    component: 'producers',
    events: acked,
    seconds: Number((elapsedMs / 1000).toFixed(2)),
    eventsPerSecond: Math.round(eventsPerSecond),
    usPerEvent: Object.fromEntries(Object.entries(us).map(([k, v]) => [k, Number(v.toFixed(3))])),
    cpuUsPerEvent: Number(cpuUs.toFixed(3)),
    bytesPerRecord: Math.round(bytes / acked),
    batchSize: BATCH_SIZE,
    inFlight: IN_FLIGHT,
    idempotent: IDEMPOTENT,
    loadAverage: load[0],
  })}`,
);
process.exit(0);
