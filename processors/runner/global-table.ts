/**
 * The process's registry table (a global table: every processor process holds all of it),
 * fed from the registry's compacted CDC topics through the registry follower
 * (registry/follower.ts, on the lib/kafka adapter) in a reader group of its own per process
 * start, read from the beginning and never committed (Kafka forgets such a group).
 *
 * - **Restore**: at open, the end offsets of every registry topic are taken, and `open`
 *   resolves only once the table has folded everything before them: the runner starts
 *   consuming telemetry after that, so no event is judged by a registry older than the
 *   one Kafka had when the process started. Bounded by `restoreTimeoutMs` (a TIMEOUT that
 *   says where each topic stands), and ended by the lifetime signal (shutdown).
 * - **Follow**: the same reader keeps folding changes while the process runs; `lag()` is
 *   the records fetched-but-not-folded behind the topics' ends.
 * - **Version wait** (`waitForVersion`): a checkpoint restored from the changelog says the
 *   registry version its state was computed with; its partition starts only once this
 *   table holds at least that version, or has read every registry topic to its current end
 *   (then the missing versions are gone from the log for good — a row deleted and compacted
 *   away — and waiting longer cannot bring them back).
 * - **Missing topics** are created with `registryTopicSpecs` (the one place that says what
 *   they are, history retention included), not treated as empty: Debezium later writes into
 *   the same topics, and a reader subscribed to topics that do not exist would only see them
 *   once the consumer's metadata refreshed.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { FleetgridError } from '../../lib/errors.ts';
import type { KafkaAdmin, KafkaClient } from '../../lib/kafka/index.ts';
import type { Logger } from '../../lib/log.ts';
import { ensureTopics, type TopicPolicy, type TopicSpec } from '../../lib/topics.ts';
import { followRegistry, type RegistryChangeSeen, type RegistryFollower } from '../../registry/follower.ts';
import { ENTITY_NAMES, type EntityName } from '../../registry/model.ts';
import { createRegistryTable, type RegistryTable, type RegistryTableCounts } from '../../registry/table.ts';
import { registryHistoryShortfalls, registryTopicNames, registryTopicSpecs } from '../../registry/topics.ts';

export interface GlobalTableConfig {
  topicPrefix: string;
  /** The processor's (prefixed) group: the reader's group is named after it. */
  groupId: string;
  changeLeadMs: number;
  restoreTimeoutMs: number;
  topicPolicy: TopicPolicy;
}

export interface GlobalTableDeps {
  kafka: KafkaClient;
  log: Logger;
  /** Aborted at shutdown: a restore or version wait in progress ends with a non-retriable TIMEOUT. */
  signal: AbortSignal;
  /** Every record folded; `restoring` while the table is still being restored. */
  onChange?: (change: RegistryChangeSeen, restoring: boolean) => void;
}

export interface GlobalTableHealth {
  restored: boolean;
  /** False once the reader stopped for good (logged): the table no longer follows the registry. */
  following: boolean;
  /** Rows held per entity. */
  rows: Record<EntityName, number>;
  /** Records folded since start, by outcome (invalid: not a registry row, the table unchanged). */
  records: RegistryTableCounts;
  maxVersion: number;
  /** Records behind the registry topics' ends as of the last fetch. */
  lagRecords: number;
  /** Commit time (PostgreSQL, `__source_ts_ms`) of the newest change folded, ISO. */
  lastChangeCommittedAt: string | null;
  /** When that change was folded here, ISO. */
  lastChangeAppliedAt: string | null;
}

export interface GlobalRegistryTable {
  readonly table: RegistryTable;
  readonly restored: boolean;
  lag(): number;
  /**
   * Resolves once the table holds `version` ('reached'), or has read every registry topic to
   * its end taken now without getting there ('log-end'). Rejects with a non-retriable
   * TIMEOUT after `timeoutMs` or when the lifetime ends.
   */
  waitForVersion(version: number, timeoutMs: number): Promise<'reached' | 'log-end'>;
  health(): GlobalTableHealth;
  stop(): Promise<void>;
}

type Ends = ReadonlyMap<EntityName, bigint>;

/** Existing registry topics keeping less history than replays need: said once at start (docs/registry.md). */
async function warnShortHistory(admin: KafkaAdmin, specs: TopicSpec[], log: Logger): Promise<void> {
  const described = await admin.describeConfigs(
    specs.map((spec) => ({
      type: 'topic' as const,
      name: spec.name,
      configNames: ['min.compaction.lag.ms'],
    })),
  );
  const held = new Map(described.map((r) => [r.name, r.configs['min.compaction.lag.ms'] ?? null]));
  for (const short of registryHistoryShortfalls(specs, held))
    log.warn(
      short,
      `registry topic ${short.topic} keeps less history than raw telemetry: replays of older events may see newer registry versions; kafka-configs --alter --entity-type topics --entity-name ${short.topic} --add-config min.compaction.lag.ms=${short.wanted}`,
    );
}

/** The registry topics' end offsets now (one partition each, registry/topics.ts). */
async function endOffsets(admin: KafkaAdmin, topicPrefix: string): Promise<Ends> {
  const names = registryTopicNames(topicPrefix);
  const ends = new Map<EntityName, bigint>();
  for (const entity of ENTITY_NAMES) {
    const offsets = await admin.fetchTopicOffsets(names[entity]);
    ends.set(
      entity,
      offsets.reduce((max, p) => (BigInt(p.high) > max ? BigInt(p.high) : max), 0n),
    );
  }
  return ends;
}

/** Where each topic stands against `ends`, for messages: `registry.devices 120/4000`. */
function progress(follower: RegistryFollower, ends: Ends, topicPrefix: string): string {
  const names = registryTopicNames(topicPrefix);
  return ENTITY_NAMES.map((e) => `${names[e]} ${follower.position(e)}/${ends.get(e) ?? 0n}`).join(', ');
}

const reachedEnds = (follower: RegistryFollower, ends: Ends): boolean =>
  [...ends].every(([entity, end]) => follower.position(entity) >= end);

/**
 * Creates the topics if missing, takes their end offsets, starts following and resolves once
 * restored. Kafka failures before the reader runs are retriable FleetgridErrors (the caller
 * waits for Kafka); a restore over its time is a non-retriable TIMEOUT.
 */
export async function openGlobalTable(
  config: GlobalTableConfig,
  deps: GlobalTableDeps,
): Promise<GlobalRegistryTable> {
  const { log } = deps;
  const admin = deps.kafka.admin();
  const withAdmin = async <T>(work: (a: KafkaAdmin) => Promise<T>): Promise<T> => {
    await admin.connect();
    try {
      return await work(admin);
    } finally {
      await admin.disconnect().catch(() => {});
    }
  };
  const startEnds = await withAdmin(async (a) => {
    const specs = registryTopicSpecs(config.topicPrefix, config.topicPolicy);
    await ensureTopics(a, specs);
    // Advice only: a broker that will not describe configs does not stop the processor.
    await warnShortHistory(a, specs, log).catch((error: unknown) =>
      log.debug({ err: error }, 'registry topic configs not described'),
    );
    return endOffsets(a, config.topicPrefix);
  });

  const table = createRegistryTable({ changeLeadMs: config.changeLeadMs });
  let restored = false;
  let following = true;
  let lastCommittedMs: number | undefined;
  let lastAppliedMs: number | undefined;
  const follower = await followRegistry(deps.kafka, config.topicPrefix, {
    table,
    groupId: `${config.groupId}-registry-${randomUUID().slice(0, 8)}`,
    onChange: (change) => {
      if (change.result.outcome === 'upserted' && change.sourceTsMs !== undefined) {
        lastCommittedMs = change.sourceTsMs;
        lastAppliedMs = change.receivedAtMs;
      }
      deps.onChange?.(change, !restored);
    },
    onCrash: (error) => {
      following = false;
      // The data plane keeps flowing with the registry as it was (docs/registry.md "Operations").
      log.error(
        { err: error },
        'registry table reader stopped: the table no longer follows the registry; restart the processor',
      );
    },
  });

  const started = performance.now();
  try {
    await follower.until(
      () => reachedEnds(follower, startEnds),
      config.restoreTimeoutMs,
      'the registry topics',
      deps.signal,
    );
  } catch (error) {
    await follower.stop().catch(() => {});
    if (deps.signal.aborted) throw error;
    throw new FleetgridError(
      'TIMEOUT',
      `registry table not restored within registryRestoreTimeoutMs (${config.restoreTimeoutMs} ms): read ${progress(follower, startEnds, config.topicPrefix)} (position/end at start); raise the limit or check the registry topics`,
      { cause: error, retriable: false, details: { restoreTimeoutMs: config.restoreTimeoutMs } },
    );
  }
  restored = true;
  log.info(
    {
      ms: Math.round(performance.now() - started),
      devices: table.devices.size,
      sites: table.sites.size,
      rules: table.rules.size,
      maxVersion: table.maxVersion(),
    },
    'registry table restored',
  );

  const lag = () => {
    let behind = 0n;
    for (const entity of ENTITY_NAMES) {
      const high = follower.highWatermark(entity);
      const position = follower.position(entity);
      if (high !== undefined && high > position) behind += high - position;
    }
    return Number(behind);
  };

  return {
    table,
    get restored() {
      return restored;
    },
    lag,
    async waitForVersion(version, timeoutMs) {
      if (table.maxVersion() >= version) return 'reached';
      const ends = await withAdmin((a) => endOffsets(a, config.topicPrefix));
      try {
        await follower.until(
          () => table.maxVersion() >= version || reachedEnds(follower, ends),
          timeoutMs,
          `registry version ${version}`,
          deps.signal,
        );
      } catch (error) {
        if (deps.signal.aborted) throw error;
        throw new FleetgridError(
          'TIMEOUT',
          `registry version ${version} (a restored checkpoint's) not reached within registryRestoreTimeoutMs (${timeoutMs} ms): the table holds ${table.maxVersion()}, read ${progress(follower, ends, config.topicPrefix)}`,
          { cause: error, retriable: false, details: { required: version, held: table.maxVersion() } },
        );
      }
      return table.maxVersion() >= version ? 'reached' : 'log-end';
    },
    health: () => ({
      restored,
      following,
      rows: {
        sites: table.sites.size,
        devices: table.devices.size,
        drivers: table.drivers.size,
        rules: table.rules.size,
      },
      records: table.counts(),
      maxVersion: table.maxVersion(),
      lagRecords: lag(),
      lastChangeCommittedAt: lastCommittedMs === undefined ? null : new Date(lastCommittedMs).toISOString(),
      lastChangeAppliedAt: lastAppliedMs === undefined ? null : new Date(lastAppliedMs).toISOString(),
    }),
    stop: () => follower.stop(),
  };
}
