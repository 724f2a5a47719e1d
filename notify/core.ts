/**
 * The notifier's pure core (docs/alerts.md): how an alert record of `telemetry.alerts`
 * becomes an Alertmanager v2 alert, which alerts are open, and when each is due again.
 * No I/O, no clock, no Kafka types: runner.ts feeds it records and `now` values.
 *
 * Why the open set exists: Alertmanager resolves an alert by itself once `resolve_timeout`
 * passed without news of it (the alert is posted without endsAt). An alert that is still
 * RAISED must therefore be posted again well within that time, and only the notifier knows
 * which alerts are still raised.
 *
 * Why labels are fixed at the raise: Alertmanager identifies an alert by its label set. The
 * registry fields (site name, model, plate) may change while an alert is open; the resend
 * and the resolution must carry the labels of the raise, or they would be another alert.
 */
import type { Alert } from '../schemas/types.ts';

/** One alert as Alertmanager's `POST /api/v2/alerts` takes it (PostableAlert). */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  /** Only on a resolution: a firing alert without endsAt lives for resolve_timeout. */
  endsAt?: string;
  generatorURL: string;
}

/** What the registry knows about an alert's device and site; every field optional. */
export interface RegistryFacts {
  siteName?: string | undefined;
  model?: string | undefined;
  plate?: string | undefined;
  driverId?: string | undefined;
}

/** The value of the `source` label: what tells fleetgrid's alerts from Prometheus' own. */
export const SOURCE_LABEL = 'fleetgrid';

/** The link to the device's page of the dashboard, under the API's public URL. */
export function deviceLink(publicUrl: string, deviceId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/devices/${encodeURIComponent(deviceId)}`;
}

/**
 * The labels of an alert: what Alertmanager routes, groups, inhibits and silences by.
 * `alertId` is part of them so that a resolution ends exactly its raise, and two raises of a
 * rule on one device (after a resolution) are two alerts.
 */
export function alertLabels(alert: Alert, facts: RegistryFacts | undefined): Record<string, string> {
  const labels: Record<string, string> = {
    alertname: alert.rule,
    severity: alert.severity.toLowerCase(),
    deviceId: alert.deviceId,
    siteId: alert.siteId,
    kind: alert.kind.toLowerCase(),
    alertId: alert.alertId,
    source: SOURCE_LABEL,
  };
  // Alertmanager drops labels with empty values; so do we, explicitly.
  if (facts?.siteName) labels.siteName = facts.siteName;
  if (facts?.model) labels.model = facts.model;
  if (facts?.plate) labels.plate = facts.plate;
  if (facts?.driverId) labels.driverId = facts.driverId;
  return labels;
}

/** Numbers as text without float noise (Alertmanager annotations are strings). */
function number(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

export function alertAnnotations(alert: Alert, publicUrl: string): Record<string, string> {
  const annotations: Record<string, string> = {
    summary: alert.message,
    message: alert.message,
    link: deviceLink(publicUrl, alert.deviceId),
  };
  if (alert.value !== null) annotations.value = number(alert.value);
  if (alert.threshold !== null) annotations.threshold = number(alert.threshold);
  return annotations;
}

/** The Alertmanager alert for one record: firing for RAISED, with endsAt for RESOLVED. */
export function toPostable(
  alert: Alert,
  facts: RegistryFacts | undefined,
  publicUrl: string,
  labels = alertLabels(alert, facts),
): PostableAlert {
  const postable: PostableAlert = {
    labels,
    annotations: alertAnnotations(alert, publicUrl),
    startsAt: new Date(alert.raisedAt).toISOString(),
    generatorURL: deviceLink(publicUrl, alert.deviceId),
  };
  if (alert.state === 'RESOLVED') {
    // A resolution without resolvedAt (not written by the engine) ends at its event time.
    const end = Math.max(alert.resolvedAt ?? alert.ts, alert.raisedAt);
    postable.endsAt = new Date(end).toISOString();
  }
  return postable;
}

interface OpenEntry {
  /** Which input partition the alert came from: a revoked partition drops its alerts. */
  owner: string;
  postable: PostableAlert;
  /** When Alertmanager last accepted it; -Infinity: due at once. */
  sentAt: number;
}

/**
 * The open alerts of the partitions this notifier owns, by alertId. `apply` folds one alert
 * record and returns what to post; folding the same records again gives the same set, so a
 * partition's set can be rebuilt by folding its log.
 */
export interface OpenAlerts {
  readonly size: number;
  apply(owner: string, alert: Alert, facts: RegistryFacts | undefined): PostableAlert;
  /** Open alerts whose last acceptance is `intervalMs` old (or that were never sent). */
  due(now: number, intervalMs: number): PostableAlert[];
  /** Alertmanager accepted these (by alertId) at `now`. */
  markSent(alertIds: Iterable<string>, now: number): void;
  /** Every open alert is due: Alertmanager may have lost them (it keeps alerts in memory only). */
  markAllDue(): void;
  /** Forgets the alerts of a partition this notifier no longer owns. */
  dropOwner(owner: string): number;
  has(alertId: string): boolean;
}

export function createOpenAlerts(publicUrl: string): OpenAlerts {
  const open = new Map<string, OpenEntry>();
  return {
    get size() {
      return open.size;
    },
    apply(owner, alert, facts) {
      const held = open.get(alert.alertId);
      // The labels of the raise stay the alert's labels (see the header).
      const postable = toPostable(alert, facts, publicUrl, held?.postable.labels);
      if (alert.state === 'RAISED') {
        if (!held) open.set(alert.alertId, { owner, postable, sentAt: Number.NEGATIVE_INFINITY });
        else held.postable = postable;
      } else {
        open.delete(alert.alertId);
      }
      return postable;
    },
    due(now, intervalMs) {
      const out: PostableAlert[] = [];
      for (const entry of open.values()) if (now - entry.sentAt >= intervalMs) out.push(entry.postable);
      return out;
    },
    markSent(alertIds, now) {
      for (const id of alertIds) {
        const entry = open.get(id);
        if (entry) entry.sentAt = now;
      }
    },
    markAllDue() {
      for (const entry of open.values()) entry.sentAt = Number.NEGATIVE_INFINITY;
    },
    dropOwner(owner) {
      let dropped = 0;
      for (const [id, entry] of open) {
        if (entry.owner === owner) {
          open.delete(id);
          dropped++;
        }
      }
      return dropped;
    },
    has: (alertId) => open.has(alertId),
  };
}

/**
 * What to post for a run of changes: the last change of each alert only (a raise and its
 * resolution in one batch post the resolution, whose startsAt is the raise), in order.
 */
export function coalesce(postables: readonly PostableAlert[]): PostableAlert[] {
  const last = new Map<string, PostableAlert>();
  for (const postable of postables) {
    const id = postable.labels.alertId ?? JSON.stringify(postable.labels);
    last.delete(id);
    last.set(id, postable);
  }
  return [...last.values()];
}

/** The alertId of a postable (every postable built here has one). */
export function alertIdOf(postable: PostableAlert): string {
  return postable.labels.alertId ?? '';
}

/**
 * The resend interval for a resolve_timeout: at most a third of it, so that two resends may
 * fail in a row (an Alertmanager restart, a slow network) before Alertmanager would resolve
 * an alert that is still raised.
 */
export function maxResendIntervalMs(resolveTimeoutMs: number): number {
  return Math.floor(resolveTimeoutMs / 3);
}

/** Splits posts into requests of at most `max` alerts (a bounded request body). */
export function chunks<T>(items: readonly T[], max: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += max) out.push(items.slice(i, i + max));
  return out;
}

/** The registry rows an alert's facts come from (registry/table.ts, held by the follower). */
export interface RegistryRows {
  readonly sites: ReadonlyMap<string, { name: string }>;
  readonly devices: ReadonlyMap<string, { model: string; plate: string | null; driverId: string | null }>;
}

/** The registry's facts about an alert's device and site; empty when the registry has none. */
export function registryFacts(
  rows: RegistryRows | undefined,
  alert: Pick<Alert, 'deviceId' | 'siteId'>,
): RegistryFacts {
  const device = rows?.devices.get(alert.deviceId);
  const site = rows?.sites.get(alert.siteId);
  return {
    siteName: site?.name,
    model: device?.model,
    plate: device?.plate ?? undefined,
    driverId: device?.driverId ?? undefined,
  };
}
