import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.ts';
import { FleetgridError } from '../../lib/errors.ts';
import { toKafkaError } from '../../lib/kafka/index.ts';
import { encodeCheckpoint } from './changelog.ts';
import { FakeBroker, STEPS } from './fake-broker.ts';
import { chunkOutputs, type CommitCapture, commitPartition, type OutputRecord } from './transactions.ts';

/** A tiny stand-in for a core: the state is the events seen, each event one output. */
function capture(events: number[], offset: number): CommitCapture {
  return {
    topic: 'input',
    partition: 3,
    outputs: events.map((e) => ({ topic: 'out', message: { key: 'k', value: `out-${e}` }, bytes: 10 })),
    checkpoint: encodeCheckpoint({ offset, snapshot: { seen: events } }),
    offset,
  };
}

const options = (clock = new ManualClock(0)) => ({
  groupId: 'g',
  changelogTopic: 'changelog',
  maxRequestBytes: 25,
  maxRequestRows: 2,
  policy: { baseMs: 1, capMs: 1 },
  clock,
  random: () => 0,
});

describe('checkpoint transaction protocol', () => {
  it('commits outputs, checkpoint and offset together, and the pointer finds the checkpoint', async () => {
    const broker = new FakeBroker();
    const result = await commitPartition(broker.producer(), capture([1, 2, 3], 3), options());
    expect(result).toMatchObject({ outcome: 'committed', attempts: 1 });
    expect(broker.visible('out')).toEqual(['out-1', 'out-2', 'out-3']);
    expect(broker.restore('input', 3)).toEqual({ offset: 3, snapshot: { seen: [1, 2, 3] } });
  });

  for (const step of STEPS) {
    it(`a crash at "${step}" leaves exactly the last committed transaction: its state, offset and outputs`, async () => {
      const broker = new FakeBroker();
      await commitPartition(broker.producer(), capture([1, 2], 2), options());
      // The process dies at this step of the next transaction (a non-retriable failure here).
      broker.fault = { step, error: new Error(`crash at ${step}`), times: 1 };
      await expect(commitPartition(broker.producer(), capture([1, 2, 3, 4], 4), options())).rejects.toThrow(
        `crash at ${step}`,
      );
      expect(broker.restore('input', 3)).toEqual({ offset: 2, snapshot: { seen: [1, 2] } });
      expect(broker.visible('out')).toEqual(['out-1', 'out-2']);
      // The new owner re-derives from offset 2: its transaction commits the rest once.
      await commitPartition(broker.producer(), capture([1, 2, 3, 4], 4), options());
      expect(broker.restore('input', 3)).toEqual({ offset: 4, snapshot: { seen: [1, 2, 3, 4] } });
      expect(broker.visible('out')).toEqual(['out-1', 'out-2', 'out-1', 'out-2', 'out-3', 'out-4']);
    });

    if (step === 'begin' || step === 'offsets') {
      it(`a retriable failure at "${step}" aborts and retries the same capture: visible once`, async () => {
        const broker = new FakeBroker();
        broker.fault = { step, error: new FleetgridError('KAFKA_UNAVAILABLE', 'broker away'), times: 2 };
        const clock = new ManualClock(0);
        const run = commitPartition(broker.producer(), capture([7, 8], 2), options(clock));
        for (let i = 0; i < 10; i++) await clock.advance(5);
        expect(await run).toMatchObject({ outcome: 'committed', attempts: 3 });
        expect(broker.visible('out')).toEqual(['out-7', 'out-8']);
        expect(broker.restore('input', 3)).toEqual({ offset: 2, snapshot: { seen: [7, 8] } });
      });
    }
  }

  for (const [step, lands] of [
    ['send', true],
    ['changelog', true],
    // The client cannot tell the two apart (kafkajs' own retries may have landed an earlier try).
    ['send', false],
  ] as const) {
    it(`a failed produce at "${step}" (${lands ? 'written' : 'not written'}) is not retried on the same producer: "lost", then exactly once`, async () => {
      // Issue 15: the broker wrote the request, the answer was lost (a broker killed after
      // replicating it), kafkajs took its sequence numbers back. A retry on the same producer
      // sends the same capture under the same numbers, and the broker takes it for a duplicate
      // of the aborted attempt: nothing written, the old offset answered, the commit "succeeds"
      // without those records (outputs lost, or a checkpoint pointer to an aborted record).
      const broker = new FakeBroker();
      await commitPartition(broker.producer(), capture([1], 1), options());
      broker.fault = {
        step,
        error: new FleetgridError('KAFKA_UNAVAILABLE', 'answer lost'),
        times: 1,
        lands,
      };
      const clock = new ManualClock(0);
      const run = commitPartition(broker.producer(), capture([1, 2, 3], 3), options(clock));
      for (let i = 0; i < 10; i++) await clock.advance(5);
      const result = await run;
      // Whatever the outcome, readers and a new owner must agree with it: a committed capture
      // has every output visible and its checkpoint restorable; one given up has nothing.
      const committed = result.outcome === 'committed';
      expect(broker.visible('out')).toEqual(committed ? ['out-1', 'out-1', 'out-2', 'out-3'] : ['out-1']);
      expect(broker.restore('input', 3)).toEqual(
        committed ? { offset: 3, snapshot: { seen: [1, 2, 3] } } : { offset: 1, snapshot: { seen: [1] } },
      );
      // Given up: the producer's numbering is in doubt whether or not the broker wrote it.
      expect(result.outcome).toBe('lost');
      // Claimed again (a new producer, a new epoch): the same capture commits once, whole.
      expect(await commitPartition(broker.producer(), capture([1, 2, 3], 3), options())).toMatchObject({
        outcome: 'committed',
      });
      expect(broker.visible('out')).toEqual(['out-1', 'out-1', 'out-2', 'out-3']);
      expect(broker.restore('input', 3)).toEqual({ offset: 3, snapshot: { seen: [1, 2, 3] } });
    });
  }

  it('a commit that fails on an unreachable broker is "lost", not fatal: a new producer goes on from the last checkpoint', async () => {
    const broker = new FakeBroker();
    await commitPartition(broker.producer(), capture([1], 1), options());
    broker.fault = {
      step: 'commit',
      error: new FleetgridError('KAFKA_UNAVAILABLE', 'coordinator away'),
      times: 1,
    };
    const stuck = broker.producer();
    const result = await commitPartition(stuck, capture([1, 2], 2), options());
    // The producer cannot begin another transaction: retrying on it would only fail for good.
    expect(result.outcome).toBe('lost');
    await expect(stuck.transaction()).rejects.toMatchObject({ retriable: false });
    // Any later transaction on it (a final commit at revocation, say) is lost too, not fatal.
    expect((await commitPartition(stuck, capture([1, 2], 2), options())).outcome).toBe('lost');
    expect(broker.restore('input', 3)).toEqual({ offset: 1, snapshot: { seen: [1] } });
    expect(broker.visible('out')).toEqual(['out-1']);
    // The partition claimed again: a new producer, the state restored, the events re-read.
    expect(await commitPartition(broker.producer(), capture([1, 2], 2), options())).toMatchObject({
      outcome: 'committed',
    });
    expect(broker.visible('out')).toEqual(['out-1', 'out-1', 'out-2']);
    expect(broker.restore('input', 3)).toEqual({ offset: 2, snapshot: { seen: [1, 2] } });
  });

  it('a commit the coordinator failed as a new member claimed the id (UNKNOWN_SERVER_ERROR) is "lost", not fatal', async () => {
    // Issue 15, scale-out: a processor joining mid-commit took the partition's transactional
    // id; the old owner's EndTxn came back UNKNOWN_SERVER_ERROR and stopped the process.
    const broker = new FakeBroker();
    await commitPartition(broker.producer(), capture([1], 1), options());
    const serverError = Object.assign(new Error('The server experienced an unexpected error'), {
      name: 'KafkaJSProtocolError',
      // kafkajs' name for Kafka's UNKNOWN_SERVER_ERROR (code -1), as its EndTxn parser throws it.
      type: 'UNKNOWN',
      code: -1,
      retriable: false,
    });
    broker.fault = { step: 'commit', error: toKafkaError('commit transaction', serverError), times: 1 };
    expect((await commitPartition(broker.producer(), capture([1, 2], 2), options())).outcome).toBe('lost');
    expect(broker.restore('input', 3)).toEqual({ offset: 1, snapshot: { seen: [1] } });
    expect(broker.visible('out')).toEqual(['out-1']);
  });

  it('a fenced producer gets "fenced", commits nothing, and is not retried', async () => {
    const broker = new FakeBroker();
    await commitPartition(broker.producer(), capture([1], 1), options());
    broker.fenced = true;
    const result = await commitPartition(broker.producer(), capture([1, 2], 2), options());
    expect(result.outcome).toBe('fenced');
    broker.fenced = false;
    expect(broker.restore('input', 3)).toEqual({ offset: 1, snapshot: { seen: [1] } });
    expect(broker.visible('out')).toEqual(['out-1']);
  });

  it('a producer fenced midway stays fenced: a later commit on it (a final one at revocation) is "fenced", not fatal', async () => {
    const broker = new FakeBroker();
    const producer = broker.producer();
    await commitPartition(producer, capture([1], 1), options());
    // Fenced at the changelog send: kafkajs leaves the producer inside that transaction
    // (a coordinator that timed it out answers "old epoch" too, seen on a 3-node cluster).
    broker.fault = {
      step: 'changelog',
      error: new FleetgridError('KAFKA_PRODUCER_FENCED', 'old epoch'),
      times: 1,
    };
    expect((await commitPartition(producer, capture([1, 2], 2), options())).outcome).toBe('fenced');
    expect((await commitPartition(producer, capture([1, 2, 3], 3), options())).outcome).toBe('fenced');
    expect(broker.visible('out')).toEqual(['out-1']);
  });

  it('a producer kafkajs still holds inside an unfinished transaction is "lost": claimed again with a new one', async () => {
    const broker = new FakeBroker();
    const producer = broker.producer();
    // An attempt that ended with neither commit nor abort, outside commitPartition.
    await producer.transaction();
    const result = await commitPartition(producer, capture([1], 1), options());
    expect(result.outcome).toBe('lost');
    expect(await commitPartition(broker.producer(), capture([1], 1), options())).toMatchObject({
      outcome: 'committed',
    });
  });

  it('the drain signal ends the retries of an unreachable broker', async () => {
    const broker = new FakeBroker();
    broker.fault = { step: 'begin', error: new FleetgridError('KAFKA_UNAVAILABLE', 'away'), times: 1_000 };
    const stop = new AbortController();
    const clock = new ManualClock(0);
    const run = commitPartition(broker.producer(), capture([1], 1), {
      ...options(clock),
      signal: stop.signal,
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    await clock.advance(5);
    stop.abort();
    await clock.advance(5);
    expect(await run).toMatchObject({ message: 'retry aborted while waiting to retry' });
    expect(broker.restore('input', 3)).toBeUndefined();
  });
});

describe('chunkOutputs', () => {
  const rec = (topic: string, i: number, bytes = 10): OutputRecord => ({
    topic,
    message: { key: 'k', value: `${topic}-${i}` },
    bytes,
  });

  it('bounds requests by rows and bytes and keeps each topic in order', () => {
    const chunks = chunkOutputs([rec('a', 1), rec('b', 1), rec('a', 2), rec('a', 3, 30)], 25, 2);
    expect(chunks.map((c) => c.map((t) => [t.topic, t.messages.map((m) => m.value)]))).toEqual([
      [
        ['a', ['a-1']],
        ['b', ['b-1']],
      ],
      [['a', ['a-2']]],
      [['a', ['a-3']]], // larger than the bound: alone (the broker decides)
    ]);
  });
});
