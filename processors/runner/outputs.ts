/**
 * Turning core outputs into output records: Avro encoding (serde, Confluent framing),
 * keys, and dead letters that carry the ORIGINAL bytes and headers of the input record.
 * Shared by the runner and the benchmark, so the benchmark measures the real path.
 */
import type { Clock } from '../../lib/clock.ts';
import type { FleetgridError } from '../../lib/errors.ts';
import { toDeadLetter } from '../../lib/dlq.ts';
import type { RecordHeaders } from '../../lib/kafka/index.ts';
import type { TopicNames } from '../../lib/topics.ts';
import type { Serde } from '../../schemas/serde.ts';
import type { DeviceState } from '../../schemas/types.ts';
import type { CoreOutput } from '../core/index.ts';
import type { OutputBuffer } from './buffer.ts';
import type { ProcessorMetrics } from './metrics.ts';

/** Where an input record came from: enough to dead-letter it faithfully. */
export interface SourceRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeaders | undefined;
}

/** A device state's encoded size is only known at flush time; this is the budget per state. */
export const DEVICE_STATE_BYTES_ESTIMATE = 256;

export interface OutputRouter {
  /** Appends every output of one core call; `source` is the record that caused it, if any. */
  route(output: CoreOutput, source: SourceRecord | undefined): void;
  deadLetter(source: SourceRecord, error: FleetgridError, stage: string): void;
}

export function createOutputRouter(deps: {
  serde: Serde;
  topics: TopicNames;
  buffer: OutputBuffer<DeviceState>;
  clock: Clock;
  metrics: ProcessorMetrics | undefined;
  /** The produce request bound: a larger letter is cut to it (lib/dlq.ts). */
  maxLetterBytes?: number;
}): OutputRouter {
  const { serde, topics, buffer, clock, metrics } = deps;
  const letterOptions = deps.maxLetterBytes === undefined ? {} : { maxBytes: deps.maxLetterBytes };

  function deadLetter(source: SourceRecord, error: FleetgridError, stage: string): void {
    // The original headers travel along (tracing ids, producer metadata); ours win on clashes.
    const message = toDeadLetter(source, error, stage, clock.now(), letterOptions);
    const bytes = (message.value as Buffer | null)?.length ?? 0;
    buffer.append({ topic: topics.dlq, message, bytes: bytes + 512, urgent: true });
    metrics?.deadLettered.inc({ topic: source.topic, code: error.code });
    metrics?.outputBuffered.inc();
  }

  return {
    deadLetter,
    route(output, source) {
      const now = clock.now();
      for (const aggregate of output.aggregates) {
        const value = serde.encode('WindowAggregate', aggregate);
        buffer.append({
          topic: topics.aggregates,
          message: { key: aggregate.deviceId, value },
          bytes: value.length,
        });
        metrics?.emitDelay.observe(Math.max(0, now - aggregate.windowEnd) / 1000);
      }
      for (const alert of output.alerts) {
        const value = serde.encode('Alert', alert);
        buffer.append({
          topic: topics.alerts,
          message: { key: alert.deviceId, value },
          bytes: value.length,
          urgent: true,
        });
      }
      for (const state of output.deviceStates) {
        buffer.appendState({
          topic: topics.deviceState,
          key: state.deviceId,
          state,
          bytes: DEVICE_STATE_BYTES_ESTIMATE,
        });
      }
      for (const { event, error } of output.rejected) {
        // A rejection always comes from the event being applied; without a source (a timer)
        // there are no original bytes, so the event is re-encoded as the best evidence.
        const rejectedSource: SourceRecord = source ?? {
          topic: '',
          partition: -1,
          offset: '-1',
          key: Buffer.from(event.value.deviceId),
          value: serde.encode(event.type, event.value as never),
          headers: undefined,
        };
        deadLetter(rejectedSource, error, 'process');
      }
      metrics?.outputBuffered.inc(
        output.aggregates.length + output.alerts.length + output.deviceStates.length,
      );
    },
  };
}
