/**
 * `make bench`: every component's benchmark, then a short end-to-end load test, and the
 * figures written to docs/BENCHMARKS.md with the machine, the date and the commands.
 *
 * Each component bench (`<component>/bench.ts`, bounded to about a minute by its owner)
 * runs alone, one after the other, because two benchmarks sharing two cores would measure
 * each other; its output is shown as it runs and its last `BENCH_JSON {...}` line is kept.
 * The end-to-end part is `fleetgrid loadtest --profile step --start-pipeline` with Kafka's
 * ProducerPerformance as the broker baseline (docs/loadtest.md). The whole run stays under
 * about ten minutes.
 *
 * Only the section between the `bench:begin`/`bench:end` markers of docs/BENCHMARKS.md is
 * rewritten; anything written around it by hand is kept.
 *
 * Environment: BENCH_ONLY=producers,sinks (a subset of the component benches),
 * BENCH_E2E=0 (skip the load test), BENCH_NO_WRITE=1 (print, do not touch the docs).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../lib/config.ts';

export const COMPONENT_BENCHES = [
  { name: 'producers', file: 'producers/bench.ts' },
  { name: 'processors-core', file: 'processors/core/bench.ts' },
  { name: 'processors', file: 'processors/bench.ts' },
  { name: 'sinks', file: 'sinks/bench.ts' },
  { name: 'query', file: 'query/bench.ts' },
  { name: 'registry-cdc', file: 'registry/bench.ts' },
  { name: 'notify', file: 'notify/bench.ts' },
] as const;

/**
 * The end-to-end load test of `make bench`: steps of 4 000 events/s, 20 s each, up to
 * 36 000/s (180 s at most; it stops at the first step that is not sustainable). On this
 * 2-core machine the highest sustainable rate measured was 36 000/s
 * (docs/benchmarks/loadtest.md).
 */
export const E2E_ARGS = [
  'loadtest',
  '--profile',
  'step',
  '--rate',
  '4000',
  '--step-rate',
  '4000',
  '--step-duration',
  '20',
  '--duration',
  '180',
  '--devices',
  '1000',
  '--warmup',
  '10',
  '--window-size',
  '10',
  '--grace',
  '5',
  '--drain-timeout',
  '60',
  '--baseline',
  '500000',
  '--start-pipeline',
];

const BENCH_TIMEOUT_MS = 150_000;
const E2E_TIMEOUT_MS = 360_000;
const BEGIN = '<!-- bench:begin (written by `make bench`: bench/run.ts) -->';
const END = '<!-- bench:end -->';

export interface BenchResult {
  name: string;
  command: string;
  seconds: number;
  figures: Record<string, unknown> | undefined;
  error: string | undefined;
}

/** The figures of the last `BENCH_JSON {...}` line of a bench's output. */
export function parseBenchJson(output: string): Record<string, unknown> | undefined {
  const line = output
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('BENCH_JSON '));
  if (!line) return undefined;
  try {
    const value = JSON.parse(line.slice('BENCH_JSON '.length)) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** `a.b.c = value` rows of a nested object, for a readable table. */
export function flatten(value: unknown, prefix = ''): [string, string][] {
  if (value === null || typeof value !== 'object') return [[prefix || 'value', formatValue(value)]];
  if (Array.isArray(value)) return [[prefix, value.map(formatValue).join(', ')]];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, inner]) =>
    flatten(inner, prefix ? `${prefix}.${key}` : key),
  );
}

function formatValue(value: unknown): string {
  if (typeof value === 'number')
    return Number.isInteger(value)
      ? value.toLocaleString('en-US')
      : value.toLocaleString('en-US', { maximumFractionDigits: 3 });
  if (value === null || value === undefined) return '–';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function run(
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; output: string; seconds: number }> {
  const started = Date.now();
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      process.stdout.write(chunk);
    });
    const timer = setTimeout(() => {
      output += `\n(killed after ${timeoutMs / 1_000} s)\n`;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, output, seconds: (Date.now() - started) / 1_000 });
    });
  });
}

/** The Markdown section with every figure. Pure. */
export function renderSection(input: {
  date: string;
  machine: string;
  benches: BenchResult[];
  e2e:
    | { command: string; summary: string[]; reportDir: string | undefined; error: string | undefined }
    | undefined;
  totalSeconds: number;
}): string {
  const out = [
    BEGIN,
    `## Latest \`make bench\` (${input.date})`,
    '',
    `Machine: ${input.machine}. The whole stack (Kafka, Apicurio, Redis) runs on the same machine. Total ${Math.round(input.totalSeconds)} s.`,
    '',
  ];
  for (const bench of input.benches) {
    out.push(`### ${bench.name}`, '', `\`${bench.command}\` (${bench.seconds.toFixed(0)} s)`, '');
    if (bench.error) out.push(`Failed: ${bench.error}`, '');
    if (bench.figures) {
      out.push('| figure | value |', '|---|---|');
      for (const [key, value] of flatten(bench.figures))
        out.push(`| ${key} | ${value.replace(/\|/g, '\\|')} |`);
      out.push('');
    }
  }
  if (input.e2e) {
    out.push('### end to end (load test)', '', `\`${input.e2e.command}\``, '');
    if (input.e2e.error) out.push(`Failed: ${input.e2e.error}`, '');
    for (const line of input.e2e.summary) out.push(`- ${line}`);
    if (input.e2e.reportDir)
      out.push('', `Report: \`${input.e2e.reportDir}\` (git-ignored). Method: docs/loadtest.md.`);
    out.push('');
  }
  out.push(END);
  return out.join('\n');
}

/** Replaces the marked section of `existing` (or appends it). Pure. */
export function spliceSection(existing: string | undefined, section: string): string {
  if (!existing) return `# Benchmarks\n\nPer-component details: docs/benchmarks/*.md.\n\n${section}\n`;
  const begin = existing.indexOf('<!-- bench:begin');
  const end = existing.indexOf(END);
  if (begin >= 0 && end > begin)
    return `${existing.slice(0, begin)}${section}${existing.slice(end + END.length)}`;
  return `${existing.trimEnd()}\n\n${section}\n`;
}

async function main(): Promise<void> {
  const started = Date.now();
  // Other work on the machine skews every figure: the load average says how much there was.
  const loadAtStart = loadavg()[0] ?? 0;
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
  const benches: BenchResult[] = [];
  for (const bench of COMPONENT_BENCHES) {
    if (only && !only.includes(bench.name)) continue;
    if (!existsSync(resolve(PROJECT_ROOT, bench.file))) {
      console.log(`[bench] ${bench.file}: not there yet, skipped`);
      continue;
    }
    console.log(`\n[bench] node ${bench.file}`);
    const result = await run([bench.file], BENCH_TIMEOUT_MS);
    const figures = parseBenchJson(result.output);
    benches.push({
      name: bench.name,
      command: `node ${bench.file}`,
      seconds: result.seconds,
      figures,
      error:
        result.code !== 0
          ? `exit code ${result.code}`
          : figures
            ? undefined
            : 'no BENCH_JSON line in its output',
    });
  }
  let e2e: Parameters<typeof renderSection>[0]['e2e'];
  if (process.env.BENCH_E2E !== '0') {
    const command = `node bin/fleetgrid.mjs ${E2E_ARGS.join(' ')}`;
    console.log(`\n[bench] ${command}`);
    const result = await run(['bin/fleetgrid.mjs', ...E2E_ARGS], E2E_TIMEOUT_MS);
    const lines = result.output.split('\n').filter((l) => l.trim().length > 0);
    const reportLine = lines.findIndex((l) => l.startsWith('report: '));
    e2e = {
      command,
      summary: reportLine > 0 ? lines.slice(0, reportLine) : lines.slice(-8),
      reportDir:
        reportLine >= 0
          ? lines[reportLine]?.slice('report: '.length).replace(/\/report\.html$/, '')
          : undefined,
      error: result.code !== 0 ? `exit code ${result.code}` : undefined,
    };
  }
  const list = cpus();
  const kafkaJar = existsSync(resolve(PROJECT_ROOT, '.cache/stack/kafka-4.1.1')) ? ', Kafka 4.1.1' : '';
  const section = renderSection({
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    machine: `${list.length} × ${list[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 1_073_741_824).toFixed(0)} GiB, ${type()} ${release()}, Node ${process.version}${kafkaJar}; 1-minute load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end`,
    benches,
    e2e,
    totalSeconds: (Date.now() - started) / 1_000,
  });
  console.log(`\n${section}`);
  if (process.env.BENCH_NO_WRITE !== '1') {
    const file = resolve(PROJECT_ROOT, 'docs/BENCHMARKS.md');
    writeFileSync(file, spliceSection(existsSync(file) ? readFileSync(file, 'utf8') : undefined, section));
    console.log(`[bench] wrote ${file}`);
  }
  const failed = benches.filter((b) => b.error).length + (e2e?.error ? 1 : 0);
  process.exitCode = failed > 0 ? 1 : 0;
}

// Run only as a script: the test imports the pure parts.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
