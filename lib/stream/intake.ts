/**
 * Record intake: every consumed record becomes an accepted value, a typed rejection for
 * the dead-letter topic, or a hold (its schema cannot be fetched right now). Decoding
 * takes the synchronous fast path when the writer schema is cached (schemas/serde.ts),
 * and only otherwise waits for the registry.
 *
 * The registry-outage policy is explicit. The one the design allows (docs/design.md §3: "a
 * registry outage is retried, not dead-lettered") is `hold`: the record's partition is
 * paused with the reason `registry`, the decode is retried in the background with capped
 * full-jitter backoff, and the partition resumes (fetching the held record again) once the
 * schema arrives. The batch handler never blocks, so the member keeps its group session;
 * the wait is logged at warn level at a bounded rate and counted.
 */
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { FleetgridError, toFleetgridError } from '../errors.ts';
import { type BackoffPolicy, retry } from '../retry.ts';
import { keyOf, type PartitionRef } from './partitions.ts';
import type { RateLimitedLog } from './rate-log.ts';

export type Intake<D> =
  | { kind: 'accepted'; value: D }
  | { kind: 'rejected'; error: FleetgridError }
  /** The decoder could not reach the registry (retriable): hold the partition, do not dead-letter. */
  | { kind: 'held'; error: FleetgridError };

export interface Decoder<D> {
  /** Without an await when the writer schema is cached; undefined when it must be fetched. */
  decodeCached(value: Buffer | null): D | undefined;
  decode(value: Buffer | null): Promise<D>;
}

export type RegistryOutagePolicy = 'hold';

export interface RecordIntakeOptions<D> {
  decoder: Decoder<D>;
  /** Throws (a FleetgridError, non-retriable) when the decoded value makes no sense. */
  validate?: (value: D, now: number) => void;
  registryOutage: RegistryOutagePolicy;
}

export interface RecordIntake<D> {
  /** The outcome when it is known without waiting; undefined: call `take`. */
  takeSync(value: Buffer | null, now: number): Intake<D> | undefined;
  take(value: Buffer | null, now: number): Promise<Intake<D>>;
}

export function createRecordIntake<D>(options: RecordIntakeOptions<D>): RecordIntake<D> {
  const { decoder, validate } = options;

  function finish(value: D, now: number): Intake<D> {
    if (!validate) return { kind: 'accepted', value };
    try {
      validate(value, now);
      return { kind: 'accepted', value };
    } catch (error) {
      return { kind: 'rejected', error: toFleetgridError(error, 'INTERNAL', 'validation failed') };
    }
  }

  function failed(error: unknown): Intake<D> {
    const typed = toFleetgridError(error, 'INTERNAL', 'decode failed');
    return typed.retriable ? { kind: 'held', error: typed } : { kind: 'rejected', error: typed };
  }

  return {
    takeSync(value, now) {
      let decoded: D | undefined;
      try {
        decoded = decoder.decodeCached(value);
      } catch (error) {
        return failed(error);
      }
      return decoded === undefined ? undefined : finish(decoded, now);
    },
    async take(value, now) {
      let decoded: D;
      try {
        decoded = decoder.decodeCached(value) ?? (await decoder.decode(value));
      } catch (error) {
        return failed(error);
      }
      return finish(decoded, now);
    },
  };
}

export interface RegistryHoldDeps {
  decoder: Pick<Decoder<unknown>, 'decode'>;
  pause(ref: PartitionRef): void;
  resume(ref: PartitionRef): void;
  /** Still ours? A partition that moved away is not resumed here. */
  owns(ref: PartitionRef): boolean;
  policy: Pick<BackoffPolicy, 'baseMs' | 'capMs'>;
  /** Ends every hold's retries (shutdown). */
  signal: AbortSignal;
  warn: RateLimitedLog;
  clock?: Clock;
  random?: () => number;
  /** A hold began / ended after `waitedMs`: metrics. */
  onHold?: () => void;
  onRelease?: (waitedMs: number) => void;
}

export interface RegistryHold {
  /** Pauses `ref` (reason `registry`) until `value`'s schema can be fetched. */
  hold(ref: PartitionRef, value: Buffer | null, error: FleetgridError): void;
  isHeld(ref: PartitionRef): boolean;
  readonly held: number;
}

export function createRegistryHold(deps: RegistryHoldDeps): RegistryHold {
  const clock = deps.clock ?? systemClock;
  const holds = new Set<string>();
  return {
    hold(ref, value, error) {
      const key = keyOf(ref);
      if (deps.signal.aborted) return;
      // Paused again even when a retry runs already: the partition may have been revoked
      // and assigned back meanwhile, which cleared its pause.
      deps.pause(ref);
      if (holds.has(key)) return;
      holds.add(key);
      deps.onHold?.();
      const since = clock.now();
      deps.warn.warn(
        'registry-hold',
        { err: error, topic: ref.topic, partition: ref.partition, held: holds.size },
        'schema registry unavailable: partition paused while the decode is retried',
      );
      void retry(() => deps.decoder.decode(value), {
        policy: { ...deps.policy, maxRetries: Number.POSITIVE_INFINITY },
        clock,
        signal: deps.signal,
        ...(deps.random ? { random: deps.random } : {}),
        shouldRetry: (e) => e instanceof FleetgridError && e.retriable && deps.owns(ref),
        onRetry: (e, attempt) =>
          deps.warn.warn(
            'registry-hold',
            { err: e, attempt: attempt + 1, held: holds.size, waitedMs: clock.now() - since },
            'schema registry still unavailable',
          ),
      })
        // A non-retriable outcome (an unknown schema, bad bytes) is the record's own fault:
        // it is dead-lettered when the partition fetches it again.
        .catch(() => {})
        .finally(() => {
          holds.delete(key);
          deps.onRelease?.(clock.now() - since);
          if (!deps.signal.aborted && deps.owns(ref)) deps.resume(ref);
        });
    },
    isHeld: (ref) => holds.has(keyOf(ref)),
    get held() {
      return holds.size;
    },
  };
}
