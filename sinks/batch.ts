/**
 * The pure core of the sink: per-partition batches cut from FIXED offset ranges, their
 * deduplication tokens, the batch plan committed to Kafka, and bisection. No I/O, no
 * timers: the runner passes `now`.
 *
 * Why a plan: a batch's token is `topic:partition:first-last`, and after a crash the
 * redelivered records must be cut into exactly the same range, or the retry would carry
 * a different token and duplicate the rows that had landed. Before inserting, the runner
 * commits the group's offset unchanged (= first) with metadata `fleetgrid-plan:v1:<last>`;
 * whoever owns the partition next finds the plan and seals its first batch at `last`.
 */
import { positionPastHidden } from '../lib/stream/index.ts';
import type { EncodedRow } from './rows.ts';

export const PLAN_PREFIX = 'fleetgrid-plan:v1:';

export function dedupToken(topic: string, partition: number, first: bigint, last: bigint): string {
  return `${topic}:${partition}:${first}-${last}`;
}

export function formatPlan(last: bigint): string {
  return `${PLAN_PREFIX}${last}`;
}

/** The planned last offset, or undefined for empty/foreign metadata. */
export function parsePlan(metadata: string | null | undefined): bigint | undefined {
  if (!metadata?.startsWith(PLAN_PREFIX)) return undefined;
  const text = metadata.slice(PLAN_PREFIX.length);
  return /^\d+$/.test(text) ? BigInt(text) : undefined;
}

/** A record that failed before reaching a table (decode, validation): dead-lettered with the batch. */
export interface Rejected {
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
  error: import('../lib/errors.ts').FleetgridError;
}

export interface TableRows {
  /** Rows in the table's format (sinks/rows.ts ROW_FORMAT). */
  encoded: EncodedRow[];
  /** Per row: its record's index in Batch.sources (for the DLQ when ClickHouse rejects it). */
  sources: number[];
  offsets: bigint[];
}

export interface Batch {
  topic: string;
  partition: number;
  first: bigint;
  last: bigint;
  tables: Map<string, TableRows>;
  /** Original records of the rows, kept for the DLQ; aligned with TableRows.sources. */
  sources: { offset: bigint; key: Buffer | null; value: Buffer | null }[];
  rejected: Rejected[];
  records: number;
  rows: number;
  bytes: number;
  startedAt: number;
}

export interface BatchLimits {
  maxRows: number;
  maxBytes: number;
  lingerMs: number;
  /**
   * A batch still holding fewer than `belowRecords` records when lingerMs has passed waits
   * until `lingerMs` here instead. Every insert is a part that ClickHouse writes and later
   * merges, which is most of the sink's cost when the rate is low; a trickle of records is
   * written in fewer, larger inserts, while a busy partition still seals at lingerMs.
   */
  quiet?: { lingerMs: number; belowRecords: number };
}

export type Entry =
  | { kind: 'row'; offset: bigint; key: Buffer | null; value: Buffer | null; table: string; row: EncodedRow }
  | ({ kind: 'rejected' } & Rejected);

/** Bytes an entry holds in memory: its encoded row plus the original bytes kept for the DLQ. */
export function entryBytes(entry: Entry): number {
  const original = (entry.value?.length ?? 0) + (entry.key?.length ?? 0);
  return entry.kind === 'row' ? entry.row.length + original : original;
}

function newBatch(topic: string, partition: number, offset: bigint, now: number): Batch {
  return {
    topic,
    partition,
    first: offset,
    last: offset,
    tables: new Map(),
    sources: [],
    rejected: [],
    records: 0,
    rows: 0,
    bytes: 0,
    startedAt: now,
  };
}

/**
 * The bounded buffer of one assigned partition: sealed batches waiting to be written in
 * order, plus the open batch still growing.
 */
export class PartitionBuffer {
  readonly topic: string;
  readonly partition: number;
  readonly limits: BatchLimits;
  readonly sealed: Batch[] = [];
  open: Batch | undefined;
  /** Planned last offset of the first batch after an (unclean) hand-over. */
  plan: bigint | undefined;
  /** Offsets at or below this were already handled: redelivered copies are skipped. */
  private nextExpected: bigint | undefined;
  rows = 0;
  bytes = 0;

  constructor(topic: string, partition: number, limits: BatchLimits, plan?: bigint) {
    this.topic = topic;
    this.partition = partition;
    this.limits = limits;
    this.plan = plan;
  }

  /** Adds one record's outcome; returns false for an offset already buffered (a refetch). */
  add(entry: Entry, now: number): boolean {
    if (this.nextExpected !== undefined && entry.offset < this.nextExpected) return false;
    if (this.open && this.plan !== undefined && entry.offset > this.plan) this.seal();
    if (!this.open) this.open = newBatch(this.topic, this.partition, entry.offset, now);
    const batch = this.open;
    const bytes = entryBytes(entry);
    batch.last = entry.offset;
    batch.records++;
    batch.bytes += bytes;
    this.bytes += bytes;
    if (entry.kind === 'row') {
      let rows = batch.tables.get(entry.table);
      if (!rows) {
        rows = { encoded: [], sources: [], offsets: [] };
        batch.tables.set(entry.table, rows);
      }
      rows.encoded.push(entry.row);
      rows.sources.push(batch.sources.length);
      rows.offsets.push(entry.offset);
      batch.sources.push({ offset: entry.offset, key: entry.key, value: entry.value });
      batch.rows++;
      this.rows++;
    } else {
      batch.rejected.push({ offset: entry.offset, key: entry.key, value: entry.value, error: entry.error });
    }
    this.nextExpected = entry.offset + 1n;
    if (this.plan !== undefined) {
      if (entry.offset >= this.plan) this.seal();
    } else if (batch.rows >= this.limits.maxRows || batch.bytes >= this.limits.maxBytes) {
      this.seal();
    }
    return true;
  }

  /** Where the buffer stands with nothing left to write (the next offset), else undefined. */
  restingAt(): bigint | undefined {
    if (this.open || this.sealed.length > 0 || this.plan !== undefined) return undefined;
    return this.nextExpected;
  }

  /**
   * Moves past `tail` — a fetched range with nothing visible (transaction markers) — when the
   * rule allows it (lib/stream positionPastHidden): returns the position to commit, else
   * undefined.
   */
  skipHidden(tail: { from: string; to: string } | undefined): bigint | undefined {
    const to = positionPastHidden(tail, this.restingAt());
    if (to !== undefined) this.nextExpected = to;
    return to;
  }

  private seal(): void {
    if (!this.open) return;
    this.sealed.push(this.open);
    this.open = undefined;
    this.plan = undefined;
  }

  /** Whether a batch should be written now. A pending plan waits for its last offset. */
  due(now: number): boolean {
    if (this.sealed.length > 0) return true;
    if (!this.open || this.plan !== undefined) return false;
    const age = now - this.open.startedAt;
    if (age < this.limits.lingerMs) return false;
    const quiet = this.limits.quiet;
    return quiet === undefined || this.open.records >= quiet.belowRecords || age >= quiet.lingerMs;
  }

  /** The batch to write next (sealing the open one if it is due), without removing it. */
  next(now: number): Batch | undefined {
    if (this.sealed.length === 0 && this.due(now)) this.seal();
    return this.sealed[0];
  }

  /** Drops the written batch and returns what it released. */
  done(batch: Batch): void {
    const index = this.sealed.indexOf(batch);
    if (index === -1) return;
    this.sealed.splice(index, 1);
    this.rows -= batch.rows;
    this.bytes -= batch.bytes;
  }

  /** Seals the open batch regardless of limits (draining on stop). */
  flushAll(): void {
    if (this.plan === undefined) this.seal();
  }

  get empty(): boolean {
    return this.sealed.length === 0 && !this.open;
  }
}

/** Half-open [from, to) slices of rows. */
export interface Slice {
  from: number;
  to: number;
}

/**
 * Bisection of a rejected insert: tries halves, recursing into the halves that fail,
 * until single rows remain; those are the bad rows. `insert` resolves on success, and
 * rejects with a non-retriable error for bad data (retriable errors are retried by the
 * caller inside `insert`, never bisected). Returns the bad row indexes.
 */
export async function bisect(
  slice: Slice,
  insert: (slice: Slice) => Promise<void>,
  isBadData: (error: unknown) => boolean,
  onBadRow?: (index: number, error: unknown) => void,
): Promise<number[]> {
  try {
    await insert(slice);
    return [];
  } catch (error) {
    if (!isBadData(error)) throw error;
    if (slice.to - slice.from <= 1) {
      onBadRow?.(slice.from, error);
      return [slice.from];
    }
    const mid = slice.from + Math.floor((slice.to - slice.from) / 2);
    const left = await bisect({ from: slice.from, to: mid }, insert, isBadData, onBadRow);
    const right = await bisect({ from: mid, to: slice.to }, insert, isBadData, onBadRow);
    return [...left, ...right];
  }
}
