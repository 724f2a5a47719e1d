/**
 * Dead letters (docs/design.md §3): a record that a stage cannot use goes to `telemetry.dlq`
 * with its original key and bytes, and headers that say what was wrong, where, and where
 * it came from, so it can be inspected, fixed and replayed.
 *
 * A dead letter must itself fit in a produce request: a record too large for its own topic
 * would be too large for the DLQ as well (it is the same broker limit). Such a letter keeps
 * the head of its original key and value, and says so in headers: what was cut, why, and
 * the original sizes. Nothing else is ever altered.
 */
import type { FleetgridError } from './errors.ts';
import type { ConsumedRecord, OutgoingMessage, RecordHeaders } from './kafka/index.ts';

export const DLQ_HEADERS = {
  code: 'fleetgrid-error-code',
  message: 'fleetgrid-error-message',
  stage: 'fleetgrid-stage',
  sourceTopic: 'fleetgrid-source-topic',
  sourcePartition: 'fleetgrid-source-partition',
  sourceOffset: 'fleetgrid-source-offset',
  failedAt: 'fleetgrid-failed-at',
  /** Present only on a cut letter: which parts were cut (`key`, `value`, `key,value`). */
  truncated: 'fleetgrid-truncated',
  truncatedReason: 'fleetgrid-truncated-reason',
  originalKeySize: 'fleetgrid-original-key-size',
  originalValueSize: 'fleetgrid-original-value-size',
} as const;

/** Where the bad record was read from; producers that reject before sending have no offset. */
export interface DeadLetterSource {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | string | null;
  value: Buffer | null;
  /** The original record's headers; they travel along (ours win on clashes). */
  headers?: RecordHeaders | undefined;
}

/** The source of a consumed record that a stage dead-letters: where it was read, as it was. */
export function sourceOf(
  at: { topic: string; partition: number },
  record: Pick<ConsumedRecord, 'offset' | 'key' | 'value' | 'headers'>,
): DeadLetterSource {
  return {
    topic: at.topic,
    partition: at.partition,
    offset: record.offset,
    key: record.key,
    value: record.value,
    headers: record.headers,
  };
}

/** Headers longer than this are cut: a huge parser message must not make a huge record. */
const MAX_MESSAGE_CHARS = 2_000;

/** Room kept for the headers, the record framing and a cut letter's own headers. */
const LETTER_OVERHEAD_BYTES = 4_096;

export interface DeadLetterOptions {
  /** The most bytes a letter may take (the producer's request bound); unbounded when omitted. */
  maxBytes?: number;
}

export function toDeadLetter(
  source: DeadLetterSource,
  error: FleetgridError,
  stage: string,
  failedAtMs: number,
  options: DeadLetterOptions = {},
): OutgoingMessage {
  const headers: RecordHeaders = {
    ...(source.headers ?? {}),
    [DLQ_HEADERS.code]: error.code,
    [DLQ_HEADERS.message]: error.message.slice(0, MAX_MESSAGE_CHARS),
    [DLQ_HEADERS.stage]: stage,
    [DLQ_HEADERS.sourceTopic]: source.topic,
    [DLQ_HEADERS.sourcePartition]: String(source.partition),
    [DLQ_HEADERS.sourceOffset]: source.offset,
    [DLQ_HEADERS.failedAt]: String(failedAtMs),
  };
  let key = source.key;
  let value = source.value;
  const keyBytes = key === null ? 0 : typeof key === 'string' ? Buffer.byteLength(key) : key.length;
  const valueBytes = value?.length ?? 0;
  const room =
    options.maxBytes === undefined
      ? Number.POSITIVE_INFINITY
      : options.maxBytes - LETTER_OVERHEAD_BYTES - headerBytes(headers);
  if (keyBytes + valueBytes > room) {
    // Keys are ids: give the key a small share and the value the rest.
    const keyRoom = Math.min(keyBytes, Math.max(0, Math.floor(room / 8)));
    const valueRoom = Math.max(0, room - keyRoom);
    const cut: string[] = [];
    if (keyBytes > keyRoom && key !== null) {
      key = (typeof key === 'string' ? Buffer.from(key) : key).subarray(0, keyRoom);
      cut.push('key');
    }
    if (value && valueBytes > valueRoom) {
      value = value.subarray(0, valueRoom);
      cut.push('value');
    }
    headers[DLQ_HEADERS.truncated] = cut.join(',');
    headers[DLQ_HEADERS.truncatedReason] =
      `the original record (${keyBytes + valueBytes} bytes of key and value) exceeds the dead-letter bound of ${options.maxBytes} bytes`;
    headers[DLQ_HEADERS.originalKeySize] = String(keyBytes);
    headers[DLQ_HEADERS.originalValueSize] = String(valueBytes);
  }
  return { key, value, headers };
}

function headerBytes(headers: RecordHeaders): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(headers)) {
    bytes += name.length + 8;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined) bytes += typeof v === 'string' ? Buffer.byteLength(v) : v.length;
    }
  }
  return bytes;
}
