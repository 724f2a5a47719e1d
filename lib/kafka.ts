/**
 * The only module that imports the Kafka client library (kafkajs). Everything else
 * uses the names exported here, so the client can be swapped (for example for
 * @platformatic/kafka or node-rdkafka) if measurements call for it, by rewriting
 * this file alone.
 *
 * What it adds to the client: configuration from lib/config, logs into pino,
 * Java-compatible key partitioning (murmur2, so every producer puts a device on the
 * same partition), producers that always wait for all in-sync replicas, and client
 * errors mapped onto FleetgridError.
 */
import type {
  Admin,
  Consumer,
  ConsumerConfig,
  EachBatchPayload,
  IHeaders,
  KafkaMessage,
  Message,
  Producer,
  ProducerBatch,
  TopicPartitionOffsetAndMetadata,
} from 'kafkajs';
// kafkajs is CommonJS; Node's ESM loader cannot see all of its named exports.
import kafkajs from 'kafkajs';

const { Kafka, KafkaJSError, logLevel: KafkaLogLevel, Partitioners } = kafkajs;
import type { KafkaConfig } from './config.ts';
import { FleetgridError } from './errors.ts';
import type { Logger } from './log.ts';

export type KafkaAdmin = Admin;
export type KafkaConsumer = Consumer;
export type KafkaProducerClient = Producer;
export type { EachBatchPayload, IHeaders, KafkaMessage, ProducerBatch, TopicPartitionOffsetAndMetadata };

/** A record to produce. `key` is the deviceId for every telemetry topic. */
export type OutgoingMessage = Message;

export interface ProducerOptions {
  /** Bounded in-flight requests per broker connection: the producer's own backpressure. */
  maxInFlightRequests?: number;
  transactionalId?: string;
}

export interface ConsumerOptions {
  groupId: string;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  maxBytesPerPartition?: number;
  maxBytes?: number;
  maxWaitTimeMs?: number;
  rebalanceTimeoutMs?: number;
}

export interface KafkaClient {
  producer(options?: ProducerOptions): KafkaProducer;
  consumer(options: ConsumerOptions): KafkaConsumer;
  admin(): KafkaAdmin;
}

/** A producer whose every send waits for all in-sync replicas (acks=all). */
export interface KafkaProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  send(topic: string, messages: OutgoingMessage[]): Promise<void>;
  /** One request per broker for many topics: how producers amortise round trips. */
  sendBatch(batches: { topic: string; messages: OutgoingMessage[] }[]): Promise<void>;
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

// kafkajs prints a notice about its v2 partitioner change on every producer; we choose
// the partitioner explicitly below, so the notice says nothing new.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

// kafkajs 2.2 computes a negative timer delay on Node >= 23 (a harmless clamp to 1 ms)
// and Node warns about it on every connection; keep every other warning.
if (!process.listeners('warning').some((listener) => listener.name === 'fleetgridWarningFilter')) {
  const defaults = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', function fleetgridWarningFilter(warning) {
    if (warning.name === 'TimeoutNegativeWarning') return;
    for (const listener of defaults) listener.call(process, warning);
  });
}

/** Client errors that happen in normal operation (group start-up, rebalances); logged as warnings. */
const TRANSIENT =
  /coordinator is (not available|loading)|Restarting the consumer|rebalanc|not the correct coordinator|leadership election/i;

export function createKafkaClient(config: KafkaConfig, deps: { log: Logger }): KafkaClient {
  const log = deps.log.child({ component: 'kafka' });
  const kafka = new Kafka({
    clientId: config.clientId,
    brokers: config.brokers,
    ssl: config.ssl,
    ...(config.sasl ? { sasl: config.sasl as never } : {}),
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    // Our own loops (lib/retry) decide how long to keep trying; the client retries briefly.
    retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 5 },
    logLevel: KafkaLogLevel.WARN,
    logCreator:
      () =>
      ({ level, label, log: entry }) => {
        const { message, ...rest } = entry;
        const severity = LEVELS[level] ?? 'info';
        const text = `${message} ${String(rest.error ?? '')} ${String(rest.stack ?? '').split('\n')[0]}`;
        log[severity === 'error' && TRANSIENT.test(text) ? 'warn' : severity](
          { kafkaLevel: label, ...rest },
          message,
        );
      },
  });

  return {
    producer(options = {}) {
      const producer = kafka.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        maxInFlightRequests: options.maxInFlightRequests ?? 5,
        allowAutoTopicCreation: false,
        ...(options.transactionalId ? { transactionalId: options.transactionalId, idempotent: true } : {}),
      });
      return {
        connect: () => wrap('connect producer', () => producer.connect()),
        disconnect: () => producer.disconnect(),
        send: (topic, messages) =>
          wrap(`produce to ${topic}`, async () => {
            await producer.send({ topic, messages, acks: -1 });
          }),
        sendBatch: (batches) =>
          wrap('produce batch', async () => {
            await producer.sendBatch({ topicMessages: batches, acks: -1 });
          }),
      };
    },
    consumer(options) {
      const config: ConsumerConfig = {
        groupId: options.groupId,
        sessionTimeout: options.sessionTimeoutMs ?? 30_000,
        heartbeatInterval: options.heartbeatIntervalMs ?? 3_000,
        rebalanceTimeout: options.rebalanceTimeoutMs ?? 60_000,
        maxBytesPerPartition: options.maxBytesPerPartition ?? 1_048_576,
        maxBytes: options.maxBytes ?? 10_485_760,
        maxWaitTimeInMs: options.maxWaitTimeMs ?? 500,
        allowAutoTopicCreation: false,
      };
      return kafka.consumer(config);
    },
    admin: () => kafka.admin(),
  };
}

/** Maps client failures onto FleetgridError; retriable client errors stay retriable. */
export function toKafkaError(action: string, error: unknown): FleetgridError {
  if (error instanceof FleetgridError) return error;
  const retriable =
    error instanceof KafkaJSError ? error.retriable || isConnectionError(error as Error) : false;
  const message = error instanceof Error ? error.message : String(error);
  return new FleetgridError(retriable ? 'KAFKA_UNAVAILABLE' : 'INTERNAL', `${action}: ${message}`, {
    cause: error,
    retriable,
  });
}

function isConnectionError(error: Error): boolean {
  return /Connection|ECONNREFUSED|ETIMEDOUT|Broker|NumberOfRetriesExceeded/i.test(
    `${error.name} ${error.message}`,
  );
}

async function wrap<T>(action: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw toKafkaError(action, error);
  }
}

/** Headers as strings: what DLQ readers and tests want to look at. */
export function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
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

let keyPartitioner: ReturnType<typeof Partitioners.DefaultPartitioner> | undefined;
const partitionTables = new Map<number, { partitionId: number; leader: number }[]>();

/**
 * The partition our producers' partitioner (murmur2, as the Java client) picks for `key`
 * among `partitions`. A producer that keeps several requests in flight uses it to give
 * each partition one ordered lane: kafkajs does not keep order across concurrent sends.
 */
export function partitionForKey(key: Buffer | string, partitions: number): number {
  keyPartitioner ??= Partitioners.DefaultPartitioner();
  let table = partitionTables.get(partitions);
  if (!table) {
    table = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0 }));
    partitionTables.set(partitions, table);
  }
  return keyPartitioner({ topic: '', partitionMetadata: table as never, message: { key, value: null } });
}
