/**
 * What the notifier's integration tests and its benchmark (notify/bench.ts) share: a test
 * stack on the real Kafka and schema registry under a unique prefix, alert records produced
 * through the registry exactly as the processor writes them (Avro, keyed by deviceId), the
 * registry topics with a site and a device in Debezium's format, a private Alertmanager whose
 * only receiver is a webhook server run here, and notifiers under test.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import type { KafkaProducer } from '../../lib/kafka/index.ts';
import { ensureTopics } from '../../lib/topics.ts';
import {
  createAlertmanagerClient,
  createNotifier,
  type Notifier,
  type NotifyConfigInput,
  type PostableAlert,
  parseNotifyConfig,
} from '../../notify/index.ts';
import { registryTopicNames, registryTopicSpecs } from '../../registry/index.ts';
import { createSerde, type Serde } from '../../schemas/serde.ts';
import type { Alert } from '../../schemas/types.ts';
import { createTestStack, type TestStack } from '../helpers.ts';
import { type PrivateAlertmanager, startPrivateAlertmanager } from '../support/index.ts';

export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

export interface WebhookCall {
  /** performance clock, epoch ms with a fraction */
  receivedAt: number;
  path: string;
  status: string;
  alerts: WebhookAlert[];
}

export interface Webhook {
  url: string;
  calls: WebhookCall[];
  /** Every alert's state in the newest call that carried it, by alertId. */
  lastStates(): Map<string, WebhookAlert>;
  close(): Promise<void>;
}

export const nowMs = () => performance.timeOrigin + performance.now();

/** An HTTP server on loopback that records Alertmanager's webhook calls. */
export async function startWebhook(onCall?: (call: WebhookCall) => void): Promise<Webhook> {
  const calls: WebhookCall[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const receivedAt = nowMs();
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        status: string;
        alerts: WebhookAlert[];
      };
      const call = { receivedAt, path: request.url ?? '', status: body.status, alerts: body.alerts };
      calls.push(call);
      onCall?.(call);
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    calls,
    lastStates() {
      const states = new Map<string, WebhookAlert>();
      for (const call of calls)
        for (const alert of call.alerts) if (alert.labels.alertId) states.set(alert.labels.alertId, alert);
      return states;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Alertmanager's configuration for the tests: fast groups by site, one webhook receiver. */
export function testAlertmanagerConfig(webhookUrl: string, groupWait = '1s', groupBy = 'siteId'): string {
  return `global:
  resolve_timeout: 1m
route:
  receiver: hook
  group_by: [${groupBy}]
  group_wait: ${groupWait}
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: ${webhookUrl}
        send_resolved: true
`;
}

export interface NotifyHarness {
  stack: TestStack;
  serde: Serde;
  webhook: Webhook;
  alertmanager: PrivateAlertmanager;
  /** What notifiers reported as fatal (`onFatal`): a test asserts it stays empty. */
  fatal: unknown[];
  /** Produces alert records to the stack's alerts topic (keyed by deviceId, as the processor does). */
  produce(alerts: Alert[]): Promise<void>;
  /** Produces alert records in a Kafka transaction, as the processor writes them. */
  produceInTransaction(alerts: Alert[]): Promise<void>;
  /** Produces raw bytes to the alerts topic (hostile input). */
  produceRaw(key: string, value: Buffer): Promise<void>;
  /** A site and a truck in the registry topics, as Debezium writes them. */
  registerTruck(
    site: { id: string; name: string },
    device: { id: string; model: string; plate: string },
  ): Promise<void>;
  /** A notifier under test (stopped by cleanup unless stopped before). */
  startNotifier(
    options?: NotifyConfigInput,
    observe?: { onAccepted?: (alerts: readonly PostableAlert[], at: number) => void },
  ): Promise<Notifier>;
  cleanup(): Promise<void>;
}

export async function createNotifyHarness(
  name: string,
  options: { groupWait?: string; groupBy?: string; onCall?: (call: WebhookCall) => void } = {},
): Promise<NotifyHarness> {
  const stack = await createTestStack(name, { partitions: 3 });
  const serde = createSerde(stack.config.registry, { topics: stack.topics });
  await serde.registerAll(['Alert']);
  await ensureTopics(stack.admin, registryTopicSpecs(stack.prefix));
  const producer: KafkaProducer = stack.kafka.producer();
  await producer.connect();
  const webhook = await startWebhook(options.onCall);
  const alertmanager = await startPrivateAlertmanager({
    config: testAlertmanagerConfig(webhook.url, options.groupWait, options.groupBy),
    name: `am-${name}`,
  });
  const notifiers: Notifier[] = [];
  const fatal: unknown[] = [];
  return {
    stack,
    serde,
    webhook,
    alertmanager,
    fatal,
    async produce(alerts) {
      await producer.send(
        stack.topics.alerts,
        alerts.map((alert) => ({ key: alert.deviceId, value: serde.encode('Alert', alert) })),
      );
    },
    async produceInTransaction(alerts) {
      const transactional = stack.kafka.transactionalProducer(`${stack.prefix}notify-test-txn`);
      await transactional.connect();
      try {
        const txn = await transactional.transaction();
        await txn.send([
          {
            topic: stack.topics.alerts,
            messages: alerts.map((alert) => ({ key: alert.deviceId, value: serde.encode('Alert', alert) })),
          },
        ]);
        await txn.commit();
      } finally {
        await transactional.disconnect();
      }
    },
    async produceRaw(key, value) {
      await producer.send(stack.topics.alerts, [{ key, value }]);
    },
    async registerTruck(site, device) {
      const names = registryTopicNames(stack.prefix);
      const record = (row: Record<string, unknown>) => ({
        key: String(row.id),
        value: JSON.stringify({
          schema: { type: 'struct', optional: false },
          payload: { ...row, __op: 'c' },
        }),
      });
      const stamp = { version: Date.now(), updated_at: new Date().toISOString() };
      await producer.send(names.sites, [
        record({
          id: site.id,
          kind: 'depot',
          name: site.name,
          lat: 45.7,
          lon: 4.8,
          time_zone: 'Europe/Paris',
          capacity_kw: null,
          vehicle_capacity: 20,
          ...stamp,
        }),
      ]);
      await producer.send(names.devices, [
        record({
          id: device.id,
          kind: 'truck',
          site_id: site.id,
          site_kind: 'depot',
          model: device.model,
          status: 'active',
          plate: device.plate,
          refrigerated: false,
          cargo_min_c: null,
          cargo_max_c: null,
          driver_id: null,
          rated_kw: null,
          power_curve: null,
          kwp: null,
          ...stamp,
        }),
      ]);
    },
    async startNotifier(overrides = {}, observe = {}) {
      const config = parseNotifyConfig({
        groupId: stack.group('notify'),
        resolveTimeoutMs: 60_000,
        resendIntervalMs: 2_000,
        tickMs: 100,
        retryBaseMs: 100,
        retryCapMs: 1_000,
        registryCatchUpMs: 15_000,
        sessionTimeoutMs: 10_000,
        drainTimeoutMs: 5_000,
        metricsPort: 0,
        ...overrides,
      });
      const target = { url: alertmanager.url, auth: alertmanager.auth, publicUrl: 'https://fleet.test' };
      const client = createAlertmanagerClient(target, { timeoutMs: config.requestTimeoutMs });
      const notifier = createNotifier(stack.config, config, target, {
        // The real client; the benchmark notes when Alertmanager accepted a post.
        alertmanager: {
          ready: () => client.ready(),
          async post(alerts) {
            await client.post(alerts);
            observe.onAccepted?.(alerts, nowMs());
          },
        },
        kafka: stack.kafka,
        // A serde of its own: the notifier fetches the writer schema like a fresh process.
        serde: createSerde(stack.config.registry, { topics: stack.topics }),
        log: stack.log,
        registry: createMetricsRegistry('notify', { defaultMetrics: false }),
        onFatal: (error) => fatal.push(error),
      });
      notifiers.push(notifier);
      await notifier.start();
      return notifier;
    },
    async cleanup() {
      for (const notifier of notifiers) await notifier.stop().catch(() => {});
      await producer.disconnect().catch(() => {});
      await alertmanager.stop();
      await webhook.close();
      await stack.admin.deleteTopics(Object.values(registryTopicNames(stack.prefix)), 10_000).catch(() => {});
      await stack.cleanup();
    },
  };
}

let sequence = 0;

/** An alert as the processor's engine writes it. */
export function testAlert(overrides: Partial<Alert> & Pick<Alert, 'deviceId' | 'siteId'>): Alert {
  const raisedAt = Date.now() - 1_000;
  return {
    alertId: `${randomUUID()}-${sequence++}`,
    rule: 'truck.overspeed',
    kind: 'TRUCK',
    model: null,
    driverId: null,
    ruleVersion: 0,
    state: 'RAISED',
    severity: 'WARNING',
    raisedAt,
    resolvedAt: null,
    ts: raisedAt,
    value: 97.5,
    threshold: 90,
    message: 'speed 97.5 km/h above 90 km/h for 30 s',
    ...overrides,
  };
}

/** The resolution of a raised alert, `afterMs` after its raise. */
export function resolutionOf(alert: Alert, afterMs = 1_000): Alert {
  const at = alert.raisedAt + afterMs;
  return { ...alert, state: 'RESOLVED', resolvedAt: at, ts: at };
}
