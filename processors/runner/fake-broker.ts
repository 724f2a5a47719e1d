/**
 * A broker with transactions, as far as the checkpoint protocol needs one — for the unit
 * tests of transactions.ts and commits.ts, not used in production code.
 */
import { FleetgridError } from '../../lib/errors.ts';
import type {
  CommitOffset,
  CommittedOffsets,
  ProducedPartition,
  TopicMessages,
  Transaction,
  TransactionalProducer,
} from '../../lib/kafka/index.ts';
import { type Checkpoint, decodeCheckpoint } from './changelog.ts';
import { planRestore } from './restore.ts';

export const STEPS = ['begin', 'send', 'changelog', 'offsets', 'commit'] as const;
export type Step = (typeof STEPS)[number];

/**
 * A broker with transactions, as far as the protocol needs one: records and offsets of a
 * transaction become visible at commit and never otherwise; aborted records still take
 * offsets (as on a real log); a fault can be injected at any step.
 */
export class FakeBroker {
  /** Every record written, committed or not: offsets are positions in this log. */
  private log = new Map<string, { value: Buffer | string | null; visible: boolean }[]>();
  offsets = new Map<string, { offset: string; metadata: string | null }>();
  fault: { step: Step; error: Error; times: number } | undefined;
  fenced = false;

  private maybeFail(step: Step): void {
    if (this.fenced) throw new FleetgridError('KAFKA_PRODUCER_FENCED', 'fenced by a newer producer');
    if (this.fault?.step === step && this.fault.times > 0) {
      this.fault.times--;
      throw this.fault.error;
    }
  }

  /**
   * As with kafkajs, a producer whose commit failed stays in COMMITTING: it can neither end
   * that transaction nor begin another (a new producer with the same id is needed). One
   * whose transaction was neither committed nor aborted (fenced midway) is still inside it:
   * it cannot begin another either.
   */
  producer(): TransactionalProducer {
    const state = { stuck: false, inTransaction: false };
    return {
      connect: async () => {},
      disconnect: async () => {},
      transaction: async () => {
        if (state.stuck) {
          throw new FleetgridError('INTERNAL', 'Cannot call "beginTransaction" in state "COMMITTING"', {
            retriable: false,
          });
        }
        if (state.inTransaction) {
          throw new FleetgridError(
            'INTERNAL',
            'There is already an ongoing transaction for this producer. Please end the transaction before beginning another.',
            { retriable: false },
          );
        }
        return this.transaction(state);
      },
    };
  }

  private transaction(state: { stuck: boolean; inTransaction: boolean }): Transaction {
    this.maybeFail('begin');
    state.inTransaction = true;
    const written: { value: Buffer | string | null; visible: boolean }[] = [];
    const pendingOffsets: CommitOffset[] = [];
    let active = true;
    const send = async (batches: TopicMessages[]): Promise<ProducedPartition[]> => {
      const isChangelog = batches.some((b) => b.topic === 'changelog');
      this.maybeFail(isChangelog ? 'changelog' : 'send');
      const produced: ProducedPartition[] = [];
      for (const { topic, messages } of batches) {
        const key = `${topic}:${messages[0]?.partition ?? 0}`;
        const log = this.log.get(key) ?? [];
        this.log.set(key, log);
        produced.push({ topic, partition: messages[0]?.partition ?? 0, baseOffset: String(log.length) });
        for (const m of messages) {
          const entry = { value: m.value, visible: false };
          log.push(entry);
          written.push(entry);
        }
      }
      return produced;
    };
    return {
      send,
      sendOffsets: async (_group, offsets) => {
        this.maybeFail('offsets');
        pendingOffsets.push(...offsets);
      },
      commit: async () => {
        active = false;
        try {
          this.maybeFail('commit');
        } catch (error) {
          state.stuck = true;
          throw error;
        }
        state.inTransaction = false;
        for (const entry of written) entry.visible = true;
        for (const o of pendingOffsets) {
          this.offsets.set(`${o.topic}:${o.partition}`, { offset: o.offset, metadata: o.metadata ?? null });
        }
      },
      abort: async () => {
        active = false;
        state.inTransaction = false;
      },
      isActive: () => active,
    };
  }

  visible(topic: string): string[] {
    return [...this.log]
      .filter(([key]) => key.startsWith(`${topic}:`))
      .flatMap(([, log]) => log.filter((e) => e.visible).map((e) => String(e.value)));
  }

  committed(topic: string): CommittedOffsets[] {
    const partitions = [...this.offsets]
      .filter(([key]) => key.startsWith(`${topic}:`))
      .map(([key, v]) => ({ partition: Number(key.split(':')[1]), ...v }));
    return [{ topic, partitions }];
  }

  /** What a new owner restores (restore.ts + changelog.ts against this broker). */
  restore(topic: string, partition: number): Checkpoint | undefined {
    const plan = planRestore(this.committed(topic), topic, partition);
    if (plan.kind !== 'checkpoint') return undefined;
    const record = this.log.get(`changelog:${partition}`)?.[Number(plan.changelogOffset)];
    if (!record?.visible) throw new Error('pointer to an invisible record');
    return decodeCheckpoint(record.value as Buffer);
  }
}
