/**
 * Options of `fleetgrid simulate` and of the programmatic simulator. Unknown keys are
 * rejected so a typo never silently falls back to a default.
 *
 * Time: the simulation starts at `fromMs` (default: now, or earlier when `speed` > 1, see
 * docs/producers.md) and advances at `speed` × wall-clock time, but never past the wall
 * clock (events from the future would be refused downstream). With `toMs` it stops there;
 * `speed: 'max'` (the default when `fromMs`, `toMs` or `count` is set) is a backfill as fast as
 * the broker takes it.
 */
import { z } from 'zod';
import { parseComponentConfig } from '../lib/config.ts';
import { FleetgridError } from '../lib/errors.ts';
import { NO_FAULTS } from './faults.ts';
import { parseDuration } from '../lib/duration.ts';

const positiveInt = (fallback: number) => z.number().int().positive().default(fallback);
const share = (fallback: number) => z.number().min(0).max(1).default(fallback);

export const faultSpecSchema = z.strictObject({
  late: share(0),
  ooo: share(0),
  dup: share(0),
  poison: share(0),
  skew: share(0),
  v1: share(0),
});

export const simulatorConfigSchema = z.strictObject({
  trucks: z.number().int().min(0).default(20),
  turbines: z.number().int().min(0).default(10),
  solar: z.number().int().min(0).default(10),
  /** Sampling interval per kind, ms. */
  intervalMs: z
    .strictObject({ truck: positiveInt(1_000), turbine: positiveInt(1_000), solar: positiveInt(1_000) })
    .default({ truck: 1_000, turbine: 1_000, solar: 1_000 }),
  seed: z.number().int().default(42),
  /** Simulated seconds per wall-clock second, or 'max': as fast as the broker takes it. */
  speed: z.union([z.number().positive(), z.literal('max')]).optional(),
  fromMs: z.number().int().optional(),
  toMs: z.number().int().optional(),
  /** Wall-clock run time. */
  durationMs: z.number().int().positive().optional(),
  /** Stop after exactly this many device events (duplicates and poison not counted). */
  count: z.number().int().positive().optional(),
  faults: faultSpecSchema.default(NO_FAULTS),
  refrigeratedShare: share(0.3),
  clockJitter: z.number().min(0).max(0.5).default(0.02),
  /** Most messages in one produce request. */
  batchSize: positiveInt(2_000),
  /** Most bytes in one produce request: below the broker's message.max.bytes (1 MiB by default). */
  maxRequestBytes: positiveInt(900 * 1024),
  /** Ordered lanes, i.e. produce requests awaiting their acks; beyond them generation pauses. */
  maxInFlight: positiveInt(4),
  /** Idempotent produce: a retry after a lost response or a leader change writes nothing twice. */
  idempotent: z.boolean().default(true),
  /** Live mode: how long a partial batch may wait before it is sent. */
  lingerMs: z.number().int().min(0).default(50),
  /**
   * A lane holding fewer than `quietBatchRecords` records waits this long instead (live mode,
   * a trickle like the demo's 64 events/s): a request costs the same client CPU whatever it
   * carries. 0 turns it off. Event times are not affected, only when records are sent.
   */
  quietLingerMs: z.number().int().min(0).default(250),
  quietBatchRecords: positiveInt(100),
  /** Partitions per topic when this process creates the topics. */
  partitions: positiveInt(6),
  /** Full-jitter backoff of retriable send errors (lib/retry). */
  backoffBaseMs: positiveInt(100),
  backoffCapMs: positiveInt(10_000),
  /** Build the manifest while producing; with `manifestWindows`, also per device-window. */
  manifest: z.boolean().default(true),
  manifestWindows: z.boolean().default(true),
});

export type SimulatorConfig = z.output<typeof simulatorConfigSchema>;
export type SimulatorConfigInput = z.input<typeof simulatorConfigSchema>;

export function parseSimulatorConfig(input: unknown): SimulatorConfig {
  const config = parseComponentConfig('simulate', simulatorConfigSchema, input);
  if (config.fromMs !== undefined && config.toMs !== undefined && config.toMs <= config.fromMs) {
    throw new FleetgridError('CONFIG_INVALID', 'invalid simulate config: toMs must be after fromMs');
  }
  if (config.trucks + config.turbines + config.solar === 0) {
    throw new FleetgridError(
      'CONFIG_INVALID',
      'invalid simulate config: no devices (trucks, turbines, solar all 0)',
    );
  }
  return config;
}

// Re-exported: callers of this component's config read durations with the shared parser.
export { parseDuration };

/** Parses an ISO date-time (`2026-03-01T00:00:00Z`), `now`, `now-2h`, or epoch ms. */
export function parseTime(text: string, nowMs: number): number {
  const trimmed = text.trim();
  const relative = /^now(?:\s*-\s*(.+))?$/.exec(trimmed);
  if (relative) return relative[1] ? nowMs - parseDuration(relative[1]) : nowMs;
  if (/^\d{10,}$/.test(trimmed)) return Number(trimmed);
  const parsed = Date.parse(trimmed);
  if (Number.isNaN(parsed)) {
    throw new FleetgridError(
      'INVALID_ARGUMENT',
      `not a time: "${text}" (try 2026-03-01T00:00:00Z or now-2h)`,
    );
  }
  return parsed;
}

/** Parses `max`/`inf` (as fast as possible) or a positive number. */
export function parseSpeed(text: string): number | 'max' {
  if (/^(max|inf|infinity)$/i.test(text.trim())) return 'max';
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    throw new FleetgridError('INVALID_ARGUMENT', `--speed must be a positive number or "max", not "${text}"`);
  }
  return value;
}
