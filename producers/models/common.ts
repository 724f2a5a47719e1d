/**
 * What every device model shares: the identity and sequence stamp of an event, the
 * float32 rounding of Avro `float` fields, and the weather every site lives in.
 *
 * A model is a pure step function `(state, dtMs, rng) → { state, events }`: the time
 * comes in as `dtMs`, randomness from the injected generator, and the returned state is
 * a new object (the old one is left as it was), so a test can replay or fork a device.
 */
import { eventUuid, type Rng } from '../rng.ts';
import type { RawEvent, RawEventBase } from '../../schemas/types.ts';

export interface DeviceIdentity {
  deviceId: string;
  siteId: string;
  /** Hash of (seed, deviceId): the key of the device's event ids. */
  idKey: number;
}

/** State fields common to every model. */
export interface DeviceClock {
  identity: DeviceIdentity;
  /** Event time of the device's clock, epoch ms. */
  timeMs: number;
  /** The seq of the last event emitted; the first event gets lastSeq + 1 = 0. */
  lastSeq: number;
}

export interface StepResult<S> {
  state: S;
  events: RawEvent[];
}

export type StepFunction<S> = (state: S, dtMs: number, rng: Rng) => StepResult<S>;

/**
 * The base fields of a device's event number `seq`. The id is a function of
 * (device, seq), so a duplicate repeats both.
 */
export function stamp(identity: DeviceIdentity, ts: number, seq: number): RawEventBase {
  return {
    eventId: eventUuid(identity.idKey, seq),
    deviceId: identity.deviceId,
    siteId: identity.siteId,
    ts,
    seq,
  };
}

/** Avro `float` is 32-bit: round here so the event equals what a consumer decodes. */
export const f32 = Math.fround;

export function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}

/** Moves `current` toward `target` as a first-order lag with time constant `tauMs`. */
export function approach(current: number, target: number, dtMs: number, tauMs: number): number {
  return target + (current - target) * Math.exp(-dtMs / tauMs);
}

const DAY_MS = 86_400_000;

/** Hours of local solar time (0..24) at a longitude: no time-zone tables needed. */
export function solarHour(timeMs: number, lonDeg: number): number {
  const utcHours = (((timeMs % DAY_MS) + DAY_MS) % DAY_MS) / 3_600_000;
  return (((utcHours + lonDeg / 15) % 24) + 24) % 24;
}

/**
 * Outdoor air temperature (°C): a seasonal mean for the latitude plus a daily cycle
 * peaking at 15:00 solar time. Deterministic: all devices of a site feel the same air.
 */
export function ambientTempC(timeMs: number, latDeg: number, lonDeg: number): number {
  const dayOfYear = Math.floor(timeMs / DAY_MS) % 365.25;
  // Mid-July is summer in the north, mid-January in the south.
  const season = Math.cos((2 * Math.PI * (dayOfYear - 196)) / 365.25) * (latDeg >= 0 ? 1 : -1);
  // Roughly 27 °C at the equator, 18 °C at 37°, 10 °C at 48°, 5 °C at 55°.
  const annualMean = 28 - 0.0075 * latDeg * latDeg;
  const seasonalSwing = 0.25 * Math.abs(latDeg);
  const daily = 5 * Math.cos((2 * Math.PI * (solarHour(timeMs, lonDeg) - 15)) / 24);
  return annualMean + seasonalSwing * season + daily;
}

/**
 * Smooth deterministic noise of time: values drawn per `periodMs` node from `key` and
 * blended with a cosine, so every device of a site can read the same slowly varying
 * weather (cloudiness, synoptic wind) without sharing state. Returns [0, 1).
 */
export function valueNoise(key: number, timeMs: number, periodMs: number): number {
  const position = timeMs / periodMs;
  const node = Math.floor(position);
  const t = position - node;
  const a = nodeValue(key, node);
  const b = nodeValue(key, node + 1);
  const w = (1 - Math.cos(Math.PI * t)) / 2;
  return a + (b - a) * w;
}

function nodeValue(key: number, node: number): number {
  let h =
    (key ^ Math.imul(node | 0, 0x9e3779b1) ^ Math.imul(Math.floor(node / 4_294_967_296), 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return (h >>> 0) / 4_294_967_296;
}
