/**
 * Runs the alert rules of rules.ts: one small state machine per device and rule, fed the
 * device's events in event-time order, and the partition's stream time for
 * heartbeat_lost. Machine state is plain JSON (checkpointed with the core). Transitions
 * carry a deterministic alertId — hash of rule, deviceId and raise time — so a replay
 * re-derives the same alerts instead of new ones.
 */
import { createHash } from 'node:crypto';
import { expectedPowerKw, RATED_POWER_KW } from '../../domain/power-curve.ts';
import type { Alert, DeviceKindSymbol, RawEvent } from '../../schemas/types.ts';
import type { ActiveRule } from './params.ts';
import {
  ALERT_RULES,
  type AlertRule,
  type DropRule,
  type PowerCurveRule,
  type Predicate,
  type SustainedRule,
} from './rules.ts';

/** Raised flag and raise time: shared by every machine that has a lasting RAISED state. */
interface Lasting {
  raised: boolean;
  raisedAt: number;
}
interface SustainedState extends Lasting {
  runStart: number | null;
  runSamples: number;
}
interface DropState {
  prevTs: number | null;
  prevValue: number;
}
type HeartbeatState = Lasting;
interface PowerCurveState extends Lasting {
  periodStart: number | null;
  powerSum: number;
  windSum: number;
  samples: number;
  allInStatus: boolean;
}
export type MachineState = SustainedState | DropState | HeartbeatState | PowerCurveState;
/** Machines of one device, by rule id; created lazily on first use. */
export type DeviceMachines = Record<string, MachineState>;

export interface AlertSubject {
  deviceId: string;
  siteId: string;
  kind: DeviceKindSymbol;
  model?: string | null;
  driverId?: string | null;
}

/** Deterministic alert id: a UUID-shaped SHA-256 of rule, device and raise time. */
export function alertIdOf(rule: string, deviceId: string, raisedAt: number): string {
  const hex = createHash('sha256').update(`${rule}\u0000${deviceId}\u0000${raisedAt}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function fieldOf(event: RawEvent, field: string): number | null {
  const value = (event.value as unknown as Record<string, unknown>)[field];
  return typeof value === 'number' ? value : null;
}

function holds(event: RawEvent, predicates: readonly Predicate[]): boolean {
  for (const p of predicates) {
    const v = fieldOf(event, p.field);
    if (v === null) return false;
    switch (p.op) {
      case '>':
        if (!(v > p.value)) return false;
        break;
      case '>=':
        if (!(v >= p.value)) return false;
        break;
      case '<':
        if (!(v < p.value)) return false;
        break;
      case '<=':
        if (!(v <= p.value)) return false;
        break;
    }
  }
  return true;
}

function thresholdOf(predicates: readonly Predicate[], field: string): number | null {
  return predicates.find((p) => p.field === field)?.value ?? null;
}

export interface AlertEngine {
  readonly rules: readonly AlertRule[];
  /**
   * Feeds one distinct event of the device, in event-time order, to its kind's rules:
   * `active` (the rules with the parameters in force for the device at the event's time,
   * enabled ones only: a disabled rule is absent and raises nothing), else the built-in ones.
   */
  onEvent(
    subject: AlertSubject,
    machines: DeviceMachines,
    event: RawEvent,
    out: Alert[],
    active?: readonly ActiveRule[],
  ): void;
  /**
   * Checks heartbeat rules of a device against stream time. Returns the stream time at
   * which this device next needs checking (Infinity if none), so callers scan rarely.
   */
  onStreamTime(
    subject: AlertSubject,
    machines: DeviceMachines,
    lastSeen: number,
    engineOn: boolean,
    streamTime: number,
    out: Alert[],
    active?: readonly ActiveRule[],
  ): number;
  /** Rule ids currently RAISED for the device, sorted. */
  openRules(machines: DeviceMachines): string[];
  /**
   * After a pause in what the machines saw (the device was in maintenance): partial runs,
   * previous samples and unfinished periods are forgotten, raised alerts stay open (they
   * resolve by their rule as usual), so no run spans the pause.
   */
  forgetRuns(machines: DeviceMachines): void;
}

export function createAlertEngine(rules: readonly AlertRule[] = ALERT_RULES): AlertEngine {
  const byKind: Record<DeviceKindSymbol, ActiveRule[]> = { TRUCK: [], TURBINE: [], SOLAR: [] };
  for (const rule of rules) byKind[rule.kind].push({ rule, version: 0 });
  /** Version of the rule row deciding the rule being run: set per call, read by transition(). */
  let version = 0;

  function transition(
    rule: AlertRule,
    subject: AlertSubject,
    state: 'RAISED' | 'RESOLVED',
    raisedAt: number,
    ts: number,
    value: number | null,
    threshold: number | null,
    message: string,
  ): Alert {
    return {
      alertId: alertIdOf(rule.id, subject.deviceId, raisedAt),
      rule: rule.id,
      deviceId: subject.deviceId,
      siteId: subject.siteId,
      kind: subject.kind,
      model: subject.model ?? null,
      driverId: subject.driverId ?? null,
      state,
      severity: rule.severity,
      raisedAt,
      resolvedAt: state === 'RESOLVED' ? ts : null,
      ts,
      value,
      threshold,
      message,
      ruleVersion: version,
    };
  }

  function sustained(
    rule: SustainedRule,
    subject: AlertSubject,
    machines: DeviceMachines,
    event: RawEvent,
    out: Alert[],
  ): void {
    let m = machines[rule.id] as SustainedState | undefined;
    if (m === undefined) {
      m = {
        raised: false,
        raisedAt: 0,
        runStart: null,
        runSamples: 0,
      };
      machines[rule.id] = m;
    }
    const ts = event.value.ts;
    const value = fieldOf(event, rule.valueField);
    // A sample without the measured field (cargoTempC of a dry truck) says nothing.
    if (value === null) return;
    if (m.raised) {
      if (holds(event, rule.resolveWhen)) {
        m.raised = false;
        out.push(
          transition(
            rule,
            subject,
            'RESOLVED',
            m.raisedAt,
            ts,
            value,
            thresholdOf(rule.resolveWhen, rule.valueField),
            `${rule.id} resolved: ${rule.valueField} ${value}`,
          ),
        );
      }
      return;
    }
    if (!holds(event, rule.when)) {
      m.runStart = null;
      m.runSamples = 0;
      return;
    }
    if (m.runStart === null) m.runStart = ts;
    m.runSamples++;
    if (ts - m.runStart >= rule.forMs && m.runSamples >= rule.minSamples) {
      m.raised = true;
      m.raisedAt = ts;
      m.runStart = null;
      m.runSamples = 0;
      out.push(
        transition(
          rule,
          subject,
          'RAISED',
          ts,
          ts,
          value,
          thresholdOf(rule.when, rule.valueField),
          `${rule.description}: ${rule.valueField} ${value}`,
        ),
      );
    }
  }

  function drop(
    rule: DropRule,
    subject: AlertSubject,
    machines: DeviceMachines,
    event: RawEvent,
    out: Alert[],
  ) {
    let m = machines[rule.id] as DropState | undefined;
    if (m === undefined) {
      m = { prevTs: null, prevValue: 0 };
      machines[rule.id] = m;
    }
    const value = fieldOf(event, rule.field);
    if (value === null) return;
    const ts = event.value.ts;
    if (m.prevTs !== null && ts > m.prevTs && ts - m.prevTs <= rule.maxGapMs) {
      const fall = m.prevValue - value;
      if (fall >= rule.minDrop) {
        const message = `${rule.description}: ${rule.field} ${m.prevValue} → ${value} in ${ts - m.prevTs} ms`;
        out.push(transition(rule, subject, 'RAISED', ts, ts, fall, rule.minDrop, message));
        out.push(transition(rule, subject, 'RESOLVED', ts, ts, fall, rule.minDrop, message));
      }
    }
    m.prevTs = ts;
    m.prevValue = value;
  }

  function judgePeriod(rule: PowerCurveRule, subject: AlertSubject, m: PowerCurveState, out: Alert[]): void {
    if (m.periodStart === null || m.samples < rule.minSamples || !m.allInStatus) return;
    const meanPower = m.powerSum / m.samples;
    const curveKw = expectedPowerKw(m.windSum / m.samples);
    const expected = rule.ratedKw === undefined ? curveKw : (curveKw * rule.ratedKw) / RATED_POWER_KW;
    if (expected < rule.minExpectedKw) return;
    const ratio = meanPower / expected;
    const at = m.periodStart + rule.periodMs;
    const percent = `${Math.round(ratio * 100)} % of ${Math.round(expected)} kW`;
    if (!m.raised && ratio < rule.raiseBelowRatio) {
      m.raised = true;
      m.raisedAt = at;
      out.push(
        transition(
          rule,
          subject,
          'RAISED',
          at,
          at,
          meanPower,
          expected * rule.raiseBelowRatio,
          `${rule.description}: ${percent}`,
        ),
      );
    } else if (m.raised && ratio >= rule.resolveAtOrAboveRatio) {
      m.raised = false;
      out.push(
        transition(
          rule,
          subject,
          'RESOLVED',
          m.raisedAt,
          at,
          meanPower,
          expected * rule.resolveAtOrAboveRatio,
          `${rule.id} resolved: ${percent}`,
        ),
      );
    }
  }

  function powerCurve(
    rule: PowerCurveRule,
    subject: AlertSubject,
    machines: DeviceMachines,
    event: RawEvent,
    out: Alert[],
  ): void {
    if (event.type !== 'TurbineTelemetry') return;
    let m = machines[rule.id] as PowerCurveState | undefined;
    if (m === undefined) {
      m = {
        raised: false,
        raisedAt: 0,
        periodStart: null,
        powerSum: 0,
        windSum: 0,
        samples: 0,
        allInStatus: true,
      };
      machines[rule.id] = m;
    }
    const t = event.value;
    const period = Math.floor(t.ts / rule.periodMs) * rule.periodMs;
    if (m.periodStart !== period) {
      // The first sample of a later period closes the previous one (events come in event-time order).
      judgePeriod(rule, subject, m, out);
      m.periodStart = period;
      m.powerSum = 0;
      m.windSum = 0;
      m.samples = 0;
      m.allInStatus = true;
    }
    m.powerSum += t.powerKw;
    m.windSum += t.windSpeedMs;
    m.samples++;
    if (t.status !== rule.status) m.allInStatus = false;
  }

  return {
    rules,
    onEvent(subject, machines, event, out, active = byKind[subject.kind]) {
      for (const { rule, version: ruleVersion } of active) {
        version = ruleVersion;
        switch (rule.type) {
          case 'sustained':
            if (event.type === rule.record) sustained(rule, subject, machines, event, out);
            break;
          case 'drop':
            if (event.type === rule.record) drop(rule, subject, machines, event, out);
            break;
          case 'powerCurve':
            powerCurve(rule, subject, machines, event, out);
            break;
          case 'heartbeat': {
            const m = machines[rule.id] as HeartbeatState | undefined;
            if (m?.raised) {
              m.raised = false;
              // The silence may have been detected on another device's clock; never resolve before raising.
              const ts = Math.max(event.value.ts, m.raisedAt);
              out.push(
                transition(
                  rule,
                  subject,
                  'RESOLVED',
                  m.raisedAt,
                  ts,
                  null,
                  rule.silenceMs,
                  `${rule.id} resolved: event received`,
                ),
              );
            }
            break;
          }
        }
      }
    },
    onStreamTime(subject, machines, lastSeen, engineOn, streamTime, out, active = byKind[subject.kind]) {
      let next = Number.POSITIVE_INFINITY;
      for (const { rule, version: ruleVersion } of active) {
        if (rule.type !== 'heartbeat') continue;
        version = ruleVersion;
        let m = machines[rule.id] as HeartbeatState | undefined;
        if (m === undefined) {
          m = { raised: false, raisedAt: 0 };
          machines[rule.id] = m;
        }
        if (m.raised || !engineOn) continue;
        const deadline = lastSeen + rule.silenceMs;
        if (streamTime >= deadline) {
          m.raised = true;
          m.raisedAt = deadline;
          out.push(
            transition(rule, subject, 'RAISED', deadline, deadline, null, rule.silenceMs, rule.description),
          );
        } else if (deadline < next) next = deadline;
      }
      return next;
    },
    forgetRuns(machines) {
      for (const [id, m] of Object.entries(machines)) {
        if (!(m as Partial<Lasting>).raised) {
          delete machines[id];
          continue;
        }
        const raised = m as Lasting & Partial<SustainedState & PowerCurveState>;
        if (raised.runStart !== undefined) {
          raised.runStart = null;
          raised.runSamples = 0;
        }
        if (raised.periodStart !== undefined) raised.periodStart = null;
      }
    },
    openRules(machines) {
      const open: string[] = [];
      for (const [id, m] of Object.entries(machines)) if ((m as Partial<Lasting>).raised) open.push(id);
      return open.sort();
    },
  };
}
