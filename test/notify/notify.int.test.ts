/**
 * Issue 14 (routing): alerts reach people through Alertmanager. The real Kafka and schema
 * registry of the stack, a private Alertmanager (Debian's binary, basic auth) whose receiver
 * is a webhook server of this test, and `createNotifier` as `fleetgrid notify` runs it.
 *
 * The outage test is outage.int.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Notifier } from '../../notify/index.ts';
import { DLQ_HEADERS } from '../../lib/dlq.ts';
import { consumeAll } from '../helpers.ts';
import { eventually } from '../support/index.ts';
import { createNotifyHarness, type NotifyHarness, resolutionOf, testAlert } from './harness.ts';

describe('fleetgrid notify → Alertmanager → webhook', () => {
  let h: NotifyHarness;
  let notifier: Notifier;

  beforeAll(async () => {
    h = await createNotifyHarness('notify');
    await h.registerTruck(
      { id: 'depot-lyon', name: 'Lyon depot' },
      { id: 'truck-00001', model: 'tractor-40t', plate: 'FG-00001' },
    );
    notifier = await h.startNotifier();
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it('an alert reaches the webhook firing, then resolved, with the labels and annotations of the brief', async () => {
    const raised = testAlert({ deviceId: 'truck-00001', siteId: 'depot-lyon', severity: 'CRITICAL' });
    await h.produce([raised]);
    const firing = await eventually('the firing alert at the webhook', async () =>
      h.webhook.lastStates().get(raised.alertId),
    );
    expect(firing.status).toBe('firing');
    expect(firing.labels).toEqual({
      alertname: 'truck.overspeed',
      severity: 'critical',
      deviceId: 'truck-00001',
      siteId: 'depot-lyon',
      kind: 'truck',
      alertId: raised.alertId,
      source: 'fleetgrid',
      siteName: 'Lyon depot',
      model: 'tractor-40t',
      plate: 'FG-00001',
    });
    expect(firing.annotations).toMatchObject({
      message: raised.message,
      value: '97.5',
      threshold: '90',
      link: 'https://fleet.test/devices/truck-00001',
    });
    expect(firing.generatorURL).toBe('https://fleet.test/devices/truck-00001');
    expect(Date.parse(firing.startsAt)).toBe(raised.raisedAt);
    expect(notifier.openAlerts()).toBe(1);

    const resolved = resolutionOf(raised, 5_000);
    await h.produce([resolved]);
    const end = await eventually('the resolved alert at the webhook', async () => {
      const state = h.webhook.lastStates().get(raised.alertId);
      return state?.status === 'resolved' ? state : undefined;
    });
    expect(Date.parse(end.endsAt)).toBe(resolved.resolvedAt);
    expect(end.labels).toEqual(firing.labels);
    expect(notifier.openAlerts()).toBe(0);
    expect(notifier.ready()).toBe(true);

    const readyz = await fetch(`http://127.0.0.1:${notifier.metricsPort()}/readyz`);
    expect(readyz.status).toBe(200);
    const metrics = await fetch(`http://127.0.0.1:${notifier.metricsPort()}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/fleetgrid_notify_alerts_sent_total\{reason="change",service="notify"\} [2-9]/);
    expect(metrics).toMatch(/fleetgrid_notify_delivery_latency_seconds_count\{service="notify"\} [2-9]/);
    expect(metrics).toMatch(/fleetgrid_notify_open_alerts\{service="notify"\} 0/);
  });

  it('keeps an open alert alive in Alertmanager by resending it', async () => {
    const raised = testAlert({ deviceId: 'truck-00002', siteId: 'depot-resend' });
    await h.produce([raised]);
    await eventually('the alert in Alertmanager', async () =>
      h.webhook.lastStates().has(raised.alertId) ? true : undefined,
    );
    const resends = () =>
      notifier.metrics.sent.get().then((m) => m.values.find((v) => v.labels.reason === 'resend')?.value ?? 0);
    const first = await resends();
    await eventually(
      'two resends (every 2 s)',
      async () => ((await resends()) >= first + 2 ? true : undefined),
      15_000,
    );
    // Alertmanager still holds it as active (not resolved by its own timeout).
    const held = (await fetch(
      `${h.alertmanager.url}/api/v2/alerts?filter=alertId%3D%22${raised.alertId}%22`,
      {
        headers: h.alertmanager.header(),
      },
    ).then((r) => r.json())) as { status: { state: string } }[];
    expect(held).toHaveLength(1);
    expect(held[0]?.status.state).toBe('active');
    await h.produce([resolutionOf(raised)]);
    await eventually('its resolution', async () =>
      h.webhook.lastStates().get(raised.alertId)?.status === 'resolved' ? true : undefined,
    );
  });

  it('a restarted notifier rebuilds the open alerts from the log and posts them again', async () => {
    const open = testAlert({ deviceId: 'truck-00003', siteId: 'depot-rebuild' });
    const closed = testAlert({ deviceId: 'truck-00004', siteId: 'depot-rebuild' });
    await h.produce([open, closed, resolutionOf(closed)]);
    await eventually('both delivered', async () =>
      notifier.openAlerts() >= 1 && h.webhook.lastStates().has(open.alertId) ? true : undefined,
    );
    await notifier.stop();
    notifier = await h.startNotifier();
    await eventually(
      'the rebuilt open set',
      async () => (notifier.openAlerts() === 1 ? true : undefined),
      30_000,
    );
    const rebuilt = notifier.metrics.records
      .get()
      .then((m) => m.values.find((v) => v.labels.state === 'rebuild')?.value ?? 0);
    expect(await rebuilt).toBeGreaterThanOrEqual(3);
    // Posted again (a resend), and nothing re-delivered as a change: the offsets were committed.
    await eventually('the open alert resent', async () =>
      (await notifier.metrics.sent.get()).values.some((v) => v.labels.reason === 'resend' && v.value >= 1)
        ? true
        : undefined,
    );
    const changes =
      (await notifier.metrics.sent.get()).values.find((v) => v.labels.reason === 'change')?.value ?? 0;
    expect(changes).toBe(0);
    await h.produce([resolutionOf(open)]);
    await eventually('its resolution after the restart', async () =>
      h.webhook.lastStates().get(open.alertId)?.status === 'resolved' ? true : undefined,
    );
    expect(notifier.openAlerts()).toBe(0);
  });

  it('a record that is no alert goes to the DLQ, and the alerts behind it still arrive', async () => {
    const key = 'truck-00005';
    await h.produceRaw(key, Buffer.from('not an avro record'));
    const next = testAlert({ deviceId: key, siteId: 'depot-dlq' });
    await h.produce([next]);
    await eventually('the alert behind the bad record', async () =>
      h.webhook.lastStates().get(next.alertId)?.status === 'firing' ? true : undefined,
    );
    const [letter] = await consumeAll(h.stack, h.stack.topics.dlq, 1);
    expect(letter?.headers[DLQ_HEADERS.stage]).toBe('notify');
    expect(letter?.headers[DLQ_HEADERS.code]).toMatch(/^DECODE_/);
    expect(letter?.value?.toString()).toBe('not an avro record');
    expect(letter?.key?.toString()).toBe(key);
    expect((await notifier.metrics.deadLetters.get()).values[0]?.value).toBe(1);
    await h.produce([resolutionOf(next)]);
    await eventually('its resolution', async () =>
      h.webhook.lastStates().get(next.alertId)?.status === 'resolved' ? true : undefined,
    );
  });

  it('commits past the transaction markers of the alerts topic: its lag reaches 0', async () => {
    // The processor writes alerts in transactions; each ends in a marker read_committed never
    // delivers, so committing the last record + 1 would leave the group's lag at 1 for good.
    const raised = testAlert({ deviceId: 'truck-00001', siteId: 'depot-lyon' });
    await h.produceInTransaction([raised]);
    await eventually('the transactional alert at the webhook', async () =>
      h.webhook.lastStates().get(raised.alertId),
    );
    await eventually(
      'the notify group caught up with the log end, markers included',
      async () => {
        const [committed] = await h.stack.admin.fetchCommittedOffsets(h.stack.group('notify'), [
          h.stack.topics.alerts,
        ]);
        const ends = await h.stack.admin.fetchTopicOffsets(h.stack.topics.alerts);
        const lag = ends.reduce((sum, end) => {
          const at = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
          return sum + Number(end.high) - Math.max(Number(at), Number(end.low));
        }, 0);
        return lag === 0 ? true : undefined;
      },
      20_000,
    );
  });
});
