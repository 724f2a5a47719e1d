import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { chooseSlot, memberIdFile } from './member-record.ts';

describe('chooseSlot', () => {
  const alive = new Set([1, 2]);
  const taken = (slot: { pid: number }) => alive.has(slot.pid);

  it('takes the first slot whose process is gone, with the member id it left', () => {
    expect(chooseSlot([{ pid: 1, memberId: 'a' }, { pid: 9, memberId: 'dead' }, { pid: 2 }], taken)).toEqual({
      index: 1,
      stale: 'dead',
    });
  });

  it('takes a missing or unreadable slot with nothing to leave for, and a new slot when all are live', () => {
    expect(chooseSlot([{ pid: 1 }, undefined, { pid: 9, memberId: 'x' }], taken)).toEqual({
      index: 1,
      stale: undefined,
    });
    expect(
      chooseSlot(
        [
          { pid: 1, memberId: 'a' },
          { pid: 2, memberId: 'b' },
        ],
        taken,
      ),
    ).toEqual({
      index: 2,
      stale: undefined,
    });
    expect(chooseSlot([], taken)).toEqual({ index: 0, stale: undefined });
  });
});

describe('memberIdFile', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetgrid-members-'));
    dirs.push(dir);
    return join(dir, 'members');
  };

  it("gives a restarted process the member id its killed predecessor left, and never a live process's", () => {
    const dir = tempDir();
    const live = new Set<number>([100]);
    const isAlive = (pid: number) => live.has(pid);
    const first = memberIdFile(dir, 'fleetgrid-sink', { pid: 100, isAlive });
    expect(first.claim()).toBeUndefined();
    first.remember('member-of-100');

    // A second live process of the same group and directory (a scale-out) takes its own slot.
    live.add(200);
    const second = memberIdFile(dir, 'fleetgrid-sink', { pid: 200, isAlive });
    expect(second.claim()).toBeUndefined();
    second.remember('member-of-200');

    // 100 is killed with -9; its replacement finds the member it left behind.
    live.delete(100);
    live.add(300);
    const replacement = memberIdFile(dir, 'fleetgrid-sink', { pid: 300, isAlive });
    expect(replacement.claim()).toBe('member-of-100');
    replacement.remember('member-of-300');

    // Files are private to the owner; another group has its own slots.
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['fleetgrid-sink.0.json', 'fleetgrid-sink.1.json']);
    expect(statSync(join(dir, files[0]!)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dir, files[0]!), 'utf8'))).toEqual({
      pid: 300,
      memberId: 'member-of-300',
    });
    expect(memberIdFile(dir, 'other group', { pid: 400, isAlive }).claim()).toBeUndefined();

    // A clean stop leaves nothing to leave for.
    replacement.release();
    live.delete(300);
    expect(memberIdFile(dir, 'fleetgrid-sink', { pid: 500, isAlive }).claim()).toBeUndefined();
  });

  it('does not hand a member of this process to another member of the same process', () => {
    const dir = tempDir();
    const a = memberIdFile(dir, 'g');
    expect(a.claim()).toBeUndefined();
    a.remember('a');
    const b = memberIdFile(dir, 'g');
    expect(b.claim()).toBeUndefined(); // a's slot is this pid's, claimed here: taken
    a.release();
    b.release();
  });
});
