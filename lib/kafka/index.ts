/**
 * The Kafka adapter: the only code that imports the Kafka client library (kafkajs).
 * Everything else uses what is exported here, in types fleetgrid owns (types.ts), so the
 * client can be swapped (for example for @platformatic/kafka) by rewriting this folder.
 *
 * Public surface:
 * - createKafkaClient(config, { log }) → KafkaClient: producer (plain or idempotent),
 *   transactionalProducer (transaction → send, sendOffsets with metadata, commit, abort),
 *   consumer (a group member handle with plain callbacks), admin (the operations used);
 * - the owned types: OutgoingMessage, ConsumedRecord, ConsumedBatch, FetchedBatch,
 *   CommitOffset, GroupJoin, RecordHeaders, …;
 * - toKafkaError (client failures as FleetgridError; KAFKA_RECORD_TOO_LARGE is final),
 *   partitionForKey (murmur2, as the Java client), headersToStrings;
 * - kafkaReconnectPolicy: a service's backoff capped for attempts to reach Kafka again.
 */
export { createKafkaClient } from './client.ts';
export { isKafkaUnreachable, toKafkaError, wrapKafka } from './errors.ts';
export { partitionForKey } from './partitioner.ts';
export { KAFKA_RECONNECT_CAP_MS, kafkaReconnectPolicy } from './reconnect.ts';
export type * from './types.ts';

import type { RecordHeaders } from './types.ts';

/** Headers as strings: what DLQ readers and tests want to look at. */
export function headersToStrings(headers: RecordHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    out[key] = Array.isArray(value)
      ? value.map(String).join(',')
      : Buffer.isBuffer(value)
        ? value.toString('utf8')
        : String(value);
  }
  return out;
}
