/**
 * Dead letters (DESIGN §3): a record that a stage cannot use goes to `telemetry.dlq`
 * with its original key and bytes untouched, and headers that say what was wrong,
 * where, and where it came from, so it can be inspected, fixed and replayed.
 */
import type { FleetgridError } from './errors.ts';
import type { OutgoingMessage } from './kafka.ts';

export const DLQ_HEADERS = {
  code: 'fleetgrid-error-code',
  message: 'fleetgrid-error-message',
  stage: 'fleetgrid-stage',
  sourceTopic: 'fleetgrid-source-topic',
  sourcePartition: 'fleetgrid-source-partition',
  sourceOffset: 'fleetgrid-source-offset',
  failedAt: 'fleetgrid-failed-at',
} as const;

/** Where the bad record was read from; producers that reject before sending have no offset. */
export interface DeadLetterSource {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | string | null;
  value: Buffer | null;
}

/** Headers longer than this are cut: a huge parser message must not make a huge record. */
const MAX_MESSAGE_CHARS = 2_000;

export function toDeadLetter(
  source: DeadLetterSource,
  error: FleetgridError,
  stage: string,
  failedAtMs: number,
): OutgoingMessage {
  return {
    key: source.key,
    value: source.value,
    headers: {
      [DLQ_HEADERS.code]: error.code,
      [DLQ_HEADERS.message]: error.message.slice(0, MAX_MESSAGE_CHARS),
      [DLQ_HEADERS.stage]: stage,
      [DLQ_HEADERS.sourceTopic]: source.topic,
      [DLQ_HEADERS.sourcePartition]: String(source.partition),
      [DLQ_HEADERS.sourceOffset]: source.offset,
      [DLQ_HEADERS.failedAt]: String(failedAtMs),
    },
  };
}
