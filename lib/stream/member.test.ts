import { describe, expect, it } from 'vitest';
import { FleetgridError } from '../errors.ts';
import type {
  ConsumerOptions,
  FetchedBatch,
  GroupConsumer,
  GroupConsumerEvents,
  KafkaAdmin,
  TopicPartitions,
} from '../kafka/index.ts';
import { createGroupMember, type GroupMemberConfig, type MemberBatch, type MemberHandler } from './member.ts';
import type { MemberIdRecord } from './member-record.ts';
import { InputTracker, PauseBook } from './partitions.ts';

/** A consumer in memory: the test joins it, hands it batches and crashes it. */
class FakeConsumer implements GroupConsumer {
  readonly listeners = new Map<string, ((...args: never[]) => void)[]>();
  eachBatch: ((batch: FetchedBatch) => Promise<void>) | undefined;
  paused = new Set<string>();
  resolved: string[] = [];
  commits: unknown[] = [];
  disconnected = false;
  readonly log: string[];
  readonly failConnect: boolean;

  constructor(log: string[], failConnect = false) {
    this.log = log;
    this.failConnect = failConnect;
  }

  async connect() {
    if (this.failConnect) throw new FleetgridError('KAFKA_UNAVAILABLE', 'broker down');
    this.log.push('connect');
  }
  async subscribe() {}
  async run(options: { eachBatch: (batch: FetchedBatch) => Promise<void> }) {
    this.eachBatch = options.eachBatch;
  }
  pause(partitions: TopicPartitions[]) {
    for (const { topic, partitions: ps } of partitions)
      for (const p of ps ?? []) this.paused.add(`${topic}/${p}`);
  }
  resume(partitions: TopicPartitions[]) {
    for (const { topic, partitions: ps } of partitions)
      for (const p of ps ?? []) this.paused.delete(`${topic}/${p}`);
  }
  seek() {}
  async commitOffsets(offsets: unknown[]) {
    this.commits.push(...offsets);
  }
  async disconnect() {
    this.disconnected = true;
    this.log.push('leave');
  }
  on<E extends keyof GroupConsumerEvents>(event: E, listener: GroupConsumerEvents[E]) {
    const list = this.listeners.get(event) ?? [];
    list.push(listener as never);
    this.listeners.set(event, list);
    return () => {};
  }
  emit<E extends keyof GroupConsumerEvents>(event: E, ...args: Parameters<GroupConsumerEvents[E]>) {
    for (const listener of this.listeners.get(event) ?? []) (listener as (...a: unknown[]) => void)(...args);
  }
  join(assignment: Record<string, number[]>) {
    this.emit('join', { groupId: 'g', memberId: 'm', isLeader: true, assignment });
  }
  deliver(topic: string, partition: number, offsets: number[], active = () => true): Promise<void> {
    return (this.eachBatch as (b: FetchedBatch) => Promise<void>)({
      topic,
      partition,
      highWatermark: String((offsets.at(-1) ?? 0) + 1),
      records: offsets.map((o) => ({ offset: String(o), key: null, value: null, timestamp: '0' })),
      resolveOffset: (offset) => this.resolved.push(`${topic}/${partition}@${offset}`),
      heartbeat: async () => {},
      isActive: active,
      pause: () => {},
    });
  }
}

const CONFIG: GroupMemberConfig = {
  groupId: 'g',
  topics: ['t'],
  fromBeginning: true,
  sessionTimeoutMs: 6_000,
  heartbeatIntervalMs: 1_000,
  rebalanceTimeoutMs: 10_000,
  maxBytesPerPartition: 1_048_576,
  maxWaitTimeMs: 100,
  concurrency: 1,
  restartBackoff: { baseMs: 1, capMs: 5 },
  drainTimeoutMs: 2_000,
};

function setup(
  handler: Partial<MemberHandler> = {},
  options: {
    failFirst?: number;
    config?: Partial<GroupMemberConfig>;
    record?: MemberIdRecord;
    /** What LeaveGroup throws, one per attempt, before it succeeds. */
    leaveFails?: Error[];
  } = {},
) {
  const log: string[] = [];
  const consumers: FakeConsumer[] = [];
  const batches: MemberBatch[] = [];
  const events: string[] = [];
  let failures = options.failFirst ?? 0;
  const member = createGroupMember(
    { ...CONFIG, ...options.config },
    {
      kafka: {
        admin: () =>
          ({
            connect: async () => {},
            disconnect: async () => {},
            leaveGroup: async (_group: string, memberId: string) => {
              const failure = options.leaveFails?.shift();
              if (failure) throw failure;
              log.push(`leaveGroup ${memberId}`);
            },
          }) as unknown as KafkaAdmin,
        consumer: (_options: ConsumerOptions) => {
          const c = new FakeConsumer(log, failures-- > 0);
          consumers.push(c);
          log.push('create');
          return c;
        },
      },
      handler: {
        batch: async (batch) => {
          batches.push(batch);
        },
        assigned: (assignment, added) =>
          events.push(`assigned g${assignment.generation} +${added.map((p) => p.partition).join(',')}`),
        revoked: (partitions, reason) =>
          events.push(`revoked ${reason} ${partitions.map((p) => p.partition).join(',')}`),
        ...handler,
      },
      random: () => 0.5,
      ...(options.record ? { record: options.record } : {}),
    },
  );
  const last = () => consumers.at(-1) as FakeConsumer;
  return { member, consumers, last, log, batches, events };
}

describe('pause book', () => {
  it('resumes a partition only when no reason holds, member-wide reasons included', () => {
    const book = new PauseBook();
    const p = { topic: 't', partition: 1 };
    book.add([p], 'backpressure');
    book.add([p], 'registry');
    book.remove([p], 'backpressure');
    expect(book.isPaused(p)).toBe(true);
    expect(book.reasons(p)).toEqual(['registry']);
    book.add('all', 'stopping');
    book.remove([p], 'registry');
    expect(book.isPaused(p)).toBe(true);
    book.remove('all', 'stopping');
    expect(book.isPaused(p)).toBe(false);
  });
});

describe('input tracker', () => {
  it('knows the input only while running and while fetches are answered within the grace', () => {
    const input = new InputTracker(1_000);
    expect(input.known(0)).toBe(false);
    input.started();
    expect(input.known(0)).toBe(false);
    input.fetchStarted(0);
    input.fetched();
    expect(input.known(10)).toBe(true);
    input.fetchStarted(100);
    expect(input.known(900)).toBe(true);
    input.fetchStarted(1_200); // a retry of the failed fetch: the outage started at 100
    expect(input.known(1_500)).toBe(false);
    input.fetched();
    expect(input.known(1_600)).toBe(true);
    input.stopped();
    expect(input.known(1_600)).toBe(false);
  });
});

describe('group member', () => {
  it('hands over batches with their generation; a rebalance revokes, assigns anew, and makes older batches inactive', async () => {
    const { member, last, batches, events } = setup();
    await member.start();
    last().join({ t: [0, 1] });
    await last().deliver('t', 0, [0, 1, 2]);
    expect(batches[0]?.generation).toBe(1);
    expect(batches[0]?.isActive()).toBe(true);
    last().join({ t: [1, 2] });
    expect(events).toEqual(['assigned g1 +0,1', 'revoked rebalance 0', 'assigned g2 +2']);
    expect(batches[0]?.isActive()).toBe(false);
    expect(member.owns({ topic: 't', partition: 0 })).toBe(false);
    await last().deliver('t', 0, [3]);
    expect(batches).toHaveLength(1);
  });

  it('keeps a partition paused while any reason holds, and does not hand over (or resolve) its batches', async () => {
    const { member, last, batches } = setup();
    await member.start();
    last().join({ t: [0, 1] });
    const p0 = { topic: 't', partition: 0 };
    member.pause([p0], 'backpressure');
    member.pause([p0], 'registry');
    expect(last().paused.has('t/0')).toBe(true);
    await last().deliver('t', 0, [5]);
    expect(batches).toHaveLength(0);
    expect(last().resolved).toEqual([]);
    member.resume([p0], 'backpressure');
    expect(last().paused.has('t/0')).toBe(true);
    expect(member.pauseReasons(p0)).toEqual(['registry']);
    member.resume([p0], 'registry');
    expect(last().paused.has('t/0')).toBe(false);
    await last().deliver('t', 0, [5]);
    expect(batches).toHaveLength(1);
  });

  it('knows a partition’s input only when it is assigned and the consumer fetches', async () => {
    const { member, last } = setup();
    await member.start();
    const p0 = { topic: 't', partition: 0 };
    expect(member.inputKnown(p0)).toBe(false);
    last().join({ t: [0] });
    expect(member.inputKnown(p0)).toBe(false);
    last().emit('fetchStart');
    last().emit('fetch');
    expect(member.inputKnown(p0)).toBe(true);
    expect(member.inputKnown({ topic: 't', partition: 1 })).toBe(false);
  });

  it('tells the last fetched range with nothing visible (transaction markers) of an owned partition', async () => {
    const { member, last } = setup();
    await member.start();
    const p0 = { topic: 't', partition: 0 };
    last().join({ t: [0] });
    last().emit('batchEnd', { topic: 't', partition: 0, firstOffset: '7', lastOffset: '9', records: 2 });
    expect(member.hiddenTail(p0)).toBeUndefined(); // records were handed over: not hidden
    last().emit('batchEnd', { topic: 't', partition: 0, firstOffset: '10', lastOffset: '10', records: 0 });
    expect(member.hiddenTail(p0)).toEqual({ from: '10', to: '11' });
    // Records, then markers in the same fetch: hidden from after the last record.
    await last().deliver('t', 0, [11, 13]);
    last().emit('batchEnd', { topic: 't', partition: 0, firstOffset: '11', lastOffset: '14', records: 2 });
    expect(member.hiddenTail(p0)).toEqual({ from: '14', to: '15' });
    await last().deliver('t', 0, [15]);
    last().emit('batchEnd', { topic: 't', partition: 0, firstOffset: '15', lastOffset: '15', records: 1 });
    expect(member.hiddenTail(p0)).toBeUndefined(); // ends in a record: nothing hidden after it
    last().emit('batchEnd', { topic: 't', partition: 1, firstOffset: '3', lastOffset: '3', records: 0 });
    expect(member.hiddenTail({ topic: 't', partition: 1 })).toBeUndefined(); // not ours
    last().join({ t: [1] });
    expect(member.hiddenTail(p0)).toBeUndefined(); // revoked
  });

  it('leaves the group for the member a killed predecessor left in its record before it joins, then records its own', async () => {
    const record = { claimed: 0, remembered: [] as string[], released: 0 };
    const { member, last, log } = setup(
      {},
      {
        record: {
          claim: () => {
            record.claimed++;
            return 'dead-member';
          },
          remember: (id) => record.remembered.push(id),
          release: () => record.released++,
        },
      },
    );
    await member.start();
    // Without the leave the group's first rebalance waits out the dead member's session.
    expect(log).toEqual(['leaveGroup dead-member', 'create', 'connect']);
    last().join({ t: [0] });
    last().join({ t: [0, 1] }); // same member id: recorded once
    expect(record).toEqual({ claimed: 1, remembered: ['m'], released: 0 });
    await member.stop();
    expect(record.released).toBe(1); // a clean leave: nothing for a successor to do
  });

  it('replaces a crashed consumer: leaves the group first, then joins with a fresh one and re-applies the pauses', async () => {
    const { member, consumers, last, log, events } = setup();
    await member.start();
    last().join({ t: [0, 1] });
    last().emit('fetch');
    member.pause([{ topic: 't', partition: 1 }], 'registry');
    const first = last();
    first.emit('crash', new FleetgridError('KAFKA_UNAVAILABLE', 'coordinator gone'));
    expect(member.inputKnown({ topic: 't', partition: 0 })).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(consumers).toHaveLength(2);
    // The crashed consumer's leave may not have reached the broker: its member id is removed
    // on its behalf before the fresh consumer joins.
    expect(log).toEqual(['create', 'connect', 'leave', 'leaveGroup m', 'create', 'connect']);
    expect(events).toContain('revoked restart 0,1');
    last().join({ t: [0, 1] });
    expect(last().paused.has('t/1')).toBe(false); // per-partition reasons went with the revocation
    member.pause([{ topic: 't', partition: 0 }], 'backpressure');
    expect(last().paused.has('t/0')).toBe(true);
    expect(member.restarts).toBe(1);
    expect(member.assignment()?.generation).toBe(3);
  });

  it('keeps leaving for a crashed consumer while no broker answers, longer than a session, then joins', async () => {
    // A restarted broker reloads the group with a fresh session for the dead member: had the
    // leave given up during the outage, the next rebalance would wait that session out.
    const refused = () =>
      new FleetgridError(
        'KAFKA_UNAVAILABLE',
        'leave group: Connection error: connect ECONNREFUSED 127.0.0.1:9092',
        {
          retriable: true,
        },
      );
    const { member, last, log } = setup(
      {},
      { config: { sessionTimeoutMs: 30 }, leaveFails: Array.from({ length: 40 }, refused) },
    );
    await member.start();
    last().join({ t: [0] });
    last().emit('crash', new FleetgridError('KAFKA_UNAVAILABLE', 'broker gone'));
    await until(() => log.filter((l) => l === 'create').length === 2);
    expect(log).toEqual(['create', 'connect', 'leave', 'leaveGroup m', 'create', 'connect']);
    await member.stop();
  });

  it('gives the leave up once the broker has answered for a session without taking it', async () => {
    const loading = () =>
      new FleetgridError(
        'KAFKA_UNAVAILABLE',
        "leave group: The coordinator is loading and hence can't process requests",
        {
          retriable: true,
        },
      );
    const { member, last, log } = setup(
      {},
      { config: { sessionTimeoutMs: 30 }, leaveFails: Array.from({ length: 100_000 }, loading) },
    );
    await member.start();
    last().join({ t: [0] });
    last().emit('crash', new FleetgridError('KAFKA_UNAVAILABLE', 'broker gone'));
    await until(() => log.filter((l) => l === 'create').length === 2);
    expect(log).toEqual(['create', 'connect', 'leave', 'create', 'connect']);
    await member.stop();
  });

  it('keeps retrying a consumer that cannot start, with backoff that stop() interrupts', async () => {
    const { member, consumers } = setup(
      {},
      { failFirst: 1_000, config: { restartBackoff: { baseMs: 60_000, capMs: 60_000 } } },
    );
    const starting = member.start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(consumers).toHaveLength(1);
    await member.stop();
    await starting;
    expect(consumers).toHaveLength(1);
  });

  it('drains on stop: the batch in hand finishes, the drain hook commits, then the member leaves', async () => {
    const order: string[] = [];
    const release = Promise.withResolvers<void>();
    const { member, last, log } = setup({
      batch: async () => {
        order.push('batch started');
        await release.promise;
        order.push('batch finished');
      },
      drain: async () => {
        order.push(`drain (leave sent: ${log.includes('leave')})`);
        await member.commit([{ topic: 't', partition: 0, offset: '3' }]);
      },
    });
    await member.start();
    last().join({ t: [0] });
    const inHand = last().deliver('t', 0, [0, 1, 2]);
    const stopping = member.stop();
    expect(last().paused.has('t/0')).toBe(true);
    release.resolve();
    await Promise.all([inHand, stopping]);
    expect(order).toEqual(['batch started', 'batch finished', 'drain (leave sent: false)']);
    expect(last().commits).toEqual([{ topic: 't', partition: 0, offset: '3' }]);
    expect(last().disconnected).toBe(true);
  });
});

/** Polls `check` (a fake's state, not a timing) for up to 5 s. */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}
