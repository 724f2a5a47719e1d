import { describe, expect, it } from 'vitest';
import { FleetgridError } from '../errors.ts';
import { silentLogger } from '../log.ts';
import { createRecordIntake, createRegistryHold } from './intake.ts';
import { createRateLimitedLog } from './rate-log.ts';

/** Values are JSON `{ "schema": n }`; schema 1 is cached, 2 needs the registry, 'bad' is garbage. */
function fakeDecoder(registryUp: () => boolean) {
  let fetches = 0;
  return {
    fetches: () => fetches,
    decodeCached(value: Buffer | null) {
      const text = String(value);
      if (text === 'bad') throw new FleetgridError('DECODE_BAD_MAGIC', 'not framed');
      const parsed = JSON.parse(text) as { schema: number; n: number };
      return parsed.schema === 1 ? parsed : undefined;
    },
    async decode(value: Buffer | null) {
      fetches++;
      if (!registryUp()) throw new FleetgridError('REGISTRY_UNAVAILABLE', 'registry down');
      return JSON.parse(String(value)) as { schema: number; n: number };
    },
  };
}

const buf = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

describe('record intake', () => {
  it('accepts, rejects with a typed error, or holds when the registry is away; never dead-letters an outage', async () => {
    let up = false;
    const intake = createRecordIntake({
      decoder: fakeDecoder(() => up),
      validate: (value: { n: number }) => {
        if (value.n < 0) throw new FleetgridError('VALIDATION_OUT_OF_RANGE', 'n is negative');
      },
      registryOutage: 'hold',
    });
    expect(intake.takeSync(buf({ schema: 1, n: 1 }), 0)).toEqual({
      kind: 'accepted',
      value: { schema: 1, n: 1 },
    });
    expect(intake.takeSync(buf({ schema: 1, n: -1 }), 0)).toMatchObject({
      kind: 'rejected',
      error: { code: 'VALIDATION_OUT_OF_RANGE' },
    });
    expect(intake.takeSync(buf('bad'), 0)).toMatchObject({
      kind: 'rejected',
      error: { code: 'DECODE_BAD_MAGIC' },
    });
    expect(intake.takeSync(buf({ schema: 2, n: 1 }), 0)).toBeUndefined();
    expect(await intake.take(buf({ schema: 2, n: 1 }), 0)).toMatchObject({
      kind: 'held',
      error: { code: 'REGISTRY_UNAVAILABLE' },
    });
    up = true;
    expect(await intake.take(buf({ schema: 2, n: 1 }), 0)).toMatchObject({ kind: 'accepted' });
  });
});

describe('registry hold', () => {
  function setup(owns = () => true) {
    let up = false;
    const decoder = fakeDecoder(() => up);
    const calls: string[] = [];
    const abort = new AbortController();
    const lines: unknown[] = [];
    const log = { ...silentLogger, warn: (fields: unknown) => lines.push(fields) } as never;
    const hold = createRegistryHold({
      decoder,
      pause: (ref) => calls.push(`pause ${ref.partition}`),
      resume: (ref) => calls.push(`resume ${ref.partition}`),
      owns,
      policy: { baseMs: 1, capMs: 2 },
      signal: abort.signal,
      warn: createRateLimitedLog(log, 60_000),
      random: () => 0.5,
    });
    return { hold, calls, abort, lines, decoder, setUp: () => (up = true) };
  }

  it('pauses the partition, retries in the background, and resumes it once the registry answers', async () => {
    const { hold, calls, lines, decoder, setUp } = setup();
    const p = { topic: 't', partition: 3 };
    hold.hold(p, buf({ schema: 2, n: 1 }), new FleetgridError('REGISTRY_UNAVAILABLE', 'down'));
    hold.hold(p, buf({ schema: 2, n: 1 }), new FleetgridError('REGISTRY_UNAVAILABLE', 'down'));
    expect(hold.isHeld(p)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(decoder.fetches()).toBeGreaterThan(3);
    // One warning line per interval, however often the retry fails.
    expect(lines).toHaveLength(1);
    setUp();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(hold.isHeld(p)).toBe(false);
    expect(calls).toEqual(['pause 3', 'pause 3', 'resume 3']);
  });

  it('neither resumes a partition that moved away nor outlives a shutdown', async () => {
    let owned = true;
    const { hold, calls, abort } = setup(() => owned);
    hold.hold(
      { topic: 't', partition: 1 },
      buf({ schema: 2, n: 1 }),
      new FleetgridError('REGISTRY_UNAVAILABLE', 'down'),
    );
    owned = false;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls).toEqual(['pause 1']);
    owned = true;
    hold.hold(
      { topic: 't', partition: 2 },
      buf({ schema: 2, n: 1 }),
      new FleetgridError('REGISTRY_UNAVAILABLE', 'down'),
    );
    abort.abort();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(hold.held).toBe(0);
    expect(calls).toEqual(['pause 1', 'pause 2']);
  });
});
