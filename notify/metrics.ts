/** The notifier's metrics, fleetgrid_notify_* (docs/alerts.md "Metrics"). */
import { Counter, Gauge, Histogram, type Registry } from '../lib/metrics.ts';

export interface NotifyMetrics {
  records: Counter<'state'>;
  sent: Counter<'reason'>;
  failed: Counter<'code'>;
  open: Gauge;
  latency: Histogram;
  deadLetters: Counter<'code'>;
  registryRecords: Counter;
}

export function createNotifyMetrics(registry: Registry): NotifyMetrics {
  const registers = [registry];
  return {
    records: new Counter({
      name: 'fleetgrid_notify_records_total',
      help: 'Alert records read from telemetry.alerts, by state (rebuild: folded at start, not sent)',
      labelNames: ['state'],
      registers,
    }),
    sent: new Counter({
      name: 'fleetgrid_notify_alerts_sent_total',
      help: 'Alerts Alertmanager accepted, by reason (change: a raise or resolution; resend: still open)',
      labelNames: ['reason'],
      registers,
    }),
    failed: new Counter({
      name: 'fleetgrid_notify_requests_failed_total',
      help: 'Requests to Alertmanager that failed, by error code',
      labelNames: ['code'],
      registers,
    }),
    open: new Gauge({
      name: 'fleetgrid_notify_open_alerts',
      help: 'Alerts raised and not yet resolved, of the partitions this notifier owns',
      registers,
    }),
    latency: new Histogram({
      name: 'fleetgrid_notify_delivery_latency_seconds',
      help: 'From an alert record written to Kafka to Alertmanager accepting it',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    deadLetters: new Counter({
      name: 'fleetgrid_notify_dead_letters_total',
      help: 'Records of telemetry.alerts that are no alerts, sent to the DLQ, by error code',
      labelNames: ['code'],
      registers,
    }),
    registryRecords: new Counter({
      name: 'fleetgrid_notify_registry_records_total',
      help: 'Registry CDC records folded into the table the labels come from',
      registers,
    }),
  };
}
