/**
 * notify — alerts reach people through Prometheus Alertmanager (docs/alerts.md). The
 * notifier consumes `telemetry.alerts`, keeps the open alerts and posts raises, resolutions
 * and periodic resends to Alertmanager's v2 API; Alertmanager routes them (by severity and
 * site, infra/alertmanager/alertmanager.yml) to its receivers.
 *
 * Public surface:
 * - Pure core (core.ts): `toPostable(alert, facts, publicUrl)`, `alertLabels`,
 *   `alertAnnotations`, `deviceLink`, `registryFacts(rows, alert)`, `createOpenAlerts` (the
 *   open-set fold and the resend schedule: `apply`, `due`, `markSent`, `markAllDue`,
 *   `dropOwner`), `coalesce`, `chunks`, `maxResendIntervalMs`, `SOURCE_LABEL`.
 * - Config (config.ts): `parseNotifyConfig`, `alertmanagerTarget(env, dataDir)`.
 * - Alertmanager client (alertmanager.ts): `createAlertmanagerClient(target, { timeoutMs })`.
 * - The service (runner.ts): `createNotifier(app, config, target, deps) → Notifier`.
 */
export { type AlertmanagerClient, createAlertmanagerClient } from './alertmanager.ts';
export {
  type AlertmanagerTarget,
  alertmanagerTarget,
  type NotifyConfig,
  type NotifyConfigInput,
  parseNotifyConfig,
} from './config.ts';
export {
  alertAnnotations,
  alertLabels,
  chunks,
  coalesce,
  createOpenAlerts,
  deviceLink,
  maxResendIntervalMs,
  type OpenAlerts,
  type PostableAlert,
  type RegistryFacts,
  registryFacts,
  SOURCE_LABEL,
  toPostable,
} from './core.ts';
export { createNotifyMetrics, type NotifyMetrics } from './metrics.ts';
export { createNotifier, NOTIFY_STAGE, type Notifier, type NotifierDeps } from './runner.ts';
