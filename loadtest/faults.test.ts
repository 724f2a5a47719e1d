import { describe, expect, it } from 'vitest';
import {
  ALL_FAULT_KINDS,
  busiestLeader,
  faultRecovery,
  parseFaultSchedule,
  privateServerOf,
} from './faults.ts';

describe('parseFaultSchedule', () => {
  it('takes --fault-at and --fault-for and names the target', () => {
    expect(parseFaultSchedule({ kind: 'broker-pause', durationS: 60, atS: 20, forS: 15 })).toEqual({
      kind: 'broker-pause',
      target: 'kafka',
      atS: 20,
      forS: 15,
      endS: 35,
    });
    expect(parseFaultSchedule({ kind: 'sink-kill', durationS: 60, atS: 5, forS: 3 }).target).toBe('sink');
    expect(parseFaultSchedule({ kind: 'registry-kill', durationS: 60 }).target).toBe('registry');
  });

  it('defaults to a third of the run and 10 s, at most a sixth of the run', () => {
    expect(parseFaultSchedule({ kind: 'processor-kill', durationS: 90 })).toMatchObject({
      atS: 30,
      forS: 10,
    });
    expect(parseFaultSchedule({ kind: 'processor-kill', durationS: 30 })).toMatchObject({ atS: 10, forS: 5 });
  });

  it('makes a flush instantaneous and refuses a length for it', () => {
    expect(parseFaultSchedule({ kind: 'redis-flush', durationS: 60, atS: 20 })).toMatchObject({
      forS: 0,
      endS: 20,
    });
    expect(() => parseFaultSchedule({ kind: 'redis-flush', durationS: 60, forS: 5 })).toThrow(
      /instantaneous/,
    );
  });

  it('refuses a fault that does not end well before the load', () => {
    expect(() => parseFaultSchedule({ kind: 'broker-kill', durationS: 30, atS: 20, forS: 8 })).toThrow(
      /must end at least 5 s before/,
    );
    expect(() => parseFaultSchedule({ kind: 'broker-kill', durationS: 60, atS: -1 })).toThrow(/--fault-at/);
    expect(() => parseFaultSchedule({ kind: 'broker-kill', durationS: 60, forS: 0 })).toThrow(/more than 0/);
  });

  it('gives a scale-out its member changes, until 10 s before the load ends unless told', () => {
    const schedule = parseFaultSchedule({ kind: 'scale-out', durationS: 150, atS: 10 });
    expect(schedule).toMatchObject({ target: 'pipeline', atS: 10, forS: 130, endS: 140 });
    expect(schedule.steps?.filter((s) => s.action !== 'sink-handover')).toHaveLength(13);
    const two = parseFaultSchedule({
      kind: 'scale-out',
      durationS: 150,
      atS: 20,
      forS: 120,
      scale: { everyS: 10, from: 1, max: 3, killRemoval: 0, sinkHandover: true },
    });
    expect(two.steps?.map((s) => s.action)).toContain('sink-handover');
    expect(two.steps?.at(-1)).toMatchObject({ atS: 130, processors: 1 });
    expect(parseFaultSchedule({ kind: 'broker-kill', durationS: 60 }).steps).toBeUndefined();
  });

  it('runs a scale-out, and a run without a fault, on a private Kafka', () => {
    expect(privateServerOf('scale-out')).toBe('kafka');
    expect(privateServerOf(undefined)).toBe('kafka');
    expect(privateServerOf('broker-pause')).toBe('kafka');
    expect(privateServerOf('redis-flush')).toBe('redis');
    expect(privateServerOf('processor-kill')).toBeUndefined();
  });

  it('refuses an unknown fault, listing the known ones', () => {
    expect(() => parseFaultSchedule({ kind: 'disk-full', durationS: 60 })).toThrow(
      ALL_FAULT_KINDS.join(', '),
    );
  });
});

describe('faultRecovery', () => {
  const schedule = { atS: 10, endS: 20 };
  it('is the latest of lag back to normal, raw rows and aggregate rows growing again', () => {
    const samples = [
      { t: 5, lag: 800, raw: 500, aggregates: 10 },
      { t: 9, lag: 1_200, raw: 900, aggregates: 10 },
      { t: 15, lag: 9_000, raw: 900, aggregates: 10 },
      { t: 20, lag: 12_000, raw: 900, aggregates: 10 },
      { t: 21 },
      { t: 23, lag: 6_000, raw: 1_500, aggregates: 10 },
      { t: 26, lag: 1_100, raw: 4_000, aggregates: 10 },
      { t: 28, lag: 900, raw: 4_500, aggregates: 30 },
    ];
    expect(faultRecovery(samples, schedule, 1_000)).toEqual({
      lagS: 6,
      rawResumeS: 3,
      aggregatesResumeS: 8,
      seconds: 8,
      thresholdLag: 1_200,
    });
  });

  it('also gives the part after the restored server answers again', () => {
    const samples = [
      { t: 5, lag: 0, raw: 500, aggregates: 10 },
      { t: 20, lag: 9_000, raw: 500, aggregates: 10 },
      { t: 27, lag: 50, raw: 900, aggregates: 10 },
      { t: 30, lag: 0, raw: 1_000, aggregates: 12 },
    ];
    // The broker was restarted at 20 s and answered at 24.5 s; recovered at 30 s.
    expect(faultRecovery(samples, schedule, 100, 24.5)).toMatchObject({
      seconds: 10,
      backS: 4.5,
      afterBackS: 5.5,
    });
    // Without a restart (a pause, a flush) there is no such part.
    expect(faultRecovery(samples, schedule, 100)).not.toHaveProperty('afterBackS');
    // A restart that answers but a pipeline that never recovers within the run.
    expect(faultRecovery(samples.slice(0, 2), schedule, 100, 24.5)).toMatchObject({
      backS: 4.5,
      afterBackS: undefined,
    });
  });

  it('is undefined while an output never resumes', () => {
    const samples = [
      { t: 5, lag: 0, raw: 500, aggregates: 10 },
      { t: 22, lag: 0, raw: 600, aggregates: 10 },
    ];
    const r = faultRecovery(samples, schedule, 100);
    expect(r).toMatchObject({ lagS: 2, rawResumeS: 2, aggregatesResumeS: undefined, seconds: undefined });
  });

  it('takes the first reading after the fault as the level when none came before its end', () => {
    const samples = [
      { t: 21, lag: 0, raw: 700 },
      { t: 24, lag: 0, raw: 800, aggregates: 3 },
      { t: 25, lag: 0, raw: 800, aggregates: 4 },
    ];
    expect(faultRecovery(samples, schedule, 100)).toMatchObject({ rawResumeS: 4, aggregatesResumeS: 5 });
  });
});

describe('busiestLeader', () => {
  it('picks the node leading most of the run’s partitions, not counting internal topics', () => {
    const run = (leaders: number[]) => leaders.map((leader) => ({ leader }));
    expect(
      busiestLeader([
        { name: 'lt.telemetry', partitions: run([1, 2, 2, 3, 2, 1]) },
        { name: '__consumer_offsets', partitions: run([3, 3, 3, 3, 3, 3, 3, 3]) },
      ]),
    ).toBe(2);
    // A tie goes to the highest id; no leader at all, no answer.
    expect(busiestLeader([{ name: 't', partitions: run([1, 2, 3]) }])).toBe(3);
    expect(busiestLeader([{ name: 't', partitions: run([-1]) }])).toBeUndefined();
  });
});
