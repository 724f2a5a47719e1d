/**
 * `fleetgrid loadtest`: offers a load profile to the pipeline and writes a report (JSON and
 * HTML). Nothing heavy at top level: the runner (Kafka client, serde, …) loads inside the
 * action so `fleetgrid --help` stays fast. Exit code 0 when the run reconciled (nothing
 * lost, nothing duplicated; with --fault or --verify-outputs also every window, alert and
 * device state), 1 otherwise.
 */
import type { Command } from 'commander';

function number(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`not a number: ${value}`);
  return n;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

interface LoadTestOptions {
  profile: string;
  rate: number;
  duration: number;
  devices: number;
  warmup?: number;
  report?: string;
  startPipeline?: boolean;
  seed?: number;
  spikeFactor?: number;
  spikeAt?: number;
  spikeFor?: number;
  stepRate?: number;
  stepDuration?: number;
  partitions?: number;
  windowSize?: number;
  grace?: number;
  maxLateness?: number;
  group?: string[];
  metricsUrl?: string[];
  queryUrl?: string;
  probeApi?: boolean;
  apiUrl?: string;
  drainTimeout?: number;
  baseline?: number;
  maxInFlight?: number;
  progress?: boolean;
  cleanup?: boolean;
  fault?: string;
  faultAt?: number;
  faultFor?: number;
  faultKafkaNodes?: number;
  scaleEvery?: number;
  scaleMax?: number;
  scaleKill?: number;
  scaleSinkHandover?: boolean;
  kafkaNodes?: number;
  verifyOutputs?: boolean;
  processors?: number;
  sinks?: number;
}

export function register(program: Command): void {
  program
    .command('loadtest')
    .description('offer a load profile to the pipeline and report rates, lag, freshness and reconciliation')
    .requiredOption('--profile <name>', 'constant | step | spike | diurnal')
    .requiredOption('--rate <events/s>', 'constant rate, spike base, first step, or diurnal peak', number)
    .requiredOption('--duration <s>', 'length of the load in seconds', number)
    .requiredOption(
      '--devices <n>',
      'simulated devices (half trucks, a fifth turbines, the rest solar)',
      number,
    )
    .option('--warmup <s>', 'first offer the first rate for this long, not counted (default 0)', number)
    .option('--report <dir>', 'report directory (default reports/loadtest-<time>-<run id>/)')
    .option('--start-pipeline', 'start `fleetgrid process` and a sink for the run on a private topic prefix')
    .option('--seed <n>', 'simulation seed', number)
    .option('--spike-factor <x>', 'spike: multiple of the base rate (default 10)', number)
    .option('--spike-at <s>', 'spike: start (default 20 % of the duration)', number)
    .option('--spike-for <s>', 'spike: length (default 10 % of the duration)', number)
    .option('--step-rate <events/s>', 'step: rate added per step (default --rate)', number)
    .option('--step-duration <s>', 'step: length of each step (default 30)', number)
    .option('--processors <n>', 'with --start-pipeline: processors in the one group (default 1)', number)
    .option(
      '--sinks <n>',
      'with --start-pipeline: sinks (1: the embedded chDB opens in one process at a time)',
      number,
    )
    .option('--partitions <n>', 'partitions per topic when creating topics (default 6)', number)
    .option(
      '--window-size <s>',
      'window size of a started processor; base of aggregate freshness (default 60)',
      number,
    )
    .option('--grace <s>', 'window grace, as above (default 30)', number)
    .option(
      '--max-lateness <s>',
      "a started processor's max lateness: how long emitted windows are kept (default its own, 1 h)",
      number,
    )
    .option(
      '--group <id>',
      'consumer group to watch (repeatable; default the processors and the sink)',
      collect,
    )
    .option('--metrics-url <url>', '/metrics of a running service, for backpressure (repeatable)', collect)
    .option(
      '--query-url <url>',
      "embedded mode: the running sink's query endpoint (default CLICKHOUSE_QUERY_URL or :8124)",
    )
    .option(
      '--probe-api',
      "measure the query API's latency through the run (with --start-pipeline: starts one on the run's sink)",
    )
    .option('--api-url <url>', "an external pipeline's query API to probe (implies --probe-api)")
    .option(
      '--drain-timeout <s>',
      'after the load, wait this long at most for the pipeline to catch up (default 120)',
      number,
    )
    .option('--baseline <records>', "run Kafka's ProducerPerformance first with this many records", number)
    .option('--max-in-flight <n>', 'concurrent produce requests (default 8)', number)
    .option('--progress', 'force the live status line (default: on a terminal; a line every 10 s otherwise)')
    .option('--no-progress', 'no status output at all')
    .option('--no-cleanup', 'keep the started run’s topics, groups, Redis keys and data dir')
    .option(
      '--fault <kind>',
      'with --start-pipeline: redis-kill | redis-flush | registry-kill | broker-kill | broker-pause | rolling-restart | processor-kill | sink-kill | scale-out (docs/reliability.md)',
    )
    .option('--fault-at <s>', 'when the fault begins (default a third of the duration)', number)
    .option('--fault-for <s>', 'how long it lasts (default 10 s, at most a sixth of the duration)', number)
    .option(
      '--fault-kafka-nodes <n>',
      'broker faults, scale-out: nodes of the private Kafka (default 1)',
      number,
    )
    .option('--scale-every <s>', 'scale-out: seconds between two member changes (default 10)', number)
    .option('--scale-max <n>', 'scale-out: the most processors the group grows to (default 3)', number)
    .option(
      '--scale-kill <n>',
      'scale-out: which removal is a kill -9, not a SIGTERM (default 3; 0 none)',
      number,
    )
    .option('--no-scale-sink-handover', 'scale-out: no sink handover halfway')
    .option(
      '--kafka-nodes <n>',
      'with --start-pipeline and no fault: run on a private Kafka of n nodes',
      number,
    )
    .option('--verify-outputs', 'reconcile windows, alerts and device state too (default: on with --fault)')
    .action(async (options: LoadTestOptions) => {
      const { parseLoadTestConfig } = await import('./config.ts');
      const { runLoadTest } = await import('./runner.ts');
      const config = parseLoadTestConfig({
        profile: options.profile,
        rate: options.rate,
        durationS: options.duration,
        devices: options.devices,
        startPipeline: options.startPipeline ?? false,
        cleanup: options.cleanup ?? true,
        ...defined({
          reportDir: options.report,
          warmupS: options.warmup,
          seed: options.seed,
          spikeFactor: options.spikeFactor,
          spikeAtS: options.spikeAt,
          spikeForS: options.spikeFor,
          stepRate: options.stepRate,
          stepS: options.stepDuration,
          partitions: options.partitions,
          windowSizeS: options.windowSize,
          graceS: options.grace,
          maxLatenessS: options.maxLateness,
          groups: options.group,
          metricsUrls: options.metricsUrl,
          queryUrl: options.queryUrl,
          probeApi: options.probeApi,
          apiUrl: options.apiUrl,
          drainTimeoutS: options.drainTimeout,
          baselineRecords: options.baseline,
          maxInFlight: options.maxInFlight,
          progress: options.progress,
          fault: options.fault,
          faultAtS: options.faultAt,
          faultForS: options.faultFor,
          faultKafkaNodes: options.faultKafkaNodes,
          scaleEveryS: options.scaleEvery,
          scaleMax: options.scaleMax,
          scaleKill: options.scaleKill,
          scaleSinkHandover: options.scaleSinkHandover,
          kafkaNodes: options.kafkaNodes,
          verifyOutputs: options.verifyOutputs,
          processors: options.processors,
          sinks: options.sinks,
        }),
      });
      const abort = new AbortController();
      // First Ctrl-C ends the load early (drain, report and clean-up still run); a second exits.
      const { onShutdownSignal } = await import('../lib/stream/index.ts');
      const removeSignalHandler = onShutdownSignal(() => abort.abort());
      const { report, jsonPath, htmlPath } = await runLoadTest(config, {
        command: `fleetgrid ${process.argv.slice(2).join(' ')}`,
        signal: abort.signal,
      });
      removeSignalHandler();
      const { summaryLines } = await import('./summary.ts');
      process.stdout.write(`${summaryLines(report).join('\n')}\nreport: ${htmlPath}\n        ${jsonPath}\n`);
      if (report.reconciliation && !report.reconciliation.ok) process.exitCode = 1;
      if (report.outputs && !report.outputs.ok) process.exitCode = 1;
    });
}

function defined(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}
