import { describe, expect, it } from 'vitest';
import { DERIVED_PROJECTIONS, parseDerivedProjection } from './replay-derived.ts';

describe('parseDerivedProjection', () => {
  it('defaults to aggregates_1m and accepts the derived projections', () => {
    expect(parseDerivedProjection(undefined)).toBe('aggregates_1m');
    for (const name of DERIVED_PROJECTIONS) expect(parseDerivedProjection(name)).toBe(name);
  });
  it('refuses a projection it cannot rebuild from the raw log', () => {
    expect(() => parseDerivedProjection('truck_telemetry')).toThrow(/--derived rebuilds aggregates_1m/);
    expect(() => parseDerivedProjection('dead_letters')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});
