import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/log.ts';
import type { Entry } from './batch.ts';
import { createSinkMetrics } from './metrics.ts';
import { createPartitionBuffers, type PartitionBuffersDeps } from './partitions.ts';

function row(offset: number): Entry {
  return {
    kind: 'row',
    offset: BigInt(offset),
    key: null,
    value: Buffer.from('v'),
    table: 't',
    row: '{}\n',
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Buffers whose partition t:0 rests after record 5, with a hidden range [6, 7) fetched after it. */
async function restingBuffers(commitPosition: PartitionBuffersDeps['commitPosition']) {
  const buffers = createPartitionBuffers({
    limits: { maxRows: 100, maxBytes: 100_000, lingerMs: 1_000 },
    watermarks: { highWaterRows: 1_000, highWaterBytes: 1_000_000, lowWaterRatio: 0.5 },
    committed: async () => undefined,
    write: async () => true,
    pause: () => {},
    resume: () => {},
    topicKeyOf: () => 'truck',
    now: () => 0,
    metrics: createSinkMetrics(new Registry()),
    log: silentLogger,
    onFatal: (error) => {
      throw error;
    },
    hiddenTail: () => ({ from: '6', to: '7' }),
    commitPosition,
  });
  const buffer = await buffers.bufferFor('t', 0);
  buffers.add(buffer, row(5));
  await buffers.flushAll();
  return { buffers, buffer };
}

describe('the sink moving past transaction markers', () => {
  it('commits the position after a hidden range again when its commit failed', async () => {
    const commits: string[] = [];
    let failures = 1;
    const { buffers } = await restingBuffers(async (_ref, offset) => {
      commits.push(offset);
      if (failures-- > 0) throw new Error('rebalance in progress');
    });
    buffers.tick();
    await settle();
    expect(commits).toEqual(['7']);
    buffers.tick(); // the failed commit is tried again: else the group's lag stays above 0
    await settle();
    expect(commits).toEqual(['7', '7']);
    buffers.tick(); // committed: nothing more to do
    await settle();
    expect(commits).toEqual(['7', '7']);
  });

  it('drops a failed position once the partition took later records (their commit moves past it)', async () => {
    const commits: string[] = [];
    const { buffers, buffer } = await restingBuffers(async (_ref, offset) => {
      commits.push(offset);
      throw new Error('rebalance in progress');
    });
    buffers.tick();
    await settle();
    buffers.add(buffer, row(7));
    buffers.tick();
    await settle();
    expect(commits).toEqual(['7']);
  });
});

describe('a partition assigned back after a restart', () => {
  it('has a new buffer; the old one is no longer current, so its batch in hand is abandoned', async () => {
    const { buffers, buffer: old } = await restingBuffers(async () => {});
    expect(buffers.isCurrent(old)).toBe(true);
    buffers.revoke([{ topic: 't', partition: 0 }]);
    expect(buffers.isCurrent(old)).toBe(false);
    const fresh = await buffers.bufferFor('t', 0);
    expect(fresh).not.toBe(old);
    expect(buffers.isCurrent(fresh)).toBe(true);
    expect(buffers.isCurrent(old)).toBe(false);
  });
});
