/**
 * The kafkajs implementation of lib/kafka/types.ts. It fixes the choices every caller
 * shares: acks=all on every send, murmur2 key partitioning (the Java client's, so any
 * producer puts a device on the same partition), no topic auto-creation (topics are code,
 * lib/topics.ts), explicit offset commits only, client logs into pino with transient
 * start-up states as warnings, and every failure as a FleetgridError (errors.ts).
 *
 * Retries inside the client are short and bounded (the callers' own loops, lib/retry and
 * lib/stream, decide how long to keep trying and stop on shutdown). That holds for the
 * idempotent producer too: kafkajs would retry its requests forever by default there; we
 * bound them, which is safe because a retry at our level re-sends the same records with
 * the same sequence numbers (kafkajs rolls them back on failure), so the broker still
 * drops a duplicate. That holds only with one request per partition in flight and no
 * request spanning partitions that can fail apart, which idempotent.ts enforces (issue 15).
 * See docs/architecture.md "Idempotent producers" and docs/reliability.md "Failover".
 */
// kafkajs is CommonJS; Node's ESM loader cannot see all of its named exports.
import kafkajs from 'kafkajs';
import type { KafkaConfig } from '../config.ts';
import { FleetgridError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { isClientError, TRANSIENT_CLIENT_ERRORS, toKafkaError, wrapKafka } from './errors.ts';
import { createIdempotentSender, partitionRequests, unansweredPartitions } from './idempotent.ts';
import { waitForTopicLeaders } from './leaders.ts';
import { partitionForKey } from './partitioner.ts';
import { fixRequestQueue } from './request-queue.ts';
import type {
  ConsumerOptions,
  FetchedBatch,
  GroupConsumer,
  GroupConsumerEvents,
  KafkaAdmin,
  KafkaClient,
  KafkaProducer,
  OutgoingMessage,
  ProducedPartition,
  ProducerOptions,
  TopicMessages,
  TransactionalProducer,
} from './types.ts';

const { Kafka, logLevel: KafkaLogLevel, Partitioners } = kafkajs;
// Before any connection exists: kafkajs' 1 ms timer loop per connection (request-queue.ts).
fixRequestQueue();

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

/** Client notices that say nothing new here (we bound the idempotent producer's retries on purpose). */
const EXPECTED_NOTICES = /Limiting retries for the idempotent producer/;

// kafkajs prints a notice about its v2 partitioner change on every producer; we choose
// the partitioner explicitly below, so the notice says nothing new.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

/**
 * Process warnings kafkajs 2.2 causes that say nothing about our code; every other warning
 * is kept.
 * - It computes a negative timer delay on Node >= 23 (a harmless clamp to 1 ms), and Node
 *   warns about it on every connection.
 * - When a broker connection closes with requests in flight (a broker restart), each
 *   failing request disconnects the connection, and each disconnect waits for the
 *   connection's request queue to empty with one `once('requestQueueEmpty')` listener; with
 *   more than ten requests in flight Node reports a MaxListenersExceededWarning on reconnect.
 *   The listeners all resolve when the queue empties: not a leak.
 */
export function isClientNoise(warning: Error & { emitter?: unknown; type?: unknown }): boolean {
  if (warning.name === 'TimeoutNegativeWarning') return true;
  return (
    warning.name === 'MaxListenersExceededWarning' &&
    warning.type === 'requestQueueEmpty' &&
    (warning.emitter as { constructor?: { name?: string } } | undefined)?.constructor?.name === 'RequestQueue'
  );
}

if (!process.listeners('warning').some((listener) => listener.name === 'fleetgridWarningFilter')) {
  const defaults = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', function fleetgridWarningFilter(warning) {
    if (isClientNoise(warning)) return;
    for (const listener of defaults) listener.call(process, warning);
  });
}

/**
 * The level a client log line is logged at: transient states (a leader moving, a group
 * starting, a broker restarting) are warnings, not errors; expected notices are debug.
 */
export function clientLogLevel(
  severity: 'error' | 'warn' | 'info' | 'debug',
  text: string,
): 'error' | 'warn' | 'info' | 'debug' {
  if (EXPECTED_NOTICES.test(text)) return 'debug';
  return severity === 'error' && TRANSIENT_CLIENT_ERRORS.test(text) ? 'warn' : severity;
}

interface KafkajsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  findGroupCoordinator(options: { groupId: string }): Promise<{
    leaveGroup(options: { groupId: string; memberId: string }): Promise<unknown>;
  }>;
}

/**
 * A connection to the cluster with the client's own settings (TLS, SASL, timeouts), for the
 * one request kafkajs offers no public call for: LeaveGroup on behalf of a member id that
 * is no longer this process's consumer. kafkajs 2.2.4 (its last release) builds every
 * client's cluster through this factory; should a future version drop it, the call fails
 * with INTERNAL and the member's session simply expires as it would have without it.
 */
function clusterOf(kafka: InstanceType<typeof Kafka>): KafkajsCluster {
  const factory = Object.getOwnPropertySymbols(kafka).find(
    (symbol) => symbol.description === 'private:Kafka:createCluster',
  );
  if (!factory) throw new Error('this kafkajs version has no cluster factory: LeaveGroup unavailable');
  const create = (kafka as unknown as Record<symbol, (options: object) => KafkajsCluster>)[factory];
  if (!create) throw new Error('this kafkajs version has no cluster factory: LeaveGroup unavailable');
  return create({ allowAutoTopicCreation: false });
}

/**
 * The partition a record goes to when its caller did not say: the key's murmur2 partition
 * (partitioner.ts) among the topic's partitions, which are looked up once per topic; records
 * without a key take turns.
 */
function partitionCounts(admin: () => ReturnType<InstanceType<typeof Kafka>['admin']>) {
  const counts = new Map<string, number>();
  const turns = new Map<string, number>();
  return {
    /** Looks up the topics not known yet (a short-lived admin: no connection is left open). */
    async learn(batches: readonly TopicMessages[]): Promise<void> {
      const unknown = batches
        .filter((b) => !counts.has(b.topic) && b.messages.some((m) => m.partition === undefined))
        .map((b) => b.topic);
      if (unknown.length === 0) return;
      const client = admin();
      try {
        await wrapKafka('connect admin', () => client.connect());
        const { topics } = await wrapKafka('fetch topic metadata', () =>
          client.fetchTopicMetadata({ topics: unknown }),
        );
        for (const t of topics) counts.set(t.name, t.partitions.length);
      } finally {
        await client.disconnect().catch(() => {});
      }
    },
    partitionOf(topic: string, message: OutgoingMessage): number {
      if (message.partition !== undefined) return message.partition;
      const count = counts.get(topic);
      if (count === undefined) throw new FleetgridError('INTERNAL', `no partition count known for ${topic}`);
      if (message.key !== null && message.key !== undefined) return partitionForKey(message.key, count);
      const turn = ((turns.get(topic) ?? -1) + 1) % count;
      turns.set(topic, turn);
      return turn;
    },
  };
}

/** The client's own retries: brief, bounded; our loops decide about longer outages. */
const CLIENT_RETRY = { initialRetryTime: 100, maxRetryTime: 2_000, retries: 5 };

export function createKafkaClient(config: KafkaConfig, deps: { log: Logger }): KafkaClient {
  const log = deps.log.child({ component: 'kafka' });
  const kafka = new Kafka({
    clientId: config.clientId,
    brokers: config.brokers,
    // A CA file (KAFKA_SSL_CA_FILE) replaces the system's trust store for the brokers' certificates.
    ssl: config.sslCa ? { ca: [config.sslCa] } : config.ssl,
    ...(config.sasl ? { sasl: config.sasl as never } : {}),
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: CLIENT_RETRY,
    logLevel: KafkaLogLevel.WARN,
    logCreator:
      () =>
      ({ level, label, log: entry }) => {
        const { message, ...rest } = entry;
        const text = `${message} ${String(rest.error ?? '')} ${String(rest.stack ?? '').split('\n')[0]}`;
        log[clientLogLevel(LEVELS[level] ?? 'info', text)]({ kafkaLevel: label, ...rest }, message);
      },
  });

  function toProduced(
    metadata: { topicName: string; partition: number; baseOffset?: string }[],
  ): ProducedPartition[] {
    return metadata.map((m) => ({
      topic: m.topicName,
      partition: m.partition,
      baseOffset: m.baseOffset ?? '-1',
    }));
  }

  return {
    producer(options: ProducerOptions = {}): KafkaProducer {
      const producer = kafka.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        // kafkajs cannot renumber the requests behind a failed one (idempotent.ts), so an
        // idempotent producer keeps one request per connection in flight; Kafka would allow 5.
        maxInFlightRequests: options.idempotent ? 1 : (options.maxInFlightRequests ?? 5),
        allowAutoTopicCreation: false,
        ...(options.idempotent ? { idempotent: true, retry: CLIENT_RETRY } : {}),
      });
      const sendBatch = (batches: TopicMessages[]) =>
        wrapKafka('produce batch', async () =>
          toProduced(await producer.sendBatch({ topicMessages: batches as never, acks: -1 })),
        );
      if (!options.idempotent) {
        return {
          connect: () => wrapKafka('connect producer', () => producer.connect()),
          disconnect: () => producer.disconnect(),
          send: (topic, messages) =>
            wrapKafka(`produce to ${topic}`, async () =>
              toProduced(await producer.send({ topic, messages: messages as never, acks: -1 })),
            ),
          sendBatch,
        };
      }
      // Idempotent: one request per partition, queued per partition (idempotent.ts says why).
      const partitions = partitionCounts(() => kafka.admin());
      const sender = createIdempotentSender(async ({ topic, partition, messages }) => {
        const [produced] = await sendBatch([
          { topic, messages: messages.map((message) => ({ ...message, partition })) },
        ]);
        if (!produced)
          throw new FleetgridError('INTERNAL', `produce to ${topic}: no answer for partition ${partition}`);
        return produced;
      }, partitions.partitionOf);
      const send = async (batches: TopicMessages[]) => {
        await partitions.learn(batches);
        return sender.send(batches);
      };
      return {
        connect: () => wrapKafka('connect producer', () => producer.connect()),
        disconnect: () => producer.disconnect(),
        send: (topic, messages) => send([{ topic, messages }]),
        sendBatch: send,
      };
    },

    transactionalProducer(transactionalId, options = {}): TransactionalProducer {
      // The partition kafkajs chose for each record, so that its answer can be checked
      // for every partition without a look-up of our own.
      const chosen = new WeakMap<object, number>();
      const producer = kafka.producer({
        createPartitioner: () => {
          const partitioner = Partitioners.DefaultPartitioner();
          return (args) => {
            const partition = partitioner(args);
            chosen.set(args.message, partition);
            return partition;
          };
        },
        allowAutoTopicCreation: false,
        transactionalId,
        idempotent: true,
        maxInFlightRequests: 1,
        retry: CLIENT_RETRY,
        ...(options.transactionTimeoutMs ? { transactionTimeout: options.transactionTimeoutMs } : {}),
      });
      return {
        connect: () =>
          wrapKafka('connect transactional producer', async () => {
            await producer.connect();
            // kafkajs claims the transactional id (InitProducerId, which fences an older
            // producer with the same id) only when the first transaction begins; an empty
            // transaction claims it now, so connect() alone fences a zombie.
            const claim = await producer.transaction();
            await claim.abort();
          }),
        disconnect: () => producer.disconnect(),
        async transaction() {
          const txn = await wrapKafka('begin transaction', () => producer.transaction());
          return {
            // One request as before (a transaction is aborted whole on any failure), but every
            // partition must be answered: kafkajs' retry after a leader change can skip one
            // and still resolve (idempotent.ts), and the commit would then lose its records.
            send: async (batches: TopicMessages[]) => {
              const produced = await wrapKafka('produce in transaction', async () =>
                toProduced(await txn.sendBatch({ topicMessages: batches as never, acks: -1 })),
              );
              const requests = partitionRequests(
                batches,
                (_topic, message) => chosen.get(message) ?? message.partition ?? -1,
              );
              const missing = unansweredPartitions(requests, produced);
              if (missing.length > 0)
                throw new FleetgridError(
                  'KAFKA_UNAVAILABLE',
                  `produce in transaction: no answer for ${missing.join(', ')} (the client skipped them after a leader change; the transaction must be aborted)`,
                  { retriable: true },
                );
              return produced;
            },
            sendOffsets: (groupId, offsets) =>
              wrapKafka('send offsets to transaction', () => {
                const topics = new Map<
                  string,
                  { partition: number; offset: string; metadata?: string | null }[]
                >();
                for (const o of offsets) {
                  const list = topics.get(o.topic) ?? [];
                  if (list.length === 0) topics.set(o.topic, list);
                  list.push({ partition: o.partition, offset: o.offset, metadata: o.metadata ?? null });
                }
                return txn.sendOffsets({
                  consumerGroupId: groupId,
                  topics: [...topics].map(([topic, partitions]) => ({
                    topic,
                    partitions: partitions as never,
                  })),
                });
              }),
            commit: () => wrapKafka('commit transaction', () => txn.commit()),
            abort: () => wrapKafka('abort transaction', () => txn.abort()),
            isActive: () => txn.isActive(),
          };
        },
      };
    },

    consumer(options: ConsumerOptions): GroupConsumer {
      const consumer = kafka.consumer({
        groupId: options.groupId,
        sessionTimeout: options.sessionTimeoutMs ?? 30_000,
        heartbeatInterval: options.heartbeatIntervalMs ?? 3_000,
        rebalanceTimeout: options.rebalanceTimeoutMs ?? 60_000,
        maxBytesPerPartition: options.maxBytesPerPartition ?? 1_048_576,
        maxBytes: options.maxBytes ?? 10_485_760,
        maxWaitTimeInMs: options.maxWaitTimeMs ?? 500,
        minBytes: options.minBytes ?? 1,
        allowAutoTopicCreation: false,
        // read_committed (kafkajs' default, stated here because correctness rests on it): the
        // processor's outputs are transactional, and an aborted or open transaction must stay
        // invisible to the sink and every other reader.
        readUncommitted: false,
        // A supervising owner (lib/stream/member.ts) restarts a crashed consumer itself,
        // leaving the group first; kafkajs' own restart would join as a second member.
        retry: {
          ...CLIENT_RETRY,
          ...(options.clientRestarts === false ? { restartOnFailure: async () => false } : {}),
        },
      });
      const { events } = consumer;
      const subscribe = <E extends keyof GroupConsumerEvents>(event: E, listener: GroupConsumerEvents[E]) => {
        switch (event) {
          case 'join':
            return consumer.on(events.GROUP_JOIN, ({ payload }) =>
              (listener as GroupConsumerEvents['join'])({
                groupId: payload.groupId,
                memberId: payload.memberId,
                isLeader: payload.isLeader,
                assignment: payload.memberAssignment as Record<string, number[]>,
              }),
            );
          case 'rebalancing':
            return consumer.on(events.REBALANCING, () => (listener as GroupConsumerEvents['rebalancing'])());
          case 'heartbeat':
            return consumer.on(events.HEARTBEAT, ({ payload }) =>
              (listener as GroupConsumerEvents['heartbeat'])({
                memberId: payload.memberId,
                generationId: payload.groupGenerationId,
              }),
            );
          case 'fetchStart':
            return consumer.on(events.FETCH_START, () => (listener as GroupConsumerEvents['fetchStart'])());
          case 'fetch':
            return consumer.on(events.FETCH, () => (listener as GroupConsumerEvents['fetch'])());
          case 'batchEnd':
            return consumer.on(events.END_BATCH_PROCESS, ({ payload }) =>
              (listener as GroupConsumerEvents['batchEnd'])({
                topic: payload.topic,
                partition: payload.partition,
                firstOffset: payload.firstOffset == null ? null : String(payload.firstOffset),
                lastOffset: String(payload.lastOffset),
                records: Number(payload.batchSize ?? 0),
              }),
            );
          case 'crash':
            return consumer.on(events.CRASH, ({ payload }) => {
              // A crash the client restarts from by itself is not the end of this consumer.
              if (payload.restart) return;
              (listener as GroupConsumerEvents['crash'])(toKafkaError('consumer', payload.error));
            });
          default:
            throw new Error(`unknown consumer event ${String(event)}`);
        }
      };
      return {
        connect: () => wrapKafka('connect consumer', () => consumer.connect()),
        subscribe: (topics, { fromBeginning }) =>
          wrapKafka('subscribe', () => consumer.subscribe({ topics: [...topics], fromBeginning })),
        run: ({ concurrency, eachBatch }) =>
          wrapKafka('run consumer', () =>
            consumer.run({
              autoCommit: false,
              eachBatchAutoResolve: false,
              partitionsConsumedConcurrently: concurrency,
              eachBatch: async (payload) => {
                const { batch } = payload;
                const fetched: FetchedBatch = {
                  topic: batch.topic,
                  partition: batch.partition,
                  highWatermark: batch.highWatermark,
                  records: batch.messages,
                  resolveOffset: payload.resolveOffset,
                  heartbeat: payload.heartbeat,
                  isActive: () => payload.isRunning() && !payload.isStale(),
                  pause: () => {
                    payload.pause();
                  },
                };
                await eachBatch(fetched);
              },
            }),
          ),
        pause: (partitions) => consumer.pause(partitions),
        resume: (partitions) => consumer.resume(partitions),
        seek: (topic, partition, offset) => consumer.seek({ topic, partition, offset }),
        commitOffsets: (offsets) =>
          wrapKafka('commit offsets', () =>
            consumer.commitOffsets(
              offsets.map((o) => ({
                topic: o.topic,
                partition: o.partition,
                offset: o.offset,
                metadata: o.metadata ?? null,
              })),
            ),
          ),
        disconnect: () => consumer.disconnect(),
        on: subscribe,
      };
    },

    admin(): KafkaAdmin {
      const admin = kafka.admin();
      return {
        connect: () => wrapKafka('connect admin', () => admin.connect()),
        disconnect: () => admin.disconnect(),
        listTopics: () => wrapKafka('list topics', () => admin.listTopics()),
        createTopics: (topics) =>
          wrapKafka('create topics', async () => {
            // Not kafkajs's waitForLeaders: it gives up on UNKNOWN_TOPIC_OR_PARTITION (leaders.ts).
            await admin.createTopics({ waitForLeaders: false, topics });
            await waitForTopicLeaders(
              async (names) => (await admin.fetchTopicMetadata({ topics: names })).topics,
              topics.map((topic) => topic.topic),
              { transient: isClientError },
            );
          }),
        deleteTopics: (topics, timeoutMs = 10_000) =>
          wrapKafka('delete topics', () => admin.deleteTopics({ topics, timeout: timeoutMs })),
        fetchTopicMetadata: (topics) =>
          wrapKafka('fetch topic metadata', async () => (await admin.fetchTopicMetadata({ topics })).topics),
        fetchCommittedOffsets: (groupId, topics) =>
          wrapKafka('fetch committed offsets', async () =>
            (await admin.fetchOffsets({ groupId, ...(topics ? { topics } : {}) })).map((t) => ({
              topic: t.topic,
              partitions: t.partitions.map((p) => ({
                partition: p.partition,
                offset: p.offset,
                metadata: p.metadata ?? null,
              })),
            })),
          ),
        fetchTopicOffsets: (topic) =>
          wrapKafka('fetch topic offsets', async () =>
            (await admin.fetchTopicOffsets(topic)).map((p) => ({
              partition: p.partition,
              high: p.high,
              low: p.low,
            })),
          ),
        fetchTopicOffsetsByTimestamp: (topic, timestampMs) =>
          wrapKafka('fetch offsets by time', () => admin.fetchTopicOffsetsByTimestamp(topic, timestampMs)),
        setGroupOffsets: (groupId, topic, partitions) =>
          wrapKafka('set group offsets', () => admin.setOffsets({ groupId, topic, partitions })),
        listGroups: () =>
          wrapKafka('list groups', async () => (await admin.listGroups()).groups.map((g) => g.groupId)),
        describeGroups: (groupIds) =>
          wrapKafka('describe groups', async () =>
            (await admin.describeGroups(groupIds)).groups.map((g) => ({
              groupId: g.groupId,
              state: g.state,
              members: g.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId })),
            })),
          ),
        leaveGroup: (groupId, memberId) =>
          wrapKafka('leave group', async () => {
            const cluster = clusterOf(kafka);
            try {
              await cluster.connect();
              const coordinator = await cluster.findGroupCoordinator({ groupId });
              await coordinator.leaveGroup({ groupId, memberId });
            } catch (error) {
              // Already gone (its own leave arrived, or its session expired): that is the goal.
              if ((error as { type?: string }).type === 'UNKNOWN_MEMBER_ID') return;
              throw error;
            } finally {
              await cluster.disconnect().catch(() => {});
            }
          }),
        deleteGroups: (groupIds) =>
          wrapKafka('delete groups', async () => {
            await admin.deleteGroups(groupIds);
          }),
        describeConfigs: (resources) =>
          wrapKafka('describe configs', async () => {
            // The protocol's resource types: 2 = topic, 4 = broker.
            const typeOf = { topic: 2, broker: 4 } as const;
            const { resources: described } = await admin.describeConfigs({
              includeSynonyms: false,
              resources: resources.map((r) => ({
                type: typeOf[r.type],
                name: r.name,
                configNames: r.configNames,
              })),
            });
            return described.map((r) => ({
              type: r.resourceType === typeOf.broker ? ('broker' as const) : ('topic' as const),
              name: r.resourceName,
              configs: Object.fromEntries(r.configEntries.map((e) => [e.configName, e.configValue])),
            }));
          }),
        describeCluster: () =>
          wrapKafka('describe cluster', async () => {
            const cluster = await admin.describeCluster();
            return { brokers: cluster.brokers.map((b) => b.nodeId), controller: cluster.controller };
          }),
      };
    },
  };
}
