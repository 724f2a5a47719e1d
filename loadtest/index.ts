/** The load test's public surface: run it programmatically (bench/run.ts, tests) or read its pure parts. */
export { type LoadTestConfig, type LoadTestConfigInput, parseLoadTestConfig } from './config.ts';
export { buildProfile, offeredBy, type Profile, phases, rateAt } from './profiles.ts';
export { reconcile } from './reconcile.ts';
export type { LoadTestReport } from './report.ts';
export { renderHtml } from './report.ts';
export { type LoadTestResult, runLoadTest } from './runner.ts';
export { percentile } from './stats.ts';
export { summaryLines } from './summary.ts';
