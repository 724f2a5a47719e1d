/**
 * Encodes OutboundMessages into Kafka records in the Confluent wire format (docs/design.md §3).
 *
 * Same bytes as serde.encode / serde.encodeWith (magic byte, schema id, Avro body by the
 * cached avsc type), written into 1 MiB slabs instead of two fresh buffers per message
 * (toBuffer, then the framed copy): about a third less encoding time per event (0.8 vs
 * 1.2 µs measured side by side). A record's value is a view of its slab; kafkajs copies
 * it into the request, so slabs are never reused, only dropped.
 *
 * Poison is encoded here too: garbage goes out as its bytes, unknown-schema is a valid
 * body framed with an id no registry knows, truncated is a valid frame cut in the middle
 * of its body, out-of-range is a valid record with an impossible value (Avro does not
 * check ranges).
 */
import type avro from 'avsc';
import type { OutgoingMessage } from '../lib/kafka/index.ts';
import { HEADER_BYTES, MAGIC_BYTE } from '../schemas/serde.ts';
import { RECORDS } from '../schemas/catalog.ts';
import type { RecordName } from '../schemas/types.ts';
import { hashString } from './rng.ts';
import { UNKNOWN_SCHEMA_ID_BASE } from './faults.ts';
import type { OutboundMessage } from './types.ts';

const SLAB_BYTES = 1 << 20;

export interface EncoderSchemas {
  /** Registered schema id of each raw record's current schema. */
  ids: Partial<Record<RecordName, number>>;
  /** The legacy TruckTelemetry v1 writer, when mixed versions are simulated. */
  legacy?: { id: number; type: avro.Type };
}

export interface MessageEncoder {
  /** The Kafka record: key (the deviceId) and value. */
  encode(message: OutboundMessage): OutgoingMessage;
  /** The value alone, for callers that keep their own key buffers. */
  encodeValue(message: OutboundMessage): Buffer;
}

export function createMessageEncoder(schemas: EncoderSchemas): MessageEncoder {
  let slab = Buffer.allocUnsafe(SLAB_BYTES);
  let offset = 0;
  // Keys repeat for every event of a device: encode each once.
  const keys = new Map<string, Buffer>();

  function keyOf(deviceId: string): Buffer {
    let key = keys.get(deviceId);
    if (!key) {
      key = Buffer.from(deviceId, 'utf8');
      keys.set(deviceId, key);
    }
    return key;
  }

  function write(schemaId: number, type: avro.Type, value: unknown): Buffer {
    for (;;) {
      const start = offset;
      if (slab.length - start > HEADER_BYTES) {
        slab[start] = MAGIC_BYTE;
        slab.writeInt32BE(schemaId, start + 1);
        const end = type.encode(value, slab, start + HEADER_BYTES);
        if (end > 0) {
          offset = end;
          return slab.subarray(start, end);
        }
        if (start === 0) {
          // Larger than a whole slab: a one-off buffer of its own.
          const body = type.toBuffer(value);
          const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
          out[0] = MAGIC_BYTE;
          out.writeInt32BE(schemaId, 1);
          body.copy(out, HEADER_BYTES);
          return out;
        }
      }
      slab = Buffer.allocUnsafe(SLAB_BYTES);
      offset = 0;
    }
  }

  function idOf(record: RecordName): number {
    const id = schemas.ids[record];
    if (id === undefined) throw new Error(`schema of ${record} is not registered`);
    return id;
  }

  function encodeValue(message: OutboundMessage): Buffer {
    const { event } = message;
    switch (message.poison) {
      case 'garbage':
        return Buffer.from(message.garbage ?? []);
      case 'unknown-schema': {
        const unknownId = UNKNOWN_SCHEMA_ID_BASE + (hashString(event.value.eventId) % 1_000_000);
        return write(unknownId, RECORDS[event.type].type, event.value);
      }
      case 'truncated': {
        // A known schema id, then only the first half of the body.
        const whole = write(idOf(event.type), RECORDS[event.type].type, event.value);
        return whole.subarray(0, HEADER_BYTES + Math.floor((whole.length - HEADER_BYTES) / 2));
      }
      default:
        if (message.legacy && schemas.legacy)
          return write(schemas.legacy.id, schemas.legacy.type, event.value);
        return write(idOf(event.type), RECORDS[event.type].type, event.value);
    }
  }

  return {
    encodeValue,
    encode: (message) => ({ key: keyOf(message.key), value: encodeValue(message) }),
  };
}
