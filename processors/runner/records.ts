/**
 * Intake of one input record: decode (serde, cached fast path), check it is a raw device
 * event, validate it, apply it to the partition's core and route the outputs. Bad input
 * becomes a typed dead letter; a registry outage is reported back (`hold`) so the caller
 * pauses the partition and retries, instead of dead-lettering good records.
 */
import { FleetgridError, toFleetgridError } from '../../lib/errors.ts';
import type { ConsumedRecord } from '../../lib/kafka/index.ts';
import { isRawRecord } from '../../schemas/catalog.ts';
import type { Decoded, Serde } from '../../schemas/serde.ts';
import type { RawEvent } from '../../schemas/types.ts';
import { validateRawEvent } from '../../schemas/validate.ts';
import type { PartitionCore } from '../core/index.ts';
import type { OutputRouter, SourceRecord } from './outputs.ts';

/** Decodes a record; a failure comes back as the error (retriable = the registry is away). */
export async function decodeRecord(serde: Serde, value: Buffer | null): Promise<Decoded | FleetgridError> {
  try {
    // Fast path without an await: the writer schema is almost always cached.
    return serde.decodeCached(value) ?? (await serde.decode(value));
  } catch (error) {
    return toFleetgridError(error, 'INTERNAL');
  }
}

export type Applied = 'applied' | 'late' | 'dead-lettered';

/** Decode result → validation → core → outputs. `now` is the batch's processing time. */
export function applyRecord(
  target: { topic: string; partition: number; core: PartitionCore; router: OutputRouter },
  message: ConsumedRecord,
  decoded: Decoded | FleetgridError,
  now: number,
): Applied {
  // Only dead letters need the source record; built on demand, off the hot path.
  const sourceOf = (): SourceRecord => ({
    topic: target.topic,
    partition: target.partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    headers: message.headers,
  });
  if (decoded instanceof FleetgridError) {
    target.router.deadLetter(sourceOf(), decoded, 'decode');
    return 'dead-lettered';
  }
  if (!isRawRecord(decoded.record)) {
    target.router.deadLetter(
      sourceOf(),
      new FleetgridError('DECODE_UNEXPECTED_TYPE', `${decoded.record} is not a raw device event`),
      'decode',
    );
    return 'dead-lettered';
  }
  const event = { type: decoded.record, value: decoded.value } as RawEvent;
  try {
    validateRawEvent(event, now);
  } catch (error) {
    target.router.deadLetter(sourceOf(), toFleetgridError(error, 'VALIDATION_OUT_OF_RANGE'), 'validate');
    return 'dead-lettered';
  }
  const isLate = event.value.ts < target.core.streamTime;
  const output = target.core.apply(event, now);
  target.router.route(output, output.rejected.length > 0 ? sourceOf() : undefined);
  return isLate ? 'late' : 'applied';
}
