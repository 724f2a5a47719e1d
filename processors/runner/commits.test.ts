import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.ts';
import { FleetgridError } from '../../lib/errors.ts';
import { createMetricsRegistry, metricValue } from '../../lib/metrics.ts';
import { silentLogger } from '../../lib/log.ts';
import { createRateLimitedLog } from '../../lib/stream/index.ts';
import type { Serde } from '../../schemas/serde.ts';
import type { DeviceState } from '../../schemas/types.ts';
import type { PartitionCore } from '../core/index.ts';
import { OutputBuffer } from './buffer.ts';
import { createCommitter } from './commits.ts';
import { FakeBroker } from './fake-broker.ts';
import { createProcessorMetrics } from './metrics.ts';
import type { PartitionTask } from './task.ts';

const serde = {
  encode: (_: string, value: unknown) => Buffer.from(JSON.stringify(value)),
} as unknown as Serde;

/** A task whose "core" is a list of applied events; apply() mimics the runner's bookkeeping. */
function setup(broker = new FakeBroker()) {
  const seen: number[] = [];
  const core = { snapshot: () => ({ seen: [...seen] }) } as unknown as PartitionCore;
  const buffer = new OutputBuffer<DeviceState>();
  const task: PartitionTask = {
    ref: { topic: 'input', partition: 3 },
    id: 'input:3',
    generation: 1,
    producer: broker.producer(),
    core,
    buffer,
    router: undefined as never,
    nextOffset: 0,
    lastReceived: -1,
    version: 0,
    committedVersion: 0,
    lastCommitAt: 0,
    highWatermark: undefined,
    soughtFor: undefined,
    committing: undefined,
    dropped: false,
    coalescedReported: 0,
    committedStates: new Map(),
    checkpointBytes: 0,
  };
  const apply = (event: number, urgent = false) => {
    seen.push(event);
    buffer.append({ topic: 'out', message: { key: 'k', value: `out-${event}` }, bytes: 10, urgent });
    buffer.appendState({
      topic: 'state',
      key: 'dev',
      state: { deviceId: 'dev', seq: event } as DeviceState,
      bytes: 10,
    });
    task.nextOffset = event + 1;
    task.version++;
  };
  const clock = new ManualClock(0);
  const registry = createMetricsRegistry('t', { defaultMetrics: false });
  const events = { committed: [] as number[][], fenced: 0, lost: 0, failures: [] as unknown[], settled: 0 };
  const stop = new AbortController();
  const committer = createCommitter({
    config: {
      checkpointIntervalMs: 1_000,
      quietCheckpointIntervalMs: 5_000,
      quietMaxRows: 10,
      quietMaxEvents: 1_000,
      changelogMaxMessageBytes: 1_000_000,
      maxSendBytes: 1_000,
      maxSendRows: 100,
    },
    groupId: 'g',
    changelogs: { input: 'changelog' },
    serde,
    metrics: createProcessorMetrics(registry),
    clock,
    policy: { baseMs: 1, capMs: 1 },
    signal: stop.signal,
    rateLog: createRateLimitedLog(silentLogger),
    onCommitted: (_task, states) => events.committed.push(states.map((s) => s.state.seq)),
    onFenced: () => events.fenced++,
    onLost: () => events.lost++,
    onFailure: (error) => events.failures.push(error),
    onSettled: () => events.settled++,
  });
  return { task, apply, committer, broker, clock, registry, events };
}

describe('partition commits', () => {
  it('captures outputs, state and offset at one instant: what comes later goes to the next transaction', async () => {
    const { task, apply, committer, broker, events } = setup();
    apply(0);
    apply(1);
    const running = committer.start(task, 'test');
    apply(2); // while the transaction runs
    await running;
    expect(broker.restore('input', 3)).toEqual({ offset: 2, snapshot: { seen: [0, 1] } });
    expect(broker.visible('out')).toEqual(['out-0', 'out-1']);
    expect(events.committed).toEqual([[1]]); // the newest state of the device, coalesced
    await committer.all([task], 'test');
    expect(broker.restore('input', 3)).toEqual({ offset: 3, snapshot: { seen: [0, 1, 2] } });
    expect(broker.visible('out')).toEqual(['out-0', 'out-1', 'out-2']);
    expect(task.buffer.rows).toBe(0);
    // Nothing changed since: no empty transaction.
    expect(committer.start(task, 'test')).toBeUndefined();
  });

  it('commits when due: after the interval, or at once when a full request is pending', async () => {
    const { task, apply, committer, broker, clock } = setup();
    apply(0, true); // an alert: the short interval
    committer.due([task]);
    expect(task.committing).toBeUndefined();
    await clock.advance(1_000);
    committer.due([task]);
    await task.committing;
    expect(broker.visible('out')).toEqual(['out-0']);
    for (let i = 1; i <= 100; i++) apply(i);
    committer.due([task]); // 100 pending records = maxSendRows, interval not elapsed
    await task.committing;
    expect(broker.visible('out')).toHaveLength(101);
  });

  it('lets a quiet partition wait for the quiet interval, and a busy one not', async () => {
    const { task, apply, committer, broker, clock } = setup();
    apply(0); // one record and one state: quiet
    await clock.advance(1_000);
    committer.due([task]);
    expect(task.committing).toBeUndefined();
    await clock.advance(4_000);
    committer.due([task]);
    await task.committing;
    expect(broker.visible('out')).toEqual(['out-0']);
    for (let i = 1; i <= 10; i++) apply(i); // 10 records + 1 state > quietMaxRows
    await clock.advance(1_000);
    committer.due([task]);
    await task.committing;
    expect(broker.visible('out')).toHaveLength(11);
  });

  it('reports a fence (nothing booked) and a failure for good', async () => {
    const broker = new FakeBroker();
    const { task, apply, committer, registry, events } = setup(broker);
    apply(0);
    broker.fenced = true;
    await committer.start(task, 'test');
    expect(events.fenced).toBe(1);
    expect(task.committedVersion).toBe(0);
    expect(await metricValue(registry, 'fleetgrid_processor_checkpoints_total', { result: 'fenced' })).toBe(
      1,
    );
    broker.fenced = false;
    // A fenced producer stays fenced; the partition claimed again has a new one.
    expect(await committer.start(task, 'test')).toBeUndefined();
    expect(events.fenced).toBe(2);
    task.producer = broker.producer();
    broker.fault = { step: 'commit', error: new FleetgridError('INTERNAL', 'a bug'), times: 1 };
    await committer.start(task, 'test');
    expect(events.failures).toHaveLength(1);
    expect(events.settled).toBe(3);
  });
});
