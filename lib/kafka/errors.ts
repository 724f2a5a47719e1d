/**
 * Kafka client failures as FleetgridError. The client's errors nest (a retrier wraps the
 * protocol error that made it give up), so the chain of causes is searched for what
 * decides: refused credentials or an untrusted broker certificate are KAFKA_AUTH_FAILED
 * (final), a record the broker will never take is KAFKA_RECORD_TOO_LARGE (final), a
 * transport or retriable protocol failure is KAFKA_UNAVAILABLE (retriable), anything else
 * is INTERNAL (never retried: it is a bug or a configuration problem).
 */
import { FleetgridError } from '../errors.ts';

/** Protocol error types of records the broker refuses for their size (message.max.bytes). */
const TOO_LARGE_TYPES = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

/**
 * The group moved on under a member (its session expired in an outage, a rebalance began):
 * a commit or heartbeat with the old generation is refused. kafkajs calls these
 * non-retriable, but the member rejoins by itself; the caller retries while the partition
 * is still its own, and gives up when it is revoked.
 */
const GROUP_MOVED_TYPES = new Set([
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR',
  'COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_LOAD_IN_PROGRESS',
]);

/**
 * The broker's record of an idempotent producer's sequence numbers and the client's no
 * longer agree (a request written but unanswered, then its sequence numbers reused). The
 * same producer id can never send to that partition again: only a new producer id (a new
 * client) can. Their messages say "The broker received …", which the transport pattern
 * below once took for a connection failure and retried forever (issue 15).
 */
const SEQUENCE_TYPES = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'DUPLICATE_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_ID_MAPPING',
]);

/**
 * Ending a transaction (EndTxn) refused with UNKNOWN_SERVER_ERROR: seen when a new member of
 * a growing group claimed the partition's transactional id (InitProducerId) while the old
 * owner's commit was in flight (issue 15, scale-out). The coordinator decides the
 * transaction whole, committed or aborted, so the caller's producer is simply done with it
 * (processors/runner/transactions.ts: `lost`, claimed again through the group); kafkajs
 * calls it non-retriable, which stopped the process.
 */
const TXN_END_ACTIONS = new Set(['commit transaction', 'abort transaction']);

/**
 * Kafka's UNKNOWN_SERVER_ERROR (error code -1). kafkajs names it 'UNKNOWN' (its
 * protocol/error.js), not by Kafka's name: matching only the latter never matched a real one.
 */
const UNKNOWN_SERVER_TYPES = new Set(['UNKNOWN', 'UNKNOWN_SERVER_ERROR']);

/** A newer producer with our transactional id exists (old brokers' and new brokers' words). */
const FENCED_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);

interface ClientError {
  name?: string;
  message?: string;
  type?: string;
  retriable?: boolean;
  cause?: unknown;
}

/** The error and its causes, outermost first (bounded: causes may form a cycle). */
function chain(error: unknown): ClientError[] {
  const out: ClientError[] = [];
  let current: unknown = error;
  while (current && typeof current === 'object' && out.length < 8 && !out.includes(current as ClientError)) {
    out.push(current as ClientError);
    current = (current as ClientError).cause;
  }
  return out;
}

const CONNECTION =
  /Connection|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Broker|NumberOfRetriesExceeded|Request ?Timeout|CoordinatorNotFound|find (group|transaction) coordinator/i;

/** TLS verification failures: the broker's certificate is not one we trust (Node's codes). */
const TLS_TRUST =
  /SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID|CERT_SIGNATURE_FAILURE|self[- ]signed certificate|unable to verify the first certificate/i;

/**
 * Why the broker and we refused each other, or undefined: SASL authentication failed (wrong
 * user, password or mechanism) or the broker's certificate is not trusted. Retrying cannot
 * help either, so they are KAFKA_AUTH_FAILED and never retried.
 */
function authFailure(causes: readonly ClientError[]): string | undefined {
  for (const current of causes) {
    const message = String(current.message ?? '');
    if (current.name === 'KafkaJSSASLAuthenticationError') {
      return `authentication failed (check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD[_FILE] and KAFKA_SASL_MECHANISM): ${message}`;
    }
    if (typeof current.type === 'string' && /SASL|AUTHORIZATION_FAILED/.test(current.type)) {
      return `the broker refused us (${current.type}; check the KAFKA_SASL_* settings and the user's ACLs): ${message}`;
    }
    const code = (current as { code?: unknown }).code;
    if (TLS_TRUST.test(`${typeof code === 'string' ? code : ''} ${message}`)) {
      return `the broker's TLS certificate is not trusted (check KAFKA_SSL_CA_FILE): ${message}`;
    }
  }
  return undefined;
}

/** True when the failure comes from the Kafka client (a protocol or transport error), not from our own code. */
export function isClientError(error: unknown): boolean {
  return chain(error).some((c) => typeof c.name === 'string' && c.name.startsWith('KafkaJS'));
}

/** Maps client failures onto FleetgridError; retriable client errors stay retriable. */
export function toKafkaError(action: string, error: unknown): FleetgridError {
  if (error instanceof FleetgridError) return error;
  const causes = chain(error);
  const message = error instanceof Error ? error.message : String(error);
  const auth = authFailure(causes);
  if (auth) {
    return new FleetgridError('KAFKA_AUTH_FAILED', `${action}: ${auth}`, { cause: error, retriable: false });
  }
  if (causes.some((c) => c.type !== undefined && FENCED_TYPES.has(c.type))) {
    return new FleetgridError('KAFKA_PRODUCER_FENCED', `${action}: fenced by a newer producer: ${message}`, {
      cause: error,
    });
  }
  if (causes.some((c) => c.type !== undefined && TOO_LARGE_TYPES.has(c.type))) {
    return new FleetgridError(
      'KAFKA_RECORD_TOO_LARGE',
      `${action}: a record is larger than the broker accepts: ${message}`,
      { cause: error },
    );
  }
  if (
    TXN_END_ACTIONS.has(action) &&
    causes.some((c) => c.type !== undefined && UNKNOWN_SERVER_TYPES.has(c.type))
  ) {
    return new FleetgridError(
      'KAFKA_UNAVAILABLE',
      `${action}: the coordinator failed to end the transaction (it ends it whole itself): ${message}`,
      { cause: error, retriable: true },
    );
  }
  if (causes.some((c) => c.type !== undefined && GROUP_MOVED_TYPES.has(c.type))) {
    return new FleetgridError('KAFKA_UNAVAILABLE', `${action}: the consumer group moved on: ${message}`, {
      cause: error,
      retriable: true,
    });
  }
  if (causes.some((c) => c.type !== undefined && SEQUENCE_TYPES.has(c.type))) {
    return new FleetgridError(
      'INTERNAL',
      `${action}: the broker and the idempotent producer disagree on sequence numbers (a new producer id is needed): ${message}`,
      { cause: error, retriable: false },
    );
  }
  const fromClient = isClientError(error);
  const retriable =
    fromClient &&
    causes.some(
      (c) => c.retriable === true || CONNECTION.test(`${String(c.name ?? '')} ${String(c.message ?? '')}`),
    );
  return new FleetgridError(retriable ? 'KAFKA_UNAVAILABLE' : 'INTERNAL', `${action}: ${message}`, {
    cause: error,
    retriable,
  });
}

/** Runs a client call with its failure mapped. */
export async function wrapKafka<T>(action: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw toKafkaError(action, error);
  }
}

/**
 * Client log lines about states that pass by themselves (group start-up, rebalances, a
 * leader moving, a topic created a moment ago): logged as warnings, not errors.
 */
export const TRANSIENT_CLIENT_ERRORS =
  /coordinator is (not available|loading)|Restarting the consumer|rebalanc|not the correct coordinator|leadership election|not the leader for (that|this) topic-partition|leader is not available|There is no leader|does not host this topic-partition|NOT_LEADER|LEADER_NOT_AVAILABLE|UNKNOWN_TOPIC_OR_PARTITION|Broker not connected|Connection error|ECONNREFUSED|Closed connection|Failed to connect|Topic creation errors/i;

/** Failures to reach any broker at all (refused, reset, timed out): no broker has answered. */
const UNREACHABLE = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Connection (error|timeout)|Failed to connect/i;

/**
 * Whether `error` says no broker could be reached (as opposed to a broker that answered with
 * an error, such as a coordinator still loading). A coordinator's timers, a member's session
 * among them, run only while it answers: lib/stream/member.ts counts its bounds from then.
 */
export function isKafkaUnreachable(error: unknown): boolean {
  return chain(error).some((c) => UNREACHABLE.test(`${String(c.name ?? '')} ${String(c.message ?? '')}`));
}
