/**
 * The bounded output buffer between the cores and the Kafka producer, and the watermark
 * gate that turns its fill level into pause/resume decisions. Pure: no I/O, no timers.
 *
 * Every append gets a sequence number. The flusher takes everything pending at once and
 * acknowledges takes in order, so "acked up to N" always means every record appended
 * before N reached Kafka. The checkpointer uses exactly that: it notes the sequence at
 * the moment it captures a partition's state, and waits for `ackedSeq >= seq` before it
 * writes the checkpoint (see docs/processors.md, "Checkpoint protocol").
 *
 * Device states are coalesced per take: only the newest state of a device is kept, since
 * the device-state topic is compacted and readers only ever want the latest.
 */
import type { OutgoingMessage } from '../../lib/kafka/index.ts';

export interface BufferedRecord {
  topic: string;
  message: OutgoingMessage;
  bytes: number;
  /** An alert or a dead letter: its partition commits at the short interval (cadence.ts). */
  urgent?: boolean;
}

export interface BufferedState<S> {
  topic: string;
  key: string;
  state: S;
  bytes: number;
  /** Sequence number of this (newest) state of the key. */
  seq: number;
}

export interface Take<S> {
  records: BufferedRecord[];
  states: BufferedState<S>[];
  /** Every append with a sequence number ≤ this is in this take or an earlier one. */
  seq: number;
  rows: number;
  bytes: number;
}

export interface WatermarkLimits {
  highWaterRows: number;
  highWaterBytes: number;
  lowWaterRatio: number;
}

export class OutputBuffer<S> {
  appendedSeq = 0;
  ackedSeq = 0;
  /** States replaced by a newer one of the same key before they were sent. */
  coalesced = 0;
  private records: BufferedRecord[] = [];
  private urgentRecords = 0;
  private states = new Map<string, BufferedState<S>>();
  private pendingBytes = 0;
  private inflightRows = 0;
  private inflightBytes = 0;
  private waiters: { seq: number; resolve: () => void }[] = [];

  append(record: BufferedRecord): void {
    this.records.push(record);
    if (record.urgent) this.urgentRecords++;
    this.pendingBytes += record.bytes;
    this.appendedSeq++;
  }

  /**
   * Replaces any pending state of the same key (coalescing). The newer state stands for the
   * older one: it is the device's state after everything the older one reflected.
   */
  appendState(state: Omit<BufferedState<S>, 'seq'>): void {
    const previous = this.states.get(state.key);
    if (previous) {
      this.pendingBytes -= previous.bytes;
      this.coalesced++;
      // Re-inserting moves the key to the end, so iteration order stays "oldest first".
      this.states.delete(state.key);
    }
    this.appendedSeq++;
    this.states.set(state.key, { ...state, seq: this.appendedSeq });
    this.pendingBytes += state.bytes;
  }

  /** Pending aggregates, alerts and dead letters (not states). */
  get pendingRecords(): number {
    return this.records.length;
  }

  /** Pending records marked urgent (alerts, dead letters). */
  get pendingUrgent(): number {
    return this.urgentRecords;
  }

  get pendingRows(): number {
    return this.records.length + this.states.size;
  }

  /** Rows and bytes held: pending plus taken but not yet acknowledged. */
  get rows(): number {
    return this.pendingRows + this.inflightRows;
  }

  get bytes(): number {
    return this.pendingBytes + this.inflightBytes;
  }

  /**
   * Takes what is pending; the caller must `ack` it once Kafka acknowledged it. States may
   * be left behind to coalesce longer (`includeStates: false`); the take's sequence then
   * stops just before the oldest state left behind, so nobody waiting for a later sequence
   * is released before that state is sent too.
   */
  take(options: { includeStates?: boolean } = {}): Take<S> | undefined {
    const includeStates = options.includeStates ?? true;
    const rows = this.records.length + (includeStates ? this.states.size : 0);
    if (rows === 0) {
      // Nothing pending and nothing in flight: every append so far has been acknowledged.
      if (this.inflightRows === 0 && this.states.size === 0) this.settle(this.appendedSeq);
      return undefined;
    }
    let seq = this.appendedSeq;
    let stateBytes = 0;
    if (!includeStates) {
      for (const state of this.states.values()) {
        seq = Math.min(seq, state.seq - 1);
        stateBytes += state.bytes;
      }
    }
    const take: Take<S> = {
      records: this.records,
      states: includeStates ? [...this.states.values()] : [],
      seq,
      rows,
      bytes: this.pendingBytes - stateBytes,
    };
    this.records = [];
    this.urgentRecords = 0;
    if (includeStates) this.states = new Map();
    this.pendingBytes = stateBytes;
    this.inflightRows += take.rows;
    this.inflightBytes += take.bytes;
    return take;
  }

  /** Pending states waiting to coalesce. */
  get pendingStates(): number {
    return this.states.size;
  }

  ack(take: Take<S>): void {
    this.inflightRows -= take.rows;
    this.inflightBytes -= take.bytes;
    this.settle(take.seq);
  }

  /** Resolves once every append up to `seq` has been acknowledged. */
  waitAcked(seq: number): Promise<void> {
    if (this.ackedSeq >= seq) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ seq, resolve }));
  }

  private settle(seq: number): void {
    if (seq <= this.ackedSeq) return;
    this.ackedSeq = seq;
    const due = this.waiters.filter((w) => w.seq <= seq);
    this.waiters = this.waiters.filter((w) => w.seq > seq);
    for (const waiter of due) waiter.resolve();
  }
}

/**
 * Hysteresis between a high and a low watermark: pause when either rows or bytes reach
 * their high mark, resume only when both are below the low mark. Without the gap a
 * consumer at the limit would flap between pause and resume on every record.
 */
export class WatermarkGate {
  paused = false;
  private readonly lowRows: number;
  private readonly lowBytes: number;
  private readonly limits: WatermarkLimits;

  constructor(limits: WatermarkLimits) {
    this.limits = limits;
    this.lowRows = Math.floor(limits.highWaterRows * limits.lowWaterRatio);
    this.lowBytes = Math.floor(limits.highWaterBytes * limits.lowWaterRatio);
  }

  /** Returns the transition to make, if any, for the current fill level. */
  update(rows: number, bytes: number): 'pause' | 'resume' | undefined {
    if (!this.paused && (rows >= this.limits.highWaterRows || bytes >= this.limits.highWaterBytes)) {
      this.paused = true;
      return 'pause';
    }
    if (this.paused && rows < this.lowRows && bytes < this.lowBytes) {
      this.paused = false;
      return 'resume';
    }
    return undefined;
  }
}
