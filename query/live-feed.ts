/**
 * What feeds the live stream (live.ts): a consumer in the API process (lib/stream group
 * member, a fan-out group of its own: lib/stream/naming.ts) reading the alerts, device-state
 * and commands topics from their end. Each record becomes a stream event; records that do
 * not decode are skipped (the sink dead-letters them; this is a view, not a stage). The
 * commands it reads also go to the recent-commands overlay, so every API process sees a
 * command before the projection has it.
 */
import { hostname } from 'node:os';
import type { KafkaClient } from '../lib/kafka/index.ts';
import type { Logger } from '../lib/log.ts';
import {
  createGroupMember,
  createRateLimitedLog,
  FAN_OUT_GROUPS,
  fanOutGroupId,
  type GroupMember,
} from '../lib/stream/index.ts';
import type { TopicNames } from '../lib/topics.ts';
import type { Serde } from '../schemas/serde.ts';
import type { Alert, AlertCommand, DeviceState } from '../schemas/types.ts';
import { commandAnswer } from './command-routes.ts';
import type { LiveHub } from './live.ts';
import type { RecentCommands } from './recent-commands.ts';

const iso = (ms: number) => new Date(ms).toISOString();

export const COMMAND_EVENTS = {
  ACK: 'alert.acknowledged',
  SHELVE: 'alert.shelved',
  UNSHELVE: 'alert.unshelved',
  COMMENT: 'alert.commented',
} as const;

/** The stream event of an alert transition (pure). */
export function alertEvent(alert: Alert) {
  return {
    type: alert.state === 'RAISED' ? 'alert.raised' : 'alert.resolved',
    payload: {
      alertId: alert.alertId,
      rule: alert.rule,
      deviceId: alert.deviceId,
      siteId: alert.siteId,
      kind: alert.kind.toLowerCase(),
      state: alert.state,
      severity: alert.severity,
      raisedAt: iso(alert.raisedAt),
      resolvedAt: alert.resolvedAt === null ? null : iso(alert.resolvedAt),
      updatedAt: iso(alert.ts),
      value: alert.value,
      threshold: alert.threshold,
      message: alert.message,
      model: alert.model,
      driverId: alert.driverId,
      ruleVersion: alert.ruleVersion,
    },
  };
}

/** The stream event of a device state: what a map and a list need, not the whole row. */
export function deviceEvent(state: DeviceState) {
  return {
    deviceId: state.deviceId,
    siteId: state.siteId,
    kind: state.kind.toLowerCase(),
    model: state.model,
    driverId: state.driverId,
    lastSeen: iso(state.lastSeen),
    lat: state.lat,
    lon: state.lon,
    speedKmh: state.speedKmh,
    headingDeg: state.headingDeg,
    status: state.status,
    openAlerts: state.openAlerts,
  };
}

export function commandEvent(command: AlertCommand) {
  return {
    type: COMMAND_EVENTS[command.action],
    payload: { ...commandAnswer(command), rule: command.rule, deviceId: command.deviceId },
  };
}

export interface LiveFeed {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createLiveFeed(deps: {
  kafka: Pick<KafkaClient, 'consumer' | 'admin'>;
  serde: Pick<Serde, 'decode'>;
  topics: TopicNames;
  prefix: string;
  hub: LiveHub;
  recent: RecentCommands;
  log: Logger;
  /** Distinguishes this process's group; default host and pid. */
  instance?: string;
}): LiveFeed {
  const log = deps.log.child({ component: 'live-feed' });
  const warn = createRateLimitedLog(log);
  const { topics, hub } = deps;
  let member: GroupMember | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function take(topic: string, value: Buffer | null) {
    let decoded: Awaited<ReturnType<Serde['decode']>>;
    try {
      decoded = await deps.serde.decode(value);
    } catch (error) {
      warn.warn('skip', { err: error, topic }, 'live stream: a record did not decode; skipped');
      return;
    }
    if (topic === topics.alerts && decoded.record === 'Alert') {
      const { type, payload } = alertEvent(decoded.value as Alert);
      hub.publish(type, payload);
    } else if (topic === topics.deviceState && decoded.record === 'DeviceState') {
      const state = decoded.value as DeviceState;
      hub.deviceState(state.deviceId, deviceEvent(state));
    } else if (topic === topics.commands && decoded.record === 'AlertCommand') {
      const command = decoded.value as AlertCommand;
      deps.recent.add(command);
      const { type, payload } = commandEvent(command);
      hub.publish(type, payload);
    }
  }

  return {
    async start() {
      member = createGroupMember(
        {
          groupId: fanOutGroupId(
            deps.prefix,
            FAN_OUT_GROUPS.queryStream,
            deps.instance ?? `${hostname()}-${process.pid}`,
          ),
          topics: [topics.alerts, topics.deviceState, topics.commands],
          // A live view: what happens from now on; the ring and the API answer for the past.
          fromBeginning: false,
          sessionTimeoutMs: 10_000,
          heartbeatIntervalMs: 1_000,
          rebalanceTimeoutMs: 10_000,
          maxBytesPerPartition: 1 << 20,
          maxWaitTimeMs: 250,
          minBytes: 16 * 1024,
          concurrency: 4,
          restartBackoff: { baseMs: 500, capMs: 10_000 },
          drainTimeoutMs: 2_000,
        },
        {
          kafka: deps.kafka,
          log,
          handler: {
            async batch(batch) {
              for (const record of batch.records) {
                if (!batch.isActive()) return;
                await take(batch.topic, record.value);
                batch.resolveOffset(record.offset);
              }
            },
          },
        },
      );
      try {
        await member.start();
      } catch (error) {
        // A failed start leaves nothing behind: the caller may start again.
        await member.stop().catch(() => undefined);
        member = undefined;
        throw error;
      }
      timer = setInterval(() => hub.flush(), 250);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await member?.stop();
    },
  };
}
