/**
 * One lifecycle for every service: start(), then a draining stop() on SIGTERM or SIGINT.
 * A second signal while draining exits at once, for the operator who means it.
 */
import type { Logger } from './log.ts';

export interface Service {
  start(): Promise<void>;
  /** Finishes in-flight work (flush, checkpoint, commit) and releases resources. */
  stop(): Promise<void>;
}

/** Starts `service` and resolves once a signal has made it drain and stop. */
export async function runUntilSignal(service: Service, log: Logger): Promise<void> {
  const { promise: stopped, resolve } = Promise.withResolvers<void>();
  let draining = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (draining) {
      log.warn({ signal }, 'second signal while draining: exiting now');
      process.exit(130);
    }
    draining = true;
    log.info({ signal }, 'draining');
    service.stop().then(
      () => {
        log.info('stopped');
        resolve();
      },
      (error: unknown) => {
        log.error({ err: error }, 'error while draining');
        process.exitCode = 1;
        resolve();
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  await service.start();
  await stopped;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
}
