import { describe, expect, it } from 'vitest';
import { createLiveHub, formatEvent, type LiveClient, parseLastEventId } from './live.ts';

function client(buffered = () => 0) {
  const chunks: string[] = [];
  let closed = false;
  const c: LiveClient & { chunks: string[]; closed: () => boolean } = {
    chunks,
    closed: () => closed,
    write(chunk) {
      chunks.push(chunk);
      return buffered();
    },
    close() {
      closed = true;
    },
  };
  return c;
}

describe('live hub', () => {
  it('numbers events monotonically and writes them in the SSE format to every client', () => {
    const hub = createLiveHub({ now: () => 5, firstId: 100 });
    const a = client();
    const b = client();
    hub.attach(a);
    hub.attach(b);
    const first = hub.publish('alert.raised', { alertId: 'x' });
    const second = hub.publish('alert.resolved', { alertId: 'x' });
    expect([first.id, second.id]).toEqual([100, 101]);
    expect(a.chunks).toEqual([formatEvent(first), formatEvent(second)]);
    expect(b.chunks).toEqual(a.chunks);
    expect(formatEvent(first)).toBe('id: 100\nevent: alert.raised\ndata: {"alertId":"x"}\n\n');
  });

  it('starts ids at the start time in microseconds, so ids of an earlier run are older', () => {
    expect(createLiveHub({ now: () => 1_764_000_000_000 }).publish('t', {}).id).toBe(1_764_000_000_000_000);
  });

  it('resumes after Last-Event-ID from the ring, and says reset when events were dropped', () => {
    const hub = createLiveHub({ now: () => 0, firstId: 1, capacity: 3 });
    for (let i = 0; i < 5; i++) hub.publish('e', { i });
    // Kept: 3, 4, 5.
    expect(hub.since(5)).toEqual([]);
    expect((hub.since(3) as { id: number }[]).map((e) => e.id)).toEqual([4, 5]);
    expect((hub.since(2) as { id: number }[]).map((e) => e.id)).toEqual([3, 4, 5]);
    expect(hub.since(1)).toBe('reset');
    const late = client();
    hub.attach(late, 1);
    expect(late.chunks[0]).toMatch(/^id: 5\nevent: reset\n/);
    const resumed = client();
    hub.attach(resumed, 4);
    expect(resumed.chunks).toEqual([formatEvent({ id: 5, type: 'e', data: '{"i":4}' })]);
  });

  it('sends a device at most once per interval, the newest state winning', () => {
    let now = 0;
    const hub = createLiveHub({ now: () => now, firstId: 1, deviceIntervalMs: 1_000 });
    const c = client();
    hub.attach(c);
    hub.deviceState('d1', { v: 1 });
    now = 100;
    hub.deviceState('d1', { v: 2 });
    hub.deviceState('d1', { v: 3 });
    hub.deviceState('d2', { v: 9 });
    hub.flush();
    expect(c.chunks.map((chunk) => /data: (.*)/.exec(chunk)?.[1])).toEqual(['{"v":1}', '{"v":9}']);
    now = 1_000;
    hub.flush();
    expect(c.chunks.at(-1)).toContain('{"v":3}');
    hub.flush();
    expect(c.chunks).toHaveLength(3);
  });

  it('drops a client that does not read, and refuses clients when full', () => {
    let buffered = 0;
    const hub = createLiveHub({ now: () => 0, firstId: 1, maxBufferedBytes: 10, maxClients: 2 });
    const slow = client(() => buffered);
    const other = client();
    hub.attach(slow);
    hub.attach(other);
    expect(hub.full).toBe(true);
    expect(hub.attach(client())).toBe(false);
    buffered = 11;
    hub.publish('e', {});
    expect(slow.closed()).toBe(true);
    expect(hub.clients).toBe(1);
    hub.close();
    expect(other.closed()).toBe(true);
  });

  it('reads Last-Event-ID only as a plain number', () => {
    expect(parseLastEventId('42')).toBe(42);
    expect(parseLastEventId('4x')).toBeUndefined();
    expect(parseLastEventId(undefined)).toBeUndefined();
    expect(parseLastEventId('1'.repeat(17))).toBeUndefined();
  });
});
