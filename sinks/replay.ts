/**
 * `fleetgrid replay --projection NAME [--from TIME|offset:N]` — event sourcing in action:
 * a projection is rebuilt from the Kafka log into a shadow table (`NAME__replay`, created
 * `AS NAME`: same columns, engine, TTL, deduplication window), checked, and swapped in with
 * one atomic `EXCHANGE TABLES`; readers see the old table until that instant and the new
 * one after. Rows of the live table that the replay does not re-read (before `--from`, or
 * written by the live sink after the replay's end offsets) are copied into the shadow by
 * their Kafka position, so the swap loses nothing that was there.
 *
 * Embedded mode: chDB lets one process own the data directory, so the sink must be stopped
 * while `fleetgrid replay` runs (docs/sinks.md); with a ClickHouse server both run at once.
 */
import { randomUUID } from 'node:crypto';
import type { AppConfig } from '../lib/config.ts';
import { FleetgridError } from '../lib/errors.ts';
import { headersToStrings, type KafkaClient } from '../lib/kafka/index.ts';
import type { Logger } from '../lib/log.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { type TopicKey, topicNames } from '../lib/topics.ts';
import type { Serde } from '../schemas/serde.ts';
import { assertIdentifier, type ClickHouseBackend, createBackend } from '../clickhouse/index.ts';
import { type Entry, PartitionBuffer } from './batch.ts';
import { migrationVariables, parseSinkConfig } from './config.ts';
import { createSinkMetrics } from './metrics.ts';
import { migrate } from '../clickhouse/index.ts';
import { DEAD_LETTERS_TABLE, mapDeadLetter, mapRecord, TOPIC_TABLES } from './rows.ts';
import { writeBatch } from './writer.ts';

export type ReplayFrom =
  | { kind: 'beginning' }
  | { kind: 'time'; ms: number }
  | { kind: 'offset'; offset: bigint };

export function parseFrom(text: string | undefined): ReplayFrom {
  if (text === undefined || text === '') return { kind: 'beginning' };
  const offset = /^offset:(\d+)$/.exec(text);
  if (offset) return { kind: 'offset', offset: BigInt(offset[1] as string) };
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) {
    throw new FleetgridError(
      'INVALID_ARGUMENT',
      `--from must be an ISO time, epoch ms or offset:N, not ${text}`,
    );
  }
  return { kind: 'time', ms };
}

/** What every replay (one projection, or the derived ones) reads and writes with. */
export interface ReplayIo {
  kafka: KafkaClient;
  serde: Serde;
  log: Logger;
  /** Where the progress bar goes (stderr in the CLI); none when undefined. */
  progress?: { write(text: string): boolean; isTTY?: boolean };
  /** An open backend (tests, a running process); else the configured one is opened. */
  backend?: ClickHouseBackend;
  batchMaxRows?: number;
}

/** The shadow table a replay rebuilds `table` into, swapped in with EXCHANGE TABLES. */
export const shadowOf = (table: string): string => `${table}__replay`;

export interface ReplayOptions extends ReplayIo {
  projection: string;
  from?: ReplayFrom;
  /** The live sink's write gate when replay runs inside the sink process (embedded mode). */
  holdWrites?: () => Promise<() => void>;
  /**
   * The live sink's consumer group. The replay then reads each partition only up to the
   * group's committed position, not to the log's end: a record past it may still sit in the
   * live sink's buffer, and the live sink writes it itself, into the live table (copied into
   * the shadow before the swap) or, after the swap, into the rebuilt one. Read by the replay
   * too, it would be stored twice under two different deduplication tokens.
   */
  liveGroupId?: string;
}

export interface ReplayResult {
  projection: string;
  topic: string;
  records: number;
  written: number;
  copied: number;
  rows: number;
  liveRowsBefore: number;
  swapped: boolean;
}

export function topicOfProjection(projection: string): TopicKey {
  for (const [key, tables] of Object.entries(TOPIC_TABLES) as [TopicKey, readonly string[]][]) {
    if (tables.includes(projection)) return key;
  }
  const all = Object.values(TOPIC_TABLES).flat().join(', ');
  throw new FleetgridError('INVALID_ARGUMENT', `unknown projection ${projection} (one of: ${all})`);
}

/** SQL for "offset of this row's partition is below/at-or-above the per-partition bound". */
function offsetCondition(table: string, bounds: Map<number, bigint>, op: '<' | '>='): string {
  const [p, o] =
    table === DEAD_LETTERS_TABLE ? ['dlq_partition', 'dlq_offset'] : ['kafka_partition', 'kafka_offset'];
  const parts = [...bounds.keys()];
  const offsets = parts.map((part) => String(bounds.get(part)));
  return `${o} ${op} transform(${p}, [${parts.join(',')}], [${offsets.join(',')}], ${op === '<' ? 0 : '18446744073709551615'})`;
}

export function progressBar(out: ReplayOptions['progress'], total: number) {
  let last = 0;
  return (done: number, final = false) => {
    if (!out) return;
    const now = Date.now();
    if (!final && now - last < 200) return;
    last = now;
    const share = total === 0 ? 1 : Math.min(1, done / total);
    const width = 30;
    const filled = Math.round(share * width);
    const line = `replay [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${done}/${total} records`;
    out.write(out.isTTY ? `\r${line}${final ? '\n' : ''}` : `${line}\n`);
  };
}

/**
 * Every replay rebuilds into `NAME__replay AS NAME` and swaps with EXCHANGE. On a cluster
 * that copies the Distributed table, whose writes land in the live local tables, and swaps
 * two Distributed tables: a rebuild there needs shadow local tables on every shard
 * (docs/sinks.md), so it is refused before anything is touched.
 */
export function refuseOnCluster(backend: ClickHouseBackend, what: string): void {
  if (backend.cluster === undefined) return;
  throw new FleetgridError(
    'CONFIG_INVALID',
    `replay of ${what} refused: CLICKHOUSE_CLUSTER=${backend.cluster.name} is set, and replay rebuilds single-node tables only`,
  );
}

export async function replayProjection(app: AppConfig, options: ReplayOptions): Promise<ReplayResult> {
  const projection = assertIdentifier(options.projection);
  const topicKey = topicOfProjection(projection);
  const topic = topicNames(app.topicPrefix)[topicKey];
  const shadow = shadowOf(projection);
  const log = options.log.child({ component: 'replay', projection });
  const backend = options.backend ?? (await createBackend(app.clickhouse));
  refuseOnCluster(backend, projection);
  const sinkConfig = parseSinkConfig({});
  const admin = options.kafka.admin();
  await admin.connect();
  const consumer = options.kafka.consumer({
    groupId: `fleetgrid-replay-${projection}-${randomUUID().slice(0, 8)}`,
  });
  try {
    // Recreates the projection too if it was dropped.
    await migrate(backend, migrationVariables(sinkConfig), undefined, undefined, { reapply: true });
    // 1. Where to read: [start, end) per partition, end = the log's end now.
    const ends = new Map<number, bigint>();
    const starts = new Map<number, bigint>();
    for (const p of await admin.fetchTopicOffsets(topic)) {
      ends.set(p.partition, BigInt(p.high));
      starts.set(p.partition, BigInt(p.low));
    }
    if (options.liveGroupId !== undefined) {
      const committed = new Map<number, bigint>();
      for (const t of await admin.fetchCommittedOffsets(options.liveGroupId, [topic])) {
        if (t.topic !== topic) continue;
        for (const p of t.partitions)
          if (BigInt(p.offset) >= 0n) committed.set(p.partition, BigInt(p.offset));
      }
      for (const [part, end] of ends) {
        const live = committed.get(part) ?? starts.get(part) ?? 0n;
        if (live < end) ends.set(part, live);
      }
    }
    const from = options.from ?? { kind: 'beginning' };
    if (from.kind === 'time') {
      for (const p of await admin.fetchTopicOffsetsByTimestamp(topic, from.ms)) {
        starts.set(p.partition, BigInt(p.offset) < 0n ? (ends.get(p.partition) ?? 0n) : BigInt(p.offset));
      }
    } else if (from.kind === 'offset') {
      // biome-ignore lint/complexity/useMathMinMax: bigint offsets; Math.max takes numbers only
      for (const [part, low] of starts) starts.set(part, from.offset > low ? from.offset : low);
    }
    let total = 0;
    for (const [part, end] of ends) total += Math.max(0, Number(end - (starts.get(part) ?? 0n)));

    // 2. The shadow, empty, shaped like the live table.
    await backend.exec(`DROP TABLE IF EXISTS ${shadow}`);
    await backend.exec(`CREATE TABLE ${shadow} AS ${projection}`);
    const liveRowsBefore = Number(
      (await backend.query<{ n: string }>(`SELECT count() AS n FROM ${projection}`))[0]?.n ?? 0,
    );
    // Rows before the replay's start are kept as they are.
    let copied = 0;
    if (from.kind !== 'beginning') {
      await backend.exec(
        `INSERT INTO ${shadow} SELECT * FROM ${projection} WHERE ${offsetCondition(projection, starts, '<')}`,
      );
      copied = Number((await backend.query<{ n: string }>(`SELECT count() AS n FROM ${shadow}`))[0]?.n ?? 0);
    }

    // 3. Read [start, end) of every partition into the shadow.
    const metrics = createSinkMetrics(
      createMetricsRegistry('replay', { defaultMetrics: false }),
      'fleetgrid_replay',
    );
    const limits = {
      maxRows: options.batchMaxRows ?? sinkConfig.batchMaxRows,
      maxBytes: sinkConfig.batchMaxBytes,
      lingerMs: Number.MAX_SAFE_INTEGER,
    };
    const buffers = new Map<number, PartitionBuffer>();
    const remaining = new Set(
      [...ends].filter(([part, end]) => end > (starts.get(part) ?? 0n)).map(([part]) => part),
    );
    const lastWritten = new Map<number, bigint>();
    let records = 0;
    let written = 0;
    const draw = progressBar(options.progress, total);
    const writer = {
      backend,
      metrics,
      policy: { baseMs: sinkConfig.retryBaseMs, capMs: sinkConfig.retryCapMs },
      targetTable: () => shadow,
    };
    const flush = async (buffer: PartitionBuffer, all: boolean) => {
      if (all) buffer.flushAll();
      for (let batch = buffer.sealed[0]; batch; batch = buffer.sealed[0]) {
        const rows = batch.tables.get(projection);
        if (rows && rows.encoded.length > 0) {
          const only = { ...batch, tables: new Map([[projection, rows]]) };
          await writeBatch(only, writer);
          written += rows.encoded.length;
          lastWritten.set(batch.partition, rows.offsets[rows.offsets.length - 1] as bigint);
        }
        buffer.done(batch);
      }
    };
    const finished = Promise.withResolvers<void>();
    if (remaining.size === 0) finished.resolve();
    await consumer.connect();
    await consumer.subscribe([topic], { fromBeginning: true });
    await consumer.run({
      concurrency: 1,
      eachBatch: async (batch) => {
        const { resolveOffset, heartbeat } = batch;
        const part = batch.partition;
        const end = ends.get(part) ?? 0n;
        if (!remaining.has(part)) return;
        let buffer = buffers.get(part);
        if (!buffer) {
          buffer = new PartitionBuffer(topic, part, limits);
          buffers.set(part, buffer);
        }
        for (const message of batch.records) {
          const offset = BigInt(message.offset);
          resolveOffset(message.offset);
          if (offset < (starts.get(part) ?? 0n)) continue;
          if (offset >= end) break;
          records++;
          let entry: Entry | undefined;
          try {
            const base = { offset, key: message.key ?? null, value: message.value ?? null };
            const mapped =
              topicKey === 'dlq'
                ? mapDeadLetter({
                    partition: part,
                    offset: message.offset,
                    key: base.key,
                    value: base.value,
                    headers: headersToStrings(message.headers),
                  })
                : mapRecord(
                    topicKey,
                    options.serde.decodeCached(base.value) ?? (await options.serde.decode(base.value)),
                    { partition: part, offset: message.offset },
                  );
            if (mapped.table === projection)
              entry = { kind: 'row', ...base, table: mapped.table, row: mapped.row };
          } catch {
            // Bad records were dead-lettered when they were first read; a replay skips them.
          }
          if (entry) buffer.add(entry, 0);
          if (buffer.sealed.length > 0) await flush(buffer, false);
          if (offset + 1n >= end) {
            await flush(buffer, true);
            remaining.delete(part);
            if (remaining.size === 0) finished.resolve();
            break;
          }
        }
        draw(records);
        await heartbeat();
      },
    });
    for (const [part, start] of starts) {
      if (remaining.has(part)) consumer.seek(topic, part, String(start));
    }
    await finished.promise;
    await consumer.disconnect();
    draw(records, true);

    // 4. Check: the shadow holds the tail of every partition it was given.
    for (const [part, last] of lastWritten) {
      const [row] = await backend.query<{ o: string }>(
        `SELECT max(${projection === DEAD_LETTERS_TABLE ? 'dlq_offset' : 'kafka_offset'}) AS o FROM ${shadow} WHERE ${projection === DEAD_LETTERS_TABLE ? 'dlq_partition' : 'kafka_partition'} = {p:UInt16}`,
        { p: part },
      );
      if (BigInt(row?.o ?? '-1') !== last) {
        throw new FleetgridError(
          'INTERNAL',
          `replay check failed: ${shadow} partition ${part} ends at ${row?.o}, expected ${last}`,
        );
      }
    }
    // 5. Catch up with what the live sink wrote past our end offsets, then swap; with the
    // sink in this process, its inserts wait meanwhile, so none falls between the two.
    const release = options.holdWrites ? await options.holdWrites() : () => {};
    try {
      await backend.exec(
        `INSERT INTO ${shadow} SELECT * FROM ${projection} WHERE ${offsetCondition(projection, ends, '>=')}`,
      );
      await backend.exec(`EXCHANGE TABLES ${projection} AND ${shadow}`);
    } finally {
      release();
    }
    await backend.exec(`DROP TABLE IF EXISTS ${shadow}`);
    const rows = Number(
      (await backend.query<{ n: string }>(`SELECT count() AS n FROM ${projection}`))[0]?.n ?? 0,
    );
    const result = { projection, topic, records, written, copied, rows, liveRowsBefore, swapped: true };
    log.info(result, 'projection rebuilt and swapped in');
    return result;
  } finally {
    await consumer.disconnect().catch(() => {});
    await admin.disconnect();
    if (!options.backend) await backend.close();
  }
}
