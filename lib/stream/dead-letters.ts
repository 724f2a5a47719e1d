/**
 * Dead-lettering through the batching producer: letters are cut to the producer's request
 * bound (lib/dlq.ts), so a batch of bad records never makes a request the broker refuses,
 * and a letter is never retried for a non-retriable failure. `send` resolves with how many
 * letters were acknowledged and which failed (and why); the caller decides what a failure
 * means (the sink does not commit past it).
 */
import { type DeadLetterSource, toDeadLetter } from '../dlq.ts';
import type { FleetgridError } from '../errors.ts';
import type { BatchingProducer, SendResult } from './producer.ts';

export interface DeadLetter {
  source: DeadLetterSource;
  error: FleetgridError;
}

export interface DeadLetterSender {
  send(letters: readonly DeadLetter[]): Promise<SendResult>;
}

export function createDeadLetterSender(deps: {
  producer: Pick<BatchingProducer<unknown>, 'send'>;
  /** The DLQ topic (prefixed). */
  topic: string;
  /** The stage that refused the records, e.g. `sink-clickhouse`. */
  stage: string;
  /** The producer's request bound: no letter may be larger. */
  maxBytes: number;
  now: () => number;
}): DeadLetterSender {
  return {
    send(letters) {
      const at = deps.now();
      return deps.producer.send(
        deps.topic,
        letters.map((letter) =>
          toDeadLetter(letter.source, letter.error, deps.stage, at, { maxBytes: deps.maxBytes }),
        ),
      );
    },
  };
}
