/**
 * The manifest: what a simulation sent, so tests and load tests can reconcile what comes
 * out downstream. Pure: feed it every OutboundMessage in the order it was handed to the
 * producer, then `build()`.
 *
 * Per device: messages sent, distinct events, seq range, duplicates and injected faults.
 * Per device-window (tumbling, epoch-aligned, 60 s by default, by event time `ts` as
 * sent, i.e. including clock skew): event count and count/min/max/sum of every numeric
 * field of the telemetry records — clean events only (every distinct event once;
 * duplicates and poison left out), which is exactly what docs/design.md §3 says the newest
 * window revision must hold once every late event arrived.
 * Values are float32-rounded where the schema says `float`, as a consumer decodes them.
 */
import { type DeviceKind, RAW_TOPIC_KEYS } from '../lib/topics.ts';
import { RECORD_TOPICS } from '../schemas/catalog.ts';
import { FIELD_RANGES } from '../schemas/validate.ts';
import type { RawEvent } from '../schemas/types.ts';
import { emptyFaultCounts, type FaultCounts, type FaultSpec } from './faults.ts';
import type { OutboundMessage } from './types.ts';

export const MANIFEST_VERSION = 1;
export const DEFAULT_MANIFEST_WINDOW_MS = 60_000;

export interface FieldSummary {
  count: number;
  min: number;
  max: number;
  sum: number;
}

export interface DeviceManifest {
  deviceId: string;
  kind: DeviceKind;
  siteId: string;
  /** Kafka records sent with this key: events + duplicates + poison. */
  messages: number;
  /** Distinct device events (each seq once). */
  events: number;
  firstSeq: number | null;
  lastSeq: number | null;
  duplicates: number;
  eventsByType: Record<string, number>;
  faults: {
    late: number;
    outOfOrder: number;
    poison: number;
    legacyEvents: number;
    skewMs: number;
  };
}

export interface WindowManifest {
  deviceId: string;
  kind: DeviceKind;
  windowStart: number;
  windowEnd: number;
  /** Distinct clean events of any type in the window. */
  eventCount: number;
  /** Field summaries over the telemetry records of the window. */
  fields: Record<string, FieldSummary>;
}

export interface Manifest {
  version: number;
  seed: number;
  faults: FaultSpec;
  windowSizeMs: number;
  /** Event-time range of the clean events, epoch ms. */
  firstTs: number | null;
  lastTs: number | null;
  totals: {
    messages: number;
    events: number;
    duplicates: number;
    poison: number;
    byKind: Record<DeviceKind, { messages: number; events: number }>;
    faults: FaultCounts;
  };
  devices: Record<string, DeviceManifest>;
  /** Sorted by deviceId, then windowStart. Empty when windows were not requested. */
  windows: WindowManifest[];
}

export interface ManifestOptions {
  seed: number;
  faults: FaultSpec;
  windowSizeMs?: number;
  /** Per-window summaries cost memory in long runs; load tests may only want totals. */
  windows?: boolean;
  /** Devices known up front (so idle devices appear too) with their clock skew. */
  devices?: readonly { deviceId: string; kind: DeviceKind; siteId: string; skewMs: number }[];
}

export interface ManifestBuilder {
  record(message: OutboundMessage): void;
  build(): Manifest;
}

/** Numeric fields per record type: the ones docs/design.md §3 windows summarise. */
export const NUMERIC_FIELDS: Record<RawEvent['type'], readonly string[]> = Object.fromEntries(
  Object.entries(FIELD_RANGES).map(([type, ranges]) => [type, Object.keys(ranges)]),
) as unknown as Record<RawEvent['type'], readonly string[]>;

export function createManifestBuilder(options: ManifestOptions): ManifestBuilder {
  const windowSizeMs = options.windowSizeMs ?? DEFAULT_MANIFEST_WINDOW_MS;
  const withWindows = options.windows ?? true;
  const devices = new Map<string, DeviceManifest>();
  const windows = new Map<string, WindowManifest>();
  const counts = emptyFaultCounts();
  const byKind: Record<DeviceKind, { messages: number; events: number }> = {
    truck: { messages: 0, events: 0 },
    turbine: { messages: 0, events: 0 },
    solar: { messages: 0, events: 0 },
  };
  let messages = 0;
  let events = 0;
  let duplicates = 0;
  let poison = 0;
  let firstTs: number | null = null;
  let lastTs: number | null = null;

  const deviceOf = (deviceId: string, kind: DeviceKind, siteId: string): DeviceManifest => {
    let device = devices.get(deviceId);
    if (!device) {
      device = {
        deviceId,
        kind,
        siteId,
        messages: 0,
        events: 0,
        firstSeq: null,
        lastSeq: null,
        duplicates: 0,
        eventsByType: {},
        faults: { late: 0, outOfOrder: 0, poison: 0, legacyEvents: 0, skewMs: 0 },
      };
      devices.set(deviceId, device);
    }
    return device;
  };
  for (const known of options.devices ?? []) {
    const device = deviceOf(known.deviceId, known.kind, known.siteId);
    device.faults.skewMs = known.skewMs;
    if (known.skewMs !== 0) counts.skewedDevices++;
  }

  function addToWindow(message: OutboundMessage): void {
    const { event } = message;
    const ts = event.value.ts;
    const windowStart = Math.floor(ts / windowSizeMs) * windowSizeMs;
    const key = `${message.key}\u0000${windowStart}`;
    let window = windows.get(key);
    if (!window) {
      window = {
        deviceId: message.key,
        kind: message.kind,
        windowStart,
        windowEnd: windowStart + windowSizeMs,
        eventCount: 0,
        fields: {},
      };
      windows.set(key, window);
    }
    window.eventCount++;
    const record = event.value as unknown as Record<string, unknown>;
    for (const field of NUMERIC_FIELDS[event.type]) {
      const value = record[field];
      if (typeof value !== 'number') continue;
      const summary = window.fields[field];
      if (summary) {
        summary.count++;
        if (value < summary.min) summary.min = value;
        if (value > summary.max) summary.max = value;
        summary.sum += value;
      } else {
        window.fields[field] = { count: 1, min: value, max: value, sum: value };
      }
    }
  }

  return {
    record(message) {
      const { event } = message;
      const device = deviceOf(message.key, message.kind, event.value.siteId);
      messages++;
      device.messages++;
      byKind[message.kind].messages++;
      if (message.class === 'poison') {
        poison++;
        device.faults.poison++;
        if (message.poison) counts.poison[message.poison]++;
        return;
      }
      if (message.class === 'duplicate') {
        duplicates++;
        device.duplicates++;
        counts.duplicates++;
        return;
      }
      events++;
      device.events++;
      byKind[message.kind].events++;
      device.eventsByType[event.type] = (device.eventsByType[event.type] ?? 0) + 1;
      const { seq, ts } = event.value;
      if (device.firstSeq === null || seq < device.firstSeq) device.firstSeq = seq;
      if (device.lastSeq === null || seq > device.lastSeq) device.lastSeq = seq;
      if (firstTs === null || ts < firstTs) firstTs = ts;
      if (lastTs === null || ts > lastTs) lastTs = ts;
      if (message.delivery === 'late') {
        counts.late++;
        device.faults.late++;
      } else if (message.delivery === 'out-of-order') {
        counts.outOfOrder++;
        device.faults.outOfOrder++;
      }
      if (message.legacy) {
        counts.legacyEvents++;
        device.faults.legacyEvents++;
      }
      if (withWindows) addToWindow(message);
    },
    build() {
      const sortedDevices = [...devices.values()].sort((a, b) => a.deviceId.localeCompare(b.deviceId));
      const sortedWindows = [...windows.values()].sort(
        (a, b) => a.deviceId.localeCompare(b.deviceId) || a.windowStart - b.windowStart,
      );
      return {
        version: MANIFEST_VERSION,
        seed: options.seed,
        faults: options.faults,
        windowSizeMs,
        firstTs,
        lastTs,
        totals: {
          messages,
          events,
          duplicates,
          poison,
          byKind: structuredClone(byKind),
          faults: structuredClone(counts),
        },
        devices: Object.fromEntries(
          sortedDevices.map((device) => [device.deviceId, structuredClone(device)]),
        ),
        windows: structuredClone(sortedWindows),
      };
    },
  };
}

/**
 * The manifest of events read back (from Kafka, a table, a DLQ replay): each distinct
 * eventId counts once, as a clean event; repeats count as duplicates. Comparing its
 * `windows` and `devices` with the producer's manifest reconciles a pipeline stage; in the
 * same per-device order the sums are even bit-identical.
 */
export function manifestOfEvents(
  events: Iterable<RawEvent>,
  options: Omit<ManifestOptions, 'devices'> = { seed: 0, faults: emptyFaultSpec() },
): Manifest {
  const builder = createManifestBuilder(options);
  const seen = new Set<string>();
  for (const event of events) {
    const kind = RECORD_TOPICS[event.type] as DeviceKind;
    if (!(RAW_TOPIC_KEYS as readonly string[]).includes(kind)) continue;
    const repeat = seen.has(event.value.eventId);
    seen.add(event.value.eventId);
    builder.record({
      kind,
      key: event.value.deviceId,
      class: repeat ? 'duplicate' : 'clean',
      event,
      poison: null,
      garbage: null,
      delivery: null,
      legacy: false,
    });
  }
  return builder.build();
}

function emptyFaultSpec(): FaultSpec {
  return { late: 0, ooo: 0, dup: 0, poison: 0, skew: 0, v1: 0 };
}

/** The manifest as JSON; NaN never occurs in clean events, so plain JSON is exact. */
export function manifestToJson(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 1)}\n`;
}
