/**
 * The fault matrix of bench/faults.ts (pure): one row per fault run, from its report, and
 * the Markdown table docs/reliability.md shows.
 */
import type { LoadTestReport } from './report.ts';

export interface MatrixRow {
  fault: string;
  produced: number;
  stored: number;
  lost: number;
  duplicated: number;
  deadLettered: number;
  windowsWrong: number;
  windowsJudged: number;
  alertsWrong: number;
  deviceStatesWrong: number;
  /** Fault end → lag normal and outputs flowing; undefined: not within the run. */
  recoveryS: number | undefined;
  /** The restarted server answers again → recovered (the clients' part); undefined: no restart. */
  afterBackS: number | undefined;
  ok: boolean;
  /** Why a run has no figures (it failed before reporting). */
  error?: string;
}

export function matrixRow(fault: string, report: LoadTestReport): MatrixRow {
  const r = report.reconciliation;
  const o = report.outputs;
  return {
    fault,
    produced: report.totals.produced,
    stored: r?.stored ?? 0,
    lost: r?.lost ?? report.totals.produced,
    duplicated: r?.duplicates ?? 0,
    deadLettered: r?.deadLettered ?? 0,
    windowsWrong: o?.windows.wrong ?? 0,
    windowsJudged: o?.windows.judged ?? 0,
    alertsWrong: o?.alerts.wrong ?? 0,
    deviceStatesWrong: o?.deviceState.wrong ?? 0,
    recoveryS: report.fault?.recovery.seconds,
    afterBackS: report.fault?.recovery.afterBackS,
    ok: Boolean(r?.ok) && Boolean(o?.ok) && !report.fault?.error,
  };
}

const num = (v: number) => v.toLocaleString('en-US');

export function renderMatrix(rows: readonly MatrixRow[]): string {
  const lines = [
    '| fault | produced | stored | lost | duplicated | windows wrong | alerts wrong | device states wrong | recovery | after back | verdict |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const row of rows) {
    if (row.error) {
      lines.push(
        `| ${row.fault} | – | – | – | – | – | – | – | – | – | no report: ${row.error.replace(/\|/g, '/')} |`,
      );
      continue;
    }
    lines.push(
      `| ${row.fault} | ${num(row.produced)} | ${num(row.stored)} | ${num(row.lost)} | ${num(row.duplicated)} | ${num(row.windowsWrong)} of ${num(row.windowsJudged)} | ${num(row.alertsWrong)} | ${num(row.deviceStatesWrong)} | ${row.recoveryS === undefined ? 'not in the run' : `${row.recoveryS.toFixed(1)} s`} | ${row.afterBackS === undefined ? '–' : `${row.afterBackS.toFixed(1)} s`} | ${row.ok ? 'pass' : 'FAIL'} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
