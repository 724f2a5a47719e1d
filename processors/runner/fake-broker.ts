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

/** What the broker remembers of one producer's batches on one partition (its duplicate check). */
interface SequencedBatch {
  first: number;
  last: number;
  offset: number;
}

/**
 * A broker with transactions, as far as the protocol needs one: records and offsets of a
 * transaction become visible at commit and never otherwise; aborted records still take
 * offsets (as on a real log); a fault can be injected at any step.
 *
 * Produce requests carry sequence numbers as with Kafka and kafkajs: the client numbers a
 * partition's records when the request leaves and subtracts the count again when the
 * request fails; the broker takes a batch whose range it already holds from the same
 * producer (id and epoch: here, the same producer object) for a duplicate, appends nothing
 * and answers with the earlier batch's offset — even when that batch was in a transaction
 * since aborted. A fault with `lands: true` at 'send' or 'changelog' writes the request and
 * only then fails it (the answer was lost: a broker that died after replicating it).
 */
export class FakeBroker {
  /** Every record written, committed or not: offsets are positions in this log. */
  private log = new Map<string, { value: Buffer | string | null; visible: boolean }[]>();
  /** Per producer (one epoch of a transactional id), per partition: the batches it wrote. */
  private batches = new WeakMap<object, Map<string, SequencedBatch[]>>();
  offsets = new Map<string, { offset: string; metadata: string | null }>();
  fault: { step: Step; error: Error; times: number; lands?: boolean } | undefined;
  fenced = false;

  /** The fault due at `step`, used up; throws it now unless it lets the request land first. */
  private maybeFail(step: Step): Error | undefined {
    if (this.fenced) throw new FleetgridError('KAFKA_PRODUCER_FENCED', 'fenced by a newer producer');
    if (this.fault?.step === step && this.fault.times > 0) {
      this.fault.times--;
      if (this.fault.lands && (step === 'send' || step === 'changelog')) return this.fault.error;
      throw this.fault.error;
    }
    return undefined;
  }

  /**
   * As with kafkajs, a producer whose commit failed stays in COMMITTING: it can neither end
   * that transaction nor begin another (a new producer with the same id is needed). One
   * whose transaction was neither committed nor aborted (fenced midway) is still inside it:
   * it cannot begin another either.
   */
  producer(): TransactionalProducer {
    const state = { stuck: false, inTransaction: false, sequences: new Map<string, number>() };
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

  private transaction(state: {
    stuck: boolean;
    inTransaction: boolean;
    sequences: Map<string, number>;
  }): Transaction {
    this.maybeFail('begin');
    state.inTransaction = true;
    const written: { value: Buffer | string | null; visible: boolean }[] = [];
    const pendingOffsets: CommitOffset[] = [];
    let active = true;
    const send = async (batches: TopicMessages[]): Promise<ProducedPartition[]> => {
      const isChangelog = batches.some((b) => b.topic === 'changelog');
      const lostAnswer = this.maybeFail(isChangelog ? 'changelog' : 'send');
      const remembered = this.batches.get(state) ?? new Map<string, SequencedBatch[]>();
      this.batches.set(state, remembered);
      const produced: ProducedPartition[] = [];
      for (const { topic, messages } of batches) {
        const key = `${topic}:${messages[0]?.partition ?? 0}`;
        const log = this.log.get(key) ?? [];
        this.log.set(key, log);
        // The client numbers the records as the request leaves.
        const first = state.sequences.get(key) ?? 0;
        const last = first + messages.length - 1;
        state.sequences.set(key, last + 1);
        const seen = remembered.get(key) ?? [];
        remembered.set(key, seen);
        const duplicate = seen.find((b) => b.first === first && b.last === last);
        if (duplicate) {
          // Taken for a resend of a batch already written: nothing appended, its offset answered.
          produced.push({
            topic,
            partition: messages[0]?.partition ?? 0,
            baseOffset: String(duplicate.offset),
          });
          continue;
        }
        seen.push({ first, last, offset: log.length });
        produced.push({ topic, partition: messages[0]?.partition ?? 0, baseOffset: String(log.length) });
        for (const m of messages) {
          const entry = { value: m.value, visible: false };
          log.push(entry);
          written.push(entry);
        }
      }
      if (lostAnswer) {
        // kafkajs takes the numbers back when a request fails, whether or not it was written.
        for (const { topic, messages } of batches) {
          const key = `${topic}:${messages[0]?.partition ?? 0}`;
          state.sequences.set(key, (state.sequences.get(key) ?? 0) - messages.length);
        }
        throw lostAnswer;
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
