/**
 * A fix of kafkajs 2.2.4's request queue (one per broker connection), applied once when
 * lib/kafka loads. Its `scheduleCheckPendingRequests` arms a timer even when nothing is
 * pending and no throttle is in force: the delay is then `throttledUntil - now`, negative
 * (throttledUntil starts at -1), Node runs it after 1 ms, the check re-arms it, and every
 * connection of every service spins a 1 ms timer loop for its whole life
 * (tulios/kafkajs#1556, #1704; the fix proposed in #1667/#1768 was never released). A CPU
 * profile of the demo at rest showed that loop as the largest timer callback of every
 * service (the processor holds a connection per partition's transactional producer).
 *
 * The replacement keeps every case that needs a check: requests pending (at the throttle's
 * end, or after 10 ms when not throttled, as kafkajs does) and a throttle in force. With
 * nothing pending and no throttle nothing needs checking: a request pushed later is sent at
 * once or queued with a check of its own, and every completed request checks the queue.
 */
import { createRequire } from 'node:module';
import { FleetgridError } from '../errors.ts';

/** kafkajs' own interval for pending requests when not throttled (requestQueue/index.js). */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

export interface RequestQueueState {
  throttledUntil: number;
  pending: unknown[];
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
}

/** The delay before the next check of the pending requests, or undefined: no check needed. */
export function pendingCheckDelay(pending: number, throttledUntil: number, now: number): number | undefined {
  const untilUnthrottled = throttledUntil - now;
  if (pending > 0) return untilUnthrottled > 0 ? untilUnthrottled : CHECK_PENDING_REQUESTS_INTERVAL_MS;
  return untilUnthrottled > 0 ? untilUnthrottled : undefined;
}

/** The fixed method, `this` being a kafkajs RequestQueue. */
export function scheduleCheckPendingRequests(this: RequestQueueState): void {
  if (this.throttleCheckTimeoutId) return;
  const delay = pendingCheckDelay(this.pending.length, this.throttledUntil, Date.now());
  if (delay === undefined) return;
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, delay);
}

let applied = false;

/** Replaces the method on kafkajs' RequestQueue class (idempotent). */
export function fixRequestQueue(): void {
  if (applied) return;
  const require = createRequire(import.meta.url);
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as {
    prototype: { scheduleCheckPendingRequests: unknown };
  };
  if (typeof RequestQueue.prototype.scheduleCheckPendingRequests !== 'function') {
    throw new FleetgridError(
      'INTERNAL',
      'kafkajs RequestQueue.scheduleCheckPendingRequests not found: review lib/kafka/request-queue.ts',
    );
  }
  RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  applied = true;
}
