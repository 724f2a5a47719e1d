import { describe, expect, it } from 'vitest';
import { DERIVED_PROJECTIONS, parseDerivedProjections } from './replay-derived.ts';

describe('parseDerivedProjections', () => {
  it('gives every derived projection without --projection, else the one named', () => {
    expect(parseDerivedProjections(undefined)).toEqual(['aggregates_1m', 'alerts', 'device_state']);
    for (const name of DERIVED_PROJECTIONS) expect(parseDerivedProjections(name)).toEqual([name]);
  });
  it('refuses a projection it cannot rebuild from the raw log', () => {
    expect(() => parseDerivedProjections('truck_telemetry')).toThrow(/--derived rebuilds aggregates_1m/);
    expect(() => parseDerivedProjections('dead_letters')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});
