/**
 * kill -9 of Kafka Connect mid-stream, with changes committed while it is down: none lost.
 * The connector runs on a PRIVATE Connect worker this test starts (the shared one is never
 * touched), against the stack's PostgreSQL and Kafka. A writer commits changes steadily
 * before, during and after the kill; every one must reach the compacted topics once the
 * worker is back — each insert under a key of its own (so compaction cannot hide one), the
 * update and the delete made while the worker was dead as their own records — and the
 * folded table must equal the database. The replication slot keeps the changes meanwhile.
 *
 * The kill comes after Connect has committed the connector's first offsets, as in any
 * worker that has been running for a while: the restart then resumes from them, streaming
 * (a worker killed before its first offset commit would snapshot again instead).
 */
import { realpathSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { createConnectClient, registryHealth, slotState } from '../../registry/cdc.ts';
import { type CdcHarness, createCdcHarness } from './cdc-harness.ts';
import { type PrivateConnect, startPrivateConnect } from './connect.ts';

let worker: PrivateConnect;
let h: CdcHarness;

const driver = (n: number) => ({
  id: `driver-crash-${String(n).padStart(4, '0')}`,
  name: `Driver ${n}`,
  licenceNumber: `CRASH-${n}`,
  licenceClass: 'CE',
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

beforeAll(async () => {
  const app = loadConfig();
  // Its own worker group and topics under a prefix of its own; the secrets dir is the stack's.
  worker = await startPrivateConnect({
    bootstrap: app.kafka.brokers.join(','),
    prefix: `t-registry-crash-worker-${Date.now().toString(36)}.`,
    // As the connector names its password file: by its real path (registry/cdc.ts).
    secretsDir: realpathSync(`${app.dataDir}/secrets`),
  });
  h = await createCdcHarness('registry-cdc-crash', { connect: createConnectClient(worker.connect) });
  await h.up();
}, 240_000);

afterAll(async () => {
  // The connector, then the worker (by PID), then the topics: the worker's own with the registry's.
  if (h) await h.teardown({ afterConnector: () => worker.stop(), extraTopics: worker.topics });
  else await worker?.stop();
}, 240_000);

describe('registry CDC when Kafka Connect is killed', () => {
  it('loses no change committed before, during or after a kill -9 of the worker', async () => {
    const committed: { id: string; version: number }[] = [];
    let n = 0;
    let writing = true;
    // A steady writer, independent of the worker: PostgreSQL takes the commits either way.
    const writer = (async () => {
      while (writing) {
        const row = await h.service.create('drivers', driver(++n));
        committed.push({ id: row.id, version: row.version });
        await sleep(20);
      }
    })();

    await h.follower.until((t) => t.drivers.size >= 20, 60_000, 'the first changes');
    await until(
      'the first committed offset',
      async () => (await h.connect.committedLsn(h.names.connector)) !== undefined,
      30_000,
    );

    await worker.kill('SIGKILL');
    const atKill = committed.length;
    await until(
      'changes committed while Connect is dead',
      async () => committed.length >= atKill + 50,
      30_000,
    );
    // An update and a delete while it is dead, each its own change.
    const updated = await h.service.get('drivers', 'driver-crash-0003');
    const renamed = await h.service.put(
      'drivers',
      updated.id,
      { ...updated, name: 'Renamed while down' },
      updated.version,
    );
    const doomed = committed[atKill + 10]?.id as string;
    const held = await h.service.get('drivers', doomed);
    await h.service.remove('drivers', doomed, held.version);
    const slot = await slotState(h.db.pool(1), h.names.slot);
    expect(slot).toMatchObject({ active: false });
    expect(slot?.retainedBytes).toBeGreaterThan(0);
    // Visible in health: the worker unreachable, the slot holding the changes.
    expect(
      await registryHealth({ connect: h.connect, pool: h.db.pool(1), topicPrefix: h.stack.prefix }),
    ).toMatchObject({
      healthy: false,
      database: { available: true },
      connector: { state: 'UNREACHABLE' },
      slot: { active: false, retainedBytes: expect.any(Number) },
    });

    await worker.start();
    // The connector comes back with the worker (its configuration is in Kafka).
    await h.up();
    const afterRestart = committed.length;
    await until('changes after the restart', async () => committed.length >= afterRestart + 20, 30_000);
    writing = false;
    await writer;

    const expected = await h.databaseRows();
    const last = committed.at(-1)?.id as string;
    await h.follower.until(
      (t) =>
        t.drivers.size === expected.drivers.length &&
        t.drivers.get('driver-crash-0003')?.name === 'Renamed while down' &&
        !t.drivers.has(doomed) &&
        t.drivers.has(last),
      60_000,
      'every change committed around the kill',
    );
    // Every insert arrived as a record of its own, at the version it was committed with.
    const seen = new Map<string, number>();
    for (const change of h.changes)
      if (change.entity === 'drivers' && change.version !== undefined)
        seen.set(change.result.id ?? '', Math.max(seen.get(change.result.id ?? '') ?? 0, change.version));
    expect(committed.filter((c) => (seen.get(c.id) ?? 0) < c.version)).toEqual([]);
    // The delete made while the worker was dead came through the slot (a re-snapshot could not show it).
    expect(h.changes.some((c) => c.result.id === doomed && c.result.outcome === 'deleted')).toBe(true);
    expect(h.follower.table.drivers.get('driver-crash-0003')).toEqual(renamed.entity);
    expect(h.tableRows()).toEqual(expected);
    expect(h.follower.table.counts().invalid).toBe(0);
  });
});
