/**
 * Issue 14 (routing), faults: Alertmanager killed (kill -9) for NOTIFY_FAULT_DOWN_MS (10 s;
 * `make test-notify-faults` runs it with 60 s) while alerts are raised and resolved. Once it
 * is back, every alert's final state reaches the webhook, none lost, Alertmanager (which
 * lost its memory) holds exactly the open alerts again, and the notifier reported not-ready
 * for as long as Alertmanager was away. Real Kafka and schema registry; a private
 * Alertmanager started by the test with a webhook receiver the test runs.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Notifier } from '../../notify/index.ts';
import { eventually } from '../support/index.ts';
import { createNotifyHarness, type NotifyHarness, resolutionOf, testAlert } from './harness.ts';

const DOWN_MS = Number(process.env.NOTIFY_FAULT_DOWN_MS ?? 10_000);

describe('fleetgrid notify while Alertmanager is away', () => {
  let h: NotifyHarness;
  let notifier: Notifier;

  beforeAll(async () => {
    h = await createNotifyHarness('notify-outage');
    notifier = await h.startNotifier({ registry: false });
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it(
    `Alertmanager killed for ${DOWN_MS / 1000} s while alerts are raised and resolved: every final state arrives`,
    async () => {
      const site = 'depot-outage';
      const a = testAlert({ deviceId: 'truck-10001', siteId: site });
      const b = testAlert({ deviceId: 'truck-10002', siteId: site });
      await h.produce([a, b]);
      await eventually('a and b firing at the webhook', async () => {
        const states = h.webhook.lastStates();
        return states.get(a.alertId)?.status === 'firing' && states.get(b.alertId)?.status === 'firing'
          ? true
          : undefined;
      });

      const downAt = Date.now();
      await h.alertmanager.kill('SIGKILL');
      await eventually(
        'the notifier not ready',
        async () => (notifier.ready() ? undefined : true),
        10_000,
        100,
      );
      const c = testAlert({ deviceId: 'truck-10003', siteId: site });
      const d = testAlert({ deviceId: 'truck-10004', siteId: site });
      await h.produce([c, d]);
      await sleep(Math.min(2_000, DOWN_MS / 4));
      await h.produce([resolutionOf(a)]);
      await sleep(Math.min(2_000, DOWN_MS / 4));
      await h.produce([resolutionOf(c)]);
      const failedBefore = await notifier.metrics.failed
        .get()
        .then((m) => m.values.reduce((s, v) => s + v.value, 0));
      await sleep(Math.max(0, DOWN_MS - (Date.now() - downAt)));
      expect(notifier.ready()).toBe(false);
      expect(failedBefore).toBeGreaterThan(0);
      await h.alertmanager.start();

      const expected = {
        [a.alertId]: 'resolved',
        [b.alertId]: 'firing',
        [c.alertId]: 'resolved',
        [d.alertId]: 'firing',
      };
      await eventually(
        'every final state at the webhook',
        async () => {
          const states = h.webhook.lastStates();
          return Object.entries(expected).every(([id, status]) => states.get(id)?.status === status)
            ? true
            : undefined;
        },
        60_000,
      );
      await eventually('the notifier ready again', async () => (notifier.ready() ? true : undefined), 10_000);
      expect(notifier.openAlerts()).toBe(2);
      // Alertmanager (which lost its memory with the kill) holds exactly the two open ones again.
      const active = (await fetch(`${h.alertmanager.url}/api/v2/alerts?filter=siteId%3D%22${site}%22`, {
        headers: h.alertmanager.header(),
      }).then((r) => r.json())) as { labels: Record<string, string> }[];
      expect(active.map((alert) => alert.labels.alertId).sort()).toEqual([b.alertId, d.alertId].sort());
    },
    DOWN_MS + 120_000,
  );

  it('a notifier stopped while Alertmanager is away commits nothing it did not deliver: the next one does', async () => {
    const failures = async () =>
      (await notifier.metrics.failed.get()).values.reduce((sum, v) => sum + v.value, 0);
    const before = await failures();
    await h.alertmanager.kill('SIGKILL');
    const e = testAlert({ deviceId: 'truck-20001', siteId: 'depot-handover' });
    await h.produce([e]);
    await eventually('a failed delivery', async () => ((await failures()) > before ? true : undefined));
    await eventually(
      'the notifier not ready',
      async () => (notifier.ready() ? undefined : true),
      10_000,
      100,
    );
    // The drain deadline (5 s) ends the retries; giving up there is no fatal error.
    await notifier.stop();
    expect(h.fatal).toEqual([]);
    await h.alertmanager.start();
    notifier = await h.startNotifier({ registry: false });
    const delivered = await eventually('the alert delivered by the next notifier', async () =>
      h.webhook.lastStates().get(e.alertId),
    );
    expect(delivered.status).toBe('firing');
    expect(
      (await notifier.metrics.sent.get()).values.find((v) => v.labels.reason === 'change')?.value,
    ).toBeGreaterThanOrEqual(1);
    await h.produce([resolutionOf(e)]);
    await eventually('its resolution', async () =>
      h.webhook.lastStates().get(e.alertId)?.status === 'resolved' ? true : undefined,
    );
    expect(h.fatal).toEqual([]);
  });
});
