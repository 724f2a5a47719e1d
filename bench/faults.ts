/**
 * The fault matrix (issue 12, docs/reliability.md): every fault of `fleetgrid loadtest
 * --fault` once, one after the other, each a bounded run at a fixed rate with its own
 * started pipeline and private servers, and a table of what each one did to the data:
 * produced, stored, lost, duplicated, windows / alerts / device states wrong, recovery.
 *
 *   node bench/faults.ts            # ~2,500 ev/s, 75 s per fault (about 15–20 minutes)
 *   node bench/faults.ts --brief    # `make test-faults`: 500 ev/s, 30 s per fault
 *   node bench/faults.ts --only sink-kill,redis-flush
 *
 * Run it alone on the machine (on a shared machine: under its heavy-work lock): two
 * benchmarks on two cores would measure each other. Every run stops by itself (the load
 * test's duration and drain timeout, plus a hard timeout here). Writes
 * reports/faults-<time>/matrix.md and matrix.json (and each run's report beside them);
 * exit code 1 if any fault did not pass.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../lib/config.ts';
import { FAULT_KINDS, type FaultKind } from '../loadtest/faults.ts';
import { type MatrixRow, matrixRow, renderMatrix } from '../loadtest/matrix.ts';
import type { LoadTestReport } from '../loadtest/report.ts';
import { runFleetgrid as run } from './child.ts';

const { values } = parseArgs({
  options: {
    brief: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string' },
  },
});

const settings = values.brief
  ? { rate: 500, duration: 30, devices: 100, window: 4, grace: 1, at: 8, for: 6, drain: 90 }
  : { rate: 2_500, duration: 75, devices: 500, window: 10, grace: 5, at: 25, for: 15, drain: 150 };

const faults: FaultKind[] = values.only
  ? values.only.split(',').map((f) => {
      if (!(FAULT_KINDS as readonly string[]).includes(f)) throw new Error(`unknown fault ${f}`);
      return f as FaultKind;
    })
  : [...FAULT_KINDS];

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const outDir = resolve(values.out ?? resolve(PROJECT_ROOT, 'reports', `faults-${stamp}`));
mkdirSync(outDir, { recursive: true });

function argsFor(fault: FaultKind, reportDir: string): string[] {
  return [
    'loadtest',
    '--profile',
    'constant',
    '--rate',
    String(settings.rate),
    '--duration',
    String(settings.duration),
    '--devices',
    String(settings.devices),
    '--window-size',
    String(settings.window),
    '--grace',
    String(settings.grace),
    '--drain-timeout',
    String(settings.drain),
    '--start-pipeline',
    '--fault',
    fault,
    '--fault-at',
    String(settings.at),
    ...(fault === 'redis-flush' ? [] : ['--fault-for', String(settings.for)]),
    '--no-progress',
    '--report',
    reportDir,
  ];
}

const rows: MatrixRow[] = [];
const commands: string[] = [];
const began = Date.now();
for (const fault of faults) {
  const reportDir = resolve(outDir, fault);
  const args = argsFor(fault, reportDir);
  const command = `node bin/fleetgrid.mjs ${args.join(' ')}`;
  commands.push(command);
  process.stdout.write(`\n[faults] ${fault}: ${command}\n`);
  const limitMs = (settings.duration + settings.drain + 180) * 1_000;
  const { code, output } = await run(args, limitMs);
  const json = resolve(reportDir, 'report.json');
  if (existsSync(json)) {
    const report = JSON.parse(readFileSync(json, 'utf8')) as LoadTestReport;
    rows.push(matrixRow(fault, report));
  } else {
    const last = output.trim().split('\n').at(-1) ?? '';
    rows.push({
      ...matrixRow(fault, {} as LoadTestReport),
      ok: false,
      error: `exit ${code}: ${last.slice(0, 200)}`,
    });
  }
}

const table = renderMatrix(rows);
const header = [
  `Fault matrix, ${new Date().toISOString()}: ${settings.rate} ev/s for ${settings.duration} s per fault, ${settings.devices} devices, windows ${settings.window} s + ${settings.grace} s grace; fault at ${settings.at} s for ${settings.for} s.`,
  `Machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 1_073_741_824)} GiB, load average ${loadavg()[0]?.toFixed(2)} at the end; ${Math.round((Date.now() - began) / 1_000)} s in all.`,
  '',
].join('\n');
const markdown = `${header}\n${table}\nCommands:\n\n${commands.map((c) => `    ${c}`).join('\n')}\n`;
writeFileSync(resolve(outDir, 'matrix.md'), markdown);
writeFileSync(resolve(outDir, 'matrix.json'), `${JSON.stringify({ settings, rows, commands }, null, 2)}\n`);
process.stdout.write(`\n${markdown}\n[faults] ${resolve(outDir, 'matrix.md')}\n`);
if (rows.some((r) => !r.ok)) process.exitCode = 1;
