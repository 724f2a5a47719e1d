/**
 * Durations as people type them on a command line: `500ms`, `90s`, `1.5m`, `10min`, `1h`,
 * `2d`, or a bare number of milliseconds. One parser for every CLI, so `--grace 30s` and
 * `--duration 30s` mean the same thing everywhere.
 */
import { FleetgridError } from './errors.ts';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Milliseconds, rounded; zero is allowed (a grace of 0 s is meaningful), range checks are the caller's. */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$/.exec(text);
  if (!match) throw new FleetgridError('INVALID_ARGUMENT', `not a duration: "${text}" (try 90s, 10m, 1h)`);
  const value = Math.round(Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1));
  if (!Number.isSafeInteger(value))
    throw new FleetgridError('INVALID_ARGUMENT', `duration out of range: "${text}"`);
  return value;
}
