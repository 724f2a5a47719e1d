/**
 * The processor's registry table (processors/runner/global-table.ts) on the real broker,
 * without PostgreSQL: records written straight to the test's registry topics. Missing
 * topics are created with the history rule; the restore reads up to the end offsets taken
 * at start and no further before resolving, then keeps following; over its limit it fails
 * with a non-retriable TIMEOUT that says where each topic stands; shutdown ends it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetgridError } from '../../lib/errors.ts';
import { retry } from '../../lib/retry.ts';
import { rawRetentionMs } from '../../lib/topics.ts';
import { registryTopicNames } from '../../registry/topics.ts';
import { openGlobalTable } from '../../processors/runner/global-table.ts';
import type { TestStack } from '../helpers.ts';
import { createProcessorStack, produceRaw, waitFor } from './helpers.ts';

let stack: TestStack;
const policy = { retention: 'development' as const };

const driver = (id: string, version: number) => ({
  key: id,
  value: JSON.stringify({
    schema: { type: 'struct' },
    payload: {
      id,
      name: `Driver ${id}`,
      licence_number: `L-${id}`,
      licence_class: 'CE',
      licence_expires: null,
      version,
      updated_at: '2026-12-01T00:00:00Z',
      __op: 'c',
      __source_ts_ms: Date.now(),
      __deleted: 'false',
    },
  }),
});

/** As the processor does (readiness.waitFor): a retriable failure (a topic just created has no leader yet) is retried. */
function open(restoreTimeoutMs: number, signal = new AbortController().signal) {
  return retry(() => openOnce(restoreTimeoutMs, signal), {
    policy: { baseMs: 200, capMs: 1_000, maxRetries: 8 },
  });
}

function openOnce(restoreTimeoutMs: number, signal: AbortSignal) {
  return openGlobalTable(
    {
      topicPrefix: stack.prefix,
      groupId: `${stack.prefix}fleetgrid-processors`,
      changeLeadMs: 10_000,
      restoreTimeoutMs,
      topicPolicy: policy,
    },
    { kafka: stack.kafka, log: stack.log, signal },
  );
}

beforeAll(async () => {
  stack = await createProcessorStack('registry-table', 1);
});
afterAll(async () => {
  await stack?.cleanup();
});

describe('the processor registry table', () => {
  it('creates missing registry topics with the history rule and restores an empty registry', async () => {
    const table = await open(30_000);
    try {
      expect(table.restored).toBe(true);
      expect(table.health()).toMatchObject({ rows: { drivers: 0 }, maxVersion: 0, lagRecords: 0 });
      const names = Object.values(registryTopicNames(stack.prefix));
      const configs = await stack.admin.describeConfigs(
        names.map((name) => ({ type: 'topic' as const, name, configNames: ['min.compaction.lag.ms'] })),
      );
      for (const c of configs)
        expect(c.configs['min.compaction.lag.ms'], c.name).toBe(String(rawRetentionMs(policy)));
    } finally {
      await table.stop();
    }
  });

  it('restores up to the end offsets at start, then follows; a bad record is counted, not fatal', async () => {
    const topic = registryTopicNames(stack.prefix).drivers;
    await produceRaw(stack, topic, [
      driver('d-1', 1),
      driver('d-2', 2),
      { key: 'd-3', value: 'not json' },
      driver('d-1', 3),
    ]);
    const table = await open(30_000);
    try {
      // Everything before the end at start is in when open resolves.
      expect(table.table.drivers.size).toBe(2);
      expect(table.table.maxVersion()).toBe(3);
      expect(table.health().records).toMatchObject({ upserted: 3, invalid: 1 });
      await produceRaw(stack, topic, [driver('d-4', 4), { key: 'd-2', value: null }]);
      await waitFor('the follow', () => table.table.drivers.has('d-4') && !table.table.drivers.has('d-2'));
      expect(table.health()).toMatchObject({ rows: { drivers: 2 }, maxVersion: 4 });
      expect(await table.waitForVersion(4, 5_000)).toBe('reached');
      // A version the log will never hold: resolved once read to the current end, not after the limit.
      expect(await table.waitForVersion(99, 10_000)).toBe('log-end');
      await waitFor('no lag', () => table.lag() === 0);
    } finally {
      await table.stop();
    }
  });

  it('fails with a typed TIMEOUT past the restore limit, and ends at once on shutdown', async () => {
    const error = await open(1).then(
      async (t) => {
        await t.stop();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(FleetgridError);
    expect(error).toMatchObject({ code: 'TIMEOUT', retriable: false });
    expect((error as Error).message).toMatch(/registryRestoreTimeoutMs \(1 ms\).*registry\.drivers \d+\/6/);

    const shutdown = new AbortController();
    const opening = open(60_000, shutdown.signal);
    shutdown.abort();
    const started = Date.now();
    await expect(opening).rejects.toMatchObject({ code: 'TIMEOUT', retriable: false });
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
