import { describe, expect, it } from 'vitest';
import { parseFrom, topicOfProjection } from './replay.ts';

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
