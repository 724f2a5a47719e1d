/**
 * When the idle timer may advance a partition's stream time with the wall clock (pure).
 *
 * The idle timer closes windows and raises heartbeat_lost alerts for devices that went
 * silent. Silence means something only when we can hear: the partition's input must be
 * KNOWN (the consumer runs, owns the partition and its fetches succeed: lib/stream's
 * InputTracker through `member.inputKnown`), the partition must not be paused
 * (backpressure, registry outage, stopping: then events wait in the log, unread), and it
 * must be caught up to its log end. Otherwise a broker outage or a slow restart would
 * close windows early and raise false heartbeat_lost alerts for devices whose events are
 * sitting in Kafka.
 */
export interface IdleView {
  inputKnown: boolean;
  paused: boolean;
  /** Next offset to process; undefined before the first record of a partition without a checkpoint. */
  nextOffset: number | undefined;
  /**
   * The log end offset as of the last fetched batch; undefined when no batch came since the
   * claim. Fetches that succeed without handing over a batch mean there was nothing to read.
   */
  highWatermark: number | undefined;
}

export function mayAdvanceIdle(view: IdleView): boolean {
  if (!view.inputKnown || view.paused) return false;
  if (view.highWatermark === undefined || view.nextOffset === undefined) return true;
  return view.nextOffset >= view.highWatermark;
}
