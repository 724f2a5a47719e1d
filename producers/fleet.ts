/**
 * The fleet, pure: N devices per kind stepped in event-time order, with fault injection.
 * No I/O and no timers; the caller says up to which simulated time to generate.
 *
 * Devices tick at their kind's sampling interval, each from a random phase and with a
 * ±2 % jitter per tick (real device clocks are neither aligned nor exact). A min-heap on
 * the next tick time steps them in time order, so the output is (apart from injected
 * faults) ordered by event time across the fleet and strictly by seq per device.
 *
 * Determinism: every device draws from its own generators keyed by (seed, deviceId,
 * purpose), and event ids hash (seed, start time, deviceId, seq): the same options give
 * the same messages in the same order, and a device's stream does not depend on how many
 * other devices run.
 */
import type { DeviceKind } from '../lib/topics.ts';
import type { RawEvent } from '../schemas/types.ts';
import {
  corruptEvent,
  emptyFaultCounts,
  FAULT_LIMITS,
  type FaultCounts,
  type FaultSpec,
  garbageBytes,
  NO_FAULTS,
  POISON_FLAVORS,
} from './faults.ts';
import { MinHeap } from './heap.ts';
import type { DeviceIdentity, StepResult } from './models/common.ts';
import { ROUTES } from './models/routes.ts';
import { RATED_POWER_KW, TURBINE_MODEL } from '../domain/index.ts';
import { createSolarArray, SOLAR_MODEL, SOLAR_SITES, type SolarState, stepSolar } from './models/solar.ts';
import { createTruck, type DriverProfile, stepTruck, TRUCK_MODELS, type TruckState } from './models/truck.ts';
import { createTurbine, stepTurbine, type TurbineState, WIND_SITES } from './models/turbine.ts';
import { deviceRng, hashString, type Rng } from './rng.ts';
import type { OutboundMessage } from './types.ts';

export type DeviceModelState = TruckState | TurbineState | SolarState;

export interface FleetOptions {
  seed: number;
  trucks: number;
  turbines: number;
  solar: number;
  /** Sampling interval per kind, ms. */
  intervalMs: Record<DeviceKind, number>;
  /** Simulated start time, epoch ms. */
  startMs: number;
  faults?: FaultSpec;
  /** Share of trucks with a refrigerated hold (they write cargoTempC). */
  refrigeratedShare?: number;
  /** Per-tick clock jitter as a share of the interval. */
  clockJitter?: number;
}

export interface DeviceInfo {
  deviceId: string;
  kind: DeviceKind;
  siteId: string;
  /** Clock skew of the device, ms (0 unless the skew fault picked it). */
  skewMs: number;
  legacySchema: boolean;
  refrigerated: boolean;
  /** What the fleet registry records about the device (registry/seed.ts): model name, and rated power. */
  model: string;
  /** Turbines: rated electrical power, kW; null for other kinds. */
  ratedKw: number | null;
  /** Solar arrays: DC peak power, kWp; null for other kinds. */
  kwp: number | null;
}

interface DeviceSlot {
  info: DeviceInfo;
  index: number;
  state: DeviceModelState;
  model: Rng;
  clock: Rng;
  fault: Rng;
  intervalMs: number;
  nextTickMs: number;
  /** Counter for the ids of this device's poison messages. */
  poisonCount: number;
}

export interface Fleet {
  readonly devices: readonly DeviceInfo[];
  /** Simulated time of the next device tick or held-message release. */
  nextDueMs(): number;
  /**
   * Appends to `out` the messages of every tick due up to `untilMs` (inclusive), stopping
   * once `maxEvents` new device events were produced (exactly: a step's surplus events
   * are dropped and the device is stopped there). Returns the number of new device events.
   */
  generate(untilMs: number, maxEvents: number, out: OutboundMessage[]): number;
  /** Releases every held (late, out-of-order, duplicate) message: call once at the end. */
  drain(out: OutboundMessage[]): number;
  /** Counts of everything injected so far. */
  faultCounts(): FaultCounts;
  /** Device events produced so far (clean messages, whether sent yet or held). */
  eventsGenerated(): number;
  /** Messages held back for late delivery right now. */
  heldMessages(): number;
}

/** A site of the simulated fleet: a depot (where its routes start), a wind farm or a solar park. */
export interface FleetSite {
  siteId: string;
  kind: DeviceKind;
  lat: number;
  lon: number;
  /** Depots: the city their routes start from. */
  city: string | null;
}

/** Every site the simulator can place devices at, in the order devices are spread over them. */
export function fleetSites(): FleetSite[] {
  const depots = new Map<string, FleetSite>();
  for (const route of ROUTES) {
    const start = route.cities[0];
    if (start && !depots.has(route.depotId))
      depots.set(route.depotId, {
        siteId: route.depotId,
        kind: 'truck',
        lat: start.lat,
        lon: start.lon,
        city: start.name,
      });
  }
  return [
    ...depots.values(),
    ...WIND_SITES.map((site) => ({
      siteId: site.siteId,
      kind: 'turbine' as const,
      lat: site.lat,
      lon: site.lon,
      city: null,
    })),
    ...SOLAR_SITES.map((site) => ({
      siteId: site.siteId,
      kind: 'solar' as const,
      lat: site.lat,
      lon: site.lon,
      city: null,
    })),
  ];
}

const DRIVER_PROFILES: readonly DriverProfile[] = ['calm', 'normal', 'normal', 'normal', 'aggressive'];

export function deviceIdOf(kind: DeviceKind, index: number): string {
  return `${kind}-${String(index + 1).padStart(5, '0')}`;
}

export function createFleet(options: FleetOptions): Fleet {
  const faults = options.faults ?? NO_FAULTS;
  const jitter = options.clockJitter ?? 0.02;
  const refrigeratedShare = options.refrigeratedShare ?? 0.3;
  // Ids depend on the start too: two live runs with the same seed must not share event ids.
  const idSeed = hashString(String(options.startMs), options.seed);
  const counts = emptyFaultCounts();
  const slots: DeviceSlot[] = [];
  const schedule = new MinHeap<DeviceSlot>();
  const held = new MinHeap<OutboundMessage>();
  let events = 0;

  const addDevice = (kind: DeviceKind, index: number) => {
    const deviceId = deviceIdOf(kind, index);
    const setup = deviceRng(options.seed, deviceId, 'setup');
    const model = deviceRng(options.seed, deviceId, 'model');
    const intervalMs = options.intervalMs[kind];
    const firstTickMs = options.startMs + Math.floor(setup.next() * intervalMs);
    const skewed = setup.chance(faults.skew);
    const skewMs = skewed ? Math.round(setup.uniform(FAULT_LIMITS.skewMs[0], FAULT_LIMITS.skewMs[1])) : 0;
    if (skewed) counts.skewedDevices++;
    // The model's clock starts one interval before the first tick, so the first step is a full one.
    const startMs = firstTickMs - intervalMs;
    let state: DeviceModelState;
    let siteId: string;
    let legacySchema = false;
    let refrigerated = false;
    let modelName: string;
    let ratedKw: number | null = null;
    let kwp: number | null = null;
    if (kind === 'truck') {
      const routeIndex = index % ROUTES.length;
      const route = ROUTES[routeIndex] as (typeof ROUTES)[number];
      siteId = route.depotId;
      refrigerated = setup.chance(refrigeratedShare);
      legacySchema = !refrigerated && setup.chance(faults.v1);
      const identity: DeviceIdentity = { deviceId, siteId, idKey: hashString(deviceId, idSeed) };
      state = createTruck(
        { identity, startMs, routeIndex, profile: setup.pick(DRIVER_PROFILES), refrigerated, legacySchema },
        model,
      );
      modelName = refrigerated ? TRUCK_MODELS.refrigerated : TRUCK_MODELS.dry;
    } else if (kind === 'turbine') {
      const site = WIND_SITES[index % WIND_SITES.length] as (typeof WIND_SITES)[number];
      siteId = site.siteId;
      const identity: DeviceIdentity = { deviceId, siteId, idKey: hashString(deviceId, idSeed) };
      state = createTurbine({ identity, startMs, site, siteKey: hashString(siteId, options.seed) }, model);
      modelName = TURBINE_MODEL;
      ratedKw = RATED_POWER_KW;
    } else {
      const site = SOLAR_SITES[index % SOLAR_SITES.length] as (typeof SOLAR_SITES)[number];
      siteId = site.siteId;
      const identity: DeviceIdentity = { deviceId, siteId, idKey: hashString(deviceId, idSeed) };
      state = createSolarArray({ identity, startMs, site, siteKey: hashString(siteId, options.seed) }, model);
      modelName = SOLAR_MODEL;
      kwp = state.dcRatedW / 1000;
    }
    const slot: DeviceSlot = {
      info: { deviceId, kind, siteId, skewMs, legacySchema, refrigerated, model: modelName, ratedKw, kwp },
      index: slots.length,
      state,
      model,
      clock: deviceRng(options.seed, deviceId, 'clock'),
      fault: deviceRng(options.seed, deviceId, 'faults'),
      intervalMs,
      nextTickMs: firstTickMs,
      poisonCount: 0,
    };
    slots.push(slot);
    schedule.push(firstTickMs, slot);
  };
  for (let i = 0; i < options.trucks; i++) addDevice('truck', i);
  for (let i = 0; i < options.turbines; i++) addDevice('turbine', i);
  for (let i = 0; i < options.solar; i++) addDevice('solar', i);

  const anyDeliveryFault = faults.late > 0 || faults.ooo > 0 || faults.dup > 0 || faults.poison > 0;

  function step(slot: DeviceSlot): StepResult<DeviceModelState> {
    const dtMs = slot.nextTickMs - slot.state.timeMs;
    switch (slot.state.kind) {
      case 'truck':
        return stepTruck(slot.state, dtMs, slot.model);
      case 'turbine':
        return stepTurbine(slot.state, dtMs, slot.model);
      default:
        return stepSolar(slot.state, dtMs, slot.model);
    }
  }

  function emit(slot: DeviceSlot, event: RawEvent, out: OutboundMessage[]): void {
    const { info } = slot;
    const legacy = info.legacySchema && event.type === 'TruckTelemetry';
    if (legacy) counts.legacyEvents++;
    const message: OutboundMessage = {
      kind: info.kind,
      key: info.deviceId,
      class: 'clean',
      event,
      poison: null,
      garbage: null,
      delivery: null,
      legacy,
    };
    if (!anyDeliveryFault) {
      out.push(message);
      return;
    }
    const rng = slot.fault;
    const ts = event.value.ts;
    if (rng.chance(faults.poison)) {
      const flavor = rng.pick(POISON_FLAVORS);
      counts.poison[flavor]++;
      out.push({
        ...message,
        class: 'poison',
        poison: flavor,
        legacy: false,
        event:
          flavor === 'out-of-range'
            ? corruptEvent(event, slot.state.identity.idKey, slot.poisonCount++, rng)
            : event,
        garbage: flavor === 'garbage' ? garbageBytes(rng) : null,
      });
    }
    if (rng.chance(faults.late)) {
      counts.late++;
      held.push(ts + rng.uniform(...FAULT_LIMITS.lateDelayMs), { ...message, delivery: 'late' });
    } else if (rng.chance(faults.ooo)) {
      counts.outOfOrder++;
      held.push(ts + rng.uniform(...FAULT_LIMITS.oooDelayMs), { ...message, delivery: 'out-of-order' });
    } else {
      out.push(message);
    }
    if (rng.chance(faults.dup)) {
      counts.duplicates++;
      held.push(ts + rng.uniform(...FAULT_LIMITS.dupDelayMs), {
        ...message,
        class: 'duplicate',
        delivery: null,
      });
    }
  }

  function withSkew(event: RawEvent, skewMs: number): RawEvent {
    return skewMs === 0
      ? event
      : ({ type: event.type, value: { ...event.value, ts: event.value.ts + skewMs } } as RawEvent);
  }

  const releaseHeld = (untilMs: number, out: OutboundMessage[]) => {
    let released = 0;
    while (held.size > 0 && held.peekKey() <= untilMs) {
      out.push(held.pop() as OutboundMessage);
      released++;
    }
    return released;
  };

  return {
    devices: slots.map((slot) => slot.info),
    nextDueMs: () => Math.min(schedule.peekKey(), held.peekKey()),
    generate(untilMs, maxEvents, out) {
      let produced = 0;
      while (produced < maxEvents) {
        const tickMs = schedule.peekKey();
        // Held messages due before the next tick go first, so they land in time order.
        if (held.size > 0) releaseHeld(Math.min(tickMs, untilMs), out);
        if (tickMs > untilMs) break;
        const slot = schedule.peek() as DeviceSlot;
        const lastSeqBefore = slot.state.lastSeq;
        const result = step(slot);
        slot.state = result.state;
        const room = maxEvents - produced;
        const emitted = result.events.length <= room ? result.events : result.events.slice(0, room);
        for (const event of emitted) emit(slot, withSkew(event, slot.info.skewMs), out);
        produced += emitted.length;
        if (emitted.length < result.events.length) {
          // The budget ended mid-step: keep the device's seq gap-free by not stepping it again.
          slot.state = {
            ...slot.state,
            lastSeq: emitted.at(-1)?.value.seq ?? lastSeqBefore,
          } as DeviceModelState;
          schedule.pop();
          continue;
        }
        const drift = 1 + jitter * (2 * slot.clock.next() - 1);
        slot.nextTickMs += Math.max(1, Math.round(slot.intervalMs * drift));
        schedule.replaceTop(slot.nextTickMs, slot);
      }
      events += produced;
      return produced;
    },
    drain(out) {
      return releaseHeld(Number.POSITIVE_INFINITY, out);
    },
    faultCounts: () => structuredClone(counts),
    eventsGenerated: () => events,
    heldMessages: () => held.size,
  };
}
