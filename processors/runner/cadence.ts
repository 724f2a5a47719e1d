/**
 * When a partition's next transaction is due: the commit cadence as a pure rule.
 *
 * Every transaction costs about five Kafka requests (outputs, AddOffsetsToTxn, the offset
 * commit, EndTxn, the changelog record) whatever it carries, so a processor owning 18
 * partitions at one commit per second each spends most of its CPU at rest on requests
 * that carry three or four events. A quiet partition — few input events and little output
 * pending, no alert, no dead letter — therefore commits every `quietCheckpointIntervalMs`
 * instead of every `checkpointIntervalMs`; a partition with an alert or a dead letter
 * pending, with more than `quietMaxRows` rows, or with more than `quietMaxEvents` input events
 * since its last commit keeps the short interval, and one with a full request's worth
 * commits at once. The input count matters under load: 1,000 devices at 4,000 events/s give
 * each partition only ~55 coalesced states, few rows, yet a partition read that fast must not
 * hold its offsets (the lag readers see) and outputs for 5 s. Exactly-once is unaffected: a longer interval only means more input is
 * read again after a failover. What grows is the latency of a quiet partition's window
 * aggregates and device states (docs/processors.md, "Commit cadence").
 */

export interface CadenceConfig {
  checkpointIntervalMs: number;
  /** A quiet partition's interval (≥ checkpointIntervalMs to have any effect). */
  quietCheckpointIntervalMs: number;
  /** Pending rows (records + coalesced states) up to which a partition counts as quiet. */
  quietMaxRows: number;
  /** Input events since the last commit up to which a partition counts as quiet. */
  quietMaxEvents: number;
  /** A partition with this many pending records commits at once (a full produce request). */
  maxSendRows: number;
}

export interface PendingOutputs {
  /** Milliseconds since the partition's last commit. */
  sinceCommitMs: number;
  /** Pending aggregates, alerts and dead letters. */
  records: number;
  /** Pending records plus pending (coalesced) device states. */
  rows: number;
  /** Alerts and dead letters pending: they keep the short interval. */
  urgent: number;
  /** Input events processed since the last commit. */
  events: number;
}

export function commitDue(pending: PendingOutputs, config: CadenceConfig): boolean {
  if (pending.records >= config.maxSendRows) return true;
  if (pending.sinceCommitMs < config.checkpointIntervalMs) return false;
  if (pending.urgent > 0 || pending.rows > config.quietMaxRows || pending.events > config.quietMaxEvents)
    return true;
  return pending.sinceCommitMs >= config.quietCheckpointIntervalMs;
}
