/**
 * The stream–table join end to end on real servers: registry rows written through the
 * registry service into a scratch PostgreSQL database, streamed by Debezium (the stack's
 * Kafka Connect) into the test's compacted topics, restored and followed by a real processor
 * (in process, its registry table from those topics), which joins telemetry produced to
 * Kafka with it.
 *
 * - Enrichment: aggregates, alerts and device states carry the registry's siteId, model and
 *   driverId; an update (model, driver), an insert, a decommission and a delete committed in
 *   PostgreSQL mid-run reach the join and apply from their change point (commit time +
 *   changeLeadMs) on, in event time.
 * - Policies: an unknown device is dead-lettered UNKNOWN_DEVICE and counted in the JSON
 *   /health; a device in maintenance raises no alerts; a decommissioned one is ignored.
 * - Rules as data: a device-scope rule row changes alerting for events after its change
 *   point only (alerts carry the deciding row's version).
 * - Replay: a fresh processor group over the same telemetry log, with the registry topics
 *   complete before it starts, gives the same alerts and aggregates.
 * - Latency: commit in PostgreSQL (Debezium's __source_ts_ms) → applied in the processor's
 *   table, p50/p99 over 120 changes, printed as `[join-latency] {…}`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DLQ_HEADERS } from '../../lib/dlq.ts';
import type { RegistryChangeSeen } from '../../registry/follower.ts';
import type { RawEvent } from '../../schemas/types.ts';
import type { Serde } from '../../schemas/serde.ts';
import {
  alertSet,
  createTestSerde,
  newestRevisions,
  outputMark,
  processorDeviceStates,
  processorOutputs,
  produceEvents,
  readTopic,
  type RunningProcessor,
  startProcessor,
  truck,
  waitCaughtUp,
  waitFor,
} from '../processors/helpers.ts';
import { type CdcHarness, createCdcHarness } from './cdc-harness.ts';

/** Short, so the test's event times stay near the wall clock (validation bounds the future at 5 min). */
const LEAD_MS = 2_000;
const OVERHEAT = 'truck.engine_overheat';

let h: CdcHarness;
let serde: Serde;
let live: RunningProcessor | undefined;
let replay: RunningProcessor | undefined;
const applied: RegistryChangeSeen[] = [];
/** Versions of the setup's rows, by id. */
const setup: Record<string, number> = {};

const site = (id: string) => ({
  id,
  kind: 'depot',
  name: `Depot ${id}`,
  lat: 52,
  lon: 5,
  timeZone: 'Europe/Amsterdam',
  vehicleCapacity: 10,
});
const truckRow = (id: string, model: string, driverId: string | null, status = 'active') => ({
  id,
  kind: 'truck',
  siteId: 'depot-a',
  model,
  plate: `FG-${id}`,
  refrigerated: false,
  driverId,
  status,
});
const hot = (id: string, seq: number, ts: number, engineTempC: number): RawEvent =>
  truck(id, seq, ts, { engineTempC });

function processorOptions(groupId: string) {
  return {
    groupId,
    partitions: 1,
    unknownDevice: 'quarantine' as const,
    changeLeadMs: LEAD_MS,
    metricsPort: 0,
  };
}

async function health(running: RunningProcessor): Promise<{
  ready: boolean;
  registry: {
    unknownDevicePolicy: string;
    table: { restored: boolean; rows: Record<string, number>; maxVersion: number; lagRecords: number } | null;
    events: Record<string, number>;
  };
}> {
  const response = await fetch(`http://127.0.0.1:${running.processor.metricsPort}/health`);
  expect(response.status).toBe(200);
  return (await response.json()) as never;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;

beforeAll(async () => {
  h = await createCdcHarness('join');
  const s = h.service;
  await s.create('sites', site('depot-a'));
  await s.create('drivers', { id: 'driver-1', name: 'Ada', licenceNumber: 'NL-1', licenceClass: 'CE' });
  await s.create('drivers', { id: 'driver-2', name: 'Bo', licenceNumber: 'NL-2', licenceClass: 'CE' });
  for (const row of [
    truckRow('truck-1', 'tractor-40t', null),
    truckRow('truck-2', 'tractor-40t', null, 'maintenance'),
    truckRow('truck-3', 'tractor-40t', null),
    truckRow('truck-4', 'tractor-40t', 'driver-1'),
    truckRow('truck-6', 'tractor-18t', null),
  ])
    setup[row.id] = (await s.create('devices', row)).version;
  // The built-in parameters as a kind-scope row: alerts then carry its version.
  const kindRule = await s.put(
    'rules',
    `${OVERHEAT}:kind:truck`,
    { params: { limitC: 105, resolveAtOrBelowC: 100, samples: 3 } },
    undefined,
  );
  setup.kindRule = kindRule.entity.version;
  await h.up();
  // Everything in the topics before the processor starts: its restore must find it.
  await h.follower.until((t) => t.devices.size === 5 && t.rules.size === 1, 60_000, 'the snapshot');
  serde = await createTestSerde(h.stack);
  live = await startProcessor(h.stack, serde, processorOptions('live'), {
    onRegistryChange: (change) => applied.push(change),
  });
}, 120_000);

afterAll(async () => {
  await live?.stop().catch(() => {});
  await replay?.stop().catch(() => {});
  await h?.teardown();
});

describe('the stream–table join on real PostgreSQL, Debezium and Kafka', () => {
  /** Event times: phase A before the mid-run changes, B after their change point. */
  let t0 = 0;
  let b0 = 0;
  let changePoint = 0;
  const versions: Record<string, number> = {};

  it('restores the registry before any telemetry and joins it: enrichment, unknown, maintenance', async () => {
    const running = live!;
    // Restored on start, not followed afterwards: the table was complete before start() resolved.
    expect(running.processor.registry().table).toMatchObject({
      restored: true,
      rows: { sites: 1, devices: 5, drivers: 2, rules: 1 },
      maxVersion: Math.max(...Object.values(setup)),
    });
    expect(applied).toEqual([]);
    // Event time well after every setup row's change point.
    const committed = h.changes.map((c) => c.sourceTsMs ?? 0);
    t0 = Math.max(...committed) + LEAD_MS + 1_000;
    await produceEvents(h.stack, serde, [
      hot('truck-1', 1, t0, 110),
      hot('truck-2', 1, t0, 110),
      hot('truck-3', 1, t0, 90),
      hot('truck-4', 1, t0, 90),
      hot('truck-6', 1, t0, 90),
      hot('ghost-9', 1, t0, 90),
      hot('truck-1', 2, t0 + 1_000, 110),
      hot('truck-2', 2, t0 + 1_000, 110),
      hot('truck-1', 3, t0 + 2_000, 110),
      hot('truck-2', 3, t0 + 2_000, 110),
      hot('truck-1', 4, t0 + 3_000, 95),
    ]);
    await waitFor(
      'truck-1 raised and resolved',
      async () =>
        (await processorOutputs(h.stack, serde)).alerts.filter((a) => a.rule === OVERHEAT).length >= 2,
      30_000,
    );
    const overheats = (await processorOutputs(h.stack, serde)).alerts.filter((a) => a.rule === OVERHEAT);
    expect(overheats.map((a) => [a.deviceId, a.state, a.ts])).toEqual([
      ['truck-1', 'RAISED', t0 + 2_000],
      ['truck-1', 'RESOLVED', t0 + 3_000],
    ]);
    // The registry's site (the event said depot-1), model and rule row version; truck-1 has no driver.
    for (const alert of overheats)
      expect(alert).toMatchObject({
        siteId: 'depot-a',
        model: 'tractor-40t',
        driverId: null,
        ruleVersion: setup.kindRule,
      });
    // The unknown device is dead-lettered with its original bytes, and counted.
    const letters = await readTopic(h.stack, h.stack.topics.dlq);
    const unknown = letters.filter((l) => l.headers[DLQ_HEADERS.code] === 'UNKNOWN_DEVICE');
    expect(unknown.map((l) => l.key?.toString())).toEqual(['ghost-9']);
    expect(unknown[0]?.headers[DLQ_HEADERS.sourceTopic]).toBe(h.stack.topics.truck);
    await waitFor(
      'the counts in /health',
      async () => {
        const { registry } = await health(running);
        return registry.events.unknownDevices === 1 && (registry.events.maintenanceSuppressed ?? 0) >= 3;
      },
      10_000,
    );
    const { registry } = await health(running);
    expect(registry.unknownDevicePolicy).toBe('quarantine');
    expect(registry.table).toMatchObject({ restored: true, rows: { devices: 5 }, lagRecords: 0 });
  });

  it('applies an update, an insert, a decommission, a delete and a rule change from their change point on', async () => {
    const running = live!;
    const s = h.service;
    // Committed after phase A's event times have passed, so each change point lies ahead of
    // the partition's stream time: live and replay judge every event alike.
    await waitFor('the wall clock past phase A', () => Date.now() > t0 + 4_000, 30_000);
    versions.truck4 = (
      await s.put('devices', 'truck-4', truckRow('truck-4', 'tractor-18t', 'driver-2'), setup['truck-4'])
    ).entity.version;
    versions.truck5 = (await s.create('devices', truckRow('truck-5', 'tractor-26t', 'driver-1'))).version;
    versions.truck3 = (await s.decommission('truck-3')).entity.version;
    await s.remove('devices', 'truck-6', setup['truck-6']);
    versions.deviceRule = (
      await s.put(
        'rules',
        `${OVERHEAT}:device:truck-1`,
        { params: { limitC: 120, resolveAtOrBelowC: 115, samples: 3 } },
        undefined,
      )
    ).entity.version;
    await waitFor(
      'the changes in the processor table',
      () => {
        const table = running.processor.registry().table;
        return (
          table !== null &&
          table.maxVersion >= versions.deviceRule! &&
          applied.some((c) => c.result.outcome === 'deleted' && c.result.id === 'truck-6')
        );
      },
      30_000,
    );
    const committed = applied.map((c) => c.sourceTsMs).filter((ts): ts is number => ts !== undefined);
    changePoint = Math.max(...committed) + LEAD_MS;
    expect(changePoint).toBeGreaterThan(t0 + 6_000);
    // Before the change point the old rule still decides, even though the change is already applied.
    const beforeChange = [
      hot('truck-1', 5, t0 + 4_000, 110),
      hot('truck-1', 6, t0 + 4_500, 110),
      hot('truck-1', 7, t0 + 5_000, 110),
      hot('truck-1', 8, t0 + 5_500, 95),
    ];
    // After it: in the next window, 110 °C no longer raises (limit 120), 125 °C does.
    b0 = Math.ceil((changePoint + 1_000) / 60_000) * 60_000 + 1_000;
    const afterChange = [
      hot('truck-1', 9, b0, 110),
      hot('truck-3', 2, b0, 90),
      hot('truck-4', 2, b0, 90),
      hot('truck-5', 1, b0, 90),
      hot('truck-6', 2, b0, 90),
      hot('truck-1', 10, b0 + 1_000, 110),
      hot('truck-1', 11, b0 + 2_000, 110),
      hot('truck-1', 12, b0 + 3_000, 125),
      hot('truck-1', 13, b0 + 4_000, 125),
      hot('truck-1', 14, b0 + 5_000, 125),
      // Far enough ahead to close every window above (60 s windows, 10 s grace).
      hot('truck-1', 15, b0 + 150_000, 90),
    ];
    await produceEvents(h.stack, serde, [...beforeChange, ...afterChange]);
    await waitCaughtUp(h.stack, running.processor.groupId, 30_000);
    await running.processor.checkpointNow();

    const outputs = await processorOutputs(h.stack, serde);
    const overheats = outputs.alerts.filter((a) => a.rule === OVERHEAT);
    expect(overheats.map((a) => [a.deviceId, a.state, a.ts, a.ruleVersion, a.threshold])).toEqual([
      ['truck-1', 'RAISED', t0 + 2_000, setup.kindRule, 105],
      ['truck-1', 'RESOLVED', t0 + 3_000, setup.kindRule, 100],
      ['truck-1', 'RAISED', t0 + 5_000, setup.kindRule, 105],
      ['truck-1', 'RESOLVED', t0 + 5_500, setup.kindRule, 100],
      ['truck-1', 'RAISED', b0 + 5_000, versions.deviceRule, 120],
      ['truck-1', 'RESOLVED', b0 + 150_000, versions.deviceRule, 115],
    ]);
    // Maintenance: truck-2 ran hot three times and raised nothing.
    expect(outputs.alerts.filter((a) => a.deviceId === 'truck-2' && a.rule === OVERHEAT)).toEqual([]);

    const windows = (id: string) =>
      outputs.aggregates
        .filter((a) => a.deviceId === id)
        .map((a) => [a.windowStart < b0 - 1_000 ? 'A' : 'B', a.siteId, a.model, a.driverId, a.eventCount]);
    // The update (model, driver) applies to the window after its change point only.
    expect(new Set(windows('truck-4').map(String))).toEqual(
      new Set(
        [
          ['A', 'depot-a', 'tractor-40t', 'driver-1', 1],
          ['B', 'depot-a', 'tractor-18t', 'driver-2', 1],
        ].map(String),
      ),
    );
    // The insert reaches the join; the decommissioned and the deleted device are gone after theirs.
    expect(new Set(windows('truck-5').map(String))).toEqual(
      new Set([['B', 'depot-a', 'tractor-26t', 'driver-1', 1]].map(String)),
    );
    expect(new Set(windows('truck-3').map(String))).toEqual(
      new Set([['A', 'depot-a', 'tractor-40t', null, 1]].map(String)),
    );
    expect(new Set(windows('truck-6').map(String))).toEqual(
      new Set([['A', 'depot-a', 'tractor-18t', null, 1]].map(String)),
    );
    const letters = (await readTopic(h.stack, h.stack.topics.dlq)).filter(
      (l) => l.headers[DLQ_HEADERS.code] === 'UNKNOWN_DEVICE',
    );
    expect(letters.map((l) => l.key?.toString()).sort()).toEqual(['ghost-9', 'truck-6']);

    const states = await processorDeviceStates(h.stack, serde);
    expect(states.get('truck-4')).toMatchObject({
      siteId: 'depot-a',
      model: 'tractor-18t',
      driverId: 'driver-2',
    });
    expect(states.get('truck-5')).toMatchObject({
      siteId: 'depot-a',
      model: 'tractor-26t',
      driverId: 'driver-1',
    });

    await waitFor(
      'the decommissioned count in /health',
      async () => (await health(running)).registry.events.decommissionedIgnored === 1,
      10_000,
    );
    const { registry } = await health(running);
    expect(registry.events).toMatchObject({
      unknownDevices: 2,
      decommissionedIgnored: 1,
      lateRegistryChanges: 0,
    });
  }, 90_000);

  it('measures commit → applied in the processor table over 120 changes', async () => {
    const s = h.service;
    let version = (await s.get('drivers', 'driver-2')).version;
    const wroteAt = new Map<number, number>();
    for (let i = 0; i < 120; i++) {
      const written = await s.put(
        'drivers',
        'driver-2',
        { id: 'driver-2', name: `Bo ${i}`, licenceNumber: 'NL-2', licenceClass: 'CE' },
        version,
      );
      version = written.entity.version;
      wroteAt.set(version, Date.now());
      // One change at a time, like an operator's writes (a burst is batched by Debezium's poll).
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const seen = () =>
      applied.filter(
        (c) => c.entity === 'drivers' && c.result.outcome === 'upserted' && wroteAt.has(c.version ?? -1),
      );
    await waitFor('every change applied', () => seen().length === wroteAt.size, 30_000);
    const fromCommit = seen()
      .map((c) => c.receivedAtMs - (c.sourceTsMs as number))
      .sort((a, b) => a - b);
    const fromWrite = seen()
      .map((c) => c.receivedAtMs - (wroteAt.get(c.version as number) as number))
      .sort((a, b) => a - b);
    const figures = {
      changes: fromCommit.length,
      commitToAppliedMs: {
        p50: percentile(fromCommit, 50),
        p99: percentile(fromCommit, 99),
        max: fromCommit.at(-1),
      },
      writeReturnedToAppliedMs: { p50: percentile(fromWrite, 50), p99: percentile(fromWrite, 99) },
    };
    process.stdout.write(`[join-latency] ${JSON.stringify(figures)}\n`);
    expect(fromCommit.length).toBe(120);
    expect(fromCommit[0]).toBeGreaterThanOrEqual(-5); // same machine's clocks, ms precision
    expect(percentile(fromCommit, 50)).toBeLessThan(2_000);
  }, 60_000);

  it('gives identical alerts and aggregates when a fresh group replays the same log', async () => {
    const first = live!;
    await first.processor.checkpointNow();
    const liveOutputs = await processorOutputs(h.stack, serde);
    await first.stop();
    live = undefined;
    const mark = await outputMark(h.stack);
    replay = await startProcessor(h.stack, serde, processorOptions('replay'));
    await waitCaughtUp(h.stack, replay.processor.groupId, 30_000);
    await replay.processor.checkpointNow();
    const replayed = await processorOutputs(h.stack, serde, mark);
    expect(replayed.alerts.filter((a) => a.rule === OVERHEAT).length).toBe(6);
    expect(alertSet(replayed.alerts)).toEqual(alertSet(liveOutputs.alerts));
    expect(newestRevisions(replayed.aggregates)).toEqual(newestRevisions(liveOutputs.aggregates));
    expect(replay.processor.registry().events.lateRegistryChanges).toBe(0);
  }, 60_000);
});
