/**
 * Which partitions this member holds (ownership bookkeeping; the I/O of a claim is
 * claims.ts). Assigned partitions are claimed at once, in one go per assignment; a batch
 * waits for its partition's claim. A claim counts only while it is still the partition's
 * claim and the partition is still ours: a revoke and re-add in between starts a new one,
 * a rebalance that keeps the partition here does not void it. A revoked partition gets a
 * final commit; should the partition come back to this member meanwhile, the new claim
 * waits for that commit rather than fence it. A fenced partition is not claimed again in
 * the generation that saw the fence (the member rejoins first).
 */
import type { Logger } from '../../lib/log.ts';
import type { PartitionRef, RevokeReason } from '../../lib/stream/index.ts';
import type { ClaimedPartition } from './claims.ts';
import { idOf, type PartitionTask } from './task.ts';

export interface OwnershipDeps {
  /** Claims partitions (claims.ts); `stillWanted` ends its retries once they are not. */
  claim(
    refs: readonly PartitionRef[],
    stillWanted: (ref: PartitionRef) => boolean,
  ): Promise<ClaimedPartition[]>;
  /** Whether the member owns `ref` now, and the current generation. */
  owns(ref: PartitionRef): boolean;
  generation(): number | undefined;
  stopping(): boolean;
  /** Builds the task of a claimed partition (core restored, buffer, router). */
  newTask(claimed: ClaimedPartition, generation: number): PartitionTask;
  /** The final commit of revoked partitions (best effort). */
  finalCommit(tasks: readonly PartitionTask[]): Promise<void>;
  /** A task left (revoked, fenced, stopped): release its producer, update gauges. */
  released(task: PartitionTask): void;
  log: Logger;
}

export interface Ownership {
  readonly tasks: ReadonlyMap<string, PartitionTask>;
  /** A join added these partitions. */
  assigned(added: readonly PartitionRef[]): void;
  /** These partitions are no longer ours. */
  revoked(partitions: readonly PartitionRef[], reason: RevokeReason): void;
  /** The task of a batch's partition: claimed on assignment, or now if that claim failed. */
  taskFor(ref: PartitionRef, generation: number): Promise<PartitionTask | undefined>;
  /** The partition's producer was fenced while we held it. Returns false for a revoked one. */
  fenced(task: PartitionTask): boolean;
  /** Drops a task (its state is gone). */
  drop(task: PartitionTask): void;
  /** Every claim in progress, settled (stop). */
  settled(): Promise<void>;
}

export function createOwnership(deps: OwnershipDeps): Ownership {
  const tasks = new Map<string, PartitionTask>();
  const claims = new Map<string, Promise<PartitionTask | undefined>>();
  const finalCommits = new Map<string, Promise<void>>();
  const fencedIn = new Map<string, number>();

  function adopt(claimed: ClaimedPartition, current: () => boolean): PartitionTask | undefined {
    const generation = deps.generation();
    if (deps.stopping() || !current() || generation === undefined || !deps.owns(claimed.ref)) {
      void claimed.producer.disconnect().catch(() => {});
      return undefined;
    }
    const task = deps.newTask(claimed, generation);
    tasks.set(task.id, task);
    return task;
  }

  function claim(refs: readonly PartitionRef[]): void {
    const pending = refs.map((ref) => finalCommits.get(idOf(ref))).filter((p) => p !== undefined);
    const all = Promise.all(pending).then(() =>
      deps.claim(refs, (ref) => !deps.stopping() && deps.owns(ref)),
    );
    for (const ref of refs) {
      const id = idOf(ref);
      const one: Promise<PartitionTask | undefined> = all.then(
        (claimed) => {
          const mine = claimed.find((c) => idOf(c.ref) === id);
          return mine ? adopt(mine, () => claims.get(id) === one) : undefined;
        },
        (error: unknown) => {
          if (!deps.stopping()) {
            deps.log.warn({ err: error, partition: id }, 'claim failed; the next batch claims again');
          }
          if (claims.get(id) === one) claims.delete(id);
          return undefined;
        },
      );
      claims.set(id, one);
    }
  }

  function drop(task: PartitionTask): void {
    task.dropped = true;
    if (tasks.get(task.id) === task) tasks.delete(task.id);
    deps.released(task);
  }

  return {
    tasks,
    assigned(added) {
      const fresh = added.filter((ref) => !claims.has(idOf(ref)));
      if (fresh.length > 0) claim(fresh);
    },
    revoked(partitions, reason) {
      const revoked: PartitionTask[] = [];
      for (const ref of partitions) {
        const id = idOf(ref);
        claims.delete(id);
        const task = tasks.get(id);
        if (task) {
          tasks.delete(id);
          revoked.push(task);
        }
      }
      if (revoked.length === 0) return;
      deps.log.info({ revoked: revoked.map((t) => t.id), reason }, 'partitions revoked: final commit');
      // Best effort: if the new owner already claimed, our producer is fenced and nothing of
      // this commit becomes visible; otherwise the new owner restores exactly this state.
      const done = deps
        .finalCommit(revoked)
        .catch((error: unknown) => deps.log.warn({ err: error }, 'final commit of revoked partitions failed'))
        .finally(() => {
          for (const task of revoked) drop(task);
        });
      for (const task of revoked) finalCommits.set(task.id, done);
      void done.finally(() => {
        for (const task of revoked) if (finalCommits.get(task.id) === done) finalCommits.delete(task.id);
      });
    },
    taskFor(ref, generation) {
      const id = idOf(ref);
      if (fencedIn.get(id) === generation) return Promise.resolve(undefined);
      if (!claims.has(id)) claim([ref]);
      return claims.get(id)!;
    },
    fenced(task) {
      if (tasks.get(task.id) !== task) return false;
      fencedIn.set(task.id, task.generation);
      drop(task);
      return true;
    },
    drop,
    async settled() {
      await Promise.all([...claims.values()].map((c) => c.catch(() => undefined)));
    },
  };
}
