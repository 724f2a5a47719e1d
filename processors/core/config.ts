/**
 * Options of the pure processor cores (windows, alerts, device state). Validated once:
 * unknown keys are rejected, defaults follow docs/design.md §3 (1 min windows, 30 s grace, 1 h
 * max lateness).
 */
import { z } from 'zod';
import { parseComponentConfig } from '../../lib/config.ts';

const HOUR_MS = 3_600_000;

const millis = z.number().int().nonnegative();

export const coreConfigSchema = z
  .strictObject({
    /** Tumbling window size; must divide an hour so minute windows nest into hourly and daily rollups. */
    windowSizeMs: millis.positive().default(60_000),
    /** How long after a window's end (in stream time) it stays open for out-of-order events. */
    graceMs: millis.default(30_000),
    /** Events older than stream time minus this are rejected as TOO_LATE; emitted windows are retained this long. */
    maxLatenessMs: millis.default(HOUR_MS),
    /** Processing time without any event after which the idle timer starts advancing stream time. */
    idleTimeoutMs: millis.positive().default(10_000),
    /**
     * Nominal interval between two samples of one device. A window's covered time is
     * `min(size, lastEventTs - firstEventTs + sampleIntervalMs)`: the last sample stands for one interval.
     */
    sampleIntervalMs: millis.positive().default(1_000),
    /** A truck whose engine is on below this speed is idling. */
    idleSpeedKmh: z.number().nonnegative().default(3),
  })
  .refine((c) => HOUR_MS % c.windowSizeMs === 0, {
    message: 'windowSizeMs must divide one hour (3600000) so windows nest into hourly rollups',
    path: ['windowSizeMs'],
  })
  .refine((c) => c.maxLatenessMs >= c.windowSizeMs + c.graceMs, {
    message: 'maxLatenessMs must be at least windowSizeMs + graceMs',
    path: ['maxLatenessMs'],
  });

export type CoreConfig = z.output<typeof coreConfigSchema>;

export const DEFAULT_CORE_CONFIG: CoreConfig = Object.freeze(coreConfigSchema.parse({}));

export function parseCoreConfig(input: unknown): CoreConfig {
  return parseComponentConfig('processors.core', coreConfigSchema, input);
}
