/**
 * Scale-out (issue 15, docs/reliability.md "Scale-out"): on a private Kafka of `--nodes`
 * nodes (default 3: replication 3, min ISR 2), one after the other, each a bounded
 * `fleetgrid loadtest --start-pipeline` run:
 *
 * - `scale-out`: processors 1 → 3 → 1, one member added or removed every 10 s for 2
 *   minutes (the third removal a kill -9), a sink handover halfway, under 1,500 ev/s; every
 *   window, alert and device state checked against the crash-free reference, and
 *   produced = stored + dead-lettered;
 * - `throughput`: the same load with 1, 2 and 3 processors (a fixed count each), and what
 *   the processors cost per event, summed over them (loadtest/cost.ts). On 2 shared cores
 *   the point is how the cost grows with members, not a speed-up.
 *
 *   node bench/scale.ts                         # both (about 12 minutes)
 *   node bench/scale.ts --only scale-out --nodes 1
 *   node bench/scale.ts --only throughput
 *
 * Run it alone on the machine (on a shared machine: under its heavy-work lock). Writes
 * reports/scale-<time>/scale.md and scale.json (and each run's report beside them); exit
 * code 1 if the scale-out run did not reconcile.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../lib/config.ts';
import { type RunCost, renderCosts, runCost } from '../loadtest/cost.ts';
import { type MatrixRow, matrixRow, renderMatrix } from '../loadtest/matrix.ts';
import type { LoadTestReport } from '../loadtest/report.ts';
import { memberChanges } from '../loadtest/scale.ts';
import { runFleetgrid } from './child.ts';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    nodes: { type: 'string', default: '3' },
    rate: { type: 'string', default: '1500' },
    out: { type: 'string' },
  },
});
const nodes = Number(values.nodes);
const rate = Number(values.rate);
const parts = values.only ? values.only.split(',') : ['scale-out', 'throughput'];
for (const part of parts)
  if (part !== 'scale-out' && part !== 'throughput') throw new Error(`unknown part ${part}`);

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const outDir = resolve(values.out ?? resolve(PROJECT_ROOT, 'reports', `scale-${stamp}`));
mkdirSync(outDir, { recursive: true });

/** The load all runs share: 300 devices, 6 partitions, 10 s windows with 5 s grace. */
const common = [
  '--profile',
  'constant',
  '--rate',
  String(rate),
  '--devices',
  '300',
  '--partitions',
  '6',
  '--window-size',
  '10',
  '--grace',
  '5',
  '--start-pipeline',
  '--drain-timeout',
  '180',
  '--no-progress',
];

const commands: string[] = [];
const began = Date.now();
async function loadtest(name: string, args: string[], limitS: number): Promise<LoadTestReport | string> {
  const reportDir = resolve(outDir, name);
  const all = ['loadtest', ...common, ...args, '--report', reportDir];
  const command = `node bin/fleetgrid.mjs ${all.join(' ')}`;
  commands.push(command);
  process.stdout.write(`\n[scale] ${name}: ${command}\n`);
  const { code, output } = await runFleetgrid(all, limitS * 1_000);
  const json = resolve(reportDir, 'report.json');
  if (existsSync(json)) return JSON.parse(readFileSync(json, 'utf8')) as LoadTestReport;
  return `exit ${code}: ${(output.trim().split('\n').at(-1) ?? '').slice(0, 200)}`;
}

const sections: string[] = [];
let scaleRow: (MatrixRow & { memberChanges: number; sinkHandovers: number }) | undefined;
if (parts.includes('scale-out')) {
  // 20 s with one processor, 2 minutes of changes, 10 s more: 150 s of load.
  const report = await loadtest(
    'scale-out',
    [
      '--duration',
      '150',
      '--fault',
      'scale-out',
      '--fault-at',
      '20',
      '--fault-for',
      '120',
      '--scale-every',
      '10',
      '--fault-kafka-nodes',
      String(nodes),
      '--verify-outputs',
    ],
    150 + 180 + 240,
  );
  const row =
    typeof report === 'string'
      ? { ...matrixRow('scale-out', {} as LoadTestReport), ok: false, error: report }
      : matrixRow('scale-out', report);
  const steps = typeof report === 'string' ? [] : (report.fault?.schedule.steps ?? []);
  scaleRow = {
    ...row,
    memberChanges: memberChanges(steps),
    sinkHandovers: steps.filter((s) => s.action === 'sink-handover').length,
  };
  sections.push(
    `Scale-out on ${nodes} node(s): ${scaleRow.memberChanges} processor member changes (each a rebalance of the group), ${scaleRow.sinkHandovers} sink handover(s).\n\n${renderMatrix([row])}`,
  );
  if (typeof report !== 'string')
    sections.push(
      `Events:\n\n${(report.fault?.events ?? []).map((e) => `    ${e.t.toFixed(1)} s  ${e.event}`).join('\n')}\n`,
    );
}

const costs: RunCost[] = [];
if (parts.includes('throughput')) {
  for (const processors of [1, 2, 3]) {
    const report = await loadtest(
      `throughput-${processors}`,
      [
        '--duration',
        '45',
        '--warmup',
        '10',
        '--processors',
        String(processors),
        '--kafka-nodes',
        String(nodes),
      ],
      45 + 10 + 180 + 240,
    );
    if (typeof report === 'string') {
      sections.push(`throughput with ${processors} processor(s): no report (${report})`);
      continue;
    }
    // The first 10 s of the measured load left out (the warm-up's joins may still settle).
    costs.push(runCost(report, processors, 10));
  }
  sections.push(
    `Throughput, ${rate} ev/s offered for 45 s after a 10 s warm-up, on ${nodes} node(s):\n\n${renderCosts(costs)}`,
  );
}

const header = [
  `Scale-out, ${new Date().toISOString()}: ${rate} ev/s, 300 devices, 6 partitions, 10 s windows + 5 s grace; private Kafka of ${nodes} node(s).`,
  `Machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 1_073_741_824)} GiB, load average ${loadavg()[0]?.toFixed(2)} at the end; ${Math.round((Date.now() - began) / 1_000)} s in all.`,
  '',
].join('\n');
const markdown = `${header}\n${sections.join('\n')}\nCommands:\n\n${commands.map((c) => `    ${c}`).join('\n')}\n`;
writeFileSync(resolve(outDir, 'scale.md'), markdown);
writeFileSync(
  resolve(outDir, 'scale.json'),
  `${JSON.stringify({ nodes, rate, scaleOut: scaleRow, costs, commands }, null, 2)}\n`,
);
process.stdout.write(`\n${markdown}\n[scale] ${resolve(outDir, 'scale.md')}\n`);
if (scaleRow && !scaleRow.ok) process.exitCode = 1;
