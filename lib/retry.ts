/**
 * Capped full-jitter exponential backoff (the AWS architecture blog's "full jitter"):
 * delay = random(0, min(cap, base * 2^attempt)). Full jitter spreads retries of many
 * consumers that failed together, so a recovering ClickHouse or broker is not hit in waves.
 */
import type { Clock } from './clock.ts';
import { systemClock } from './clock.ts';
import { FleetgridError, isRetriable } from './errors.ts';

export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
  /** Attempts after the first; Infinity retries until the signal aborts. */
  maxRetries: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  baseMs: 100,
  capMs: 30_000,
  maxRetries: Number.POSITIVE_INFINITY,
};

/** The delay before retry number `attempt` (0-based). `random` returns [0, 1). */
export function backoffDelay(
  attempt: number,
  policy: Pick<BackoffPolicy, 'baseMs' | 'capMs'>,
  random = Math.random,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 52));
  return Math.floor(random() * ceiling);
}

export interface RetryOptions {
  policy?: Partial<BackoffPolicy>;
  clock?: Clock;
  random?: () => number;
  signal?: AbortSignal;
  /** Called before each wait: the place to count a backoff metric or log. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Defaults to `isRetriable`: only FleetgridErrors marked retriable are retried. */
  shouldRetry?: (error: unknown) => boolean;
}

/** Runs `operation` until it succeeds, fails with a non-retriable error, or retries run out. */
export async function retry<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const policy = { ...DEFAULT_BACKOFF, ...options.policy };
  const clock = options.clock ?? systemClock;
  const shouldRetry = options.shouldRetry ?? isRetriable;
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (!shouldRetry(error) || attempt >= policy.maxRetries || options.signal?.aborted) throw error;
      const delay = backoffDelay(attempt, policy, options.random);
      options.onRetry?.(error, attempt, delay);
      try {
        await clock.sleep(delay, options.signal);
      } catch {
        throw new FleetgridError('TIMEOUT', 'retry aborted while waiting to retry', {
          cause: error,
          retriable: false,
        });
      }
    }
  }
}
