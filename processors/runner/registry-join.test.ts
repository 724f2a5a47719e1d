import { describe, expect, it } from 'vitest';
import { FleetgridError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import type { KafkaClient } from '../../lib/kafka/index.ts';
import { createMetricsRegistry, metricValue } from '../../lib/metrics.ts';
import { parseProcessorConfig } from '../config.ts';
import type { CoreStats, PartitionCore } from '../core/index.ts';
import type { RegistryTable } from '../../registry/table.ts';
import type { ClaimedPartition } from './claims.ts';
import type { GlobalRegistryTable } from './global-table.ts';
import { createRegistryJoin } from './registry-join.ts';

const log = createLogger('test', 'silent');
/** open() is never called here: nothing may touch Kafka. */
const noKafka = new Proxy({} as KafkaClient, {
  get: () => {
    throw new Error('Kafka used');
  },
});

function fakeCore(stats: Partial<CoreStats>): PartitionCore {
  return { stats: () => stats as CoreStats } as PartitionCore;
}

function join(registryJoin: boolean) {
  const metrics = createMetricsRegistry('test', { defaultMetrics: false });
  const runtime = createRegistryJoin(
    { ...parseProcessorConfig({ registryJoin }), topicPrefix: 't.' },
    {
      kafka: noKafka,
      log,
      metrics,
      topicPolicy: { retention: 'development' },
      signal: new AbortController().signal,
      groupId: 't.fleetgrid-processors',
    },
  );
  return { runtime, metrics };
}

describe('registry join (runner side)', () => {
  it('adds what each core counted since the last look, once, and keeps a core that left counted', async () => {
    const { runtime, metrics } = join(true);
    const a = {
      unknownDevices: 2,
      decommissionedIgnored: 0,
      maintenanceSuppressed: 5,
      lateRegistryChanges: 0,
    };
    const coreA = fakeCore(a);
    const coreB = fakeCore({
      unknownDevices: 1,
      decommissionedIgnored: 3,
      maintenanceSuppressed: 0,
      lateRegistryChanges: 1,
    });
    runtime.observe([coreA, coreB]);
    runtime.observe([coreA, coreB]); // nothing new: nothing added
    a.unknownDevices = 4;
    runtime.observe([coreA]); // coreB left (its counts stay)
    expect(runtime.health().events).toEqual({
      unknownDevices: 5,
      decommissionedIgnored: 3,
      maintenanceSuppressed: 5,
      lateRegistryChanges: 1,
    });
    const events = (outcome: string) =>
      metricValue(metrics, 'fleetgrid_processor_join_events_total', { outcome });
    expect(await events('unknown_device')).toBe(5);
    expect(await events('decommissioned')).toBe(3);
    expect(await events('maintenance')).toBe(5);
    expect(await events('late_registry_change')).toBe(1);
  });

  it('a new core (a partition claimed again) counts from zero', () => {
    const { runtime } = join(true);
    runtime.observe([fakeCore({ unknownDevices: 2 })]);
    runtime.observe([fakeCore({ unknownDevices: 1 })]);
    expect(runtime.health().events.unknownDevices).toBe(3);
  });

  it('without the join: no table, no join for the cores, no waits, no metrics', async () => {
    const { runtime, metrics } = join(false);
    await runtime.open();
    expect(runtime.join).toBeUndefined();
    await runtime.awaitCheckpoints([]);
    runtime.observe([fakeCore({ unknownDevices: 2 })]);
    expect(runtime.health()).toMatchObject({ enabled: false, table: null, waitingPartitions: 0 });
    expect(metrics.getSingleMetric('fleetgrid_processor_registry_rows')).toBeUndefined();
  });
});

describe('the version wait of restored checkpoints', () => {
  function withTable(waitForVersion: GlobalRegistryTable['waitForVersion'], maxVersion = 10) {
    const metrics = createMetricsRegistry('test', { defaultMetrics: false });
    const runtime = createRegistryJoin(
      { ...parseProcessorConfig({ registryRestoreTimeoutMs: 1_234 }), topicPrefix: 't.' },
      {
        kafka: noKafka,
        log,
        metrics,
        topicPolicy: { retention: 'development' },
        signal: new AbortController().signal,
        groupId: 't.g',
        openTable: async () =>
          ({
            table: { maxVersion: () => maxVersion } as RegistryTable,
            restored: true,
            lag: () => 0,
            waitForVersion,
            health: () => ({}) as never,
            stop: async () => {},
          }) satisfies GlobalRegistryTable,
      },
    );
    return runtime;
  }
  const disconnected: string[] = [];
  const claimed = (partition: number, registryVersion?: number): ClaimedPartition =>
    ({
      ref: { topic: 't.telemetry.truck', partition },
      producer: { disconnect: async () => void disconnected.push(`p${partition}`) },
      checkpoint: { snapshot: registryVersion === undefined ? {} : { registryVersion } },
    }) as unknown as ClaimedPartition;

  it('does not wait for a version the table holds, nor for checkpoints without one', async () => {
    const runtime = withTable(async () => {
      throw new Error('waited');
    });
    await runtime.open();
    expect(runtime.join?.unknownDevice).toBe('quarantine');
    await runtime.awaitCheckpoints([claimed(0, 10), claimed(1)]);
    expect(runtime.waiting).toBe(0);
  });

  it('waits for the highest version of the claim, counting its partitions as waiting (not ready) meanwhile', async () => {
    const wait = Promise.withResolvers<'reached'>();
    const asked: [number, number][] = [];
    const runtime = withTable((version, timeoutMs) => {
      asked.push([version, timeoutMs]);
      return wait.promise;
    });
    await runtime.open();
    const done = runtime.awaitCheckpoints([claimed(0, 12), claimed(1, 15), claimed(2)]);
    await Promise.resolve();
    expect(runtime.waiting).toBe(3);
    expect(runtime.health().waitingPartitions).toBe(3);
    expect(asked).toEqual([[15, 1_234]]);
    wait.resolve('reached');
    await done;
    expect(runtime.waiting).toBe(0);
  });

  it('fails the claim with the typed error past the limit, releasing its producers', async () => {
    disconnected.length = 0;
    const runtime = withTable(async () => {
      throw new FleetgridError('TIMEOUT', 'registry version 15 not reached', { retriable: false });
    });
    await runtime.open();
    await expect(runtime.awaitCheckpoints([claimed(0, 15), claimed(1)])).rejects.toMatchObject({
      code: 'TIMEOUT',
      retriable: false,
    });
    expect(disconnected.sort()).toEqual(['p0', 'p1']);
    expect(runtime.waiting).toBe(0);
  });
});
