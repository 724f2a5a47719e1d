/**
 * Serialization in the Confluent wire format (docs/design.md §3): byte 0x00, a 4-byte big-endian
 * schema id, then the Avro body. Registration and schema look-ups go through
 * @kafkajs/confluent-schema-registry; encoding and decoding use avsc directly with
 * cached types and resolvers, because they are on every event's path.
 *
 * Decoding resolves any writer version into the newest reader schema of that record
 * (a v1 TruckTelemetry decodes with cargoTempC = null). Every failure is a typed
 * FleetgridError: bad bytes are non-retriable DECODE_* errors (dead-lettered by the
 * caller), a registry that cannot be reached is a retriable REGISTRY_UNAVAILABLE.
 * Schema ids that the registry does not know are remembered for a while, so a stream of
 * poison messages never costs a registry round trip each.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { TimeoutMiddleware } from 'mappersmith/middleware/timeout';
import type avro from 'avsc';
import type { Clock } from '../lib/clock.ts';
import { systemClock } from '../lib/clock.ts';
import type { RegistryConfig } from '../lib/config.ts';
import { FleetgridError } from '../lib/errors.ts';
import type { TopicNames } from '../lib/topics.ts';
import { NAMESPACE, parseSchema, RECORD_NAMES, RECORDS, subjectOf } from './catalog.ts';
import type { RecordName, RecordTypes } from './types.ts';

export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

export interface Decoded<N extends RecordName = RecordName> {
  record: N;
  schemaId: number;
  value: RecordTypes[N];
}

export interface Serde {
  /** Registers the current schema of every record (or of `records`) and caches the ids. */
  registerAll(records?: RecordName[]): Promise<Record<string, number>>;
  /** Registers an arbitrary schema under a record's subject (schema evolution, tests). */
  registerSchema(record: RecordName, schema: avro.Schema): Promise<number>;
  /** Synchronous once the record's schema is registered: the hot path of producers. */
  encode<N extends RecordName>(record: N, value: RecordTypes[N]): Buffer;
  /** Encodes with a specific registered writer schema (e.g. TruckTelemetry v1). */
  encodeWith(schemaId: number, type: avro.Type, value: unknown): Buffer;
  /** Decodes any registered writer version into the newest reader schema. */
  decode(buffer: Buffer | null): Promise<Decoded>;
  /** Decode without awaiting when the writer schema is already cached; else undefined. */
  decodeCached(buffer: Buffer | null): Decoded | undefined;
  schemaId(record: RecordName): number;
}

export interface SerdeOptions {
  topics: TopicNames;
  clock?: Clock;
  /** How long an unknown schema id is remembered as unknown. */
  unknownIdTtlMs?: number;
  /** Per registry request. */
  timeoutMs?: number;
}

interface WriterEntry {
  record: RecordName;
  reader: avro.Type;
  resolver: avro.Resolver | undefined;
}

const FULL_NAME_TO_RECORD = new Map<string, RecordName>(
  RECORD_NAMES.map((name) => [`${NAMESPACE}.${name}`, name]),
);

export function createSchemaRegistryClient(config: RegistryConfig, timeoutMs = 5_000): SchemaRegistry {
  return new SchemaRegistry({
    host: config.url,
    ...(config.auth ? { auth: config.auth } : {}),
    clientId: 'fleetgrid',
    // Our callers retry with their own backoff; the client must fail fast and say why.
    retry: { retries: 0, initialRetryTimeInSecs: 0.1, maxRetryTimeInSecs: 1 },
    // The client has no timeout option of its own: a registry that accepts the connection
    // and never answers would hold a stage for good without this middleware.
    // (mappersmith declares its Middleware type twice, for its ESM and CJS builds: the cast
    // bridges the two declarations of one shape.)
    middlewares: [TimeoutMiddleware(timeoutMs) as never],
  });
}

export function createSerde(config: RegistryConfig, options: SerdeOptions): Serde {
  const registry = createSchemaRegistryClient(config, options.timeoutMs);
  const clock = options.clock ?? systemClock;
  const unknownIdTtlMs = options.unknownIdTtlMs ?? 60_000;
  const idsByRecord = new Map<RecordName, number>();
  const writers = new Map<number, WriterEntry>();
  const unknownIds = new Map<number, number>();
  const pending = new Map<number, Promise<WriterEntry>>();

  function rememberWriter(id: number, writer: avro.Type): WriterEntry {
    const fullName = (writer as avro.types.RecordType).name ?? '';
    const record = FULL_NAME_TO_RECORD.get(fullName);
    if (!record) {
      throw new FleetgridError(
        'DECODE_UNEXPECTED_TYPE',
        `schema id ${id} is ${fullName || 'not a named record'}, not a fleetgrid record`,
        {
          details: { schemaId: id },
        },
      );
    }
    const reader = RECORDS[record].type;
    const sameSchema = JSON.stringify(writer.schema()) === JSON.stringify(reader.schema());
    const entry: WriterEntry = {
      record,
      reader,
      resolver: sameSchema ? undefined : reader.createResolver(writer),
    };
    writers.set(id, entry);
    return entry;
  }

  async function register(record: RecordName, schema: avro.Schema): Promise<number> {
    const subject = subjectOf(record, options.topics);
    try {
      const { id } = await registry.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
        { subject },
      );
      rememberWriter(id, parseSchema(schema));
      return id;
    } catch (error) {
      throw registryError(`register ${subject}`, error);
    }
  }

  async function fetchWriter(id: number): Promise<WriterEntry> {
    const knownUnknownUntil = unknownIds.get(id);
    if (knownUnknownUntil !== undefined && knownUnknownUntil > clock.now()) {
      throw unknownSchema(id);
    }
    let inFlight = pending.get(id);
    if (!inFlight) {
      inFlight = (async () => {
        try {
          const writer = (await registry.getSchema(id)) as avro.Type;
          return rememberWriter(id, parseSchema(writer.schema() as avro.Schema));
        } catch (error) {
          if (error instanceof FleetgridError) throw error;
          if (statusOf(error) === 404) {
            unknownIds.set(id, clock.now() + unknownIdTtlMs);
            throw unknownSchema(id);
          }
          throw registryError(`fetch schema ${id}`, error);
        } finally {
          pending.delete(id);
        }
      })();
      pending.set(id, inFlight);
    }
    return inFlight;
  }

  function decodeBody(buffer: Buffer, id: number, entry: WriterEntry): Decoded {
    let value: unknown;
    try {
      value = entry.resolver
        ? entry.reader.fromBuffer(buffer.subarray(HEADER_BYTES), entry.resolver)
        : entry.reader.fromBuffer(buffer.subarray(HEADER_BYTES));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const truncated = /truncated/i.test(message);
      throw new FleetgridError(
        truncated ? 'DECODE_TRUNCATED' : 'DECODE_INVALID_AVRO',
        `${truncated ? 'truncated' : 'invalid'} Avro body for schema id ${id} (${entry.record}): ${message}`,
        { cause: error, details: { schemaId: id, record: entry.record } },
      );
    }
    return { record: entry.record, schemaId: id, value: value as RecordTypes[RecordName] };
  }

  return {
    async registerAll(records = RECORD_NAMES) {
      const ids: Record<string, number> = {};
      for (const record of records) {
        const id = await register(record, RECORDS[record].schema);
        idsByRecord.set(record, id);
        ids[record] = id;
      }
      return ids;
    },
    registerSchema: register,
    encode(record, value) {
      const id = idsByRecord.get(record);
      if (id === undefined) {
        throw new FleetgridError(
          'INTERNAL',
          `schema of ${record} is not registered yet: call registerAll() first`,
        );
      }
      return frame(id, RECORDS[record].type.toBuffer(value));
    },
    encodeWith(schemaId, type, value) {
      return frame(schemaId, type.toBuffer(value));
    },
    decodeCached(buffer) {
      const id = readHeader(buffer);
      const entry = writers.get(id);
      return entry ? decodeBody(buffer as Buffer, id, entry) : undefined;
    },
    async decode(buffer) {
      const id = readHeader(buffer);
      const entry = writers.get(id) ?? (await fetchWriter(id));
      return decodeBody(buffer as Buffer, id, entry);
    },
    schemaId(record) {
      const id = idsByRecord.get(record);
      if (id === undefined) throw new FleetgridError('INTERNAL', `schema of ${record} is not registered yet`);
      return id;
    },
  };
}

/** Header checks shared by every decode: empty, too short, wrong magic byte. */
export function readHeader(buffer: Buffer | null): number {
  if (!buffer || buffer.length === 0) {
    throw new FleetgridError('DECODE_EMPTY', 'empty message value (null or zero bytes)');
  }
  if (buffer[0] !== MAGIC_BYTE) {
    throw new FleetgridError(
      'DECODE_BAD_MAGIC',
      `not Confluent-framed: first byte is 0x${buffer[0]?.toString(16).padStart(2, '0')}, expected 0x00`,
    );
  }
  if (buffer.length < HEADER_BYTES) {
    throw new FleetgridError(
      'DECODE_TRUNCATED',
      `message of ${buffer.length} bytes is shorter than the 5-byte Confluent header`,
    );
  }
  return buffer.readInt32BE(1);
}

export function frame(schemaId: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out[0] = MAGIC_BYTE;
  out.writeInt32BE(schemaId, 1);
  body.copy(out, HEADER_BYTES);
  return out;
}

function unknownSchema(id: number): FleetgridError {
  return new FleetgridError('DECODE_UNKNOWN_SCHEMA', `schema id ${id} is not known to the registry`, {
    details: { schemaId: id },
  });
}

function statusOf(error: unknown): number | undefined {
  if (error && typeof error === 'object' && 'status' in error && typeof error.status === 'number')
    return error.status;
  return undefined;
}

/** Registry failures: incompatible or invalid schemas are final; the rest may pass. */
function registryError(action: string, error: unknown): FleetgridError {
  if (error instanceof FleetgridError) return error;
  const status = statusOf(error);
  const message = error instanceof Error ? error.message : String(error);
  // The HTTP client reports network failures with a made-up 4xx status; the text tells.
  if (
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|socket hang up|timeout|Timed out/i.test(message) ||
    (status ?? 0) >= 500
  ) {
    return new FleetgridError('REGISTRY_UNAVAILABLE', `${action}: schema registry unavailable: ${message}`, {
      cause: error,
      details: { status },
    });
  }
  if (status === 409 || /incompatib/i.test(message)) {
    return new FleetgridError(
      'SCHEMA_INCOMPATIBLE',
      `${action}: the registry refused an incompatible schema: ${message}`,
      {
        cause: error,
      },
    );
  }
  if (status === 422 || status === 400) {
    return new FleetgridError('SCHEMA_INVALID', `${action}: the registry refused the schema: ${message}`, {
      cause: error,
    });
  }
  return new FleetgridError('REGISTRY_UNAVAILABLE', `${action}: schema registry unavailable: ${message}`, {
    cause: error,
    details: { status },
  });
}
