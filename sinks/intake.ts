/**
 * The sink's intake: one consumed record becomes a buffer entry (a row for its table, or a
 * rejection for the DLQ), or is held because its schema cannot be fetched right now.
 * Decoding and validation are the runtime's record intake (lib/stream/intake.ts, registry
 * outage policy `hold`); mapping to rows is sinks/rows.ts. Records read FROM the DLQ are
 * only mapped to `dead_letters` rows, never decoded or dead-lettered again.
 */
import { type FleetgridError, toFleetgridError } from '../lib/errors.ts';
import type { ConsumedRecord } from '../lib/kafka/index.ts';
import { headersToStrings } from '../lib/kafka/index.ts';
import { createRecordIntake, type Intake } from '../lib/stream/index.ts';
import { RAW_TOPIC_KEYS, type TopicKey } from '../lib/topics.ts';
import type { Decoded, Serde } from '../schemas/serde.ts';
import type { RawEvent } from '../schemas/types.ts';
import { validateRawEvent } from '../schemas/validate.ts';
import type { Entry } from './batch.ts';
import { mapDeadLetter, mapRecord } from './rows.ts';

export type SinkIntakeResult = Entry | { kind: 'held'; error: FleetgridError };

export interface SinkIntake {
  /** Without an await when the writer schema is cached; undefined: call `take`. */
  takeSync(
    topicKey: TopicKey,
    record: ConsumedRecord,
    partition: number,
    now: number,
  ): SinkIntakeResult | undefined;
  take(topicKey: TopicKey, record: ConsumedRecord, partition: number, now: number): Promise<SinkIntakeResult>;
}

const RAW_KEYS = new Set<TopicKey>(RAW_TOPIC_KEYS);

export function createSinkIntake(serde: Pick<Serde, 'decode' | 'decodeCached'>): SinkIntake {
  const intake = createRecordIntake<Decoded>({ decoder: serde, registryOutage: 'hold' });

  function toEntry(
    topicKey: TopicKey,
    record: ConsumedRecord,
    partition: number,
    outcome: Intake<Decoded>,
    now: number,
  ): SinkIntakeResult {
    const base = { offset: BigInt(record.offset), key: record.key ?? null, value: record.value ?? null };
    if (outcome.kind === 'held') return outcome;
    if (outcome.kind === 'rejected') return { kind: 'rejected', ...base, error: outcome.error };
    const decoded = outcome.value;
    try {
      // Raw events are validated here (the processors validate them too, for their own stage).
      if (RAW_KEYS.has(topicKey))
        validateRawEvent({ type: decoded.record, value: decoded.value } as RawEvent, now);
      const mapped = mapRecord(topicKey, decoded, { partition, offset: record.offset });
      return { kind: 'row', ...base, table: mapped.table, row: mapped.row };
    } catch (error) {
      return { kind: 'rejected', ...base, error: toFleetgridError(error, 'INTERNAL', 'mapping failed') };
    }
  }

  function deadLetterRow(record: ConsumedRecord, partition: number): Entry {
    const key = record.key ?? null;
    const value = record.value ?? null;
    const mapped = mapDeadLetter({
      partition,
      offset: record.offset,
      key,
      value,
      headers: headersToStrings(record.headers),
    });
    return { kind: 'row', offset: BigInt(record.offset), key, value, table: mapped.table, row: mapped.row };
  }

  return {
    takeSync(topicKey, record, partition, now) {
      if (topicKey === 'dlq') return deadLetterRow(record, partition);
      const outcome = intake.takeSync(record.value ?? null, now);
      return outcome && toEntry(topicKey, record, partition, outcome, now);
    },
    async take(topicKey, record, partition, now) {
      if (topicKey === 'dlq') return deadLetterRow(record, partition);
      return toEntry(topicKey, record, partition, await intake.take(record.value ?? null, now), now);
    },
  };
}

export function isHeld(result: SinkIntakeResult): result is { kind: 'held'; error: FleetgridError } {
  return result.kind === 'held';
}
