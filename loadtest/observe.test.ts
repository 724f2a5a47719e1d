import { describe, expect, it } from 'vitest';
import type { KafkaAdmin } from '../lib/kafka/index.ts';
import { topicNames } from '../lib/topics.ts';
import { assertRunTag, pipelineGroups, sampleLag } from './observe.ts';

/** An admin that answers from tables: enough for the lag arithmetic, no broker needed. */
function fakeAdmin(
  ends: Record<string, { partition: number; high: string; low: string }[]>,
  committed: Record<string, Record<string, { partition: number; offset: string }[]>>,
): KafkaAdmin {
  return {
    fetchTopicOffsets: async (topic: string) => (ends[topic] ?? []).map((e) => ({ ...e, offset: e.high })),
    fetchCommittedOffsets: async (groupId: string, topics: string[]) =>
      topics.map((topic) => ({ topic, partitions: committed[groupId]?.[topic] ?? [] })),
  } as unknown as KafkaAdmin;
}

describe('consumer lag', () => {
  const topics = topicNames('p.');
  const groups = pipelineGroups(topics, 'p.');

  it('watches the processors on the raw topics and the sink on every topic', () => {
    expect(groups[0]).toEqual({
      groupId: 'p.fleetgrid-processors',
      topics: ['p.telemetry.truck', 'p.telemetry.turbine', 'p.telemetry.solar'],
    });
    expect(groups[1]).toMatchObject({ groupId: 'p.fleetgrid-sink-clickhouse' });
    expect(groups[1]?.topics).toHaveLength(8);
  });

  it('sums high watermark minus committed offset, and counts an uncommitted partition from its start', async () => {
    const admin = fakeAdmin(
      {
        'p.telemetry.truck': [
          { partition: 0, high: '100', low: '0' },
          { partition: 1, high: '50', low: '10' },
        ],
      },
      {
        'p.fleetgrid-processors': {
          'p.telemetry.truck': [
            { partition: 0, offset: '90' },
            { partition: 1, offset: '-1' },
          ],
        },
      },
    );
    const lag = await sampleLag(admin, [
      { groupId: 'p.fleetgrid-processors', topics: ['p.telemetry.truck'] },
    ]);
    expect(lag).toEqual({ 'p.fleetgrid-processors': 10 + 40 });
  });

  it('ignores topics a --group has never committed on', async () => {
    const admin = fakeAdmin(
      { a: [{ partition: 0, high: '10', low: '0' }], b: [{ partition: 0, high: '1000', low: '0' }] },
      { g: { a: [{ partition: 0, offset: '7' }], b: [{ partition: 0, offset: '-1' }] } },
    );
    expect(await sampleLag(admin, [{ groupId: 'g', topics: ['a', 'b'], committedTopicsOnly: true }])).toEqual(
      { g: 3 },
    );
    expect(await sampleLag(admin, [{ groupId: 'g', topics: ['a', 'b'] }])).toEqual({ g: 1_003 });
  });

  it('accepts only run tags that are literal in SQL', () => {
    expect(assertRunTag('lt1a2b3c4d')).toBe('lt1a2b3c4d');
    expect(() => assertRunTag("x' OR 1=1 --")).toThrow();
    expect(() => assertRunTag('a_b')).toThrow();
  });
});
