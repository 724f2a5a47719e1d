/**
 * Implementation of PartitionCore (see index.ts for the contract and the semantics).
 *
 * Data layout, chosen for a partition holding ~1,000 devices × 1 h of retained windows:
 * - per device: its windows by start, its DeviceState, its alert machines;
 * - windows are also grouped in buckets by start (one bucket per window period), kept
 *   in a sorted array, so closing and evicting by stream time touches only the buckets
 *   that are due instead of scanning every device;
 * - heartbeat_lost is checked against a lower bound of the earliest deadline, so the
 *   full device scan runs about once per silence period, not per event.
 */
import { FleetgridError } from '../../lib/errors.ts';
import type { DeviceKindSymbol, DeviceState, RawEvent } from '../../schemas/types.ts';
import { type AlertEngine, createAlertEngine, type DeviceMachines } from '../alerts/engine.ts';
import type { ActiveRule } from '../alerts/params.ts';
import { ALERT_RULES_VERSION, type HeartbeatRule } from '../alerts/rules.ts';
import { copyDeviceState, createDeviceState, foldEvent } from '../state/device-state.ts';
import {
  addToWindow,
  createWindow,
  kindOf,
  restoreWindow,
  snapshotWindow,
  toAggregate,
  type WindowMath,
  type WindowSnapshot,
  type WindowState,
  windowEnergyKwh,
} from '../windows/window.ts';
import type { CoreConfig } from './config.ts';
import type { CoreOutput, CoreStats, PartitionCore } from './index.ts';
import type { CoreJoin } from './join.ts';
import { createRegistryViews, isValidAt, type RegistryView } from './registry-view.ts';

const DAY_MS = 86_400_000;
const SNAPSHOT_VERSION = 1;

interface DeviceRecord {
  readonly deviceId: string;
  readonly kind: DeviceKindSymbol;
  readonly windows: Map<number, WindowState>;
  readonly state: DeviceState;
  machines: DeviceMachines;
  /** UTC day (start, epoch ms) that state.energyTodayKwh refers to; -1 before the first window. */
  energyDay: number;
  // With a registry join:
  /** The registry's answer for the device's latest event (a cache, never checkpointed). */
  view: RegistryView | undefined;
  /** The rules the machines ran with at the newest event (undefined: the built-in ones). */
  active: readonly ActiveRule[] | undefined;
  /** The heartbeat rule among `active` (undefined: disabled, or no `active`). */
  heartbeat: HeartbeatRule | undefined;
  /** Their deciding rule rows' versions (0 built-in): checkpointed, checked on restore. */
  ruleVersions: Readonly<Record<string, number>> | undefined;
  /** The newest event was in maintenance: the machines skipped it, and forget their runs when it ends. */
  paused: boolean;
}

interface Bucket {
  readonly start: number;
  readonly members: DeviceRecord[];
}

interface DeviceSnapshot {
  state: DeviceState;
  machines: DeviceMachines;
  energyDay: number;
  windows: WindowSnapshot[];
  /** Versions of the rule rows the machines ran with (absent: the built-in rules, or no join). */
  rules?: Record<string, number>;
  /** In maintenance at its newest event. */
  paused?: true;
}

interface CoreSnapshot {
  v: number;
  rulesVersion: number;
  windowSizeMs: number;
  streamTime: number;
  maxEventTs: number;
  devices: DeviceSnapshot[];
  /** table.maxVersion() when the snapshot was taken; absent without a join (and in older snapshots). */
  registryVersion?: number;
}

export function snapshotRegistryVersion(snapshot: unknown): number {
  if (snapshot === null || typeof snapshot !== 'object') return 0;
  const version = (snapshot as { registryVersion?: unknown }).registryVersion;
  return typeof version === 'number' && Number.isFinite(version) && version > 0 ? version : 0;
}

/**
 * A device state for a checkpoint: the registry fields are left out while null (every
 * device without a registry join), which keeps snapshots of unregistered fleets as small as
 * before; restore puts the nulls back.
 */
function snapshotState(state: DeviceState): DeviceState {
  const copy: Partial<DeviceState> = copyDeviceState(state);
  if (copy.model === null) delete copy.model;
  if (copy.driverId === null) delete copy.driverId;
  return copy as DeviceState;
}

function emptyOutput(): CoreOutput {
  return { aggregates: [], alerts: [], deviceStates: [], rejected: [] };
}

export function createPartitionCoreImpl(
  config: CoreConfig,
  restored?: unknown,
  join?: CoreJoin,
): PartitionCore {
  const size = config.windowSizeMs;
  const math: WindowMath = {
    windowSizeMs: size,
    sampleIntervalMs: config.sampleIntervalMs,
    idleSpeedKmh: config.idleSpeedKmh,
  };
  const engine: AlertEngine = createAlertEngine();
  const views = join ? createRegistryViews(join.table) : undefined;
  /** The table's epoch up to which this core has judged registry changes' lateness. */
  let seenEpoch = join ? join.table.epoch() : 0;
  const heartbeatKinds = new Set(engine.rules.filter((r) => r.type === 'heartbeat').map((r) => r.kind));
  /**
   * The idle timer moves stream time at most this far past the newest event: enough to
   * close every open window and to notice a lost heartbeat, but not so far that a
   * producer that pauses for hours and resumes with event times continuing from before
   * (a replay, simulated time) would find all its events TOO_LATE. A longer silence set in
   * the registry raises it (while this core runs), so that heartbeat can fire when idle too.
   */
  let idleAdvanceCapMs = Math.max(
    size + config.graceMs,
    ...engine.rules.map((r) => (r.type === 'heartbeat' ? r.silenceMs : 0)),
  );
  const minSilenceMs = Math.min(
    ...engine.rules.map((r) => (r.type === 'heartbeat' ? r.silenceMs : Number.POSITIVE_INFINITY)),
  );
  const defaultHeartbeats: Partial<Record<DeviceKindSymbol, HeartbeatRule>> = {};
  for (const rule of engine.rules) if (rule.type === 'heartbeat') defaultHeartbeats[rule.kind] = rule;

  const devices = new Map<string, DeviceRecord>();
  const buckets = new Map<number, Bucket>();
  /** Bucket starts, ascending. Buckets before index `firstOpen` are closed (emitted). */
  const starts: number[] = [];
  let firstOpen = 0;
  let streamTime = 0;
  /** Max event ts applied: stream time without the idle timer's advances. */
  let maxEventTs = 0;
  /** Lower bound of the earliest heartbeat deadline of any device. */
  let nextHeartbeatCheck = Number.NEGATIVE_INFINITY;
  // Idleness, in processing time; not checkpointed (a restarted core measures afresh).
  let idleSince: number | null = null;
  let idleBaseStreamTime = 0;
  const counters = {
    applied: 0,
    duplicates: 0,
    late: 0,
    tooLate: 0,
    unknownDevices: 0,
    decommissionedIgnored: 0,
    maintenanceSuppressed: 0,
    lateRegistryChanges: 0,
  };

  function bucketFor(start: number): Bucket {
    let bucket = buckets.get(start);
    if (bucket) return bucket;
    bucket = { start, members: [] };
    buckets.set(start, bucket);
    // Almost always appended: events come roughly in time order.
    let at = starts.length;
    while (at > 0 && (starts[at - 1] as number) > start) at--;
    starts.splice(at, 0, start);
    if (at < firstOpen) firstOpen++;
    return bucket;
  }

  function newDevice(event: RawEvent, kind: DeviceKindSymbol): DeviceRecord {
    const v = event.value;
    const device: DeviceRecord = {
      deviceId: v.deviceId,
      kind,
      windows: new Map(),
      state: createDeviceState(v.deviceId, v.siteId, kind),
      machines: {},
      energyDay: -1,
      view: undefined,
      active: undefined,
      heartbeat: undefined,
      ruleVersions: undefined,
      paused: false,
    };
    devices.set(v.deviceId, device);
    return device;
  }

  function isDue(start: number): boolean {
    return start + size + config.graceMs <= streamTime;
  }

  function emit(device: DeviceRecord, window: WindowState, out: CoreOutput): void {
    if (!join) {
      out.aggregates.push(toAggregate(window, device.deviceId, device.state.siteId, math));
      return;
    }
    // Enriched with the registry in force at the window's last event.
    const at = window.lastEventTs;
    const registered = isValidAt(device.view, join.table.epoch(), at)
      ? device.view.device
      : join.table.deviceAt(device.deviceId, at);
    const aggregate = toAggregate(window, device.deviceId, registered?.siteId ?? device.state.siteId, math);
    if (registered) {
      aggregate.model = registered.model;
      aggregate.driverId = registered.driverId;
    }
    out.aggregates.push(aggregate);
  }

  /** The device's heartbeat rule in force at its newest event, if enabled. */
  function heartbeatOf(device: DeviceRecord): HeartbeatRule | undefined {
    return device.active === undefined ? defaultHeartbeats[device.kind] : device.heartbeat;
  }

  function setActive(device: DeviceRecord, active: readonly ActiveRule[]): void {
    if (active === device.active) return;
    device.active = active;
    device.heartbeat = undefined;
    for (const { rule } of active) if (rule.type === 'heartbeat') device.heartbeat = rule;
    if (device.heartbeat && device.heartbeat.silenceMs > idleAdvanceCapMs)
      idleAdvanceCapMs = device.heartbeat.silenceMs;
  }

  /**
   * Whether heartbeat_lost may be raised for the device now: only if it is in service at
   * the deadline (not in maintenance, decommissioned or gone; an unregistered device
   * accepted by policy stays watched).
   */
  function mayRaiseHeartbeat(device: DeviceRecord): boolean {
    if (!join) return true;
    const rule = heartbeatOf(device);
    if (rule === undefined) return true;
    const deadline = device.state.lastSeen + rule.silenceMs;
    if (streamTime < deadline) return true;
    const registered = join.table.deviceAt(device.deviceId, deadline);
    if (registered === undefined) return device.view !== undefined && device.view.device === undefined;
    return registered.status === 'active';
  }

  /**
   * Counts the registry changes this core had not seen yet whose change point stream time
   * has already reached: events at or after it may have been judged by the older version,
   * and a replay (which sees the change first) would judge them by the newer one.
   */
  function noteRegistryChanges(epoch: number): void {
    if (!join || epoch === seenEpoch) return;
    if (streamTime > 0)
      for (const point of join.table.changePointsSince(seenEpoch))
        if (point <= streamTime) counters.lateRegistryChanges++;
    seenEpoch = epoch;
  }

  /** Emits revision 0 of every window whose end + grace stream time has reached, oldest first. */
  function closeDue(out: CoreOutput): void {
    while (firstOpen < starts.length && isDue(starts[firstOpen] as number)) {
      const bucket = buckets.get(starts[firstOpen] as number) as Bucket;
      // Sorted so the output order does not depend on arrival order or on a restore.
      const members = bucket.members.slice().sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1));
      for (const device of members) {
        const window = device.windows.get(bucket.start) as WindowState;
        if (window.revision >= 0) continue;
        window.revision = 0;
        emit(device, window, out);
      }
      firstOpen++;
    }
  }

  /** Drops windows that no acceptable event can reach any more: end <= streamTime - maxLateness. */
  function evict(): void {
    const horizon = streamTime - config.maxLatenessMs;
    while (starts.length > 0 && (starts[0] as number) + size <= horizon) {
      const start = starts.shift() as number;
      const bucket = buckets.get(start) as Bucket;
      for (const device of bucket.members) device.windows.delete(start);
      buckets.delete(start);
      if (firstOpen > 0) firstOpen--;
    }
  }

  function checkHeartbeats(out: CoreOutput, changed: Set<DeviceRecord>): void {
    if (streamTime < nextHeartbeatCheck) return;
    let next = Number.POSITIVE_INFINITY;
    for (const device of devices.values()) {
      if (!heartbeatKinds.has(device.kind) || !mayRaiseHeartbeat(device)) continue;
      const before = out.alerts.length;
      const due = engine.onStreamTime(
        device.state,
        device.machines,
        device.state.lastSeen,
        device.state.engineOn === true,
        streamTime,
        out.alerts,
        device.active,
      );
      if (due < next) next = due;
      if (out.alerts.length > before) {
        device.state.openAlerts = engine.openRules(device.machines);
        changed.add(device);
      }
    }
    nextHeartbeatCheck = next;
  }

  function advanceTo(time: number, out: CoreOutput, changed: Set<DeviceRecord>): void {
    if (time <= streamTime) return;
    streamTime = time;
    closeDue(out);
    evict();
    checkHeartbeats(out, changed);
  }

  function flushStates(out: CoreOutput, changed: Set<DeviceRecord>): void {
    for (const device of changed) out.deviceStates.push(copyDeviceState(device.state));
  }

  /** Keeps energyTodayKwh equal to the sum of the energy of the device's windows of its newest UTC day. */
  function trackEnergy(device: DeviceRecord, window: WindowState, delta: number): void {
    const day = Math.floor(window.start / DAY_MS) * DAY_MS;
    if (day === device.energyDay) {
      device.state.energyTodayKwh = (device.state.energyTodayKwh ?? 0) + delta;
    } else if (day > device.energyDay) {
      device.energyDay = day;
      let total = 0;
      for (const w of device.windows.values()) {
        if (w.start >= day && w.start < day + DAY_MS) total += windowEnergyKwh(w, math);
      }
      device.state.energyTodayKwh = total;
    }
  }

  function apply(event: RawEvent, nowMs?: number): CoreOutput {
    const out = applyEvent(event);
    // Any event, even a duplicate or a rejected one, shows the partition is not idle.
    idleSince = nowMs ?? null;
    idleBaseStreamTime = streamTime;
    return out;
  }

  function reject(out: CoreOutput, event: RawEvent, error: FleetgridError): CoreOutput {
    out.rejected.push({ event, error });
    return out;
  }

  function applyEvent(event: RawEvent): CoreOutput {
    const out = emptyOutput();
    const v = event.value;
    const epoch = join ? join.table.epoch() : 0;
    if (epoch !== seenEpoch) noteRegistryChanges(epoch);
    if (streamTime > 0 && v.ts < streamTime - config.maxLatenessMs) {
      counters.tooLate++;
      out.rejected.push({
        event,
        error: new FleetgridError(
          'TOO_LATE',
          `${event.type} ${v.deviceId} at ${new Date(v.ts).toISOString()} is ${streamTime - v.ts} ms behind stream time; max lateness is ${config.maxLatenessMs} ms`,
          { details: { deviceId: v.deviceId, eventId: v.eventId, ts: v.ts, streamTime } },
        ),
      });
      return out;
    }
    const kind = kindOf(event);
    const known = devices.get(v.deviceId);
    let view: RegistryView | undefined;
    if (join && views) {
      const cached = known?.view;
      // The common case inline (a registered device, its view still valid): the join's whole cost.
      if (
        cached !== undefined &&
        cached.device !== undefined &&
        cached.epoch === epoch &&
        v.ts >= cached.from &&
        v.ts < cached.until
      )
        view = cached;
      else {
        view = views.viewAt(v.deviceId, v.siteId, v.ts, cached);
        if (known) known.view = view;
      }
      const registered = view.device;
      if (registered === undefined) {
        counters.unknownDevices++;
        if (join.unknownDevice === 'quarantine')
          return reject(
            out,
            event,
            new FleetgridError(
              'UNKNOWN_DEVICE',
              `${event.type} of device ${v.deviceId}, which the registry does not know at ${new Date(v.ts).toISOString()}`,
              { details: { deviceId: v.deviceId, eventId: v.eventId, ts: v.ts } },
            ),
          );
      } else if (registered.status === 'decommissioned') {
        counters.decommissionedIgnored++;
        return out;
      } else if (view.kind !== kind) {
        return reject(
          out,
          event,
          new FleetgridError(
            'DEVICE_KIND_MISMATCH',
            `${event.type} of device ${v.deviceId}, which the registry has as a ${registered.kind}`,
            { details: { deviceId: v.deviceId, eventId: v.eventId, registeredKind: registered.kind } },
          ),
        );
      }
    }
    const device = known ?? newDevice(event, kind);
    if (view) device.view = view;
    if (kind !== device.kind) {
      out.rejected.push({
        event,
        error: new FleetgridError(
          'DECODE_UNEXPECTED_TYPE',
          `${event.type} for device ${v.deviceId}, which is a ${device.kind}`,
          { details: { deviceId: v.deviceId, eventId: v.eventId } },
        ),
      });
      return out;
    }
    const start = Math.floor(v.ts / size) * size;
    let window = device.windows.get(start);
    if (!window) {
      window = createWindow(device.kind, start);
      device.windows.set(start, window);
      bucketFor(start).members.push(device);
    }
    const energyBefore = device.kind === 'TRUCK' ? 0 : windowEnergyKwh(window, math);
    if (!addToWindow(window, event, math)) {
      counters.duplicates++;
      return out;
    }
    counters.applied++;
    const maintenance = view?.device?.status === 'maintenance';
    if (maintenance) counters.maintenanceSuppressed++;
    const changed = new Set<DeviceRecord>([device]);
    if (window.revision >= 0 || isDue(start)) {
      // Late: the window was already emitted (or was due before it existed); re-emit it now.
      window.revision++;
      counters.late++;
      emit(device, window, out);
    }
    if (device.kind !== 'TRUCK') trackEnergy(device, window, windowEnergyKwh(window, math) - energyBefore);
    if (foldEvent(device.state, event)) {
      if (view && views) {
        // The device state carries the registry in force at its newest event.
        device.state.siteId = view.device?.siteId ?? v.siteId;
        device.state.model = view.device?.model ?? null;
        device.state.driverId = view.device?.driverId ?? null;
        setActive(device, views.rulesOf(view, device.deviceId, device.kind, v.ts));
        device.ruleVersions = view.versions ?? undefined;
      }
      if (maintenance) {
        // In maintenance: no alert transitions; open alerts stay open until it ends.
        device.paused = true;
      } else {
        if (device.paused) {
          engine.forgetRuns(device.machines);
          device.paused = false;
        }
        // Alert machines see each device's events in event-time order; older ones only feed windows.
        const before = out.alerts.length;
        engine.onEvent(device.state, device.machines, event, out.alerts, device.active);
        if (out.alerts.length > before) device.state.openAlerts = engine.openRules(device.machines);
      }
      if (heartbeatKinds.has(device.kind) && device.state.engineOn === true) {
        const silenceMs = heartbeatOf(device)?.silenceMs ?? minSilenceMs;
        nextHeartbeatCheck = Math.min(nextHeartbeatCheck, device.state.lastSeen + silenceMs);
      }
    }
    if (v.ts > maxEventTs) maxEventTs = v.ts;
    advanceTo(v.ts, out, changed);
    flushStates(out, changed);
    return out;
  }

  function onTimer(nowMs: number): CoreOutput {
    const out = emptyOutput();
    if (join) noteRegistryChanges(join.table.epoch());
    if (idleSince === null) {
      idleSince = nowMs;
      idleBaseStreamTime = streamTime;
      return out;
    }
    const idleMs = nowMs - idleSince;
    if (idleMs < config.idleTimeoutMs || streamTime === 0) return out;
    const changed = new Set<DeviceRecord>();
    advanceTo(Math.min(idleBaseStreamTime + idleMs, maxEventTs + idleAdvanceCapMs), out, changed);
    flushStates(out, changed);
    return out;
  }

  function holdIdle(nowMs: number): void {
    idleSince = nowMs;
    idleBaseStreamTime = streamTime;
  }

  function snapshot(): CoreSnapshot {
    const list: DeviceSnapshot[] = [];
    for (const device of devices.values()) {
      const windows: WindowSnapshot[] = [];
      for (const window of device.windows.values()) windows.push(snapshotWindow(window));
      list.push({
        state: snapshotState(device.state),
        machines: structuredClone(device.machines),
        energyDay: device.energyDay,
        windows,
        ...(device.ruleVersions ? { rules: { ...device.ruleVersions } } : {}),
        ...(device.paused ? { paused: true as const } : {}),
      });
    }
    return {
      v: SNAPSHOT_VERSION,
      rulesVersion: ALERT_RULES_VERSION,
      windowSizeMs: size,
      streamTime,
      maxEventTs,
      devices: list,
      ...(join ? { registryVersion: join.table.maxVersion() } : {}),
    };
  }

  /**
   * A restored device's machines ran with the rule rows recorded in the snapshot; the table
   * now says which rows are in force at the device's newest event. A machine whose rule row
   * changed (or that ran with the built-in parameters, now differing) would be read under
   * other parameters: it starts afresh instead, like a machine of another ALERT_RULES_VERSION.
   */
  function reconcileRules(device: DeviceRecord, recorded: Record<string, number> | undefined): void {
    if (!views) return;
    const at = device.state.lastSeen;
    const view = views.viewAt(device.deviceId, device.state.siteId, at, undefined);
    const active = views.rulesOf(view, device.deviceId, device.kind, at);
    const now = view.versions ?? {};
    for (const ruleId of Object.keys(device.machines)) {
      const was = recorded?.[ruleId] ?? 0;
      const is = now[ruleId] ?? 0;
      // A row with the built-in parameters (the seed's kind rows) means what the built-in rule meant.
      if (was === is || (was === 0 && isBuiltIn(active, ruleId))) continue;
      delete device.machines[ruleId];
    }
    device.state.openAlerts = engine.openRules(device.machines);
    device.view = view;
    setActive(device, active);
    device.ruleVersions = now;
  }

  function isBuiltIn(active: readonly ActiveRule[], ruleId: string): boolean {
    const found = active.find((a) => a.rule.id === ruleId);
    return found !== undefined && engine.rules.includes(found.rule);
  }

  function restore(input: unknown): void {
    const s = input as Partial<CoreSnapshot> | null;
    if (!s || typeof s !== 'object' || s.v !== SNAPSHOT_VERSION || !Array.isArray(s.devices)) {
      throw new FleetgridError('INVALID_ARGUMENT', 'not a processor core snapshot of version 1');
    }
    if (s.windowSizeMs !== size) {
      throw new FleetgridError(
        'INVALID_ARGUMENT',
        `snapshot windows are ${s.windowSizeMs} ms, config says ${size} ms: reset the checkpoints to change the window size`,
      );
    }
    streamTime = s.streamTime ?? 0;
    maxEventTs = s.maxEventTs ?? streamTime;
    // Machines written under other rules would be misread: those devices start their machines afresh.
    const keepMachines = s.rulesVersion === ALERT_RULES_VERSION;
    for (const d of s.devices) {
      const state = copyDeviceState({
        ...d.state,
        model: d.state.model ?? null,
        driverId: d.state.driverId ?? null,
      });
      const device: DeviceRecord = {
        deviceId: state.deviceId,
        kind: state.kind,
        windows: new Map(),
        state,
        machines: keepMachines ? structuredClone(d.machines) : {},
        energyDay: d.energyDay,
        view: undefined,
        active: undefined,
        heartbeat: undefined,
        ruleVersions: undefined,
        paused: d.paused === true,
      };
      if (!keepMachines) state.openAlerts = [];
      else if (join) reconcileRules(device, d.rules);
      devices.set(device.deviceId, device);
      for (const ws of d.windows) {
        const window = restoreWindow(device.kind, ws);
        device.windows.set(window.start, window);
        bucketFor(window.start).members.push(device);
      }
    }
    firstOpen = 0;
    while (firstOpen < starts.length && isDue(starts[firstOpen] as number)) firstOpen++;
  }

  if (restored !== undefined && restored !== null) restore(restored);

  return {
    apply,
    onTimer,
    holdIdle,
    get streamTime() {
      return streamTime;
    },
    snapshot,
    stats(): CoreStats {
      let open = 0;
      let retained = 0;
      let dedupEntries = 0;
      for (const device of devices.values()) {
        for (const window of device.windows.values()) {
          if (window.revision < 0) open++;
          else retained++;
          dedupEntries += window.seqs.length / 2;
        }
      }
      return {
        openWindows: open,
        retainedWindows: retained,
        devices: devices.size,
        dedupEntries,
        ...counters,
      };
    },
  };
}
