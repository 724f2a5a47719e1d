/**
 * kill -9 of Kafka Connect mid-stream, with changes committed while it is down: none lost
 * (issue 13). The connector runs on a PRIVATE Connect worker (infra/local/private/connect.ts:
 * its own group.id, config/offset/status topics and REST port) under names of this test's
 * own — connector, replication slot, topic prefix, and a scratch database whose publication
 * is its own — against the stack's Kafka and PostgreSQL; the shared worker is never touched.
 *
 * A writer commits a steady series of inserts, updates and deletes through the registry
 * service before, during and after the kill. After the restart every committed change must
 * be in the compacted topics: each insert and update as a record at the version it was
 * committed with, each delete as a delete record, and the table folded from the topics
 * equal to PostgreSQL's rows (ids and versions). Records re-sent after the restart
 * (Debezium is at least once; Connect commits source offsets every 5 s) are counted, not
 * refused: the table's fold ignores them. How long the changes of the outage took to be
 * all in the topics after the restart began is measured and printed (docs/reliability.md).
 *
 * The kill comes after Connect has committed the connector's first offsets, as in any
 * worker that has been running for a while: the restart then resumes streaming from them
 * (a worker killed before its first offset commit would snapshot again instead, and the
 * deletes made while it was down would not be in the topics: that is asserted against).
 */
import { realpathSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { createKafkaClient } from '../../lib/kafka/index.ts';
import { silentLogger } from '../../lib/log.ts';
import { createConnectClient, registryHealth, slotState, waitUntilRunning } from '../../registry/cdc.ts';
import type { Driver } from '../../registry/index.ts';
import { systemClock } from '../../lib/clock.ts';
import { isAlive, type PrivateConnect, startPrivateConnect } from '../support/index.ts';
import { type CdcHarness, createCdcHarness } from './cdc-harness.ts';

type Phase = 'before' | 'down' | 'after';
interface Committed {
  op: 'insert' | 'update' | 'delete';
  id: string;
  /** The row's version after the change (none for a delete). */
  version?: number;
  phase: Phase;
}

let worker: PrivateConnect | undefined;
let h: CdcHarness | undefined;
let writing = false;
let writer: Promise<void> | undefined;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(
  what: string,
  probe: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

beforeAll(async () => {
  const app = loadConfig();
  worker = await startPrivateConnect({
    bootstrap: app.kafka.brokers.join(','),
    prefix: `t-registry-crash-worker-${Date.now().toString(36)}.`,
    // The connector's password reference names the stack's secrets file by its real path (registry/cdc.ts).
    secretsDir: realpathSync(`${app.dataDir}/secrets`),
  });
  h = await createCdcHarness('registry-cdc-crash', { connect: createConnectClient(worker.connect) });
  await h.up();
}, 120_000);

afterAll(async () => {
  writing = false;
  await writer?.catch(() => undefined);
  // Connector (if its worker answers), the worker by PID, the slot, the database, then the
  // topics: the registry's and the worker's own.
  if (h) await h.teardown({ afterConnector: async () => worker?.stop(), extraTopics: worker?.topics ?? [] });
  else if (worker) {
    await worker.stop();
    const admin = createKafkaClient(loadConfig().kafka, { log: silentLogger }).admin();
    await admin.connect();
    await admin.deleteTopics(worker.topics, 10_000).catch(() => undefined);
    await admin.disconnect();
  }
}, 120_000);

describe('registry CDC when Kafka Connect is killed', () => {
  it('loses no insert, update or delete committed before, during or after a kill -9 of the worker', async () => {
    if (!h || !worker) throw new Error('not started');
    const harness = h;
    const connect = worker;
    const committed: Committed[] = [];
    // A holder, not a `let`: the writer reads what the test sets while it runs.
    const now: { phase: Phase } = { phase: 'before' };
    // Live rows in insertion order: updates go round the oldest, deletes take the oldest.
    const live = new Map<string, Driver>();
    let inserted = 0;
    let updates = 0;
    writing = true;
    // A steady writer, independent of the worker: PostgreSQL takes the commits either way.
    // A change belongs to a phase only if it started and committed within it.
    writer = (async () => {
      for (let step = 0; writing; step++) {
        const startedIn: Phase = now.phase;
        let change: Committed;
        const kind = step % 4;
        if (kind === 2 && live.size >= 5) {
          const ids = [...live.keys()];
          const id = ids[updates++ % Math.min(ids.length, 10)] as string;
          const held = live.get(id) as Driver;
          const { entity } = await harness.service.put(
            'drivers',
            id,
            { ...held, name: `${held.name} +` },
            held.version,
          );
          live.set(id, entity);
          change = { op: 'update', id, version: entity.version, phase: startedIn };
        } else if (kind === 3 && live.size >= 10) {
          const [id, held] = live.entries().next().value as [string, Driver];
          await harness.service.remove('drivers', id, held.version);
          live.delete(id);
          change = { op: 'delete', id, phase: startedIn };
        } else {
          const n = ++inserted;
          const row = await harness.service.create('drivers', {
            id: `driver-crash-${String(n).padStart(4, '0')}`,
            name: `Driver ${n}`,
            licenceNumber: `CRASH-${n}`,
            licenceClass: 'CE',
          });
          live.set(row.id, row);
          change = { op: 'insert', id: row.id, version: row.version, phase: startedIn };
        }
        if (now.phase !== startedIn) change.phase = now.phase === 'down' ? 'before' : 'after';
        committed.push(change);
        await sleep(20);
      }
    })();
    const of = (p: Phase, op?: Committed['op']) =>
      committed.filter((c) => c.phase === p && (op === undefined || c.op === op));

    // Streaming, with offsets committed (the worker has been running for a while).
    await harness.follower.until(
      () => harness.changes.some((c) => c.result.outcome === 'deleted'),
      60_000,
      'the first deletes in the topics',
    );
    await until(
      'the first committed offset',
      async () => (await harness.connect.committedLsn(harness.names.connector)) !== undefined,
      30_000,
    );

    const pid = connect.pid as number;
    await connect.kill('SIGKILL');
    now.phase = 'down';
    const killedAt = performance.timeOrigin + performance.now();
    expect(isAlive(pid)).toBe(false);
    // A few seconds of outage with every kind of change in it.
    const downSince = Date.now();
    await until(
      'changes committed while Connect is dead',
      () =>
        Date.now() - downSince >= 3_000 &&
        of('down', 'insert').length >= 20 &&
        of('down', 'update').length >= 10 &&
        of('down', 'delete').length >= 10,
      30_000,
    );
    // Held by the slot meanwhile, and visible in health: the worker unreachable.
    const slot = await slotState(harness.db.pool(1), harness.names.slot);
    expect(slot).toMatchObject({ active: false });
    expect(slot?.retainedBytes).toBeGreaterThan(0);
    expect(
      await registryHealth({
        connect: harness.connect,
        pool: harness.db.pool(1),
        topicPrefix: harness.stack.prefix,
      }),
    ).toMatchObject({
      healthy: false,
      database: { available: true },
      connector: { state: 'UNREACHABLE' },
      slot: { active: false, retainedBytes: expect.any(Number) },
    });

    // Restart: the connector comes back with the worker from its config topic (not put again).
    const restartAt = performance.timeOrigin + performance.now();
    now.phase = 'after';
    await connect.start();
    const answeringAt = performance.timeOrigin + performance.now();
    expect(connect.pid).not.toBe(pid);
    await waitUntilRunning(harness.connect, harness.names.connector, {
      timeoutMs: 60_000,
      clock: systemClock,
      log: harness.stack.log,
    });
    const runningAt = performance.timeOrigin + performance.now();

    // What the topics hold, by change: upserts by id and version, deletes by id.
    const key = (id: string, version: number) => `${id}@${version}`;
    const firstSeen = new Map<string, number>();
    const timesSeen = new Map<string, number>();
    let read = 0;
    const scan = () => {
      for (; read < harness.changes.length; read++) {
        const change = harness.changes[read];
        if (change?.entity !== 'drivers' || change.result.id === null) continue;
        // A delete marker re-sent after the restart reads as `unchanged` (its row is gone
        // from the table) with version 0 (the marker carries only the key): a re-sent delete.
        const k =
          change.result.outcome === 'deleted' ||
          (change.result.outcome === 'unchanged' && change.version === 0)
            ? `${change.result.id}@deleted`
            : change.version !== undefined
              ? key(change.result.id, change.version)
              : undefined;
        if (k === undefined) continue;
        if (!firstSeen.has(k)) firstSeen.set(k, change.receivedAtMs);
        timesSeen.set(k, (timesSeen.get(k) ?? 0) + 1);
      }
    };
    const keyOf = (c: Committed) => (c.op === 'delete' ? `${c.id}@deleted` : key(c.id, c.version as number));
    const missing = (p?: Phase) => {
      scan();
      return committed.filter((c) => (p === undefined || c.phase === p) && !firstSeen.has(keyOf(c)));
    };
    const outage = of('down');
    await until('every change of the outage in the topics', () => missing('down').length === 0, 60_000);
    const backlogAt = Math.max(...outage.map((c) => firstSeen.get(keyOf(c)) as number));

    await until('changes after the restart', () => of('after').length >= 20, 30_000);
    writing = false;
    await writer;

    // Every change committed, in any phase, is a record of the topics.
    await until('every committed change in the topics', () => missing().length === 0, 30_000).catch(
      () => undefined,
    );
    expect(missing()).toEqual([]);
    // Nothing else is: every version read of these rows is one that was committed.
    const committedKeys = new Set(committed.map(keyOf));
    expect([...firstSeen.keys()].filter((k) => !committedKeys.has(k))).toEqual([]);
    // The folded table is the database, ids and versions.
    const expected = await harness.databaseRows();
    await harness.follower
      .until((t) => t.drivers.size === expected.drivers.length, 30_000, 'the table to settle')
      .catch(() => undefined);
    expect(harness.tableRows()).toEqual(expected);
    expect(harness.follower.table.counts().invalid).toBe(0);

    const duplicates = [...timesSeen.entries()].filter(([k, n]) => !k.endsWith('@deleted') && n > 1);
    // A delete counts once per delivery (its marker; the tombstone carries no version).
    const resentDeletes = [...timesSeen.entries()].filter(([k, n]) => k.endsWith('@deleted') && n > 1);
    const figures = {
      committed: {
        before: of('before').length,
        down: outage.length,
        downByOp: {
          insert: of('down', 'insert').length,
          update: of('down', 'update').length,
          delete: of('down', 'delete').length,
        },
        after: of('after').length,
      },
      outageMs: Math.round(restartAt - killedAt),
      restartToAnsweringMs: Math.round(answeringAt - restartAt),
      restartToRunningMs: Math.round(runningAt - restartAt),
      restartToBacklogInTopicsMs: Math.round(backlogAt - restartAt),
      runningToBacklogInTopicsMs: Math.round(backlogAt - runningAt),
      duplicateUpsertRecords: duplicates.reduce((sum, [, n]) => sum + n - 1, 0),
      duplicatedChanges: duplicates.length,
      resentDeletes: resentDeletes.length,
      unchangedOutcomes: harness.follower.table.counts().unchanged,
    };
    console.log(`[cdc-crash] ${JSON.stringify(figures)}`);
  }, 150_000);
});
