import { describe, expect, it } from 'vitest';
import { CHECKPOINT_VERSION, checkpointKey, decodeCheckpoint, encodeCheckpoint } from './checkpoint.ts';

describe('checkpoint codec', () => {
  it('round-trips a snapshot and the next offset', () => {
    const snapshot = { v: 1, streamTime: 123, devices: [{ id: 'a', windows: [1, 2] }] };
    const encoded = encodeCheckpoint({ offset: 42, snapshot });
    expect(encoded.v).toBe(String(CHECKPOINT_VERSION));
    expect(decodeCheckpoint(encoded)).toEqual({ offset: 42, snapshot });
  });

  it('reads a hash without an offset as "never checkpointed"', () => {
    expect(decodeCheckpoint({ v: null, offset: null, state: null })).toBeUndefined();
  });

  it('refuses a layout version it does not know instead of guessing', () => {
    expect(() => decodeCheckpoint({ v: '99', offset: '1', state: '{}' })).toThrow(/version 99/);
  });

  it('refuses corrupt offsets and state', () => {
    expect(() => decodeCheckpoint({ v: '1', offset: 'x', state: '{}' })).toThrow(/not an offset/);
    expect(() => decodeCheckpoint({ v: '1', offset: '3', state: '{' })).toThrow(/not JSON/);
    expect(() => encodeCheckpoint({ offset: -1, snapshot: {} })).toThrow(/not a valid offset/);
  });

  it('names keys by namespace, group (hash tag), topic and partition', () => {
    expect(checkpointKey('fleetgrid', 'p.fleetgrid-processors', 'p.telemetry.truck', 4)).toBe(
      'fleetgrid:ckpt:{p.fleetgrid-processors}:p.telemetry.truck:4',
    );
  });
});
