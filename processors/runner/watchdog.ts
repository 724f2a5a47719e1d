/**
 * Notices a consumer that stopped making progress. Progress is anything that shows the
 * consumer loop is alive: a fetch started, a heartbeat, a batch handled, a group join.
 * A paused consumer still fetches (nothing) and heartbeats, so backpressure and outages
 * handled with backoff never look stalled; a wedged client loop does. Pure: time comes
 * from the injected clock.
 */
import type { Clock } from '../../lib/clock.ts';

export class ProgressWatchdog {
  private lastProgressAt: number;
  private readonly clock: Clock;
  private readonly timeoutMs: number;

  constructor(clock: Clock, timeoutMs: number) {
    this.clock = clock;
    this.timeoutMs = timeoutMs;
    this.lastProgressAt = clock.now();
  }

  progress(): void {
    this.lastProgressAt = this.clock.now();
  }

  /** How long the consumer has been silent, if that is longer than the timeout; else undefined. */
  stalledFor(): number | undefined {
    const idleMs = this.clock.now() - this.lastProgressAt;
    return idleMs > this.timeoutMs ? idleMs : undefined;
  }
}
