/**
 * Benchmark of the registry's CDC path: the time from a write's COMMIT in PostgreSQL to its
 * record being read from the compacted topic, through Debezium in the stack's Kafka Connect.
 *
 *   node registry/bench.ts [--changes 200]
 *
 * Needs `make up` (PostgreSQL, Kafka Connect, Kafka). Works in a scratch database with a
 * connector and topics of its own, removed afterwards. One change at a time — an insert,
 * an update or a delete in turn — each waited for before the next, so the figures are
 * latency, not queueing. Two clocks, both on this machine: commit-to-read starts when the
 * service's COMMIT returned; source-to-read starts at the commit time Debezium reports
 * (__source_ts_ms). Prints a table, then one `BENCH_JSON {...}` line.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createCdcHarness } from '../test/registry/cdc-harness.ts';
import { latencySummary } from '../bench/latency.ts';

const { values: args } = parseArgs({ options: { changes: { type: 'string', default: '200' } } });
const CHANGES = Number(args.changes);
if (!Number.isInteger(CHANGES) || CHANGES < 3)
  throw new Error('--changes must be a whole number of at least 3');

const now = () => performance.timeOrigin + performance.now();

const h = await createCdcHarness('registry-bench');
try {
  await h.service.create('sites', {
    id: 'depot-bench',
    kind: 'depot',
    name: 'Bench depot',
    lat: 52,
    lon: 5,
    timeZone: 'Europe/Amsterdam',
    vehicleCapacity: 10,
  });
  await h.up();
  await h.follower.until((t) => t.sites.has('depot-bench'), 60_000, 'the snapshot');

  const commitToRead: number[] = [];
  const sourceToRead: number[] = [];
  const perOp: Record<'insert' | 'update' | 'delete', number[]> = { insert: [], update: [], delete: [] };
  let live = 0;
  for (let i = 0; i < CHANGES; i++) {
    // insert, update, delete, insert, …: one row at a time, so a delete always has a row.
    const op = (['insert', 'update', 'delete'] as const)[i % 3] as 'insert' | 'update' | 'delete';
    const id = `driver-bench-${String(live).padStart(5, '0')}`;
    const seenBefore = h.changes.length;
    let committedAt: number;
    if (op === 'insert') {
      await h.service.create('drivers', {
        id,
        name: `Bench ${i}`,
        licenceNumber: `B-${i}`,
        licenceClass: 'CE',
      });
      committedAt = now();
    } else if (op === 'update') {
      const row = await h.service.get('drivers', id);
      await h.service.put('drivers', id, { ...row, name: `Bench ${i} renamed` }, row.version);
      committedAt = now();
    } else {
      const row = await h.service.get('drivers', id);
      await h.service.remove('drivers', id, row.version);
      committedAt = now();
      live++;
    }
    const arrived = () =>
      h.changes
        .slice(seenBefore)
        .find((c) => c.entity === 'drivers' && c.result.id === id && c.result.outcome !== 'unchanged');
    await h.follower.until(() => arrived() !== undefined, 30_000, `${op} of ${id}`);
    const change = arrived();
    if (!change) throw new Error(`${op} of ${id} not seen`);
    const latency = change.receivedAtMs - committedAt;
    commitToRead.push(latency);
    perOp[op].push(latency);
    if (change.sourceTsMs !== undefined) sourceToRead.push(change.receivedAtMs - change.sourceTsMs);
  }

  const rows = [
    ['commit → read (all)', latencySummary(commitToRead)],
    ['  inserts', latencySummary(perOp.insert)],
    ['  updates', latencySummary(perOp.update)],
    ['  deletes (marker)', latencySummary(perOp.delete)],
    ['source ts → read', latencySummary(sourceToRead)],
  ] as const;
  console.log(`registry CDC latency, ${CHANGES} changes one at a time (ms)`);
  console.log(
    `${'path'.padEnd(22)}${['n', 'p50', 'p90', 'p99', 'max', 'mean'].map((c) => c.padStart(8)).join('')}`,
  );
  for (const [label, s] of rows)
    console.log(
      `${label.padEnd(22)}${[s.n, s.p50, s.p90, s.p99, s.max, s.mean].map((v) => String(v).padStart(8)).join('')}`,
    );
  console.log(
    `BENCH_JSON ${JSON.stringify({
      component: 'registry-cdc',
      changes: CHANGES,
      commitToReadMs: latencySummary(commitToRead),
      byOperationMs: {
        insert: latencySummary(perOp.insert),
        update: latencySummary(perOp.update),
        delete: latencySummary(perOp.delete),
      },
      sourceToReadMs: latencySummary(sourceToRead),
    })}`,
  );
} finally {
  await h.teardown();
}
