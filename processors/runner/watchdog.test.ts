import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.ts';
import { ProgressWatchdog } from './watchdog.ts';

describe('ProgressWatchdog', () => {
  it('reports a consumer silent for longer than the timeout', async () => {
    const clock = new ManualClock(1_000);
    const watchdog = new ProgressWatchdog(clock, 60_000);
    await clock.advance(60_000);
    expect(watchdog.stalledFor()).toBeUndefined();
    await clock.advance(1);
    expect(watchdog.stalledFor()).toBe(60_001);
  });

  it('stays quiet while progress keeps arriving, however long the run', async () => {
    const clock = new ManualClock();
    const watchdog = new ProgressWatchdog(clock, 10_000);
    for (let i = 0; i < 100; i++) {
      await clock.advance(9_000); // e.g. a paused consumer that still heartbeats every 9 s
      watchdog.progress();
      expect(watchdog.stalledFor()).toBeUndefined();
    }
  });

  it('starts counting afresh after progress following a stall', async () => {
    const clock = new ManualClock();
    const watchdog = new ProgressWatchdog(clock, 5_000);
    await clock.advance(6_000);
    expect(watchdog.stalledFor()).toBe(6_000);
    watchdog.progress(); // the restarted consumer joined
    await clock.advance(4_000);
    expect(watchdog.stalledFor()).toBeUndefined();
  });
});
