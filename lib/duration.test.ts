import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.ts';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['90s', 90_000],
    ['1.5m', 90_000],
    ['10min', 600_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    ['250', 250],
    ['0s', 0],
  ])('reads %s as %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['soon', '-5s', '5 years', '', '1e400s'])('refuses %j with INVALID_ARGUMENT', (text) => {
    expect(() => parseDuration(text)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
