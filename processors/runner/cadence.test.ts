import { describe, expect, it } from 'vitest';
import { type CadenceConfig, commitDue, type PendingOutputs } from './cadence.ts';

const config: CadenceConfig = {
  checkpointIntervalMs: 1_000,
  quietCheckpointIntervalMs: 5_000,
  quietMaxRows: 100,
  quietMaxEvents: 100,
  maxSendRows: 5_000,
};
const pending = (p: Partial<PendingOutputs>): PendingOutputs => ({
  sinceCommitMs: 0,
  records: 0,
  rows: 0,
  urgent: 0,
  events: 0,
  ...p,
});

describe('commit cadence', () => {
  it('lets a quiet partition wait for the quiet interval', () => {
    expect(commitDue(pending({ sinceCommitMs: 1_000, records: 3, rows: 8 }), config)).toBe(false);
    expect(commitDue(pending({ sinceCommitMs: 4_999, records: 3, rows: 100 }), config)).toBe(false);
    expect(commitDue(pending({ sinceCommitMs: 5_000, records: 3, rows: 8 }), config)).toBe(true);
  });

  it('keeps the short interval for an alert or a dead letter', () => {
    expect(commitDue(pending({ sinceCommitMs: 999, records: 1, rows: 1, urgent: 1 }), config)).toBe(false);
    expect(commitDue(pending({ sinceCommitMs: 1_000, records: 1, rows: 1, urgent: 1 }), config)).toBe(true);
  });

  it('keeps the short interval for a busy partition', () => {
    expect(commitDue(pending({ sinceCommitMs: 1_000, records: 20, rows: 101 }), config)).toBe(true);
    expect(commitDue(pending({ sinceCommitMs: 999, records: 20, rows: 101 }), config)).toBe(false);
  });

  it('commits a full request at once', () => {
    expect(commitDue(pending({ sinceCommitMs: 0, records: 5_000, rows: 5_000 }), config)).toBe(true);
  });

  it('falls back to the one interval when the quiet one is not longer', () => {
    const same = { ...config, quietCheckpointIntervalMs: 500 };
    expect(commitDue(pending({ sinceCommitMs: 1_000, rows: 1 }), same)).toBe(true);
    expect(commitDue(pending({ sinceCommitMs: 999, rows: 1 }), same)).toBe(false);
  });

  it('keeps the short interval for a partition read fast, however few rows it holds', () => {
    // 1,000 devices at 4,000 events/s: ~220 events a second per partition, ~55 coalesced states.
    expect(commitDue(pending({ sinceCommitMs: 1_000, records: 2, rows: 57, events: 220 }), config)).toBe(
      true,
    );
    expect(commitDue(pending({ sinceCommitMs: 999, records: 2, rows: 57, events: 220 }), config)).toBe(false);
    // The demo at rest: a few events a second per partition stays quiet.
    expect(commitDue(pending({ sinceCommitMs: 1_000, records: 1, rows: 4, events: 4 }), config)).toBe(false);
  });
});
