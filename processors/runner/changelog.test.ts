import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import {
  CHECKPOINT_VERSION,
  changelogSpecs,
  changelogTopics,
  checkpointPointer,
  decodeCheckpoint,
  encodeCheckpoint,
  parseCheckpointPointer,
} from './changelog.ts';
import { planRestore } from './restore.ts';

describe('checkpoint record codec', () => {
  it('round-trips a snapshot and the next offset, gzipped', () => {
    const snapshot = {
      v: 1,
      streamTime: 123,
      devices: Array.from({ length: 50 }, (_, i) => ({ id: `d-${i}` })),
    };
    const encoded = encodeCheckpoint({ offset: 42, snapshot });
    expect(encoded.length).toBeLessThan(JSON.stringify(snapshot).length);
    expect(decodeCheckpoint(encoded)).toEqual({ offset: 42, snapshot });
  });

  it('refuses a layout version it does not know, corrupt bytes and bad offsets', () => {
    const record = (value: unknown) => gzipSync(JSON.stringify(value));
    expect(() => decodeCheckpoint(record({ v: 99, offset: 1, snapshot: {} }))).toThrow(/version 99/);
    expect(() => decodeCheckpoint(record({ v: CHECKPOINT_VERSION, offset: -3, snapshot: {} }))).toThrow(
      /not an offset/,
    );
    expect(() => decodeCheckpoint(Buffer.from('{'))).toThrow(/gzipped JSON/);
    expect(() => decodeCheckpoint(null)).toThrow(/no value/);
    expect(() => encodeCheckpoint({ offset: -1, snapshot: {} })).toThrow(/not a valid offset/);
  });
});

describe('checkpoint pointer and restore plan', () => {
  it('round-trips the changelog offset through the commit metadata', () => {
    expect(parseCheckpointPointer(checkpointPointer('1234'))).toBe('1234');
    expect(parseCheckpointPointer('checkpoint:v1:7')).toBeUndefined();
    expect(parseCheckpointPointer(null)).toBeUndefined();
    expect(() => checkpointPointer('-1')).toThrow();
  });

  it('restores from the pointer, else from the bare offset, else starts empty', () => {
    const committed = [
      {
        topic: 't',
        partitions: [
          { partition: 0, offset: '17', metadata: checkpointPointer('5') },
          { partition: 1, offset: '9', metadata: '' },
          { partition: 2, offset: '-1', metadata: null },
        ],
      },
    ];
    expect(planRestore(committed, 't', 0)).toEqual({
      kind: 'checkpoint',
      changelogOffset: '5',
      committedOffset: 17,
    });
    expect(planRestore(committed, 't', 1)).toEqual({ kind: 'offset', committedOffset: 9 });
    expect(planRestore(committed, 't', 2)).toEqual({ kind: 'empty' });
    expect(planRestore(committed, 't', 3)).toEqual({ kind: 'empty' });
    expect(planRestore(committed, 'other', 0)).toEqual({ kind: 'empty' });
  });
});

describe('changelog topics', () => {
  it('one compacted changelog per input topic, named by the group, partitioned like the input', () => {
    const changelogs = changelogTopics('p.', 'fleetgrid-processors');
    expect(changelogs['p.telemetry.truck']).toBe('p.fleetgrid-processors-telemetry.truck-changelog');
    expect(Object.keys(changelogs).sort()).toEqual([
      'p.telemetry.solar',
      'p.telemetry.truck',
      'p.telemetry.turbine',
    ]);
    const specs = changelogSpecs(
      changelogs,
      { 'p.telemetry.truck': 6, 'p.telemetry.turbine': 3, 'p.telemetry.solar': 2 },
      8_388_608,
    );
    expect(specs.find((s) => s.name.includes('truck'))).toMatchObject({
      partitions: 6,
      config: { 'cleanup.policy': 'compact', 'max.message.bytes': '8388608' },
    });
    expect(() => changelogSpecs(changelogs, {}, 1)).toThrow(/no partition count/);
  });
});
