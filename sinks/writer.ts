/**
 * Writes one batch's rows into ClickHouse: one insert per table, each with the batch's
 * deduplication token, retried with capped full-jitter backoff while the error is
 * retriable (the caller's partition stays paused meanwhile), and bisected when ClickHouse
 * rejects the data, so only the bad rows are dead-lettered.
 *
 * Why retrying is safe: every attempt carries the same token, so an attempt that failed
 * AFTER the insert landed (a lost response, a timeout) is a no-op when repeated.
 * Batches stay under max_insert_block_size (1 048 449 rows), so each insert is one block
 * and a rejected one wrote nothing.
 */
import type { Clock } from '../lib/clock.ts';
import { FleetgridError, isFleetgridError } from '../lib/errors.ts';
import { type BackoffPolicy, retry } from '../lib/retry.ts';
import type { ClickHouseBackend } from '../clickhouse/index.ts';
import { type Batch, bisect, dedupToken, type Rejected, type TableRows } from './batch.ts';
import { type EncodedRow, ROW_FORMAT, type RowFormat, TABLE_COLUMNS, type TableName } from './rows.ts';
import type { SinkMetrics } from './metrics.ts';

export interface WriterDeps {
  backend: ClickHouseBackend;
  metrics: SinkMetrics;
  policy: Pick<BackoffPolicy, 'baseMs' | 'capMs'>;
  signal?: AbortSignal;
  clock?: Clock;
  /** Maps a table of the batch to the table actually written (replay writes shadows). */
  targetTable?: (table: string) => string;
}

/** Slices of at most this many rows per insert: the one-block guarantee above. */
export const MAX_INSERT_ROWS = 1_000_000;

/** The payload of encoded rows: one copy of them (the engine takes it zero-copy). */
export function insertPayload(format: RowFormat, encoded: readonly EncodedRow[]): Buffer {
  return format === 'RowBinary'
    ? Buffer.concat(encoded as Buffer[])
    : Buffer.from((encoded as string[]).join(''));
}

export async function writeTableRows(
  batch: Pick<Batch, 'topic' | 'partition' | 'first' | 'last'>,
  table: string,
  rows: TableRows,
  deps: WriterDeps,
): Promise<{ index: number; error: FleetgridError }[]> {
  const target = deps.targetTable ? deps.targetTable(table) : table;
  const columns = TABLE_COLUMNS[table as TableName];
  const format = ROW_FORMAT[table as TableName];
  const insertSlice = async (from: number, to: number) => {
    const whole = from === 0 && to === rows.encoded.length;
    const first = whole ? batch.first : (rows.offsets[from] as bigint);
    const last = whole ? batch.last : (rows.offsets[to - 1] as bigint);
    const token = dedupToken(batch.topic, batch.partition, first, last);
    const payload = insertPayload(format, rows.encoded.slice(from, to));
    await retry(
      async () => {
        const stop = deps.metrics.insertSeconds.startTimer({ table: target });
        try {
          await deps.backend.insert(target, payload, { dedupToken: token, columns, format, rows: to - from });
        } finally {
          stop();
        }
      },
      {
        policy: { ...deps.policy, maxRetries: Number.POSITIVE_INFINITY },
        ...(deps.signal ? { signal: deps.signal } : {}),
        ...(deps.clock ? { clock: deps.clock } : {}),
        onRetry: (error) =>
          deps.metrics.insertRetries.inc({
            table: target,
            code: error instanceof FleetgridError ? error.code : 'UNKNOWN',
          }),
      },
    );
  };
  const bad: { index: number; error: FleetgridError }[] = [];
  for (let from = 0; from < rows.encoded.length; from += MAX_INSERT_ROWS) {
    const to = Math.min(rows.encoded.length, from + MAX_INSERT_ROWS);
    let bisected = false;
    await bisect(
      { from, to },
      (slice) => insertSlice(slice.from, slice.to),
      (error) => {
        const badData = isFleetgridError(error, 'CLICKHOUSE_REJECTED');
        if (badData && !bisected) {
          bisected = true;
          deps.metrics.bisections.inc({ table: target });
        }
        return badData;
      },
      // The engine's own words go to the DLQ header: they say what was wrong with the row.
      (index, error) => bad.push({ index, error: error as FleetgridError }),
    );
  }
  deps.metrics.written.inc({ table: target }, rows.encoded.length - bad.length);
  return bad;
}

/** Writes every table of the batch; returns the rows ClickHouse refused, for the DLQ. */
export async function writeBatch(batch: Batch, deps: WriterDeps): Promise<Rejected[]> {
  const refused: Rejected[] = [];
  for (const [table, rows] of batch.tables) {
    const bad = await writeTableRows(batch, table, rows, deps);
    for (const { index, error } of bad) {
      const source = batch.sources[rows.sources[index] as number];
      if (!source) continue;
      refused.push({
        offset: source.offset,
        key: source.key,
        value: source.value,
        error: new FleetgridError(
          'CLICKHOUSE_REJECTED',
          `ClickHouse refused the row for ${table}: ${error.message}`,
          {
            cause: error,
            details: { table, ...error.details },
          },
        ),
      });
    }
  }
  return refused;
}
