import { describe, expect, it } from 'vitest';
import { isFleetgridError } from '../lib/errors.ts';
import { validateRawEvent } from '../schemas/validate.ts';
import { formatFaultSpec, NO_FAULTS, parseFaultSpec } from './faults.ts';
import { createFleet } from './fleet.ts';
import type { OutboundMessage } from './types.ts';

describe('the --faults option', () => {
  it('reads probabilities and percentages and leaves the rest at 0', () => {
    expect(parseFaultSpec('late=0.01, dup=2%,poison=0.001')).toEqual({
      ...NO_FAULTS,
      late: 0.01,
      dup: 0.02,
      poison: 0.001,
    });
    expect(parseFaultSpec(undefined)).toEqual(NO_FAULTS);
    expect(parseFaultSpec('none')).toEqual(NO_FAULTS);
  });

  it('refuses unknown names and values that are not probabilities, listing every problem', () => {
    try {
      parseFaultSpec('lat=0.1,dup=3,ooo');
      expect.unreachable();
    } catch (error) {
      expect(isFleetgridError(error, 'INVALID_ARGUMENT')).toBe(true);
      expect(String(error)).toMatch(/unknown fault "lat".*dup=3.*"ooo" is not name=value/);
    }
  });

  it('formats a spec back into the option syntax', () => {
    expect(formatFaultSpec(parseFaultSpec('skew=0.5,v1=0.2'))).toBe('skew=0.5,v1=0.2');
    expect(formatFaultSpec(NO_FAULTS)).toBe('none');
  });
});

describe('poison messages', () => {
  it('carry values that validation refuses, while the clean events next to them pass', () => {
    const startMs = Date.UTC(2026, 5, 1, 9);
    const fleet = createFleet({
      seed: 9,
      trucks: 10,
      turbines: 5,
      solar: 5,
      intervalMs: { truck: 1_000, turbine: 1_000, solar: 1_000 },
      startMs,
      faults: { ...NO_FAULTS, poison: 0.05 },
    });
    const out: OutboundMessage[] = [];
    fleet.generate(Number.POSITIVE_INFINITY, 20_000, out);
    const nowMs = startMs + 3_600_000;
    const refused = (m: OutboundMessage) => {
      try {
        validateRawEvent(m.event, nowMs);
        return false;
      } catch (error) {
        return isFleetgridError(error, 'VALIDATION_OUT_OF_RANGE');
      }
    };
    const outOfRange = out.filter((m) => m.poison === 'out-of-range');
    expect(outOfRange.length).toBeGreaterThan(100);
    expect(outOfRange.filter((m) => !refused(m))).toEqual([]);
    expect(out.filter((m) => m.class === 'clean' && refused(m))).toEqual([]);
  });
});
