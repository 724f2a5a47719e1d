/**
 * Warnings at a bounded rate: during an outage a retry loop may fail every few hundred
 * milliseconds in every partition, and one line per attempt would drown the log. Each key
 * logs at once, then at most once per interval, saying how many lines it held back.
 */
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import type { Logger } from '../log.ts';

export interface RateLimitedLog {
  /** Logs `message` at warn level unless `key` logged less than the interval ago. */
  warn(key: string, fields: Record<string, unknown>, message: string): void;
}

export function createRateLimitedLog(
  log: Logger,
  intervalMs = 10_000,
  clock: Clock = systemClock,
): RateLimitedLog {
  const last = new Map<string, { at: number; held: number }>();
  return {
    warn(key, fields, message) {
      const now = clock.now();
      const entry = last.get(key);
      if (entry && now - entry.at < intervalMs) {
        entry.held++;
        return;
      }
      log.warn({ ...fields, ...(entry?.held ? { heldBack: entry.held } : {}) }, message);
      last.set(key, { at: now, held: 0 });
    },
  };
}
