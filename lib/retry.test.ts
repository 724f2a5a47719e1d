import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.ts';
import { FleetgridError } from './errors.ts';
import { backoffDelay, retry } from './retry.ts';

describe('backoffDelay', () => {
  it('stays within [0, min(cap, base * 2^attempt))', () => {
    const policy = { baseMs: 100, capMs: 5_000 };
    for (let attempt = 0; attempt < 20; attempt++) {
      const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** attempt);
      expect(backoffDelay(attempt, policy, () => 0)).toBe(0);
      expect(backoffDelay(attempt, policy, () => 0.999_999)).toBe(Math.floor(0.999_999 * ceiling));
    }
  });

  it('never exceeds the cap, even for huge attempt numbers', () => {
    expect(backoffDelay(10_000, { baseMs: 100, capMs: 30_000 }, () => 0.999)).toBeLessThan(30_000);
  });
});

describe('retry', () => {
  it('retries retriable errors with growing jittered waits until the operation succeeds', async () => {
    const clock = new ManualClock(0);
    const waits: number[] = [];
    let calls = 0;
    const result = retry(
      async () => {
        calls++;
        if (calls < 4) throw new FleetgridError('KAFKA_UNAVAILABLE', 'broker down');
        return 'ok';
      },
      {
        clock,
        random: () => 0.5,
        policy: { baseMs: 100, capMs: 1_000 },
        onRetry: (_e, _a, delay) => waits.push(delay),
      },
    );
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      await clock.advance(1_000);
    }
    await expect(result).resolves.toBe('ok');
    expect(calls).toBe(4);
    expect(waits).toEqual([50, 100, 200]);
  });

  it('does not retry a non-retriable error', async () => {
    let calls = 0;
    await expect(
      retry(async () => {
        calls++;
        throw new FleetgridError('DECODE_BAD_MAGIC', 'bad');
      }),
    ).rejects.toMatchObject({ code: 'DECODE_BAD_MAGIC' });
    expect(calls).toBe(1);
  });

  it('does not retry unknown (programmer) errors', async () => {
    let calls = 0;
    await expect(
      retry(async () => {
        calls++;
        throw new TypeError('undefined is not a function');
      }),
    ).rejects.toBeInstanceOf(TypeError);
    expect(calls).toBe(1);
  });

  it('gives up after maxRetries and rethrows the last error', async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new FleetgridError('REDIS_UNAVAILABLE', `down ${calls}`);
        },
        { policy: { baseMs: 1, capMs: 1, maxRetries: 2 } },
      ),
    ).rejects.toMatchObject({ message: 'down 3' });
    expect(calls).toBe(3);
  });

  it('stops waiting when the signal aborts', async () => {
    const controller = new AbortController();
    const clock = new ManualClock(0);
    const pending = retry(
      async () => {
        throw new FleetgridError('CLICKHOUSE_UNAVAILABLE', 'down');
      },
      { clock, signal: controller.signal, random: () => 0.5 },
    );
    const outcome = expect(pending).rejects.toMatchObject({ code: 'TIMEOUT', retriable: false });
    await new Promise((resolve) => setImmediate(resolve));
    expect(clock.pendingSleepers).toBe(1);
    controller.abort();
    await outcome;
    expect(clock.pendingSleepers).toBe(0);
  });
});
