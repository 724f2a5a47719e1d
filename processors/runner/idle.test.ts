import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.ts';
import { InputTracker } from '../../lib/stream/index.ts';
import { mayAdvanceIdle } from './idle.ts';

describe('idle timer rule', () => {
  const caughtUp = { paused: false, nextOffset: 10, highWatermark: 10 };

  it('advances only while the input is known, unpaused and caught up', () => {
    expect(mayAdvanceIdle({ ...caughtUp, inputKnown: true })).toBe(true);
    expect(mayAdvanceIdle({ ...caughtUp, inputKnown: false })).toBe(false);
    expect(mayAdvanceIdle({ ...caughtUp, inputKnown: true, paused: true })).toBe(false);
    expect(mayAdvanceIdle({ ...caughtUp, inputKnown: true, highWatermark: 11 })).toBe(false);
    // No batch since the claim while fetches succeed: nothing was there to read.
    expect(mayAdvanceIdle({ ...caughtUp, inputKnown: true, highWatermark: undefined })).toBe(true);
  });

  it('stops advancing once fetches go unanswered past the grace, and resumes after a fetch', async () => {
    // The InputTracker on an injected clock: a broker that stops answering mid-stream.
    const clock = new ManualClock(0);
    const input = new InputTracker(2_000);
    input.started();
    input.fetchStarted(clock.now());
    input.fetched();
    const idle = () => mayAdvanceIdle({ ...caughtUp, inputKnown: input.known(clock.now()) });
    expect(idle()).toBe(true);
    input.fetchStarted(clock.now()); // the broker dies while this fetch is out
    await clock.advance(1_500);
    expect(idle()).toBe(true); // a long poll is still within its grace
    await clock.advance(20_000);
    expect(idle()).toBe(false); // 20 s of silence from the broker: input unknown, time frozen
    input.fetched();
    expect(idle()).toBe(true);
    input.stopped(); // consumer crashed / rejoining
    expect(idle()).toBe(false);
  });
});
