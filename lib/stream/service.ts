/**
 * The lifecycle every fleetgrid service shares: start(), then a draining stop() on SIGTERM
 * or SIGINT, bounded by a drain timeout; a second signal exits at once, for the operator
 * who means it. Also what a service needs around that: a lifetime signal that aborts every
 * retry loop when the drain begins, readiness (served by the metrics server at /readyz and
 * as a gauge), and waiting for dependencies at start with capped backoff instead of
 * exiting: a service started before Kafka, the registry or ClickHouse simply waits, says
 * so at warn level at a bounded rate, and reports not-ready meanwhile.
 */
import { setMaxListeners } from 'node:events';
import type { Clock } from '../clock.ts';
import { FleetgridError, isRetriable } from '../errors.ts';
import type { Logger } from '../log.ts';
import { Counter, Gauge, type Registry } from '../metrics.ts';
import { type BackoffPolicy, retry } from '../retry.ts';
import { createRateLimitedLog, type RateLimitedLog } from './rate-log.ts';

export interface Service {
  start(): Promise<void>;
  /** Finishes in-flight work (flush, checkpoint, commit) and releases resources. */
  stop(): Promise<void>;
}

type SignalName = 'SIGTERM' | 'SIGINT';

/**
 * The one signal handler: the first SIGTERM or SIGINT calls `onFirst`, a second one exits
 * with 130 at once (after `onSecond`, e.g. killing child processes). Returns the removal
 * of the handler.
 */
export function onShutdownSignal(
  onFirst: (signal: SignalName) => void,
  log?: Logger,
  onSecond?: () => void,
): () => void {
  let seen = false;
  const handler = (signal: SignalName) => {
    if (seen) {
      log?.warn({ signal }, 'second signal while stopping: exiting now');
      onSecond?.();
      process.exit(130);
    }
    seen = true;
    onFirst(signal);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}

/**
 * An AbortController for a service's lifetime: aborted when it stops, it ends every retry
 * and wait of the service. Every concurrent retry adds an abort listener to its signal
 * while it sleeps; with dozens of partitions retrying through an outage that passes
 * Node's default of 10 and prints a MaxListenersExceededWarning, so the limit is lifted.
 */
export function createLifetime(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

export interface RunOptions {
  /** After the first signal, the drain may take this long; then the process exits with 1. */
  drainTimeoutMs?: number;
}

export const DEFAULT_DRAIN_TIMEOUT_MS = 60_000;

/**
 * Starts `service` and resolves once a signal has made it drain and stop. A signal that
 * arrives while start() is still waiting (for a dependency, say) stops it too: stop() must
 * end a start in progress, which then rejects or resolves as it likes.
 */
export async function runUntilSignal(service: Service, log: Logger, options: RunOptions = {}): Promise<void> {
  const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  const stopped = Promise.withResolvers<void>();
  let stopping = false;
  const remove = onShutdownSignal((signal) => {
    stopping = true;
    log.info({ signal, drainTimeoutMs }, 'draining');
    const deadline = setTimeout(() => {
      log.error({ drainTimeoutMs }, 'drain timed out: exiting');
      process.exit(1);
    }, drainTimeoutMs);
    deadline.unref();
    service.stop().then(
      () => {
        clearTimeout(deadline);
        log.info('stopped');
        stopped.resolve();
      },
      (error: unknown) => {
        clearTimeout(deadline);
        log.error({ err: error }, 'error while draining');
        process.exitCode = 1;
        stopped.resolve();
      },
    );
  }, log);
  try {
    await service.start();
  } catch (error) {
    if (!stopping) {
      remove();
      // Whatever started must still be released before the error surfaces.
      await service.stop().catch(() => {});
      throw error;
    }
  }
  await stopped.promise;
  remove();
}

export interface Readiness {
  readonly ready: boolean;
  setReady(ready: boolean): void;
  /**
   * Resolves with `probe`'s result once it succeeds. Retriable failures are retried with
   * capped full-jitter backoff until then (or until `signal` aborts, which rejects), each
   * attempt counted and logged at warn level at a bounded rate; a non-retriable failure
   * (a bad configuration, refused credentials) rejects at once.
   */
  waitFor<T>(dependency: string, probe: () => Promise<T>): Promise<T>;
}

export interface ReadinessOptions {
  /** Metric prefix, `fleetgrid_<component>`. */
  prefix: string;
  registry: Registry;
  log: Logger;
  signal: AbortSignal;
  policy?: Pick<BackoffPolicy, 'baseMs' | 'capMs'>;
  clock?: Clock;
  random?: () => number;
  warnEveryMs?: number;
}

export function createReadiness(options: ReadinessOptions): Readiness {
  const registers = [options.registry];
  const gauge = new Gauge({
    name: `${options.prefix}_ready`,
    help: '1 when the service is ready (dependencies reached, consuming), else 0',
    registers,
  });
  const attempts = new Counter({
    name: `${options.prefix}_dependency_wait_attempts_total`,
    help: 'Failed attempts to reach a dependency at start, per dependency',
    labelNames: ['dependency'],
    registers,
  });
  gauge.set(0);
  const warn: RateLimitedLog = createRateLimitedLog(
    options.log,
    options.warnEveryMs ?? 10_000,
    options.clock,
  );
  let ready = false;
  return {
    get ready() {
      return ready;
    },
    setReady(value) {
      ready = value;
      gauge.set(value ? 1 : 0);
    },
    waitFor(dependency, probe) {
      let failures = 0;
      return retry(() => probe(), {
        policy: { baseMs: 250, capMs: 10_000, ...options.policy, maxRetries: Number.POSITIVE_INFINITY },
        signal: options.signal,
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.random ? { random: options.random } : {}),
        shouldRetry: (error) => isRetriable(error) && !options.signal.aborted,
        onRetry: (error, attempt, delayMs) => {
          failures++;
          attempts.inc({ dependency });
          warn.warn(
            `wait:${dependency}`,
            { dependency, attempt: attempt + 1, failures, delayMs, err: error },
            `waiting for ${dependency}`,
          );
        },
      }).catch((error: unknown) => {
        if (options.signal.aborted) {
          throw new FleetgridError('TIMEOUT', `stopped while waiting for ${dependency}`, {
            cause: error,
            retriable: false,
          });
        }
        throw error;
      });
    },
  };
}
