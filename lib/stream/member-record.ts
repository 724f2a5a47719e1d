/**
 * The member id a process leaves behind when it dies without leaving its group.
 *
 * A process killed with -9 cannot send LeaveGroup: its member stays in the group until its
 * session expires (30 s by default), and its partitions wait that long, because the
 * coordinator lets the rebalance wait for every known member. Kafka's own answer, static
 * membership (`group.instance.id`), is not in the client we use. So each member writes its
 * member id to a small file, and the next process of the same service, same group and same
 * data directory leaves the group on the dead member's behalf before it joins
 * (member.ts, `leaveOnBehalf`).
 *
 * Several live processes may share a data directory and a group (a scale-out on one host):
 * each takes a numbered slot, and only a slot whose process is gone is taken over, so a live
 * member is never made to leave. A clean stop deletes its slot: there is nobody to leave for.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MemberIdRecord {
  /**
   * Claims this process's slot and returns the member id a dead process left in it (it
   * never left the group), if any. Call once, before joining.
   */
  claim(): string | undefined;
  /** The member id of the latest join. */
  remember(memberId: string): void;
  /** The member left the group cleanly: nothing to leave on its behalf. */
  release(): void;
}

/** What one slot file holds. */
export interface MemberSlot {
  pid: number;
  memberId?: string;
}

/**
 * The slot to take among the existing ones (index = slot number; undefined = a missing or
 * unreadable file): the first slot whose process is gone, else a new one. Pure.
 */
export function chooseSlot(
  slots: readonly (MemberSlot | undefined)[],
  isTaken: (slot: MemberSlot, index: number) => boolean,
): { index: number; stale: string | undefined } {
  for (const [index, slot] of slots.entries()) {
    if (slot === undefined) return { index, stale: undefined };
    if (!isTaken(slot, index)) return { index, stale: slot.memberId };
  }
  return { index: slots.length, stale: undefined };
}

/** A service's records, one per group, under its data directory (FLEETGRID_DATA_DIR). */
export function memberRecordsUnder(dataDir: string): (groupId: string) => MemberIdRecord {
  return (groupId) => memberIdFile(join(dataDir, 'members'), groupId);
}

/** Slots claimed by this process (several members of one group may live in one process: tests). */
const claimedHere = new Set<string>();

export function memberIdFile(
  dir: string,
  groupId: string,
  options: { pid?: number; isAlive?: (pid: number) => boolean } = {},
): MemberIdRecord {
  const pid = options.pid ?? process.pid;
  const isAlive = options.isAlive ?? processIsAlive;
  const prefix = `${encodeURIComponent(groupId)}.`;
  let path: string | undefined;

  const write = (slot: MemberSlot) => {
    if (path) writeFileSync(path, `${JSON.stringify(slot)}\n`, { mode: 0o600 });
  };

  return {
    claim() {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const slots: (MemberSlot | undefined)[] = [];
      for (const name of readdirSync(dir)) {
        if (!name.startsWith(prefix) || !name.endsWith('.json')) continue;
        const index = Number(name.slice(prefix.length, -'.json'.length));
        if (!Number.isInteger(index) || index < 0 || index > 1_000) continue;
        slots[index] = readSlot(join(dir, name));
      }
      const { index, stale } = chooseSlot(Array.from(slots), (slot, at) => {
        const file = join(dir, `${prefix}${at}.json`);
        // A slot of this very process is taken only if a member here claimed it (else the
        // pid was reused after a crash, and the slot is as stale as any other).
        return slot.pid === pid ? claimedHere.has(file) : isAlive(slot.pid);
      });
      path = join(dir, `${prefix}${index}.json`);
      claimedHere.add(path);
      write({ pid, ...(stale ? { memberId: stale } : {}) });
      return stale;
    },
    remember(memberId) {
      write({ pid, memberId });
    },
    release() {
      if (!path) return;
      rmSync(path, { force: true });
      claimedHere.delete(path);
      path = undefined;
    },
  };
}

function readSlot(file: string): MemberSlot | undefined {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<MemberSlot>;
    if (typeof value.pid !== 'number') return undefined;
    return { pid: value.pid, ...(typeof value.memberId === 'string' ? { memberId: value.memberId } : {}) };
  } catch {
    return undefined;
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
