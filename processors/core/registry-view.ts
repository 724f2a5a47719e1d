/**
 * What the registry says about one device at one event time, as the partition core needs
 * it: the device version in force (or none), and its kind's alert rules with the
 * parameters in force (rules as data). Pure, over the join's table.
 *
 * Cost: a view is cached on the device and reused while the table's epoch is unchanged and
 * the event's ts lies inside the view's validity interval (the intersection of the
 * intervals of every registry row it read), so the common event pays one epoch read and
 * two comparisons; a registry change anywhere rebuilds each device's view once, at its
 * next event.
 */
import type { DeviceKind } from '../../lib/topics.ts';
import type { Device } from '../../registry/model.ts';
import { KIND_OF_SYMBOL, type RuleId } from '../../registry/rules.ts';
import type { RegistryTable } from '../../registry/table.ts';
import type { DeviceKindSymbol } from '../../schemas/types.ts';
import type { ActiveRule } from '../alerts/params.ts';
import { ruleWithParams } from '../alerts/params.ts';
import { ALERT_RULES, type AlertRule } from '../alerts/rules.ts';

export interface RegistryView {
  /** The table's epoch when the view was built: stale once it moved. */
  readonly epoch: number;
  /** Event-time interval [from, until) over which every answer below holds. */
  from: number;
  until: number;
  /** The device version in force; undefined: unknown to the registry then. */
  readonly device: Device | undefined;
  /** Its kind as telemetry names it (TRUCK…), compared with each event's. */
  readonly kind: DeviceKindSymbol | undefined;
  /** For a device unknown to the registry: the siteId its rules were resolved with (the event's). */
  readonly siteId: string;
  /** Enabled rules of the device's kind with their parameters in force; built on first use. */
  rules: readonly ActiveRule[] | null;
  /** Rule id → version of the deciding row (0 built-in), enabled or not; with `rules`. */
  versions: Readonly<Record<string, number>> | null;
}

const SYMBOL_OF_KIND = Object.fromEntries(
  Object.entries(KIND_OF_SYMBOL).map(([symbol, kind]) => [kind, symbol]),
) as Record<DeviceKind, DeviceKindSymbol>;

const RULES_BY_KIND: Record<DeviceKindSymbol, readonly AlertRule[]> = {
  TRUCK: ALERT_RULES.filter((r) => r.kind === 'TRUCK'),
  TURBINE: ALERT_RULES.filter((r) => r.kind === 'TURBINE'),
  SOLAR: ALERT_RULES.filter((r) => r.kind === 'SOLAR'),
};

export interface RegistryViews {
  /** The view of `deviceId` at `ts`: `cached` when still valid, else a new one (rules not yet resolved). */
  viewAt(deviceId: string, siteId: string, ts: number, cached: RegistryView | undefined): RegistryView;
  /** The view's rules, resolved at `ts` (inside the view's interval) on first use; narrows the interval. */
  rulesOf(view: RegistryView, deviceId: string, kind: DeviceKindSymbol, ts: number): readonly ActiveRule[];
}

export function isValidAt(view: RegistryView | undefined, epoch: number, ts: number): view is RegistryView {
  return view !== undefined && view.epoch === epoch && ts >= view.from && ts < view.until;
}

export function createRegistryViews(table: RegistryTable): RegistryViews {
  function viewAt(
    deviceId: string,
    siteId: string,
    ts: number,
    cached: RegistryView | undefined,
  ): RegistryView {
    const epoch = table.epoch();
    if (isValidAt(cached, epoch, ts) && (cached.device !== undefined || cached.siteId === siteId))
      return cached;
    const span = { from: Number.NEGATIVE_INFINITY, until: Number.POSITIVE_INFINITY };
    const device = table.deviceAt(deviceId, ts, span);
    const kind = device === undefined ? undefined : SYMBOL_OF_KIND[device.kind];
    return { epoch, from: span.from, until: span.until, device, kind, siteId, rules: null, versions: null };
  }

  function rulesOf(
    view: RegistryView,
    deviceId: string,
    kind: DeviceKindSymbol,
    ts: number,
  ): readonly ActiveRule[] {
    if (view.rules !== null) return view.rules;
    const device = view.device;
    // A device the registry does not know (accept policy) gets its kind's and site's rows, no model's.
    const subject = device ?? { id: deviceId, kind: KIND_OF_SYMBOL[kind], siteId: view.siteId, model: '' };
    const span = { from: view.from, until: view.until };
    const rules: ActiveRule[] = [];
    const versions: Record<string, number> = {};
    for (const base of RULES_BY_KIND[kind]) {
      const resolved = table.resolveRuleAt(base.id as RuleId, subject, ts, span);
      const version = resolved.source?.version ?? 0;
      versions[base.id] = version;
      if (resolved.enabled) rules.push({ rule: ruleWithParams(base, resolved.params, device), version });
    }
    view.from = span.from;
    view.until = span.until;
    view.rules = rules;
    view.versions = versions;
    return rules;
  }

  return { viewAt, rulesOf };
}
