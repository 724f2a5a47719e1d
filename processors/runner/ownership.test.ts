import { describe, expect, it } from 'vitest';
import { FleetgridError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';
import type { PartitionRef } from '../../lib/stream/index.ts';
import type { ClaimedPartition } from './claims.ts';
import { createOwnership } from './ownership.ts';
import { idOf, type PartitionTask } from './task.ts';

const P0 = { topic: 't', partition: 0 };

function setup() {
  const owned = new Set<string>([idOf(P0)]);
  const state = { generation: 1 as number | undefined, stopping: false };
  const log: string[] = [];
  /** Each claim waits until the test releases it (or fails it). */
  const pendingClaims: {
    refs: readonly PartitionRef[];
    resolve: () => void;
    reject: (e: unknown) => void;
  }[] = [];
  const disconnected: string[] = [];
  let finalCommit = Promise.withResolvers<void>();
  const ownership = createOwnership({
    claim: (refs) => {
      log.push(`claim ${refs.map(idOf).join(',')}`);
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      pendingClaims.push({ refs, resolve, reject });
      return promise.then(() =>
        refs.map(
          (ref): ClaimedPartition => ({
            ref,
            producer: {
              connect: async () => {},
              transaction: async () => {
                throw new Error('unused');
              },
              disconnect: async () => {
                disconnected.push(idOf(ref));
              },
            },
            plan: { kind: 'empty' },
            checkpoint: undefined,
            nextOffset: undefined,
          }),
        ),
      );
    },
    owns: (ref) => owned.has(idOf(ref)),
    generation: () => state.generation,
    stopping: () => state.stopping,
    newTask: (claimed, generation) =>
      ({ ref: claimed.ref, id: idOf(claimed.ref), generation, dropped: false }) as PartitionTask,
    finalCommit: () => {
      log.push('final commit');
      return finalCommit.promise;
    },
    released: (task) => log.push(`released ${task.id}`),
    log: silentLogger,
  });
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  return {
    ownership,
    owned,
    state,
    log,
    pendingClaims,
    disconnected,
    tick,
    newFinalCommit: () => {
      finalCommit = Promise.withResolvers<void>();
      return finalCommit;
    },
    finalCommitDone: () => finalCommit.resolve(),
  };
}

describe('partition ownership', () => {
  it('keeps a claim across a rebalance that leaves the partition here', async () => {
    const { ownership, state, pendingClaims, tick } = setup();
    ownership.assigned([P0]);
    const task = ownership.taskFor(P0, 1);
    await tick();
    state.generation = 2; // a rebalance completed while the claim ran; P0 stayed ours
    pendingClaims[0]!.resolve();
    expect((await task)?.generation).toBe(2);
    expect(ownership.tasks.has(idOf(P0))).toBe(true);
  });

  it('voids a claim superseded by a revoke and re-add: the older producer is released', async () => {
    const { ownership, pendingClaims, disconnected, tick } = setup();
    ownership.assigned([P0]);
    const first = ownership.taskFor(P0, 1);
    await tick();
    ownership.revoked([P0], 'rebalance');
    ownership.assigned([P0]);
    await tick();
    pendingClaims[0]!.resolve();
    expect(await first).toBeUndefined();
    expect(disconnected).toEqual(['t:0']);
    pendingClaims[1]!.resolve();
    expect(await ownership.taskFor(P0, 2)).toMatchObject({ id: 't:0' });
  });

  it('a partition that comes back waits for its final commit before it is claimed again', async () => {
    const { ownership, pendingClaims, log, tick, finalCommitDone } = setup();
    ownership.assigned([P0]);
    await tick();
    pendingClaims[0]!.resolve();
    await ownership.taskFor(P0, 1);
    ownership.revoked([P0], 'restart');
    ownership.assigned([P0]); // the member joined again and got P0 back
    await tick();
    expect(log).toEqual(['claim t:0', 'final commit']);
    finalCommitDone();
    await tick();
    await tick();
    expect(log).toEqual(['claim t:0', 'final commit', 'released t:0', 'claim t:0']);
  });

  it('a fenced partition is dropped and not claimed again in that generation; a revoked one is not "fenced"', async () => {
    const { ownership, pendingClaims, log, tick } = setup();
    ownership.assigned([P0]);
    await tick();
    pendingClaims[0]!.resolve();
    const task = (await ownership.taskFor(P0, 1))!;
    expect(ownership.fenced(task)).toBe(true);
    expect(task.dropped).toBe(true);
    expect(await ownership.taskFor(P0, 1)).toBeUndefined();
    expect(log.filter((l) => l.startsWith('claim'))).toHaveLength(1);
    expect(ownership.fenced(task)).toBe(false); // already gone
  });

  it('a failed claim is retried by the next batch', async () => {
    const { ownership, pendingClaims, tick } = setup();
    ownership.assigned([P0]);
    const first = ownership.taskFor(P0, 1);
    await tick();
    pendingClaims[0]!.reject(new FleetgridError('KAFKA_UNAVAILABLE', 'away'));
    expect(await first).toBeUndefined();
    const second = ownership.taskFor(P0, 1);
    await tick();
    pendingClaims[1]!.resolve();
    expect(await second).toMatchObject({ id: 't:0' });
  });
});
