import { describe, expect, it } from 'vitest';
import { matrixRow, renderMatrix } from './matrix.ts';
import type { LoadTestReport } from './report.ts';

function report(overrides: {
  lost?: number;
  windowsWrong?: number;
  recovery?: number;
  afterBack?: number;
  error?: string;
}): LoadTestReport {
  return {
    totals: { produced: 1_000 },
    reconciliation: {
      ok: (overrides.lost ?? 0) === 0,
      stored: 1_000 - (overrides.lost ?? 0),
      lost: overrides.lost ?? 0,
      duplicates: 0,
      deadLettered: 0,
    },
    outputs: {
      ok: (overrides.windowsWrong ?? 0) === 0,
      windows: { wrong: overrides.windowsWrong ?? 0, judged: 50 },
      alerts: { wrong: 0 },
      deviceState: { wrong: 0 },
    },
    fault: {
      recovery: { seconds: overrides.recovery, afterBackS: overrides.afterBack },
      ...(overrides.error ? { error: overrides.error } : {}),
    },
  } as unknown as LoadTestReport;
}

describe('fault matrix', () => {
  it('passes a run only when nothing is lost, every output matches and the fault ran', () => {
    expect(matrixRow('sink-kill', report({ recovery: 12.34 }))).toMatchObject({
      produced: 1_000,
      stored: 1_000,
      recoveryS: 12.34,
      ok: true,
    });
    expect(matrixRow('broker-kill', report({ lost: 3 })).ok).toBe(false);
    expect(matrixRow('redis-flush', report({ windowsWrong: 2 })).ok).toBe(false);
    expect(matrixRow('registry-kill', report({ error: 'the fault: no registry' })).ok).toBe(false);
  });

  it('renders one Markdown row per fault', () => {
    const table = renderMatrix([
      matrixRow('sink-kill', report({ recovery: 12.34, afterBack: 4.56 })),
      matrixRow('redis-flush', report({ windowsWrong: 2 })),
      { ...matrixRow('broker-kill', report({})), error: 'exit 2 | no report' },
    ]);
    const lines = table.trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[2]).toBe('| sink-kill | 1,000 | 1,000 | 0 | 0 | 0 of 50 | 0 | 0 | 12.3 s | 4.6 s | pass |');
    expect(lines[3]).toContain('| 2 of 50 |');
    expect(lines[3]).toContain('| not in the run | – | FAIL |');
    expect(lines[4]).toContain('no report: exit 2 / no report');
  });
});
