import { describe, expect, it } from 'vitest';
import type { ClickHouseBackend } from '../clickhouse/index.ts';
import { loadConfig } from '../lib/config.ts';
import { silentLogger } from '../lib/log.ts';
import { parseFrom, replayProjection, topicOfProjection } from './replay.ts';

describe('replay arguments', () => {
  it('parses --from as the beginning, a time or an offset', () => {
    expect(parseFrom(undefined)).toEqual({ kind: 'beginning' });
    expect(parseFrom('offset:42')).toEqual({ kind: 'offset', offset: 42n });
    expect(parseFrom('2026-11-22T10:00:00Z')).toEqual({ kind: 'time', ms: Date.UTC(2026, 10, 22, 10) });
    expect(parseFrom('1763800000000')).toEqual({ kind: 'time', ms: 1763800000000 });
    expect(() => parseFrom('yesterday')).toThrow(/--from/);
  });

  it('finds the topic of a projection and refuses views and unknown names', () => {
    expect(topicOfProjection('truck_diagnostics')).toBe('truck');
    expect(topicOfProjection('dead_letters')).toBe('dlq');
    expect(() => topicOfProjection('aggregates_1h')).toThrow(/unknown projection/);
  });
});

describe('replay on a ClickHouse cluster', () => {
  it('is refused before anything is read or created', async () => {
    const backend = { cluster: { name: 'c1', keeperPathPrefix: '/clickhouse/tables' } } as ClickHouseBackend;
    // Neither Kafka nor the backend may be touched: both throw if they are.
    const untouched = new Proxy({}, { get: () => expect.unreachable('touched') }) as never;
    await expect(
      replayProjection(loadConfig({}), {
        projection: 'truck_telemetry',
        kafka: untouched,
        serde: untouched,
        log: silentLogger,
        backend,
      }),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/CLICKHOUSE_CLUSTER=c1/),
    });
  });
});
