/**
 * How often a client of ours tries Kafka again while the broker is away (issue 12 item 3:
 * recovery within 10 s of the broker answering again). A service's own backoff cap
 * (the sink's 30 s, the processor's 10 s) suits ClickHouse or Redis, whose retries are
 * expensive; waiting that long between attempts to reach Kafka only delays the restart
 * after the broker is back (full jitter: up to the cap, on average half of it). An attempt
 * to reach an absent broker is cheap (refused at once, or the client's 3 s connection
 * timeout for a frozen one), so reconnects are capped at a few seconds: still backoff,
 * still bounded, and the waits stay interruptible by shutdown (the callers pass their
 * signal).
 */
export const KAFKA_RECONNECT_CAP_MS = 2_000;

/** `policy` with its cap no longer than KAFKA_RECONNECT_CAP_MS (the base kept, if smaller). */
export function kafkaReconnectPolicy<P extends { baseMs: number; capMs: number }>(policy: P): P {
  return {
    ...policy,
    baseMs: Math.min(policy.baseMs, KAFKA_RECONNECT_CAP_MS),
    capMs: Math.min(policy.capMs, KAFKA_RECONNECT_CAP_MS),
  };
}
