/**
 * Fault injection, pure: `--faults late=0.01,ooo=0.02,dup=0.01,poison=0.001,skew=0.1,v1=0.2`.
 *
 * Per-event probabilities (each clean event draws independently):
 *   late   — held back and sent 1 to 15 minutes of simulated time later (after its window
 *            closed, within the 1 h maximum lateness of docs/design.md §3);
 *   ooo    — held back 2 to 10 s, so later events of the same device overtake it;
 *   dup    — sent again (same eventId and seq) 0 to 5 s later, as after a lost ack;
 *   poison — an extra message next to the event: garbage bytes, a valid body framed with
 *            a schema id the registry does not know, a body cut in half, or a valid Avro
 *            event with an impossible value (NaN, latitude > 90, a time in 1970 or 2100).
 *            It uses no seq.
 * Per-device shares (drawn once per device):
 *   skew   — the device clock is off by -10 min .. +2 min (never more than the 5 min of
 *            future that validation allows); its events carry the skewed time;
 *   v1     — trucks without a refrigerated hold that still write TruckTelemetry v1.
 * Every injection is counted in FaultCounts, which the manifest repeats.
 */
import { FleetgridError } from '../lib/errors.ts';
import { eventUuid, type Rng } from './rng.ts';
import type { RawEvent } from '../schemas/types.ts';
import type { PoisonFlavor } from './types.ts';

export interface FaultSpec {
  late: number;
  ooo: number;
  dup: number;
  poison: number;
  skew: number;
  v1: number;
}

export const NO_FAULTS: FaultSpec = { late: 0, ooo: 0, dup: 0, poison: 0, skew: 0, v1: 0 };

export const FAULT_LIMITS = {
  lateDelayMs: [60_000, 15 * 60_000] as const,
  oooDelayMs: [2_000, 10_000] as const,
  dupDelayMs: [0, 5_000] as const,
  skewMs: [-10 * 60_000, 2 * 60_000] as const,
} as const;

/** A schema id far above anything a registry hands out: decoders must report it unknown. */
export const UNKNOWN_SCHEMA_ID_BASE = 2_000_000_000;
/** Salt of the event ids of out-of-range poison, so they never equal a clean event's. */
export const POISON_ID_SALT = 0x5eed_bad0;

export interface FaultCounts {
  late: number;
  outOfOrder: number;
  duplicates: number;
  poison: Record<PoisonFlavor, number>;
  /** Devices whose clock is skewed. */
  skewedDevices: number;
  /** Events written with the legacy v1 schema. */
  legacyEvents: number;
}

export function emptyFaultCounts(): FaultCounts {
  return {
    late: 0,
    outOfOrder: 0,
    duplicates: 0,
    poison: { garbage: 0, 'unknown-schema': 0, truncated: 0, 'out-of-range': 0 },
    skewedDevices: 0,
    legacyEvents: 0,
  };
}

const KEYS = Object.keys(NO_FAULTS) as (keyof FaultSpec)[];

/**
 * Parses `late=0.01,dup=2%,…`. Values are probabilities in [0, 1] or percentages; unknown
 * names and values out of range are refused with every problem listed.
 */
export function parseFaultSpec(text: string | undefined): FaultSpec {
  const spec = { ...NO_FAULTS };
  if (!text || text.trim() === '' || text.trim() === 'none') return spec;
  const problems: string[] = [];
  for (const part of text.split(',')) {
    const trimmed = part.trim();
    if (!trimmed) continue;
    const [name, raw] = trimmed.split('=', 2).map((s) => s.trim());
    if (!name || raw === undefined) {
      problems.push(`"${trimmed}" is not name=value`);
      continue;
    }
    if (!(KEYS as string[]).includes(name)) {
      problems.push(`unknown fault "${name}" (known: ${KEYS.join(', ')})`);
      continue;
    }
    const value = raw.endsWith('%') ? Number(raw.slice(0, -1)) / 100 : Number(raw);
    if (!Number.isFinite(value) || value < 0 || value > 1) {
      problems.push(`${name}=${raw} is not a probability in [0, 1] (or a percentage)`);
      continue;
    }
    spec[name as keyof FaultSpec] = value;
  }
  if (problems.length > 0) throw new FleetgridError('INVALID_ARGUMENT', `--faults: ${problems.join('; ')}`);
  return spec;
}

export function formatFaultSpec(spec: FaultSpec): string {
  const parts = KEYS.filter((key) => spec[key] > 0).map((key) => `${key}=${spec[key]}`);
  return parts.length > 0 ? parts.join(',') : 'none';
}

const FAR_FUTURE_MS = Date.UTC(2100, 0, 1);

/**
 * An event that decodes but must be refused: one impossible value. Its id is fresh
 * (salted), its seq the original's, so a deduplicator never mistakes it for the real one.
 */
export function corruptEvent(event: RawEvent, idKey: number, counter: number, rng: Rng): RawEvent {
  const eventId = eventUuid(idKey, counter, POISON_ID_SALT);
  const choice = rng.int(3);
  if (choice === 0) {
    // Device clock reset to 1970, or a clock far in the future.
    return {
      ...event,
      value: { ...event.value, eventId, ts: rng.chance(0.5) ? 0 : FAR_FUTURE_MS },
    } as RawEvent;
  }
  switch (event.type) {
    case 'TruckTelemetry':
      return {
        type: 'TruckTelemetry',
        value:
          choice === 1
            ? { ...event.value, eventId, lat: 90 + rng.uniform(1, 90) }
            : { ...event.value, eventId, speedKmh: Number.NaN },
      };
    case 'TurbineTelemetry':
      return {
        type: 'TurbineTelemetry',
        value:
          choice === 1
            ? { ...event.value, eventId, windSpeedMs: -rng.uniform(1, 20) }
            : { ...event.value, eventId, vibrationMmS: Number.NaN },
      };
    case 'SolarTelemetry':
      return {
        type: 'SolarTelemetry',
        value:
          choice === 1
            ? { ...event.value, eventId, irradianceWm2: rng.uniform(2_500, 9_000) }
            : { ...event.value, eventId, acPowerW: Number.NaN },
      };
    default:
      return { ...event, value: { ...event.value, eventId, ts: FAR_FUTURE_MS } } as RawEvent;
  }
}

/** Bytes that are not Confluent-framed Avro: the first byte is never the 0x00 magic byte. */
export function garbageBytes(rng: Rng): Uint8Array {
  const bytes = new Uint8Array(8 + rng.int(57));
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(256);
  bytes[0] = 1 + rng.int(255);
  return bytes;
}

export const POISON_FLAVORS: readonly PoisonFlavor[] = [
  'garbage',
  'unknown-schema',
  'truncated',
  'out-of-range',
];
