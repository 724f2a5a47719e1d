import { describe, expect, it } from 'vitest';
import { positionPastHidden } from './partitions.ts';

describe('positionPastHidden', () => {
  it('allows the end of a hidden range that starts exactly where the consumer rests', () => {
    expect(positionPastHidden({ from: '6', to: '9' }, 6n)).toBe(9n);
  });

  it('allows nothing when the consumer is not resting, the range is elsewhere, or empty', () => {
    expect(positionPastHidden({ from: '6', to: '9' }, undefined)).toBeUndefined(); // records pending
    expect(positionPastHidden({ from: '4', to: '5' }, 6n)).toBeUndefined(); // an older range
    expect(positionPastHidden({ from: '7', to: '9' }, 6n)).toBeUndefined(); // a record in between
    expect(positionPastHidden({ from: '6', to: '6' }, 6n)).toBeUndefined();
    expect(positionPastHidden(undefined, 6n)).toBeUndefined();
  });
});
