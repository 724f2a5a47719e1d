/**
 * Bytes per event on the broker's disk, per raw topic, for each retention profile
 * (lib/topics.ts): `development` stores what the producers send (uncompressed Avro in
 * kafkajs batches), `production` has the broker recompress with zstd. The figures feed the
 * sizing table of docs/sizing.md.
 *
 *   node bench/topic-bytes.ts [--events 200000]
 *
 * Runs against the local stack's single broker (`make up`): the simulator backfills the same
 * seeded fleet into two fresh topic sets, one per profile; the bench then sums the sizes of
 * the partitions' segment files (.log) under the broker's log.dirs and divides by the
 * records in each topic. The topics are deleted afterwards. Bounded: one simulator run per
 * profile, at most a few minutes.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig, PROJECT_ROOT } from '../lib/config.ts';
import { createKafkaClient, type KafkaAdmin } from '../lib/kafka/index.ts';
import { silentLogger } from '../lib/log.ts';
import { RAW_TOPIC_KEYS, type RetentionProfile, topicNames, topicSpecs } from '../lib/topics.ts';

const PROFILES: RetentionProfile[] = ['development', 'production'];
const eventsArg = process.argv.indexOf('--events');
const EVENTS = eventsArg > 0 ? Number(process.argv[eventsArg + 1]) : 200_000;
if (!Number.isSafeInteger(EVENTS) || EVENTS < 1_000)
  throw new Error('--events: a whole number of at least 1000');

function simulate(prefix: string, profile: RetentionProfile): Promise<void> {
  // The demo's fleet mix (40 trucks, 12 turbines, 12 solar arrays) at its default intervals.
  const args = [
    resolve(PROJECT_ROOT, 'bin/fleetgrid.mjs'),
    'simulate',
    '--trucks',
    '40',
    '--turbines',
    '12',
    '--solar',
    '12',
    '--count',
    String(EVENTS),
    '--speed',
    'max',
    '--partitions',
    '3',
    '--json',
  ];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, TOPIC_PREFIX: prefix, TOPIC_RETENTION_PROFILE: profile, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return new Promise((done, fail) => {
    const timer = setTimeout(() => child.kill('SIGTERM'), 300_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) done();
      else fail(new Error(`simulate exited with ${code}`));
    });
  });
}

/** Sum of the segment files of every partition of `topic` under the broker's log dirs. */
function bytesOnDisk(logDirs: string[], topic: string): number {
  let total = 0;
  for (const dir of logDirs) {
    for (const entry of readdirSync(dir)) {
      if (!new RegExp(`^${topic.replace(/[.]/g, '\\.')}-\\d+$`).test(entry)) continue;
      for (const file of readdirSync(join(dir, entry))) {
        if (file.endsWith('.log')) total += statSync(join(dir, entry, file)).size;
      }
    }
  }
  return total;
}

async function records(admin: KafkaAdmin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

const app = loadConfig();
const admin = createKafkaClient(app.kafka, { log: silentLogger }).admin();
await admin.connect();
const rows: { profile: RetentionProfile; kind: string; events: number; bytes: number }[] = [];
const created: string[] = [];
try {
  const cluster = await admin.describeCluster();
  const broker = String(cluster.brokers[0]);
  const [brokerConfig] = await admin.describeConfigs([
    { type: 'broker', name: broker, configNames: ['log.dirs'] },
  ]);
  const logDirs = (brokerConfig?.configs['log.dirs'] ?? '').split(',').filter(Boolean);
  if (logDirs.length === 0 || cluster.brokers.length !== 1) {
    throw new Error('this bench reads one local broker’s log dirs: run it against `make up`’s single broker');
  }
  const run = Date.now().toString(36);
  for (const profile of PROFILES) {
    const prefix = `bench-bytes-${run}-${profile}.`;
    created.push(...topicSpecs(prefix).map((spec) => spec.name));
    await simulate(prefix, profile);
    // The broker writes (and, for zstd, recompresses) before it acknowledges; the files are final.
    const names = topicNames(prefix);
    for (const kind of RAW_TOPIC_KEYS) {
      rows.push({
        profile,
        kind,
        events: await records(admin, names[kind]),
        bytes: bytesOnDisk(logDirs, names[kind]),
      });
    }
  }
} finally {
  await admin.deleteTopics(created).catch(() => {});
  await admin.disconnect();
}

console.log('| profile | topic | events | bytes on disk | bytes per event |');
console.log('|---|---|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.profile} | ${r.kind} | ${r.events} | ${r.bytes} | ${(r.bytes / r.events).toFixed(1)} |`);
}
console.log(`BENCH_JSON ${JSON.stringify({ events: EVENTS, rows })}`);
