import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { FleetgridError } from '../errors.ts';
import { isClientError, isKafkaUnreachable, toKafkaError } from './errors.ts';

/** kafkajs' protocol error for a Kafka error code, built by the client itself. */
const kafkajsProtocolError = (code: number): Error =>
  (
    createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
      createErrorFromCode(code: number): Error;
    }
  ).createErrorFromCode(code);

const named = (name: string, message: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), { name, ...extra });

describe('toKafkaError: refused credentials and untrusted brokers', () => {
  it('maps a SASL authentication failure, even wrapped by the client retrier, to KAFKA_AUTH_FAILED', () => {
    const sasl = named('KafkaJSSASLAuthenticationError', 'SASL SCRAM SHA512 authentication failed', {
      retriable: false,
    });
    for (const error of [
      sasl,
      named('KafkaJSNumberOfRetriesExceeded', 'Broker: retries exceeded', { cause: sasl }),
    ]) {
      const mapped = toKafkaError('connect admin', error);
      expect(mapped.code).toBe('KAFKA_AUTH_FAILED');
      expect(mapped.retriable).toBe(false);
      expect(mapped.message).toMatch(/authentication failed .*KAFKA_SASL_USERNAME/);
    }
  });

  it('maps an unsupported mechanism and an untrusted certificate to KAFKA_AUTH_FAILED', () => {
    const mechanism = named(
      'KafkaJSProtocolError',
      'The broker does not support the requested SASL mechanism',
      {
        type: 'UNSUPPORTED_SASL_MECHANISM',
      },
    );
    expect(toKafkaError('connect', mechanism)).toMatchObject({ code: 'KAFKA_AUTH_FAILED', retriable: false });
    const tls = named(
      'KafkaJSConnectionError',
      'Connection error: self-signed certificate in certificate chain',
      {
        code: 'SELF_SIGNED_CERT_IN_CHAIN',
      },
    );
    const mapped = toKafkaError('connect', named('KafkaJSNumberOfRetriesExceeded', 'x', { cause: tls }));
    expect(mapped).toMatchObject({ code: 'KAFKA_AUTH_FAILED', retriable: false });
    expect(mapped.message).toMatch(/KAFKA_SSL_CA_FILE/);
  });

  it('leaves a plain connection failure retriable', () => {
    const refused = named('KafkaJSConnectionError', 'Connection error: connect ECONNREFUSED 127.0.0.1:9092', {
      code: 'ECONNREFUSED',
    });
    expect(toKafkaError('connect', refused).code).not.toBe('KAFKA_AUTH_FAILED');
  });

  it('makes a coordinator that cannot be found (a broker outage) retriable, not a bug', () => {
    // kafkajs gives up finding a group or transaction coordinator with a non-retriable error
    // of its own while the broker is away; a transaction's commit fails so in an outage.
    const group = named('KafkaJSGroupCoordinatorNotFound', 'Failed to find group coordinator');
    expect(toKafkaError('commit transaction', group)).toMatchObject({
      code: 'KAFKA_UNAVAILABLE',
      retriable: true,
    });
    const txn = named('KafkaJSNonRetriableError', 'Failed to find transaction coordinator');
    expect(toKafkaError('begin transaction', txn).retriable).toBe(true);
  });

  it('makes a transaction end the coordinator failed (a new owner claimed the id mid-commit) retriable, nothing else', () => {
    // The client's own error for code -1, as its EndTxn response parser throws it (kafkajs
    // names it 'UNKNOWN', not Kafka's UNKNOWN_SERVER_ERROR: a hand-made stand-in hid that).
    const protocol = kafkajsProtocolError(-1);
    expect(protocol.name).toBe('KafkaJSProtocolError');
    expect(toKafkaError('commit transaction', protocol)).toMatchObject({
      code: 'KAFKA_UNAVAILABLE',
      retriable: true,
    });
    expect(toKafkaError('abort transaction', protocol).retriable).toBe(true);
    // Elsewhere the client's word stands: a server error on a produce is not retried blindly.
    expect(toKafkaError('send', protocol)).toMatchObject({ code: 'INTERNAL', retriable: false });
  });

  it('makes a commit refused for an old generation (the group moved on in an outage) retriable', () => {
    const protocol = named('KafkaJSProtocolError', 'Specified group generation id is not valid', {
      type: 'ILLEGAL_GENERATION',
      retriable: false,
    });
    const wrapped = named('KafkaJSNonRetriableError', 'Specified group generation id is not valid', {
      cause: protocol,
    });
    expect(toKafkaError('commit offsets', wrapped)).toMatchObject({
      code: 'KAFKA_UNAVAILABLE',
      retriable: true,
    });
  });

  it('tells the client’s failures (however wrapped) from our own bugs', () => {
    const unknownTopic = named('KafkaJSProtocolError', 'This server does not host this topic-partition', {
      type: 'UNKNOWN_TOPIC_OR_PARTITION',
      retriable: true,
    });
    expect(isClientError(unknownTopic)).toBe(true);
    expect(isClientError(named('KafkaJSNonRetriableError', 'gave up', { cause: unknownTopic }))).toBe(true);
    expect(isClientError(new TypeError('cannot read properties of undefined'))).toBe(false);
  });
});

describe('isKafkaUnreachable', () => {
  it('tells a broker that cannot be reached from one that answered with an error', () => {
    const refused = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), {
      name: 'KafkaJSConnectionError',
    });
    expect(
      isKafkaUnreachable(new FleetgridError('KAFKA_UNAVAILABLE', 'leave group', { cause: refused })),
    ).toBe(true);
    const loading = Object.assign(new Error("The coordinator is loading and hence can't process requests"), {
      name: 'KafkaJSProtocolError',
      type: 'COORDINATOR_LOAD_IN_PROGRESS',
    });
    expect(
      isKafkaUnreachable(new FleetgridError('KAFKA_UNAVAILABLE', 'leave group', { cause: loading })),
    ).toBe(false);
  });
});

describe('toKafkaError: an idempotent producer out of step with the broker', () => {
  it('is final, not a connection failure, though its message names the broker (issue 15)', () => {
    // kafkajs' retrier gives up on it with a non-retriable error carrying the same words.
    for (const [type, words] of [
      ['OUT_OF_ORDER_SEQUENCE_NUMBER', 'The broker received an out of order sequence number'],
      ['DUPLICATE_SEQUENCE_NUMBER', 'The broker received a duplicate sequence number'],
    ] as const) {
      const protocol = named('KafkaJSProtocolError', words, { type, retriable: false });
      const wrapped = named('KafkaJSNonRetriableError', words, { cause: protocol, retriable: false });
      for (const error of [protocol, wrapped]) {
        const mapped = toKafkaError('produce batch', error);
        expect(mapped.retriable).toBe(false);
        expect(mapped.message).toMatch(/new producer id/);
      }
    }
  });
});
