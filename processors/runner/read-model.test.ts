import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.ts';
import { FleetgridError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';
import { createReadModelWriter, type StateStore, type StateWrite } from './read-model.ts';

/** A store that is down (fails), frozen (never answers) or up, as the test says. */
function fakeStore() {
  const data = new Map<string, StateWrite>();
  const state = { mode: 'up' as 'up' | 'down' | 'frozen', writes: 0, failures: 0 };
  const store: StateStore = {
    write: async (states) => {
      state.writes++;
      if (state.mode === 'down') {
        state.failures++;
        throw new FleetgridError('REDIS_UNAVAILABLE', 'connection refused');
      }
      if (state.mode === 'frozen') return new Promise<void>(() => {});
      for (const s of states) {
        const seen = data.get(s.key);
        if (!seen || seen.seq <= s.seq) data.set(s.key, s);
      }
    },
  };
  return { store, data, state };
}

const write = (device: string, seq: number): StateWrite => ({
  key: `dev:${device}`,
  seq,
  fields: { seq: String(seq) },
});

async function settle(clock: ManualClock, ms: number, step = 50): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    await clock.advance(step);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('redis read-model writer', () => {
  it('keeps only the newest state per device during an outage and catches up when Redis returns', async () => {
    const clock = new ManualClock(0);
    const { store, data, state } = fakeStore();
    state.mode = 'down';
    const failures: unknown[] = [];
    const writer = createReadModelWriter({
      store,
      policy: { baseMs: 100, capMs: 400 },
      writeTimeoutMs: 1_000,
      clock,
      random: () => 0.99,
      log: silentLogger,
      onFailure: (error) => failures.push(error),
    });
    for (let seq = 1; seq <= 100; seq++)
      writer.offer([write('a', seq), write('b', seq), write(`c-${seq % 3}`, seq)]);
    await settle(clock, 2_000);
    expect(writer.failing).toBe(true);
    expect(failures.length).toBeGreaterThan(2);
    // Bounded by devices, not by states: a, b, c-0, c-1, c-2.
    expect(writer.pending).toBe(5);
    // Backoff is capped: attempts keep coming at most every 400 ms, not ever further apart.
    const before = state.writes;
    await settle(clock, 2_000);
    expect(state.writes - before).toBeGreaterThanOrEqual(4);
    state.mode = 'up';
    await settle(clock, 1_000);
    expect(writer.failing).toBe(false);
    expect(writer.pending).toBe(0);
    expect(data.get('dev:a')?.seq).toBe(100);
    expect(data.get('dev:b')?.seq).toBe(100);
    expect(data.get('dev:c-1')?.seq).toBe(100);
    expect(data.get('dev:c-0')?.seq).toBe(99);
    await writer.idle();
    writer.stop();
  });

  it('a frozen Redis (no answer) times out, is retried, and never holds back newer states', async () => {
    const clock = new ManualClock(0);
    const { store, data, state } = fakeStore();
    state.mode = 'frozen';
    const writer = createReadModelWriter({
      store,
      policy: { baseMs: 50, capMs: 100 },
      writeTimeoutMs: 300,
      clock,
      random: () => 0.5,
      log: silentLogger,
    });
    writer.offer([write('a', 1)]);
    await new Promise((resolve) => setTimeout(resolve, 350)); // the write timeout is wall-clock
    writer.offer([write('a', 2)]);
    await settle(clock, 500);
    expect(writer.failing).toBe(true);
    state.mode = 'up';
    await new Promise((resolve) => setTimeout(resolve, 350));
    await settle(clock, 500);
    expect(data.get('dev:a')?.seq).toBe(2);
    writer.stop();
  });

  it('stop() ends the retries: no write after it', async () => {
    const clock = new ManualClock(0);
    const { store, state } = fakeStore();
    state.mode = 'down';
    const writer = createReadModelWriter({
      store,
      policy: { baseMs: 10, capMs: 10 },
      writeTimeoutMs: 100,
      clock,
      log: silentLogger,
    });
    writer.offer([write('a', 1)]);
    await settle(clock, 100, 10);
    writer.stop();
    await new Promise((resolve) => setImmediate(resolve));
    const attempts = state.writes;
    await settle(clock, 200, 10);
    expect(state.writes).toBe(attempts);
    await writer.idle(); // resolves at once after stop
  });
});
