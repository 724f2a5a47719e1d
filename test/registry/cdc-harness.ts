/**
 * The registry's CDC path for one test file, end to end on real servers: a scratch database
 * on the stack's PostgreSQL (migrated: tables and publication), the Debezium connector
 * registered under the test's TOPIC_PREFIX on a Kafka Connect worker (the stack's, or a
 * private one), and a follower folding the compacted topics into a registry table.
 * `teardown()` removes the connector, its replication slot, the database and the topics.
 */
import { loadConfig } from '../../lib/config.ts';
import {
  type CdcUpResult,
  cdcNames,
  cdcSettingsFromEnv,
  cdcUp,
  cdcUpOptions,
  type ConnectClient,
  createConnectClient,
  dropSlotWhenReleased,
} from '../../registry/cdc.ts';
import { followRegistry, type RegistryFollower } from '../../registry/follower.ts';
import {
  createRegistryService,
  ENTITY_NAMES,
  type EntityName,
  parseRegistryConfig,
  type RegistryService,
  registryTopicNames,
} from '../../registry/index.ts';
import type { RegistryChangeSeen } from '../../registry/follower.ts';
import { createTestStack, type TestStack } from '../helpers.ts';
import { createScratchDatabase, type ScratchDatabase } from './postgres.ts';

export interface CdcHarness {
  stack: TestStack;
  db: ScratchDatabase;
  service: RegistryService;
  /** The connector's Connect worker (the stack's unless another was given). */
  connect: ConnectClient;
  follower: RegistryFollower;
  changes: RegistryChangeSeen[];
  names: ReturnType<typeof cdcNames>;
  /** Registers (or re-registers) the connector and waits until it runs. */
  up(): Promise<CdcUpResult>;
  /** Every row of every registry table, as the service reads them from PostgreSQL. */
  databaseRows(): Promise<Record<EntityName, unknown[]>>;
  /** The same from the follower's table. */
  tableRows(): Record<EntityName, unknown[]>;
  /**
   * Removes everything; `afterConnector` runs once the connector is gone (a private worker
   * stops there), `extraTopics` are deleted with the registry's (a private worker's own).
   */
  teardown(options?: { afterConnector?: () => Promise<void>; extraTopics?: string[] }): Promise<void>;
}

export async function createCdcHarness(
  name: string,
  options: { connect?: ConnectClient } = {},
): Promise<CdcHarness> {
  const app = loadConfig();
  const stack = await createTestStack(name, { partitions: 1 });
  const db = await createScratchDatabase(name);
  const service = createRegistryService(parseRegistryConfig(), { pool: db.pool(), log: stack.log });
  await service.ready();
  const pool = db.pool(1);
  const connect = options.connect ?? createConnectClient(app.connect);
  const settings = cdcSettingsFromEnv(app);
  const names = cdcNames(stack.prefix);
  const changes: RegistryChangeSeen[] = [];
  let follower: RegistryFollower | undefined;

  const harness: CdcHarness = {
    stack,
    db,
    service,
    connect,
    get follower() {
      if (!follower) throw new Error('call up() first');
      return follower;
    },
    changes,
    names,
    async up() {
      const result = await cdcUp(cdcUpOptions(settings, stack.prefix, db.url), {
        connect,
        admin: stack.admin,
        pool,
        log: stack.log,
      });
      follower ??= await followRegistry(stack.kafka, stack.prefix, {
        onChange: (change) => changes.push(change),
      });
      return result;
    },
    async databaseRows() {
      const out = {} as Record<EntityName, unknown[]>;
      for (const entity of ENTITY_NAMES) out[entity] = (await service.list(entity, { limit: 1_000 })).items;
      return out;
    },
    tableRows() {
      const out = {} as Record<EntityName, unknown[]>;
      for (const entity of ENTITY_NAMES)
        out[entity] = [...(follower?.table[entity].values() ?? [])].sort((a, b) => a.id.localeCompare(b.id));
      return out;
    },
    async teardown(options = {}) {
      await follower?.stop().catch(() => undefined);
      // The connector first, then its slot (a database with a slot cannot be dropped). A
      // connector whose worker is gone (a fault test failed while it was killed) cannot be
      // deleted through it: the worker is stopped anyway and the slot dropped once released.
      const down = {
        topicPrefix: stack.prefix,
        replication: { ...settings.replication, url: replicationUrl(settings.replication.url, db.name) },
        releaseTimeoutMs: 60_000,
      };
      const deps = { connect, pool, log: stack.log };
      await connect
        .remove(names.connector)
        .catch((error: unknown) => stack.log.error({ err: error }, 'registry CDC connector teardown'));
      await options.afterConnector?.();
      await dropSlotWhenReleased(down, deps).catch((error: unknown) =>
        stack.log.error({ err: error }, 'registry CDC slot teardown'),
      );
      await service.close().catch(() => undefined);
      await db.drop().catch((error: unknown) => stack.log.error({ err: error }, 'scratch database teardown'));
      const topics = [
        ...Object.values(registryTopicNames(stack.prefix)),
        names.heartbeatTopic,
        ...(options.extraTopics ?? []),
      ];
      await stack.admin.deleteTopics(topics, 10_000).catch(() => undefined);
      await stack.cleanup();
    },
  };
  return harness;
}

/** The replication role connects to the scratch database (a slot belongs to one database). */
function replicationUrl(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
