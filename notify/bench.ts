/**
 * Benchmark of the notifier's latency: from an alert record written to Kafka to
 * Alertmanager's webhook call carrying it (docs/benchmarks/notify.md).
 *
 *   node notify/bench.ts [--alerts 60]
 *
 * Needs `make up` (Kafka, schema registry). Topics under a unique TOPIC_PREFIX, a private
 * Alertmanager (Debian's binary, basic auth, group_wait 0s, one group per alert) whose
 * receiver is a webhook server of this process, and the notifier in this process, as
 * `fleetgrid notify` runs it. One alert at a time, raised then resolved, each waited for at
 * the webhook before the next, so the figures are latency, not queueing. Three clocks, all
 * this machine's: `written` is when the producer's send was acknowledged (the record is in
 * Kafka), `accepted` when Alertmanager answered the notifier's POST, `webhook` when the
 * webhook server read the call. Prints a table, then one `BENCH_JSON {...}` line.
 */
import { parseArgs } from 'node:util';
import {
  createNotifyHarness,
  nowMs,
  resolutionOf,
  testAlert,
  type WebhookCall,
} from '../test/notify/harness.ts';
import { latencySummary } from '../bench/latency.ts';

const { values: args } = parseArgs({ options: { alerts: { type: 'string', default: '60' } } });
const ALERTS = Number(args.alerts);
if (!Number.isInteger(ALERTS) || ALERTS < 2) throw new Error('--alerts must be a whole number of at least 2');

/** Resolves with the time of the first call (webhook) or acceptance (post) that satisfies `match`. */
function waiter<T>() {
  let pending: { match: (item: T) => boolean; resolve: (at: number) => void } | undefined;
  return {
    offer(item: T, at: number) {
      if (pending?.match(item)) {
        pending.resolve(at);
        pending = undefined;
      }
    },
    wait(match: (item: T) => boolean, timeoutMs: number, what: string): Promise<number> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
        pending = {
          match,
          resolve: (at) => {
            clearTimeout(timer);
            resolve(at);
          },
        };
      });
    },
  };
}

const hooks = waiter<WebhookCall>();
const accepts = waiter<readonly { labels: Record<string, string>; endsAt?: string }[]>();
const h = await createNotifyHarness('notify-bench', {
  groupWait: '0s',
  groupBy: "'...'",
  onCall: (call) => hooks.offer(call, call.receivedAt),
});
try {
  await h.startNotifier(
    { registry: false, resendIntervalMs: 20_000 },
    { onAccepted: (alerts, at) => accepts.offer(alerts, at) },
  );
  const total: Record<'raise' | 'resolve', number[]> = { raise: [], resolve: [] };
  const toAccepted: number[] = [];
  const acceptedToWebhook: number[] = [];
  for (let i = 0; i < ALERTS; i++) {
    const raised = testAlert({ deviceId: `truck-${String(i).padStart(5, '0')}`, siteId: 'depot-bench' });
    for (const [phase, record] of [
      ['raise', raised],
      ['resolve', resolutionOf(raised)],
    ] as const) {
      const status = phase === 'raise' ? 'firing' : 'resolved';
      const hasIt = (
        alerts: readonly { labels: Record<string, string>; status?: string; endsAt?: string }[],
      ) =>
        alerts.some(
          (a) =>
            a.labels.alertId === raised.alertId &&
            (a.status === undefined
              ? (a.endsAt !== undefined) === (phase === 'resolve')
              : a.status === status),
        );
      const accepted = accepts.wait(hasIt, 30_000, `${phase} of ${raised.alertId} accepted`);
      const called = hooks.wait(
        (call) => hasIt(call.alerts),
        30_000,
        `${phase} of ${raised.alertId} at the webhook`,
      );
      await h.produce([record]);
      const written = nowMs();
      const [acceptedAt, calledAt] = await Promise.all([accepted, called]);
      total[phase].push(calledAt - written);
      toAccepted.push(acceptedAt - written);
      acceptedToWebhook.push(calledAt - acceptedAt);
    }
  }
  const all = [...total.raise, ...total.resolve];
  const rows = [
    ['written → webhook (all)', latencySummary(all)],
    ['  raises (firing)', latencySummary(total.raise)],
    ['  resolutions', latencySummary(total.resolve)],
    ['written → accepted', latencySummary(toAccepted)],
    ['accepted → webhook', latencySummary(acceptedToWebhook)],
  ] as const;
  console.log(`notify latency, ${ALERTS} alerts raised and resolved one at a time (ms)`);
  console.log(
    `${'path'.padEnd(26)}${['n', 'p50', 'p90', 'p99', 'max', 'mean'].map((c) => c.padStart(8)).join('')}`,
  );
  for (const [label, s] of rows)
    console.log(
      `${label.padEnd(26)}${[s.n, s.p50, s.p90, s.p99, s.max, s.mean].map((v) => String(v).padStart(8)).join('')}`,
    );
  console.log(
    `BENCH_JSON ${JSON.stringify({
      component: 'notify',
      alerts: ALERTS,
      writtenToWebhookMs: latencySummary(all),
      byPhaseMs: { raise: latencySummary(total.raise), resolve: latencySummary(total.resolve) },
      writtenToAcceptedMs: latencySummary(toAccepted),
      acceptedToWebhookMs: latencySummary(acceptedToWebhook),
    })}`,
  );
} finally {
  await h.cleanup();
}
