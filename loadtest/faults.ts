/**
 * The fault of a `fleetgrid loadtest --fault` run (pure): what is done, to what, when and
 * for how long. The I/O that does it is loadtest/fault-run.ts.
 *
 * - redis-kill: kill -9 of the private Redis, restarted `forS` later (no persistence, like
 *   the machine's Redis: whatever it held is gone);
 * - redis-flush: FLUSHALL on the private Redis at `atS` (instantaneous);
 * - registry-kill: kill -9 of the private Apicurio registry, restarted `forS` later (its
 *   H2 file keeps the schemas);
 * - broker-kill: kill -9 of a private Kafka node, restarted `forS` later (same data); on a
 *   cluster, the node leading most of the run's partitions (the one whose loss moves most);
 * - broker-pause: SIGSTOP of a private Kafka node for `forS` (sockets open, no answers), on a
 *   cluster the busiest leader too;
 * - rolling-restart: every node of the private cluster in turn, stopped cleanly (SIGTERM),
 *   started again, and the next only once every partition is fully in sync again; begins at
 *   `atS`, its length is whatever that takes (`forS` is the minimum it is counted as);
 * - processor-kill / sink-kill: kill -9 of the started child, restarted `forS` later;
 * - scale-out: processors added and removed every few seconds from `atS` for `forS`, and a
 *   sink handover halfway (loadtest/scale.ts), on a private Kafka of one node or a cluster.
 */
import { FleetgridError } from '../lib/errors.ts';
import { type ScaleOptions, type ScaleStep, scaleSteps } from './scale.ts';

/** The faults of the matrix (bench/faults.ts): each runs on one node or a cluster. */
export const FAULT_KINDS = [
  'redis-kill',
  'redis-flush',
  'registry-kill',
  'broker-kill',
  'broker-pause',
  'processor-kill',
  'sink-kill',
] as const;
/** Faults only a cluster has (`--fault-kafka-nodes` 2 or more): bench/cluster.ts runs them. */
export const CLUSTER_FAULT_KINDS = ['rolling-restart'] as const;
/** Not a fault of a server but of the group's membership: bench/scale.ts runs it. */
export const SCALE_FAULT_KINDS = ['scale-out'] as const;
export const ALL_FAULT_KINDS = [...FAULT_KINDS, ...CLUSTER_FAULT_KINDS, ...SCALE_FAULT_KINDS] as const;
export type FaultKind = (typeof ALL_FAULT_KINDS)[number];

/** The private server a fault needs (the shared stack is never faulted), or the child it hits. */
export type FaultTarget = 'redis' | 'registry' | 'kafka' | 'processor' | 'sink' | 'pipeline';

export interface FaultSchedule {
  kind: FaultKind;
  target: FaultTarget;
  /** Seconds into the load when the fault begins. */
  atS: number;
  /** How long the server stays down or frozen (0 for an instantaneous fault). */
  forS: number;
  /** atS + forS: the fault's end, from which recovery is measured. */
  endS: number;
  /** scale-out: the member changes, in order. */
  steps?: ScaleStep[];
}

const TARGETS: Record<FaultKind, FaultTarget> = {
  'redis-kill': 'redis',
  'redis-flush': 'redis',
  'registry-kill': 'registry',
  'broker-kill': 'kafka',
  'broker-pause': 'kafka',
  'rolling-restart': 'kafka',
  'processor-kill': 'processor',
  'sink-kill': 'sink',
  'scale-out': 'pipeline',
};

/**
 * The private server a run starts for its fault (the shared stack is never faulted), or
 * undefined: a process fault runs on the shared stack. A scale-out run and a run without a
 * fault given a node count (`--kafka-nodes`) get a private Kafka: one node or a cluster.
 */
export function privateServerOf(kind: FaultKind | undefined): 'kafka' | 'redis' | 'registry' | undefined {
  if (kind === undefined || kind === 'scale-out') return 'kafka';
  const target = TARGETS[kind];
  return target === 'kafka' || target === 'redis' || target === 'registry' ? target : undefined;
}

/** Load seconds that must remain after the fault, so recovery is observed under load. */
export const MIN_LOAD_AFTER_FAULT_S = 5;

export function isFaultKind(value: string): value is FaultKind {
  return (ALL_FAULT_KINDS as readonly string[]).includes(value);
}

/**
 * The schedule of a fault in a run of `durationS` seconds. Defaults: begins at a third of
 * the run, lasts 10 s (capped to a sixth of the run); redis-flush lasts 0. The fault must
 * end at least MIN_LOAD_AFTER_FAULT_S before the load does.
 */
export function parseFaultSchedule(input: {
  kind: string;
  durationS: number;
  atS?: number | undefined;
  forS?: number | undefined;
  /** scale-out: the schedule's other options (loadtest/scale.ts). */
  scale?: Omit<ScaleOptions, 'atS' | 'forS'> | undefined;
}): FaultSchedule {
  const invalid = (message: string) =>
    new FleetgridError('CONFIG_INVALID', `--fault ${input.kind}: ${message}`);
  if (!isFaultKind(input.kind))
    throw new FleetgridError(
      'CONFIG_INVALID',
      `unknown fault ${JSON.stringify(input.kind)}: one of ${ALL_FAULT_KINDS.join(', ')}`,
    );
  const kind = input.kind;
  const atS = input.atS ?? Math.round(input.durationS / 3);
  const instantaneous = kind === 'redis-flush';
  // A scale-out lasts until 10 s before the load ends unless told: its changes are the point.
  const defaultForS =
    kind === 'scale-out'
      ? Math.max(1, input.durationS - atS - 2 * MIN_LOAD_AFTER_FAULT_S)
      : Math.min(10, Math.max(1, Math.round(input.durationS / 6)));
  const forS = instantaneous ? 0 : (input.forS ?? defaultForS);
  if (!Number.isFinite(atS) || atS < 0) throw invalid('--fault-at must be 0 or more seconds');
  if (!Number.isFinite(forS) || forS < 0) throw invalid('--fault-for must be 0 or more seconds');
  if (instantaneous && input.forS !== undefined && input.forS !== 0)
    throw invalid('a flush is instantaneous: --fault-for does not apply');
  if (!instantaneous && forS === 0) throw invalid('--fault-for must be more than 0 s');
  if (atS + forS > input.durationS - MIN_LOAD_AFTER_FAULT_S)
    throw invalid(
      `the fault (${atS} s + ${forS} s) must end at least ${MIN_LOAD_AFTER_FAULT_S} s before the load does (${input.durationS} s)`,
    );
  const schedule: FaultSchedule = { kind, target: TARGETS[kind], atS, forS, endS: atS + forS };
  if (kind !== 'scale-out') return schedule;
  const scale = input.scale ?? { everyS: 10, from: 1, max: 3, killRemoval: 3, sinkHandover: true };
  return { ...schedule, steps: scaleSteps({ ...scale, atS, forS }) };
}

/** Partition leadership of one topic, as metadata gives it. */
export interface LeaderMetadata {
  name: string;
  partitions: readonly { leader: number }[];
}

/**
 * The node leading most partitions of the given topics (Kafka's internal `__` topics left
 * out: the run's own topics are what its load moves through); ties go to the highest node id,
 * so with even leadership a cluster's first voter is spared. Undefined when no partition has
 * a leader.
 */
export function busiestLeader(topics: readonly LeaderMetadata[]): number | undefined {
  const leads = new Map<number, number>();
  for (const topic of topics) {
    if (topic.name.startsWith('__')) continue;
    for (const { leader } of topic.partitions)
      if (leader >= 0) leads.set(leader, (leads.get(leader) ?? 0) + 1);
  }
  let best: [number, number] | undefined;
  for (const [node, count] of leads)
    if (!best || count > best[1] || (count === best[1] && node > best[0])) best = [node, count];
  return best?.[0];
}

/** What happened when, in seconds since the load began. */
export interface FaultEvent {
  t: number;
  event: string;
  /** A short label that marks this moment on the report's charts (a scale-out's member count). */
  mark?: string;
}

/** One sample of a fault run (seconds since the load began); a failed read leaves a field out. */
export interface RecoverySample {
  t: number;
  /** Total consumer lag of the watched groups. */
  lag?: number;
  /** The run's raw rows visible in ClickHouse. */
  raw?: number;
  /** Aggregate rows visible in ClickHouse. */
  aggregates?: number;
}

export interface FaultRecovery {
  /** Fault end → lag back at its pre-fault level (stats.recoveryTime's threshold). */
  lagS: number | undefined;
  /** Fault end → the first sample that shows new raw rows. */
  rawResumeS: number | undefined;
  /** Fault end → the first sample that shows new aggregate rows (windows close every window size). */
  aggregatesResumeS: number | undefined;
  /** The latest of the three: lag normal and both outputs flowing again. Undefined if one never was. */
  seconds: number | undefined;
  /**
   * Fault end → the restored server or child answers again (a restarted broker answers
   * metadata with itself among the live brokers; a restarted service is ready). A restart's
   * own time is in `seconds` but is not the pipeline's doing. Undefined when nothing restarts
   * (broker-pause, redis-flush) or the restart never answered within the run.
   */
  backS?: number | undefined;
  /** The server answers again → recovered (`seconds` less `backS`, never negative): the clients' part. */
  afterBackS?: number | undefined;
  thresholdLag: number;
}

/**
 * Recovery from a fault: how long after its end the lag is back to what it was before the
 * fault (the highest lag seen before it, or one second of the offered rate, whichever is
 * larger) and both outputs (raw rows, aggregate rows) grow again.
 */
export function faultRecovery(
  samples: readonly RecoverySample[],
  schedule: Pick<FaultSchedule, 'atS' | 'endS'>,
  baseRate: number,
  /** Seconds since the load began when the restored server answered again (see FaultRecovery.backS). */
  backAtS?: number,
): FaultRecovery {
  const before = samples.filter((s) => s.t < schedule.atS && s.lag !== undefined);
  const thresholdLag = Math.max(baseRate, ...before.map((s) => s.lag as number));
  const after = samples.filter((s) => s.t >= schedule.endS);
  const since = (t: number | undefined) => (t === undefined ? undefined : Math.max(0, t - schedule.endS));
  const lagS = since(after.find((s) => s.lag !== undefined && s.lag <= thresholdLag)?.t);
  const resume = (pick: (s: RecoverySample) => number | undefined) => {
    // The level at the fault's end: the last reading at or before it.
    let level = samples.filter((s) => s.t <= schedule.endS && pick(s) !== undefined).at(-1);
    let base = level ? (pick(level) as number) : undefined;
    for (const s of after) {
      const v = pick(s);
      if (v === undefined) continue;
      if (base !== undefined && v > base) return since(s.t);
      if (base === undefined) {
        level = s;
        base = v;
      }
    }
    return undefined;
  };
  const rawResumeS = resume((s) => s.raw);
  const aggregatesResumeS = resume((s) => s.aggregates);
  const parts = [lagS, rawResumeS, aggregatesResumeS];
  const seconds = parts.some((p) => p === undefined) ? undefined : Math.max(...(parts as number[]));
  if (backAtS === undefined) return { lagS, rawResumeS, aggregatesResumeS, seconds, thresholdLag };
  const backS = since(backAtS) as number;
  const afterBackS = seconds === undefined ? undefined : Math.max(0, seconds - backS);
  return { lagS, rawResumeS, aggregatesResumeS, seconds, backS, afterBackS, thresholdLag };
}
