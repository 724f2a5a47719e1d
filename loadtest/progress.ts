/** The live status line of a load test (stderr, when it is a terminal). Pure formatting. */
import { GROUPS } from '../lib/stream/index.ts';

export interface ProgressState {
  elapsedS: number;
  durationS: number;
  phase: string;
  offeredPerS: number;
  achievedPerS: number;
  lag: Record<string, number>;
  rawP99Ms: number | undefined;
  rawP99AtLeast: boolean;
  errors: number;
  shed: number;
  draining: boolean;
}

const compact = (n: number) =>
  n >= 1e6
    ? `${(n / 1e6).toFixed(1)}M`
    : n >= 1e4
      ? `${(n / 1e3).toFixed(0)}k`
      : n >= 1e3
        ? `${(n / 1e3).toFixed(1)}k`
        : `${Math.round(n)}`;

/** One line, e.g. `[ 12/60 s] step 2 offered 2.0k/s achieved 2.0k/s lag proc 1.2k sink 300 p99 450 ms errors 0 · 48 s left`. */
export function formatProgress(s: ProgressState, groupLabel: (group: string) => string = (g) => g): string {
  const lag = Object.entries(s.lag)
    .map(([group, value]) => `${groupLabel(group)} ${compact(value)}`)
    .join(' ');
  const fresh =
    s.rawP99Ms === undefined ? 'p99 –' : `p99 ${s.rawP99AtLeast ? '≥' : ''}${compact(s.rawP99Ms)} ms`;
  const left = s.draining ? 'draining' : `${Math.max(0, Math.ceil(s.durationS - s.elapsedS))} s left`;
  const width = String(Math.ceil(s.durationS)).length;
  return (
    `[${String(Math.floor(s.elapsedS)).padStart(width)}/${Math.ceil(s.durationS)} s] ${s.phase} ` +
    `offered ${compact(s.offeredPerS)}/s achieved ${compact(s.achievedPerS)}/s ` +
    `lag ${lag || '–'} ${fresh} errors ${s.errors}${s.shed > 0 ? ` shed ${compact(s.shed)}` : ''} · ${left}`
  );
}

/** Short names for the standard groups in the status line. */
export function groupLabel(group: string): string {
  if (group.endsWith(GROUPS.processors)) return 'proc';
  if (group.endsWith(GROUPS.sink)) return 'sink';
  return group;
}
