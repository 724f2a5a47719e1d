/**
 * The I/O of a fault run (`fleetgrid loadtest --fault`): the private server the fault needs,
 * started before anything else so the run's topics, schemas and state live on it (the shared
 * stack of `make up` is never faulted), and the injector that faults it (or the started child)
 * on schedule and restores it. Only PIDs this process started are signalled; every server
 * binds 127.0.0.1 and is killed and removed at the end.
 */
import type { Logger } from '../lib/log.ts';
import {
  type PrivateKafka,
  type PrivateKafkaNode,
  type PrivateRedis,
  type PrivateRegistry,
  startPrivateKafka,
  startPrivateRedis,
  startPrivateRegistry,
} from '../infra/local/private/index.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  busiestLeader,
  type FaultEvent,
  type FaultKind,
  type FaultSchedule,
  privateServerOf,
} from './faults.ts';
import type { PipelineChild, StartedPipeline } from './pipeline.ts';

export interface FaultServers {
  kafka?: PrivateKafka;
  redis?: PrivateRedis;
  registry?: PrivateRegistry;
  /** The environment of the run: the shared stack's, with the faulted service replaced. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

const KAFKA_SECURITY = [
  'KAFKA_SSL',
  'KAFKA_SSL_CA_FILE',
  'KAFKA_SASL_MECHANISM',
  'KAFKA_SASL_USERNAME',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_SASL_PASSWORD_FILE',
];

/**
 * Starts the private server of an infrastructure fault (none for a process fault), or the
 * private Kafka of a scale-out run or of a run without a fault on its own nodes (`kind`
 * undefined).
 */
export async function startFaultServers(
  schedule: { kind: FaultKind } | undefined,
  base: NodeJS.ProcessEnv,
  options: { kafkaNodes?: number } = {},
): Promise<FaultServers> {
  const env: NodeJS.ProcessEnv = { ...base };
  const servers: Omit<FaultServers, 'env' | 'stop'> = {};
  const stop = async () => {
    await Promise.allSettled([servers.kafka?.stop(), servers.redis?.stop(), servers.registry?.stop()]);
  };
  try {
    switch (privateServerOf(schedule?.kind)) {
      case 'kafka': {
        const kafka = await startPrivateKafka({ nodes: options.kafkaNodes ?? 1, name: 'loadtest-kafka' });
        servers.kafka = kafka;
        env.KAFKA_BROKERS = kafka.bootstrap;
        // The private cluster is plaintext on loopback.
        for (const key of KAFKA_SECURITY) delete env[key];
        break;
      }
      case 'redis': {
        // No persistence: the machine's Redis keeps nothing on disk either.
        const redis = await startPrivateRedis({ persistence: 'none', name: 'loadtest-redis' });
        servers.redis = redis;
        env.REDIS_URL = redis.url;
        break;
      }
      case 'registry': {
        const registry = await startPrivateRegistry({ name: 'loadtest-registry' });
        servers.registry = registry;
        env.SCHEMA_REGISTRY_URL = registry.url;
        delete env.SCHEMA_REGISTRY_USERNAME;
        delete env.SCHEMA_REGISTRY_PASSWORD;
        break;
      }
      default:
        break;
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { ...servers, env, stop };
}

export interface FaultInjector {
  /** Called from the load loop: begins or ends the fault when it is due. */
  poll(elapsedS: number): void;
  /** Ends the fault if it is still on (an early end of the load), and waits for both steps. */
  settle(): Promise<void>;
  readonly events: FaultEvent[];
  /**
   * Seconds since the load began when the restarted server or child answered again (a broker:
   * its first metadata answer listing itself as a live broker, private/kafka.ts `ready`);
   * undefined for faults without a restart, or before it answers.
   */
  readonly backAtS: number | undefined;
  /** First error of a step (the run's report notes it). */
  readonly error: string | undefined;
}

export function createFaultInjector(
  schedule: FaultSchedule,
  deps: {
    servers: FaultServers;
    pipeline: StartedPipeline | undefined;
    log: Logger;
    /** A processor a scale-out added: the run watches its CPU, memory and /metrics too. */
    watch?: (child: PipelineChild) => void;
    /** A processor a scale-out removed: its /metrics is no longer scraped (a failed scrape would hide the others'). */
    unwatch?: (child: PipelineChild) => void;
  },
  elapsed: () => number,
): FaultInjector {
  const events: FaultEvent[] = [];
  let error: string | undefined;
  let backAtS: number | undefined;
  /** The load ended: a scale-out takes no further step. */
  let cancelled = false;
  const note = (event: string, mark?: string): void => {
    events.push({ t: Math.round(elapsed() * 100) / 100, event, ...(mark ? { mark } : {}) });
  };
  /** The restored server answers again: recovery after it is the pipeline's own part. */
  const back = (event: string): void => {
    note(event);
    backAtS = (events.at(-1) as FaultEvent).t;
  };
  const { servers, pipeline } = deps;
  /** The node a broker fault hits, chosen when it begins. */
  let faulted: PrivateKafkaNode | undefined;
  const kafkaNode = () => faulted as PrivateKafkaNode;
  /**
   * One node: the only one. A cluster: the node leading most of the run's partitions at that
   * moment, so the fault moves the most leadership (the last node if metadata cannot be read).
   */
  const aim = async (): Promise<string> => {
    const kafka = servers.kafka as PrivateKafka;
    if (kafka.nodes.length === 1) {
      faulted = kafka.node(1);
      return `broker ${faulted.nodeId}`;
    }
    const topics = await kafka.topicMetadata().catch(() => []);
    const busiest = busiestLeader(topics);
    faulted = kafka.node(busiest ?? kafka.nodes.length);
    const run = topics.filter((t) => !t.name.startsWith('__')).flatMap((t) => t.partitions);
    const leads = run.filter((p) => p.leader === faulted?.nodeId).length;
    return `broker ${faulted.nodeId} (leader of ${leads} of ${run.length} partitions)`;
  };
  /**
   * Every node in turn: a clean stop (SIGTERM: controlled shutdown hands its leadership
   * over), started again, and the next only once every partition has all its replicas in
   * sync again, so no step takes a partition below min ISR.
   */
  const roll = async (): Promise<void> => {
    const kafka = servers.kafka as PrivateKafka;
    for (const node of kafka.nodes) {
      note(`broker ${node.nodeId} stopping (SIGTERM)`);
      await node.kill('SIGTERM');
      note(`broker ${node.nodeId} stopped; starting`);
      await node.start();
      note(`broker ${node.nodeId} answers again`);
      await kafka.waitForInSync(180_000);
      note('every partition in sync');
    }
    back('rolling restart done: every node restarted, every partition in sync');
  };
  /**
   * The member changes of a scale-out, each begun at its time whatever the earlier ones are
   * doing (a processor's start, which joins the group and restores its partitions, takes
   * seconds to tens of seconds on a loaded machine): a change every `everyS` means a change
   * begun every `everyS`. Removals take the oldest member, once it is up if it is still
   * starting. Each change is noted when it is done, with the count the plan gives.
   */
  const count = (n: number) => `${n} processor${n === 1 ? '' : 's'}`;
  const scale = async (): Promise<void> => {
    const p = pipeline;
    if (!p) throw new Error('--fault scale-out needs --start-pipeline');
    const members: Promise<PipelineChild>[] = p.processors
      .filter((c) => !c.exited())
      .map((c) => Promise.resolve(c));
    const changes: Promise<void>[] = [];
    const change = (work: Promise<void>) => changes.push(work.catch(fail('a scale-out change')));
    for (const step of schedule.steps ?? []) {
      while (!cancelled && elapsed() < step.atS) await sleep(50);
      if (cancelled) {
        note('scale-out cut short: the load ended');
        break;
      }
      const planned = count(step.processors);
      switch (step.action) {
        case 'add': {
          note(`a processor starting (${planned} once it is up)`);
          const joined = p.addProcessor();
          members.push(joined);
          change(
            joined.then((child) => {
              deps.watch?.(child);
              note(`${child.name} joined: ${planned}`, `${step.processors}p`);
            }),
          );
          break;
        }
        case 'stop':
        case 'kill': {
          const oldest = members.shift() as Promise<PipelineChild>;
          change(
            oldest.then(async (child) => {
              // A member that died by itself is a finding, not a removal: the run reports it.
              if (child.exited()) {
                note(`${child.name} had exited by itself before its removal (see its log)`);
                error ??= `${child.name} exited by itself during the scale-out`;
              }
              if (step.action === 'kill') await child.kill();
              else await child.stop();
              deps.unwatch?.(child);
              const how = step.action === 'kill' ? 'killed (-9)' : 'stopped (SIGTERM)';
              note(`${child.name} ${how}: ${planned}`, `${step.processors}p`);
            }),
          );
          break;
        }
        case 'sink-handover':
          change(
            (async () => {
              note('sink stopping (SIGTERM) for a handover');
              await p.sink.stop();
              note('sink stopped; its successor starting on the same data directory');
              await p.sink.restart();
              note('sink handed over: the new sink is ready', 'sink');
            })(),
          );
          break;
      }
    }
    await Promise.all(changes);
    note(
      `scale-out done: ${count((await Promise.allSettled(members)).filter((m) => m.status === 'fulfilled' && !m.value.exited()).length)}`,
    );
  };
  const child = () => {
    const started = schedule.target === 'processor' ? pipeline?.processor : pipeline?.sink;
    if (!started) throw new Error(`--fault ${schedule.kind} needs --start-pipeline`);
    return started;
  };

  async function begin(): Promise<void> {
    switch (schedule.kind) {
      case 'redis-kill':
        await (servers.redis as PrivateRedis).kill('SIGKILL');
        return note('redis killed (-9)');
      case 'redis-flush': {
        const { Redis } = await import('ioredis');
        const redis = new Redis((servers.redis as PrivateRedis).url, {
          lazyConnect: true,
          maxRetriesPerRequest: 1,
        });
        try {
          await redis.connect();
          await redis.flushall();
        } finally {
          redis.disconnect();
        }
        return note('redis flushed (FLUSHALL)');
      }
      case 'registry-kill':
        await (servers.registry as PrivateRegistry).kill('SIGKILL');
        return note('registry killed (-9)');
      case 'broker-kill': {
        const which = await aim();
        await kafkaNode().kill('SIGKILL');
        return note(`${which} killed (-9)`);
      }
      case 'broker-pause': {
        const which = await aim();
        kafkaNode().pause();
        return note(`${which} paused (SIGSTOP)`);
      }
      case 'rolling-restart':
        // The whole roll: its end is when the last node is back in sync, however long after `forS`.
        return roll();
      case 'scale-out':
        return scale();
      case 'processor-kill':
      case 'sink-kill':
        await child().kill();
        return note(`${child().name} killed (-9)`);
    }
  }

  async function end(): Promise<void> {
    switch (schedule.kind) {
      case 'redis-flush':
      case 'rolling-restart':
      case 'scale-out':
        return;
      case 'redis-kill':
        note('redis restarting');
        await (servers.redis as PrivateRedis).start();
        return back('redis answers again');
      case 'registry-kill':
        note('registry restarting');
        await (servers.registry as PrivateRegistry).start();
        return back('registry answers again');
      case 'broker-kill':
        note('broker restarting');
        await kafkaNode().start();
        return back('broker answers again');
      case 'broker-pause':
        kafkaNode().resume();
        return note('broker resumed (SIGCONT)');
      case 'processor-kill':
      case 'sink-kill':
        note(`${child().name} restarting`);
        await child().restart();
        return back(`${child().name} ready again`);
    }
  }

  const fail = (step: string) => (e: unknown) => {
    error ??= `${step}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
    deps.log.warn({ err: e }, `fault ${schedule.kind}: ${step} failed`);
  };
  let begun: Promise<void> | undefined;
  let ended: Promise<void> | undefined;
  const doEnd = () => {
    ended ??= (begun ?? Promise.resolve()).then(() => end().catch(fail('ending the fault')));
  };
  return {
    events,
    get error() {
      return error;
    },
    get backAtS() {
      return backAtS;
    },
    poll(elapsedS) {
      if (!begun && elapsedS >= schedule.atS) begun = begin().catch(fail('the fault'));
      if (begun && !ended && elapsedS >= schedule.endS) doEnd();
    },
    async settle() {
      cancelled = true;
      if (begun) doEnd();
      await begun;
      await ended;
    },
  };
}
