import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.ts';
import { retry } from '../../lib/retry.ts';
import { FleetgridError } from '../../lib/errors.ts';
import { OutputBuffer, WatermarkGate } from './buffer.ts';

const record = (bytes = 10) => ({ topic: 'out', message: { key: 'k', value: Buffer.alloc(bytes) }, bytes });

describe('OutputBuffer', () => {
  it('counts rows and bytes until a take is acknowledged', () => {
    const buffer = new OutputBuffer<string>();
    buffer.append(record(10));
    buffer.append(record(20));
    expect([buffer.rows, buffer.bytes, buffer.pendingRows]).toEqual([2, 30, 2]);
    const take = buffer.take()!;
    expect([buffer.rows, buffer.bytes, buffer.pendingRows]).toEqual([2, 30, 0]);
    buffer.ack(take);
    expect([buffer.rows, buffer.bytes]).toEqual([0, 0]);
  });

  it('counts pending urgent records until they are taken', () => {
    const buffer = new OutputBuffer<string>();
    buffer.append(record());
    buffer.append({ ...record(), urgent: true });
    buffer.append({ ...record(), urgent: true });
    expect(buffer.pendingUrgent).toBe(2);
    buffer.take();
    expect(buffer.pendingUrgent).toBe(0);
    buffer.append(record());
    expect(buffer.pendingUrgent).toBe(0);
  });

  it('keeps only the newest pending state of a device', () => {
    const buffer = new OutputBuffer<string>();
    buffer.appendState({ topic: 's', key: 'dev-1', state: 'old', bytes: 5 });
    buffer.appendState({ topic: 's', key: 'dev-2', state: 'other', bytes: 5 });
    buffer.appendState({ topic: 's', key: 'dev-1', state: 'new', bytes: 7 });
    const take = buffer.take()!;
    expect(take.states.map((s) => s.state)).toEqual(['other', 'new']);
    expect(take.bytes).toBe(12);
    expect(buffer.coalesced).toBe(1);
  });

  it('resolves a checkpoint waiter only once everything appended before it is acknowledged', async () => {
    const buffer = new OutputBuffer<string>();
    buffer.append(record());
    const first = buffer.take()!;
    buffer.append(record());
    const seq = buffer.appendedSeq; // the checkpoint captured here needs both records acked
    let released = false;
    const waiting = buffer.waitAcked(seq).then(() => {
      released = true;
    });
    buffer.ack(first);
    await Promise.resolve();
    expect(released).toBe(false);
    const second = buffer.take()!;
    expect(second.seq).toBe(seq);
    buffer.ack(second);
    await waiting;
    expect(released).toBe(true);
  });

  it('leaves states to coalesce without releasing waiters for sequences they cover', async () => {
    const buffer = new OutputBuffer<string>();
    buffer.append(record());
    buffer.appendState({ topic: 's', key: 'dev-1', state: 'a', bytes: 5 });
    buffer.append(record());
    const seq = buffer.appendedSeq;
    let released = false;
    const waiting = buffer.waitAcked(seq).then(() => {
      released = true;
    });
    const recordsOnly = buffer.take({ includeStates: false })!;
    expect(recordsOnly.records).toHaveLength(2);
    expect(recordsOnly.states).toHaveLength(0);
    expect(recordsOnly.seq).toBe(1); // stops before the state still waiting
    buffer.ack(recordsOnly);
    await Promise.resolve();
    expect(released).toBe(false);
    expect([buffer.pendingRows, buffer.bytes]).toEqual([1, 5]);
    const rest = buffer.take()!;
    buffer.ack(rest);
    await waiting;
    expect(released).toBe(true);
  });

  it('does not treat an in-flight take as acknowledged when nothing else is pending', () => {
    const buffer = new OutputBuffer<string>();
    buffer.append(record());
    buffer.take();
    expect(buffer.take()).toBeUndefined();
    expect(buffer.ackedSeq).toBe(0);
  });
});

describe('WatermarkGate', () => {
  const limits = { highWaterRows: 100, highWaterBytes: 1_000, lowWaterRatio: 0.5 };

  it('pauses at the row high-water mark and resumes only below the low-water mark', () => {
    const gate = new WatermarkGate(limits);
    expect(gate.update(99, 0)).toBeUndefined();
    expect(gate.update(100, 0)).toBe('pause');
    expect(gate.update(100, 0)).toBeUndefined();
    expect(gate.update(60, 0)).toBeUndefined(); // between the marks: stays paused (hysteresis)
    expect(gate.update(50, 0)).toBeUndefined();
    expect(gate.update(49, 0)).toBe('resume');
    expect(gate.paused).toBe(false);
  });

  it('pauses on bytes alone and needs both rows and bytes low to resume', () => {
    const gate = new WatermarkGate(limits);
    expect(gate.update(1, 1_000)).toBe('pause');
    expect(gate.update(1, 600)).toBeUndefined();
    expect(gate.update(70, 100)).toBeUndefined();
    expect(gate.update(10, 100)).toBe('resume');
  });

  it('drains a backlog through a failing then recovering sink with backoff, pausing and resuming once', async () => {
    // The runner's loop in miniature: producers append until paused; the flusher retries a
    // failing send with backoff on a ManualClock; on recovery the backlog drains and input resumes.
    const clock = new ManualClock();
    const buffer = new OutputBuffer<string>();
    const gate = new WatermarkGate(limits);
    const transitions: string[] = [];
    for (let i = 0; i < 150 && !gate.paused; i++) {
      buffer.append(record(1));
      const t = gate.update(buffer.rows, buffer.bytes);
      if (t) transitions.push(t);
    }
    expect(buffer.rows).toBe(100);
    let failures = 3;
    const backoffs: number[] = [];
    const take = buffer.take()!;
    const sending = retry(
      async () => {
        if (failures-- > 0) throw new FleetgridError('KAFKA_UNAVAILABLE', 'broker down');
      },
      {
        clock,
        policy: { baseMs: 100, capMs: 1_000 },
        random: () => 0.99,
        onRetry: (_e, _a, delay) => backoffs.push(delay),
      },
    );
    let sent = false;
    void sending.then(() => {
      sent = true;
    });
    for (let i = 0; i < 20 && !sent; i++) await clock.advance(1_000);
    await sending;
    buffer.ack(take);
    const t = gate.update(buffer.rows, buffer.bytes);
    if (t) transitions.push(t);
    expect(transitions).toEqual(['pause', 'resume']);
    expect(backoffs).toEqual([99, 198, 396]); // capped full jitter: random × min(cap, base·2^n)
  });
});
