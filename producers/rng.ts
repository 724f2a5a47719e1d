/**
 * Seeded randomness for the simulators. Every device owns its own generators, derived
 * from (seed, deviceId, purpose), so a device produces the same stream whatever the size
 * of the fleet or the order in which devices are stepped, and fault injection never
 * shifts a model's draws.
 *
 * The generator is mulberry32: 32 bits of state, one multiply-xorshift per draw, passes
 * the usual statistical batteries well enough for simulation, and is tiny. Event ids are
 * not drawn from it: they are a hash of (device key, seq), so a resend repeats its id
 * and an id never depends on how many random numbers a model used.
 */

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [min, max). */
  uniform(min: number, max: number): number;
  /** Integer in [0, n). */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** Standard normal (mean 0, sd 1), Box-Muller. */
  normal(): number;
  /** Exponential with the given mean. */
  exponential(mean: number): number;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** A raw 32-bit unsigned integer. */
  uint32(): number;
}

/** A mulberry32 generator; `seed` is any 32-bit integer. */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  let spareNormal: number | undefined;
  const uint32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const next = (): number => uint32() / 4_294_967_296;
  return {
    next,
    uint32,
    uniform: (min, max) => min + (max - min) * next(),
    int: (n) => Math.floor(next() * n),
    chance: (p) => p > 0 && next() < p,
    normal() {
      if (spareNormal !== undefined) {
        const value = spareNormal;
        spareNormal = undefined;
        return value;
      }
      // 1 - next() is in (0, 1], so the logarithm is finite.
      const radius = Math.sqrt(-2 * Math.log(1 - next()));
      const angle = 2 * Math.PI * next();
      spareNormal = radius * Math.sin(angle);
      return radius * Math.cos(angle);
    },
    exponential: (mean) => -mean * Math.log(1 - next()),
    pick<T>(items: readonly T[]): T {
      return items[Math.floor(next() * items.length)] as T;
    },
  };
}

/** FNV-1a over a string, then a murmur3 finaliser: a well-spread 32-bit hash. */
export function hashString(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

/** The murmur3 32-bit finaliser: every input bit affects every output bit. */
export function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A generator for one purpose of one device: independent of every other (seed, id, purpose). */
export function deviceRng(seed: number, deviceId: string, purpose: string): Rng {
  return createRng(hashString(`${deviceId}\u0000${purpose}`, seed));
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex32(value: number): string {
  return (
    (HEX[(value >>> 24) & 0xff] as string) +
    (HEX[(value >>> 16) & 0xff] as string) +
    (HEX[(value >>> 8) & 0xff] as string) +
    (HEX[value & 0xff] as string)
  );
}

/**
 * A UUID (RFC 9562 version 8, "custom") derived from a device key and a sequence number:
 * the same seed gives the same ids, and a duplicate of an event carries its id.
 * `salt` separates id spaces (poison messages use their own).
 */
export function eventUuid(deviceKey: number, seq: number, salt = 0): string {
  const low = seq >>> 0;
  const high = Math.floor(seq / 4_294_967_296) >>> 0;
  const a = mix32(deviceKey ^ Math.imul(low, 0x9e3779b1) ^ salt);
  const b = mix32(a ^ high ^ 0x27d4eb2f);
  const c = mix32(b ^ deviceKey ^ 0x165667b1);
  const d = mix32(c ^ low ^ 0xd3a2646c);
  // Version nibble 8 and variant bits 10, as RFC 9562 requires.
  const b2 = ((b & 0xffff0fff) | 0x00008000) >>> 0;
  const c2 = ((c & 0x3fffffff) | 0x80000000) >>> 0;
  const bs = hex32(b2);
  const cs = hex32(c2);
  return `${hex32(a)}-${bs.slice(0, 4)}-${bs.slice(4)}-${cs.slice(0, 4)}-${cs.slice(4)}${hex32(d)}`;
}
