import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import './client.ts';
import { pendingCheckDelay } from './request-queue.ts';

const require = createRequire(import.meta.url);
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as new (
  options: Record<string, unknown>,
) => {
  throttledUntil: number;
  pending: unknown[];
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
};

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const queue = () =>
  new RequestQueue({
    maxInFlightRequests: 1,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: 't',
    broker: 'b',
    logger: silent,
  });

describe("kafkajs request queue's pending check", () => {
  it('arms no timer when nothing is pending and nothing throttled (kafkajs looped every 1 ms)', () => {
    const q = queue();
    q.checkPendingRequests(); // what every completed request does
    expect(q.throttleCheckTimeoutId).toBeNull();
  });

  it('still checks pending requests, and the end of a throttle', () => {
    const q = queue();
    q.pending.push({});
    q.scheduleCheckPendingRequests();
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    clearTimeout(q.throttleCheckTimeoutId as NodeJS.Timeout);
    expect(pendingCheckDelay(2, -1, 1_000)).toBe(10);
    expect(pendingCheckDelay(2, 1_500, 1_000)).toBe(500);
    expect(pendingCheckDelay(0, 1_500, 1_000)).toBe(500);
    expect(pendingCheckDelay(0, -1, 1_000)).toBeUndefined();
    expect(pendingCheckDelay(0, 1_000, 1_000)).toBeUndefined();
  });
});
