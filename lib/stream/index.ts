/**
 * lib/stream — the stream runtime every fleetgrid stage shares, on the Kafka adapter
 * (lib/kafka, the only code that knows kafkajs). Pure parts are unit-tested beside their
 * files; docs/architecture.md "The stream runtime" says how the pieces fit.
 *
 * Public surface:
 *
 * - Group member (member.ts) — `createGroupMember(config, { kafka, handler, log?, clock?,
 *   random?, onRestart?, record? }) → GroupMember`:
 *   `start()`, `stop()` (drain: stop fetching, finish the batches in hand, `handler.drain`,
 *   leave the group), `pause(target, reason)` / `resume(target, reason)` (a partition runs
 *   only when no reason holds; `target` is partitions or 'all'), `isPaused`,
 *   `pauseReasons`, `inputKnown(ref)` (consumer running, partition assigned, fetches
 *   succeeding), `assignment()` (`{ generation, memberId, partitions }`), `owns(ref, gen?)`,
 *   `commit(offsets)`, `seek(ref, offset)`, `restart(reason)` (leave, then join with a fresh
 *   consumer), `restarts`, `stopping`, `groupGenerationId` (Kafka's, from heartbeats).
 *   The handler: `batch(MemberBatch)` (one partition, offset order, never overlapping per
 *   partition; `isActive()`, `resolveOffset`, `heartbeat`, `generation`), `assigned?`,
 *   `revoked?(partitions, 'rebalance' | 'restart' | 'stop')`, `rebalancing?`, `drain?(signal)`.
 * - Member-id record (member-record.ts) — `memberIdFile(dir, groupId) → MemberIdRecord`,
 *   `memberRecordsUnder(dataDir)` (what the services pass as `memberRecord`): a
 *   member keeps its id in a slot file so the next process leaves the group for a member
 *   killed with -9 instead of waiting out its session; `chooseSlot` (pure).
 * - Partition bookkeeping (partitions.ts, pure): `PauseBook`, `InputTracker`,
 *   `partitionKey`, `PartitionRef`, `positionPastHidden` (the one rule for committing past
 *   transaction markers; the sink and notify use it).
 * - Batching ordered producer (producer.ts) — `createBatchingProducer<M>(config, { kafka,
 *   partitions, onOutcome?, signal?, onRetry?, … }) → BatchingProducer<M>`: `start()`,
 *   `add(topic, message, meta)` (outcome per request through `onOutcome`), `send(topic,
 *   messages) → { acked, failed }`, `sendQueued()`, `flush()`, `below(rows)` (backpressure),
 *   `outstanding`, `inFlight`, `close()`; `DEFAULT_PRODUCER_CONFIG`, `recordBytes`.
 * - Record intake (intake.ts) — `createRecordIntake({ decoder, validate?, registryOutage:
 *   'hold' })` → `takeSync` / `take` → `accepted | rejected | held`;
 *   `createRegistryHold({ decoder, pause, resume, owns, policy, signal, warn, … })`.
 * - Dead letters (dead-letters.ts) — `createDeadLetterSender({ producer, topic, stage,
 *   maxBytes, now })`: letters cut to the request bound (lib/dlq.ts) and sent through the
 *   batching producer.
 * - Service lifecycle (service.ts) — `runUntilSignal(service, log, { drainTimeoutMs })`,
 *   `onShutdownSignal(onFirst, log?, onSecond?)` (the one signal handler),
 *   `createLifetime()`, `createReadiness({ prefix, registry, log, signal, … })` →
 *   `ready`, `setReady`, `waitFor(dependency, probe)`.
 * - Naming (naming.ts) — `GROUPS`, `consumerGroupId(prefix, base)`,
 *   `pipelineGroupIds(prefix)`, `prefixed(prefix, name)`, `changelogTopic(prefix, group, input)`,
 *   `transactionalId(groupId, topic, partition)`: the one rule for topics, groups and ids;
 *   `FAN_OUT_GROUPS`, `fanOutGroupId(prefix, base, instance)` for members that each read everything.
 * - Observing (prometheus.ts, lag.ts) — `parsePrometheusText`, `sumMetric`, `hasMetric`;
 *   `computeLag` (pure), `fetchGroupLag(admin, groups)`.
 * - Logging at a bounded rate (rate-log.ts) — `createRateLimitedLog(log, intervalMs)`.
 */
export { createDeadLetterSender, type DeadLetter, type DeadLetterSender } from './dead-letters.ts';
export {
  createRecordIntake,
  createRegistryHold,
  type Decoder,
  type Intake,
  type RecordIntake,
  type RegistryHold,
  type RegistryOutagePolicy,
} from './intake.ts';
export { computeLag, fetchGroupLag, type GroupLag, type PartitionLag, type WatchedGroup } from './lag.ts';
export {
  type Assignment,
  createGroupMember,
  type GroupMember,
  type GroupMemberConfig,
  type MemberBatch,
  type MemberHandler,
  type RevokeReason,
} from './member.ts';
export {
  chooseSlot,
  type MemberIdRecord,
  type MemberSlot,
  memberIdFile,
  memberRecordsUnder,
} from './member-record.ts';
export {
  changelogTopic,
  consumerGroupId,
  FAN_OUT_GROUPS,
  fanOutGroupId,
  GROUPS,
  type PipelineGroup,
  pipelineGroupIds,
  prefixed,
  transactionalId,
} from './naming.ts';
export {
  InputTracker,
  type PartitionRef,
  PauseBook,
  partitionKey,
  positionPastHidden,
} from './partitions.ts';
export {
  type BatchingProducer,
  type BatchingProducerConfig,
  createBatchingProducer,
  DEFAULT_PRODUCER_CONFIG,
  type ProduceOutcome,
  recordBytes,
  type SendResult,
} from './producer.ts';
export { hasMetric, type MetricSample, parsePrometheusText, sumMetric } from './prometheus.ts';
export { createRateLimitedLog, type RateLimitedLog } from './rate-log.ts';
export {
  createLifetime,
  createReadiness,
  onShutdownSignal,
  type Readiness,
  runUntilSignal,
  type Service,
} from './service.ts';
