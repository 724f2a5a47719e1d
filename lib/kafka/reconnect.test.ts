import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../retry.ts';
import { KAFKA_RECONNECT_CAP_MS, kafkaReconnectPolicy } from './reconnect.ts';

describe('kafkaReconnectPolicy', () => {
  it('caps a long service backoff at a few seconds and keeps a shorter one', () => {
    expect(kafkaReconnectPolicy({ baseMs: 200, capMs: 30_000 })).toEqual({
      baseMs: 200,
      capMs: KAFKA_RECONNECT_CAP_MS,
    });
    expect(kafkaReconnectPolicy({ baseMs: 1, capMs: 5 })).toEqual({ baseMs: 1, capMs: 5 });
    expect(kafkaReconnectPolicy({ baseMs: 60_000, capMs: 60_000 })).toEqual({
      baseMs: KAFKA_RECONNECT_CAP_MS,
      capMs: KAFKA_RECONNECT_CAP_MS,
    });
  });

  it('bounds every delay, however many attempts failed', () => {
    const policy = kafkaReconnectPolicy({ baseMs: 200, capMs: 30_000 });
    expect(backoffDelay(40, policy, () => 0.999_999)).toBeLessThan(KAFKA_RECONNECT_CAP_MS);
    expect(backoffDelay(40, policy, () => 0.999_999)).toBeGreaterThan(KAFKA_RECONNECT_CAP_MS - 10);
  });
});
