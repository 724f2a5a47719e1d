/**
 * The device-state read model in Redis: one hash per device, the latest committed state,
 * for the dashboard and the query API. Written AFTER the Kafka transaction that carried the
 * state committed, and asynchronously: Redis is never on the path of Kafka outputs, so an
 * outage or a frozen Redis delays only this projection.
 *
 * The writer keeps the newest pending state per device (so memory is bounded by the number
 * of devices, however long the outage), writes them in pipelined batches, retries failed
 * or unanswered writes with capped full-jitter backoff that stop() interrupts, counts and
 * logs (at a bounded rate) the outage, and catches up to the newest state of every device
 * once Redis answers again. A write is forward-only in `seq` (Lua), so a replay or a slow
 * write that lands late never moves a device's projection back.
 */
import type { Redis } from 'ioredis';
import type { Clock } from '../../lib/clock.ts';
import { systemClock } from '../../lib/clock.ts';
import { FleetgridError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { backoffDelay } from '../../lib/retry.ts';
import { createRateLimitedLog } from '../../lib/stream/index.ts';
import type { DeviceState } from '../../schemas/types.ts';

export interface StateWrite {
  /** The Redis key of the device's hash. */
  key: string;
  seq: number;
  fields: Record<string, string>;
}

/** Where the writes go: the Redis part, replaceable by a fake in unit tests. */
export interface StateStore {
  write(states: readonly StateWrite[]): Promise<void>;
}

export interface ReadModelWriter {
  /** Queues the newest committed states; older pending states of the same device are replaced. */
  offer(states: readonly StateWrite[]): void;
  /** Devices waiting to be written. */
  readonly pending: number;
  /** Whether the last write attempt failed (Redis away): the outage is on. */
  readonly failing: boolean;
  /** Resolves once nothing is pending (or `signal` aborts). */
  idle(signal?: AbortSignal): Promise<void>;
  /** Stops retrying; pending states are left (the next start writes them from Kafka's replay). */
  stop(): void;
}

export interface ReadModelOptions {
  store: StateStore;
  policy: { baseMs: number; capMs: number };
  /** A write that has not answered after this long counts as failed (a frozen Redis never answers). */
  writeTimeoutMs: number;
  /** Most devices per pipelined write. */
  batchSize?: number;
  clock?: Clock;
  random?: () => number;
  log: Logger;
  onWrite?: (devices: number) => void;
  onFailure?: (error: unknown) => void;
}

export function createReadModelWriter(options: ReadModelOptions): ReadModelWriter {
  const clock = options.clock ?? systemClock;
  const warn = createRateLimitedLog(options.log, 10_000, clock);
  const batchSize = options.batchSize ?? 500;
  const pending = new Map<string, StateWrite>();
  const stopped = new AbortController();
  let running: Promise<void> | undefined;
  let failing = false;
  let failures = 0;
  let idleWaiters: (() => void)[] = [];

  function offer(states: readonly StateWrite[]): void {
    for (const state of states) {
      const seen = pending.get(state.key);
      if (!seen || state.seq >= seen.seq) pending.set(state.key, state);
    }
    if (!running && !stopped.signal.aborted && pending.size > 0)
      running = loop().finally(() => (running = undefined));
  }

  async function loop(): Promise<void> {
    let attempt = 0;
    while (pending.size > 0 && !stopped.signal.aborted) {
      const batch = [...pending.values()].slice(0, batchSize);
      // Taken out now: a newer state offered meanwhile stays pending and is written next.
      for (const s of batch) if (pending.get(s.key) === s) pending.delete(s.key);
      try {
        await withTimeout(options.store.write(batch), options.writeTimeoutMs);
        options.onWrite?.(batch.length);
        if (failing) {
          options.log.info({ failures }, 'redis read model reachable again: catching up');
          failing = false;
          failures = 0;
        }
        attempt = 0;
      } catch (error) {
        // Put back what was not superseded meanwhile: the newest state per device wins.
        for (const s of batch) {
          const newer = pending.get(s.key);
          if (!newer || newer.seq < s.seq) pending.set(s.key, s);
        }
        failing = true;
        failures++;
        options.onFailure?.(error);
        warn.warn(
          'redis-read-model',
          { err: error, failures, pendingDevices: pending.size },
          'redis read model unavailable: device states held (latest per device) and retried; Kafka outputs unaffected',
        );
        try {
          await clock.sleep(backoffDelay(attempt++, options.policy, options.random), stopped.signal);
        } catch {
          break; // stopped
        }
      }
    }
    if (pending.size === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  return {
    offer,
    get pending() {
      return pending.size;
    },
    get failing() {
      return failing;
    },
    idle(signal) {
      if ((pending.size === 0 && !running) || stopped.signal.aborted) return Promise.resolve();
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    },
    stop() {
      stopped.abort();
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const resolve of waiters) resolve();
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new FleetgridError('REDIS_UNAVAILABLE', `redis did not answer within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Forward-only in `seq`: a replay that re-emits an older state after a newer one, or a
// write that timed out here and lands later, never moves the projection back.
const DEVICE_STATE_LUA = `
local cur = redis.call('HGET', KEYS[1], 'seq')
if cur and tonumber(cur) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
`;

interface ScriptedRedis {
  fgDeviceState(key: string, seq: number, ...fieldsAndValues: string[]): Promise<number>;
}

/** The Redis store of the read model (one pipelined round trip per batch). */
export function createRedisStateStore(redis: Redis): StateStore {
  if (!('fgDeviceState' in redis)) {
    redis.defineCommand('fgDeviceState', { numberOfKeys: 1, lua: DEVICE_STATE_LUA });
  }
  return {
    async write(states) {
      if (states.length === 0) return;
      try {
        const pipeline = redis.pipeline();
        for (const s of states) {
          (pipeline as unknown as ScriptedRedis).fgDeviceState(
            s.key,
            s.seq,
            ...Object.entries(s.fields).flat(),
          );
        }
        const results = await pipeline.exec();
        for (const [error] of results ?? []) if (error) throw error;
      } catch (error) {
        if (error instanceof FleetgridError) throw error;
        throw new FleetgridError(
          'REDIS_UNAVAILABLE',
          `write device states: ${(error as Error)?.message ?? error}`,
          {
            cause: error,
          },
        );
      }
    },
  };
}

/** The Redis key of a device's hash: namespace, then the topic prefix and the device id. */
export function deviceStateKey(namespace: string, topicPrefix: string, deviceId: string): string {
  return `${namespace}:device:${topicPrefix}${deviceId}`;
}

/** DeviceState as string fields of the per-device Redis hash (arrays and nulls as JSON). */
export function deviceStateFields(state: DeviceState): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(state)) {
    fields[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return fields;
}
