/**
 * A ClickHouseBackend wrapper that injects the failures of the fault test: retriable
 * errors BEFORE the insert (nothing landed) and AFTER it (the insert landed, the answer
 * was lost), a full outage, and rows that the real engine refuses (a poisoned value).
 */
import { FleetgridError } from '../../lib/errors.ts';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';

export interface FaultPlan {
  /** Share of inserts failing with a retriable error before reaching the engine. */
  before: number;
  /** Share of inserts that land and then fail with a retriable error. */
  after: number;
  /**
   * Rows containing this text are made unreadable, so the engine refuses them: a JSON line
   * gets an unparsable `seq`; a RowBinary row gets a string length past the buffer's end.
   */
  poison?: string;
  random?: () => number;
}

export interface FaultyBackend extends ClickHouseBackend {
  /** Faults are injected only while armed (not during migrations at start). */
  armed: boolean;
  down: boolean;
  readonly injected: { before: number; after: number; outage: number };
}

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

function unavailable(what: string): FleetgridError {
  return new FleetgridError('CLICKHOUSE_UNAVAILABLE', `injected: ${what}`, { details: { injected: true } });
}

/**
 * Every string starting with `poison` in a RowBinary buffer gets a length prefix far past the
 * buffer's end (a varint of 2^40), so the engine cannot read the batch: only bisection down to
 * the row isolates it. The prefix of a short string is one byte (length < 128).
 */
function poisonRowBinary(rows: Buffer, poison: string): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = rows.indexOf(poison, 0); at > 0; at = rows.indexOf(poison, at + poison.length)) {
    parts.push(rows.subarray(from, at - 1), Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x20]));
    from = at;
  }
  parts.push(rows.subarray(from));
  return Buffer.concat(parts);
}

export function faultyBackend(inner: ClickHouseBackend, plan: FaultPlan): FaultyBackend {
  const random = plan.random ?? seeded(42);
  const injected = { before: 0, after: 0, outage: 0 };
  const self: FaultyBackend = {
    mode: inner.mode,
    database: inner.database,
    armed: false,
    down: false,
    injected,
    query: (sql, params) => inner.query(sql, params),
    exec: (sql, params) => inner.exec(sql, params),
    async insert(table, rows, options) {
      if (!self.armed) return inner.insert(table, rows, options);
      if (self.down) {
        injected.outage++;
        throw unavailable('outage');
      }
      const roll = random();
      if (roll < plan.before) {
        injected.before++;
        throw unavailable('connection reset before the insert');
      }
      let payload = rows;
      const seqAt = options?.columns?.indexOf('seq') ?? -1;
      if (plan.poison && options?.format === 'RowBinary' && Buffer.isBuffer(rows)) {
        payload = poisonRowBinary(rows, plan.poison.replace(/^"/, ''));
      } else if (plan.poison && seqAt >= 0 && Buffer.isBuffer(rows) && rows.includes(plan.poison)) {
        const text = rows
          .toString('utf8')
          .split('\n')
          .map((line) => {
            if (!line.includes(plan.poison as string)) return line;
            const values = JSON.parse(line) as unknown[];
            values[seqAt] = 'not a number';
            return JSON.stringify(values);
          })
          .join('\n');
        payload = Buffer.from(text);
      }
      const result = await inner.insert(table, payload, options);
      if (roll < plan.before + plan.after) {
        injected.after++;
        throw unavailable('timeout after the insert landed');
      }
      return result;
    },
    close: () => inner.close(),
  };
  return self;
}
