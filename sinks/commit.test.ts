/**
 * The write/commit protocol of one batch against fakes: the order of its steps, and what
 * happens when a step fails for good or the sink stops mid-way.
 */
import { describe, expect, it } from 'vitest';
import { FleetgridError } from '../lib/errors.ts';
import { silentLogger } from '../lib/log.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import type { DeadLetter, SendResult } from '../lib/stream/index.ts';
import type { ClickHouseBackend } from '../clickhouse/index.ts';
import { type Entry, PartitionBuffer } from './batch.ts';
import { createBatchCommitter, createWriteGate } from './commit.ts';
import { createSinkMetrics } from './metrics.ts';

function entries(): Entry[] {
  const row = (offset: number): Entry => ({
    kind: 'row',
    offset: BigInt(offset),
    key: null,
    value: Buffer.from('v'),
    table: 'truck_telemetry',
    // truck_telemetry rows are RowBinary (sinks/rows.ts): bytes; these stand for them.
    row: Buffer.from([offset]),
  });
  const bad: Entry = {
    kind: 'rejected',
    offset: 12n,
    key: Buffer.from('k'),
    value: Buffer.from('x'),
    error: new FleetgridError('DECODE_BAD_MAGIC', 'not framed'),
  };
  return [row(10), row(11), bad, row(13)];
}

function setup(
  options: {
    dlq?: (letters: readonly DeadLetter[]) => Promise<SendResult>;
    insertFails?: FleetgridError;
  } = {},
) {
  const steps: string[] = [];
  const abort = new AbortController();
  const backend = {
    mode: 'embedded',
    database: 'fleetgrid',
    async insert(table: string, _rows: Buffer, opts?: { dedupToken?: string }) {
      if (options.insertFails) throw options.insertFails;
      steps.push(`insert ${table} ${opts?.dedupToken}`);
      return {};
    },
  } as unknown as ClickHouseBackend;
  const commit = createBatchCommitter({
    member: {
      commit: async (offsets) => {
        for (const o of offsets) steps.push(`commit ${o.offset}${o.metadata ? ` plan ${o.metadata}` : ''}`);
      },
      owns: () => true,
    },
    backend: () => backend,
    deadLetters: {
      send:
        options.dlq ??
        (async (letters) => {
          steps.push(`dlq ${letters.map((l) => `${l.source.offset}:${l.error.code}`).join(',')}`);
          return { acked: letters.length, failed: [] };
        }),
    },
    gate: createWriteGate(),
    metrics: createSinkMetrics(createMetricsRegistry('t', { defaultMetrics: false })),
    policy: { baseMs: 1, capMs: 2 },
    signal: abort.signal,
    owns: () => true,
    topicKeyOf: () => 'truck',
    log: silentLogger,
  });
  const buffer = new PartitionBuffer('p.telemetry.truck', 2, { maxRows: 100, maxBytes: 1e6, lingerMs: 0 });
  for (const entry of entries()) buffer.add(entry, 0);
  const batch = buffer.next(1) as NonNullable<ReturnType<PartitionBuffer['next']>>;
  return { commit, buffer, batch, steps, abort };
}

describe('the sink write/commit protocol', () => {
  it('commits the plan, inserts with the range token, dead-letters the bad records, then commits the range', async () => {
    const { commit, buffer, batch, steps } = setup();
    expect(await commit(buffer, batch)).toBe(true);
    expect(steps).toEqual([
      'commit 10 plan fleetgrid-plan:v1:13',
      'insert truck_telemetry p.telemetry.truck:2:10-13',
      'dlq 12:DECODE_BAD_MAGIC',
      'commit 14',
    ]);
  });

  it('does not commit past dead letters that could not be sent, and fails the batch', async () => {
    const { commit, buffer, batch, steps } = setup({
      dlq: async (letters) => ({
        acked: 0,
        failed: letters.map(() => ({
          message: { value: null },
          error: new FleetgridError('INTERNAL', 'bug'),
        })),
      }),
    });
    await expect(commit(buffer, batch)).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(steps.at(-1)).toBe('insert truck_telemetry p.telemetry.truck:2:10-13');
  });

  it('abandons the batch, uncommitted, when the sink stops during an outage', async () => {
    const { commit, buffer, batch, steps, abort } = setup({
      insertFails: new FleetgridError('CLICKHOUSE_UNAVAILABLE', 'connection refused'),
    });
    const writing = commit(buffer, batch);
    setTimeout(() => abort.abort(), 20);
    expect(await writing).toBe(false);
    expect(steps).toEqual(['commit 10 plan fleetgrid-plan:v1:13']);
  });
});
