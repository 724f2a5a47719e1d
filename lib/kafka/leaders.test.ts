import { describe, expect, it } from 'vitest';
import { allLeadersKnown, waitForTopicLeaders } from './leaders.ts';
import type { TopicMetadata } from './types.ts';

const led = (name: string, leaders: number[]): TopicMetadata => ({
  name,
  partitions: leaders.map((leader, partitionId) => ({ partitionId, leader, replicas: [1], isr: [1] })),
});

function fakeClock() {
  let t = 0;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
  };
}

describe('allLeadersKnown', () => {
  it('needs every asked topic, with partitions, each with a leader', () => {
    expect(allLeadersKnown([led('a', [1, 1]), led('b', [1])], ['a', 'b'])).toBe(true);
    expect(allLeadersKnown([led('a', [1, -1])], ['a'])).toBe(false);
    expect(allLeadersKnown([led('a', [])], ['a'])).toBe(false);
    expect(allLeadersKnown([led('a', [1])], ['a', 'b'])).toBe(false);
  });
});

describe('waitForTopicLeaders', () => {
  it('keeps polling through unknown-topic errors and leaderless partitions', async () => {
    const answers: (() => TopicMetadata[])[] = [
      () => {
        throw Object.assign(new Error('This server does not host this topic-partition'), {
          type: 'UNKNOWN_TOPIC_OR_PARTITION',
          retriable: true,
        });
      },
      () => [led('t', [-1, 1])],
      () => [led('t', [1, 1])],
    ];
    let calls = 0;
    const ok = await waitForTopicLeaders(async () => answers[calls++]?.() ?? [], ['t'], {
      ...fakeClock(),
      transient: (error) => (error as { retriable?: boolean }).retriable === true,
    });
    expect(ok).toBe(true);
    expect(calls).toBe(3);
  });

  it('gives up at the deadline and says so', async () => {
    let calls = 0;
    const ok = await waitForTopicLeaders(
      async () => {
        calls++;
        return [led('t', [-1])];
      },
      ['t'],
      { ...fakeClock(), timeoutMs: 1_000, intervalMs: 100 },
    );
    expect(ok).toBe(false);
    expect(calls).toBe(11);
  });

  it('throws a failure that is not transient at once: a bug is not waited out', async () => {
    let calls = 0;
    const wait = waitForTopicLeaders(
      async () => {
        calls++;
        throw new TypeError('cannot read properties of undefined');
      },
      ['t'],
      { ...fakeClock(), transient: () => false },
    );
    await expect(wait).rejects.toThrow(TypeError);
    expect(calls).toBe(1);
  });
});
