import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { clientLogLevel, isClientNoise } from './client.ts';
import { toKafkaError } from './errors.ts';

/** Collects the warning Node emits for `emit` (a MaxListenersExceededWarning, say). */
function warningOf(emit: () => void): Promise<Error & { emitter?: unknown; type?: unknown }> {
  return new Promise((resolve) => {
    process.once('warning', resolve);
    emit();
  });
}

describe('kafka client adapter', () => {
  it('drops only the reconnect warning of the client’s request queue, not other listener warnings', async () => {
    class RequestQueue extends EventEmitter {}
    const queue = new RequestQueue();
    const fromQueue = await warningOf(() => {
      for (let i = 0; i < 11; i++) queue.once('requestQueueEmpty', () => {});
    });
    expect(fromQueue.name).toBe('MaxListenersExceededWarning');
    expect(isClientNoise(fromQueue)).toBe(true);
    const ours = new EventEmitter();
    const elsewhere = await warningOf(() => {
      for (let i = 0; i < 11; i++) ours.on('data', () => {});
    });
    expect(isClientNoise(elsewhere)).toBe(false);
  });

  it('logs the client’s transient start-up errors as warnings and keeps real errors', () => {
    expect(
      clientLogLevel(
        'error',
        'Failed to send messages: This server is not the leader for that topic-partition',
      ),
    ).toBe('warn');
    expect(clientLogLevel('error', 'Crash: KafkaJSNumberOfRetriesExceeded: The coordinator is loading')).toBe(
      'warn',
    );
    expect(
      clientLogLevel('warn', 'Limiting retries for the idempotent producer may invalidate EoS guarantees'),
    ).toBe('debug');
    expect(clientLogLevel('error', 'SASL SCRAM SHA256 authentication failed')).toBe('error');
  });

  it('maps “message too large” to a final KAFKA_RECORD_TOO_LARGE and transport failures to a retriable error', () => {
    const protocol = Object.assign(
      new Error('The request included a message larger than the max message size the server will accept'),
      {
        name: 'KafkaJSProtocolError',
        type: 'MESSAGE_TOO_LARGE',
        retriable: false,
      },
    );
    const wrapped = Object.assign(new Error(protocol.message), {
      name: 'KafkaJSNonRetriableError',
      cause: protocol,
    });
    const tooLarge = toKafkaError('produce', wrapped);
    expect(tooLarge.code).toBe('KAFKA_RECORD_TOO_LARGE');
    expect(tooLarge.retriable).toBe(false);
    const leader = Object.assign(new Error('This server is not the leader for that topic-partition'), {
      name: 'KafkaJSProtocolError',
      type: 'NOT_LEADER_FOR_PARTITION',
      retriable: true,
    });
    expect(toKafkaError('produce', leader)).toMatchObject({ code: 'KAFKA_UNAVAILABLE', retriable: true });
    expect(toKafkaError('produce', new TypeError('x is undefined'))).toMatchObject({
      code: 'INTERNAL',
      retriable: false,
    });
  });
});
