/**
 * The write side of alert commands: each accepted command is one AlertCommand record on
 * the commands topic (alerts.commands), keyed by alertId so an alert's commands stay in
 * order on one partition. The record is the fact; the alert_actions table (the sink) and
 * the live stream (live-feed.ts) are built from it. Connecting and registering the schema
 * happen on the first command, so the read API serves without Kafka.
 */
import { FleetgridError } from '../lib/errors.ts';
import type { KafkaClient, KafkaProducer } from '../lib/kafka/index.ts';
import type { Serde } from '../schemas/serde.ts';
import type { AlertCommand } from '../schemas/types.ts';

export interface CommandLog {
  /** Resolves once the record is acknowledged by all in-sync replicas. */
  append(command: AlertCommand): Promise<void>;
  close(): Promise<void>;
}

export function createCommandLog(deps: {
  kafka: Pick<KafkaClient, 'producer'>;
  serde: Pick<Serde, 'registerAll' | 'encode'>;
  topic: string;
  /** A produce unanswered for this long is a 503; a retry with the same command id folds. */
  timeoutMs?: number;
}): CommandLog {
  const timeoutMs = deps.timeoutMs ?? 10_000;
  let producer: KafkaProducer | undefined;
  let ready: Promise<KafkaProducer> | undefined;

  function connect(): Promise<KafkaProducer> {
    ready ??= (async () => {
      const p = deps.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await p.connect();
      await deps.serde.registerAll(['AlertCommand']);
      producer = p;
      return p;
    })().catch((error: unknown) => {
      // The next command tries again.
      ready = undefined;
      throw error;
    });
    return ready;
  }

  return {
    async append(command) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new FleetgridError('TIMEOUT', `the commands topic did not answer within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      try {
        await Promise.race([
          (async () => {
            const p = await connect();
            await p.send(deps.topic, [
              { key: command.alertId, value: deps.serde.encode('AlertCommand', command) },
            ]);
          })(),
          timeout,
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await producer?.disconnect().catch(() => undefined);
    },
  };
}
