import { describe, expect, it } from 'vitest';
import { isFleetgridError } from '../lib/errors.ts';
import { formatFaultSpec, NO_FAULTS, parseFaultSpec } from './faults.ts';

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
