/**
 * `fleetgrid replay --derived [--projection aggregates_1m|alerts|device_state]` — the derived
 * projections (all three by default, in one read of the log) rebuilt from the raw telemetry
 * topics alone: the processors' pure cores (processors/core) run over the raw log the way the
 * runner runs them — one core per raw topic-partition, each record decoded, validated and
 * applied in offset order through the runner's own intake (`applyRecord`) — and their outputs
 * go into shadow tables swapped in with one `EXCHANGE TABLES` each, as `fleetgrid replay` does
 * for a projection read from its own topic. Each row is the one the sink would have written
 * for the output record (sinks/rows.ts), its lineage columns pointing at the raw event whose
 * apply emitted it.
 *
 * What makes the result equal the live table: the core is deterministic in its input (same
 * events in offset order → same outputs), and processing time enters only through the idle
 * timer. The replay runs no timer while reading; at the end of each partition it runs the
 * idle timer once as if the input had gone quiet for good, as the live processor does once it
 * has caught up, which closes the windows still open and raises the heartbeat alerts due by
 * then (stream time moves at most max(window + grace, heartbeat silence) past the newest
 * event). The registry join is OFF (the cores get no join): equal to a live run with
 * `registryJoin: false`, or with the join on and `unknownDevice: accept` for devices the
 * registry never knew; with registered devices the live rows carry registry columns (model,
 * driver) this replay leaves null (docs/sinks.md "Replay").
 *
 * Embedded mode: the data directory must not be open in a running sink (stop it first).
 */
import { randomUUID } from 'node:crypto';
import type { AppConfig } from '../lib/config.ts';
import { FleetgridError } from '../lib/errors.ts';
import type { FetchedBatch } from '../lib/kafka/index.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { retry } from '../lib/retry.ts';
import { RAW_TOPIC_KEYS, type TopicKey, topicNames } from '../lib/topics.ts';
import {
  type CoreConfig,
  type CoreOutput,
  createPartitionCore,
  type PartitionCore,
} from '../processors/core/index.ts';
import { applyRecord, decodeRecord, type OutputRouter } from '../processors/index.ts';
import type { Decoded } from '../schemas/serde.ts';
import type { RecordName } from '../schemas/types.ts';
import { assertIdentifier, type ClickHouseBackend, createBackend, migrate } from '../clickhouse/index.ts';
import { PartitionBuffer } from './batch.ts';
import { migrationVariables, parseSinkConfig } from './config.ts';
import { createSinkMetrics } from './metrics.ts';
import { progressBar, type ReplayIo, refuseOnCluster, shadowOf } from './replay.ts';
import { mapRecord } from './rows.ts';
import { writeBatch } from './writer.ts';

/**
 * The projections this replay rebuilds from the raw log: which output of the cores each one
 * holds, as the record the sink would have read from the processors' output topic.
 */
const DERIVED_OUTPUTS = {
  aggregates_1m: { topicKey: 'aggregates', record: 'WindowAggregate', of: (o: CoreOutput) => o.aggregates },
  alerts: { topicKey: 'alerts', record: 'Alert', of: (o: CoreOutput) => o.alerts },
  device_state: { topicKey: 'deviceState', record: 'DeviceState', of: (o: CoreOutput) => o.deviceStates },
} as const satisfies Record<
  string,
  { topicKey: TopicKey; record: RecordName; of: (o: CoreOutput) => readonly unknown[] }
>;
export type DerivedProjection = keyof typeof DERIVED_OUTPUTS;
export const DERIVED_PROJECTIONS = Object.keys(DERIVED_OUTPUTS) as DerivedProjection[];

export interface DerivedReplayOptions extends ReplayIo {
  /** The projections to rebuild; all of DERIVED_PROJECTIONS when undefined. */
  projections?: readonly DerivedProjection[];
  /** The processors' core options (processors/core parseCoreConfig): the live processor's. */
  core: CoreConfig;
}

export interface DerivedTableResult {
  /** Rows written to the shadow (every revision, transition or state, not only the newest). */
  written: number;
  /** Rows ClickHouse refused (the live sink dead-lettered the same ones). */
  refused: number;
  /** Rows of the projection after the swap. */
  rows: number;
  liveRowsBefore: number;
}

export interface DerivedReplayResult {
  topics: string[];
  /** Raw records read. */
  records: number;
  /** Raw records the processor would have dead-lettered (decode, validation, core refusal). */
  skipped: number;
  projections: Partial<Record<DerivedProjection, DerivedTableResult>>;
  swapped: boolean;
}

/** One raw topic-partition: its core, and the rows its outputs become. */
interface PartitionRun {
  topic: string;
  partition: number;
  core: PartitionCore;
  /** Rows carry the raw position of the event whose apply emitted them. */
  at: { partition: number; offset: string };
  /** Output sequence of this partition: the shadow batches' offsets (unique dedup tokens). */
  seq: bigint;
  buffer: PartitionBuffer;
  end: bigint;
}

/** `--projection` of `replay --derived`: one derived projection, or all of them when absent. */
export function parseDerivedProjections(text: string | undefined): DerivedProjection[] {
  if (text === undefined) return [...DERIVED_PROJECTIONS];
  if ((DERIVED_PROJECTIONS as readonly string[]).includes(text)) return [text as DerivedProjection];
  throw new FleetgridError(
    'INVALID_ARGUMENT',
    `--derived rebuilds ${DERIVED_PROJECTIONS.join(', ')} from the raw log, not ${text}`,
  );
}

async function countRows(backend: ClickHouseBackend, table: string): Promise<number> {
  return Number((await backend.query<{ n: string }>(`SELECT count() AS n FROM ${table}`))[0]?.n ?? 0);
}

export async function replayDerived(
  app: AppConfig,
  options: DerivedReplayOptions,
): Promise<DerivedReplayResult> {
  const projections = [...new Set(options.projections ?? DERIVED_PROJECTIONS)];
  for (const projection of projections) assertIdentifier(projection);
  const names = topicNames(app.topicPrefix);
  const topics = RAW_TOPIC_KEYS.map((key) => names[key]);
  const log = options.log.child({ component: 'replay-derived', projections });
  const backend = options.backend ?? (await createBackend(app.clickhouse));
  refuseOnCluster(backend, 'the derived projections');
  const sinkConfig = parseSinkConfig({});
  const admin = options.kafka.admin();
  await admin.connect();
  const consumer = options.kafka.consumer({
    groupId: `fleetgrid-replay-derived-${randomUUID().slice(0, 8)}`,
  });
  try {
    // Recreates the projections too if they were dropped.
    await migrate(backend, migrationVariables(sinkConfig), undefined, undefined, { reapply: true });
    // 1. The whole raw log as it is now: [low, high) of every partition of every raw topic.
    const limits = {
      maxRows: options.batchMaxRows ?? sinkConfig.batchMaxRows,
      maxBytes: sinkConfig.batchMaxBytes,
      lingerMs: Number.MAX_SAFE_INTEGER,
    };
    const runs = new Map<string, PartitionRun>();
    const starts = new Map<string, bigint>();
    let total = 0;
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const [low, high] = [BigInt(p.low), BigInt(p.high)];
        if (high <= low) continue;
        total += Number(high - low);
        const id = `${topic}:${p.partition}`;
        starts.set(id, low);
        runs.set(id, {
          topic,
          partition: p.partition,
          core: createPartitionCore(options.core),
          at: { partition: p.partition, offset: '0' },
          seq: 0n,
          // A topic name of its own: the shadows' dedup tokens never meet the live sink's.
          buffer: new PartitionBuffer(`${topic}#derived`, p.partition, limits),
          end: high,
        });
      }
    }

    // 2. The shadows, empty, shaped like the live tables.
    const tables = new Map<DerivedProjection, DerivedTableResult>();
    for (const projection of projections) {
      await backend.exec(`DROP TABLE IF EXISTS ${shadowOf(projection)}`);
      await backend.exec(`CREATE TABLE ${shadowOf(projection)} AS ${projection}`);
      const liveRowsBefore = await countRows(backend, projection);
      tables.set(projection, { written: 0, refused: 0, rows: 0, liveRowsBefore });
    }

    const metrics = createSinkMetrics(
      createMetricsRegistry('replay', { defaultMetrics: false }),
      'fleetgrid_replay',
    );
    const writer = {
      backend,
      metrics,
      policy: { baseMs: sinkConfig.retryBaseMs, capMs: sinkConfig.retryCapMs },
      targetTable: shadowOf,
    };
    let records = 0;
    let skipped = 0;
    const flush = async (run: PartitionRun, all: boolean) => {
      if (all) run.buffer.flushAll();
      for (let batch = run.buffer.sealed[0]; batch; batch = run.buffer.sealed[0]) {
        const refused = await writeBatch(batch, writer);
        for (const [table, rows] of batch.tables) {
          const counts = tables.get(table as DerivedProjection);
          if (counts) counts.written += rows.encoded.length;
        }
        for (const row of refused) {
          const counts = tables.get(row.error.details?.table as DerivedProjection);
          if (!counts) continue;
          counts.refused++;
          counts.written--;
        }
        run.buffer.done(batch);
      }
    };
    const addRows = (run: PartitionRun, out: CoreOutput) => {
      for (const projection of projections) {
        const output = DERIVED_OUTPUTS[projection];
        for (const value of output.of(out)) {
          const decoded = { record: output.record, value, schemaId: 0 } as Decoded;
          const mapped = mapRecord(output.topicKey, decoded, run.at);
          run.buffer.add(
            {
              kind: 'row',
              offset: run.seq++,
              key: null,
              value: null,
              table: mapped.table,
              row: mapped.row,
            },
            0,
          );
        }
      }
    };
    // The runner's router, reduced to what the projections keep: dead letters were written
    // when the records were first processed; here they are only counted.
    let current: PartitionRun | undefined;
    const router: OutputRouter = {
      route: (out) => {
        if (current) addRows(current, out);
        skipped += out.rejected.length;
      },
      deadLetter: () => {
        skipped++;
      },
    };
    // 3. Read every partition in offset order through the runner's intake.
    const remaining = new Set(runs.keys());
    const draw = progressBar(options.progress, total);
    const finished = Promise.withResolvers<void>();
    if (remaining.size === 0) finished.resolve();
    const finish = async (run: PartitionRun, id: string) => {
      // The input goes quiet for good: the idle timer closes what is still open, as it does
      // in the live processor once it has caught up (first tick starts the idle clock).
      run.core.onTimer(0);
      router.route(run.core.onTimer(Number.MAX_SAFE_INTEGER), undefined);
      await flush(run, true);
      remaining.delete(id);
      if (remaining.size === 0) finished.resolve();
    };
    const readBatch = async (run: PartitionRun, id: string, batch: FetchedBatch) => {
      current = run;
      for (const message of batch.records) {
        batch.resolveOffset(message.offset);
        const offset = BigInt(message.offset);
        if (offset >= run.end) break;
        records++;
        const decoded = await decodeWaiting(message.value);
        run.at = { partition: run.partition, offset: message.offset };
        // Validation's "not in the future" bound: the record's time, near when the live processor read it.
        applyRecord({ ...run, router }, message, decoded, Number(message.timestamp));
        if (run.buffer.sealed.length > 0) await flush(run, false);
        if (offset + 1n >= run.end) {
          await finish(run, id);
          break;
        }
      }
      current = undefined;
      draw(records);
      await batch.heartbeat();
    };
    // The schema registry away: wait for it, as the processor holds the partition, instead of
    // skipping good records; if it stays away, the replay fails and swaps nothing.
    const decodeWaiting = (value: Buffer | null) =>
      retry(
        async () => {
          const decoded = await decodeRecord(options.serde, value);
          if (decoded instanceof FleetgridError && decoded.retriable) throw decoded;
          return decoded;
        },
        { policy: { baseMs: sinkConfig.retryBaseMs, capMs: sinkConfig.retryCapMs, maxRetries: 10 } },
      );
    await consumer.connect();
    await consumer.subscribe(topics, { fromBeginning: true });
    await consumer.run({
      concurrency: 1,
      eachBatch: async (batch) => {
        const id = `${batch.topic}:${batch.partition}`;
        const run = runs.get(id);
        if (!run || !remaining.has(id)) return;
        try {
          await readBatch(run, id, batch);
        } catch (error) {
          // Not thrown to the consumer: it would fetch the batch again and apply it twice.
          remaining.clear();
          finished.reject(error);
        }
      },
    });
    for (const [id, run] of runs) consumer.seek(run.topic, run.partition, String(starts.get(id)));
    await finished.promise;
    await consumer.disconnect();
    draw(records, true);

    // 4. Swap, one projection after the other (each EXCHANGE is atomic on its own).
    for (const [projection, counts] of tables) {
      await backend.exec(`EXCHANGE TABLES ${projection} AND ${shadowOf(projection)}`);
      await backend.exec(`DROP TABLE IF EXISTS ${shadowOf(projection)}`);
      counts.rows = await countRows(backend, projection);
    }
    const result: DerivedReplayResult = {
      topics,
      records,
      skipped,
      projections: Object.fromEntries(tables),
      swapped: true,
    };
    log.info(result, 'derived projections rebuilt from the raw log and swapped in');
    return result;
  } finally {
    await consumer.disconnect().catch(() => {});
    await admin.disconnect();
    if (!options.backend) await backend.close();
  }
}
