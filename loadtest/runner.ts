/**
 * `fleetgrid loadtest`: offers a load profile to the pipeline and measures what comes out.
 *
 * A run: (1) topics exist on the run's prefix; (2) optionally, Kafka's ProducerPerformance
 * measures the broker's raw limit with the run's record size; (3) optionally, the
 * pipeline's services start as children (private prefix, temporary data dir); (4) the load
 * driver offers the profile while a sampler records, once a second, offered and achieved
 * rates, consumer lag per group, backpressure counters and CPU/RSS of every process; the
 * step profile is judged step by step and stops at the first rate that is not sustainable;
 * (5) after the load, the pipeline drains (lag 0 and every acknowledged event visible, or a
 * timeout); (6) freshness histograms and the reconciliation are read from ClickHouse;
 * (7) the services stop, the run's topics, groups, Redis keys and data dir are removed; (8)
 * the report (JSON and HTML) is written. Decisions and formulas: docs/loadtest.md.
 *
 * A fault run (`--fault`, docs/reliability.md) first starts the private server the fault
 * needs and runs everything on it; during the load the injector faults it (or kill -9s a
 * started child) and restores it; the raw reconciliation is joined by the derived outputs'
 * (every device-window, alerts, device state) and the recovery time is measured.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, tmpdir, totalmem, type } from 'node:os';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, PROJECT_ROOT } from '../lib/config.ts';
import { readSecret } from '../lib/secrets.ts';
import { FleetgridError, toFleetgridError } from '../lib/errors.ts';
import { createKafkaClient, type KafkaAdmin } from '../lib/kafka/index.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { ensureTopics, RAW_TOPIC_KEYS, type TopicNames, topicNames, topicSpecs } from '../lib/topics.ts';
import { parseCoreConfig } from '../processors/core/index.ts';
import { createSerde } from '../schemas/serde.ts';
import type { RawEvent } from '../schemas/types.ts';
import {
  createQueryBackend,
  createRemoteBackend,
  type QueryBackend,
  querySecret,
} from '../clickhouse/index.ts';
import { runBrokerBaseline } from './baseline.ts';
import type { LoadTestConfig } from './config.ts';
import { createLoadDriver, type LoadDriver, sampleRecordBytes } from './driver.ts';
import {
  createFaultInjector,
  type FaultInjector,
  type FaultServers,
  startFaultServers,
} from './fault-run.ts';
import { type FaultSchedule, faultRecovery, parseFaultSchedule, type RecoverySample } from './faults.ts';
import {
  aggregateFreshness,
  createProcessSampler,
  findStackProcesses,
  pipelineGroups,
  rawFreshness,
  type SecondHistograms,
  sampleLag,
  scrapeBackpressure,
  scrapeMeanInsertMs,
  storedRawCount,
  storedOutputs,
  storedTally,
  type WatchedGroup,
  type WatchedProcess,
} from './observe.ts';
import {
  createOutputManifest,
  type OutputManifest,
  type OutputReconciliation,
  reconcileOutputs,
} from './outputs.ts';
import { createMemorySampler, type MemorySampler, type MemoryTarget } from './memory.ts';
import { probeQueryApi, queryApiReport, type QuerySample } from './query-probe.ts';
import { type PipelineChild, startPipeline, type StartedPipeline } from './pipeline.ts';
import { buildProfile, type Phase, phases, type Profile, rateAt } from './profiles.ts';
import { formatProgress, groupLabel } from './progress.ts';
import { stepSummary } from './summary.ts';
import { type Reconciliation, reconcile } from './reconcile.ts';
import {
  type BaselineReport,
  type FreshnessPoint,
  type LoadTestReport,
  type PhaseReport,
  type ProcessReport,
  REPORT_VERSION,
  renderHtml,
  type SeriesPoint,
} from './report.ts';
import {
  type Histogram,
  histogramCount,
  histogramPercentile,
  judgeLag,
  judgeSustainable,
  type LagSample,
  type LagVerdict,
  mergeHistograms,
  recoveryTime,
  type SustainVerdict,
  summarize,
} from './stats.ts';

/** The sink's dead-letter stage (sinks/runner.ts SINK_STAGE), kept as text so no sink code loads here. */
const SINK_STAGE = 'sink-clickhouse';

export interface LoadTestResult {
  report: LoadTestReport;
  reportDir: string;
  jsonPath: string;
  htmlPath: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** The command line, for the report. */
  command?: string;
  /** Aborting ends the load early; the drain, reconciliation and clean-up still run. */
  signal?: AbortSignal;
  /** Where the live status line goes (default process.stderr). */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  /**
   * Runs after the drain, before anything is reconciled: the integration test alters a
   * stored window here to show that the reconciliation fails when an output is wrong.
   */
  beforeReconcile?: (run: {
    runId: string;
    topics: TopicNames;
    backend: QueryBackend;
    env: NodeJS.ProcessEnv;
  }) => Promise<void>;
}

interface StepEvaluation {
  phase: Phase;
  verdict: SustainVerdict;
  rawP99: ReturnType<typeof histogramPercentile>;
  lag: Record<string, LagVerdict>;
  achievedRate: number;
}

const SAMPLE_MS = 1_000;
const AGGREGATE_END_MARGIN_MS = 2_000;
/** Windows and alerts are judged up to the newest event time minus this (every partition's stream time reached it). */
const OUTPUT_HORIZON_MARGIN_MS = 1_000;
/** After the drain, how long a failing output reconciliation is read again (the last revisions may be in flight). */
const OUTPUT_SETTLE_MS = 20_000;
const TICK_MS = 10;

export async function runLoadTest(config: LoadTestConfig, options: RunOptions = {}): Promise<LoadTestResult> {
  let env = options.env ?? process.env;
  // A fault run: the faulted service is a private server, started before anything uses it.
  let schedule: FaultSchedule | undefined;
  let faultServers: FaultServers | undefined;
  if (config.fault) {
    schedule = parseFaultSchedule({
      kind: config.fault,
      durationS: config.durationS,
      atS: config.faultAtS,
      forS: config.faultForS,
      scale: {
        everyS: config.scaleEveryS,
        from: config.processors,
        max: config.scaleMax,
        killRemoval: config.scaleKill,
        sinkHandover: config.scaleSinkHandover,
      },
    });
    if (config.profile === 'step')
      throw new FleetgridError(
        'CONFIG_INVALID',
        '--fault: the step profile stops at its own pace; use constant or spike',
      );
    faultServers = await startFaultServers(schedule, env, { kafkaNodes: config.faultKafkaNodes });
    env = faultServers.env;
  } else if (config.kafkaNodes !== undefined) {
    // No fault, a private Kafka all the same (a cluster's throughput).
    faultServers = await startFaultServers(undefined, env, { kafkaNodes: config.kafkaNodes });
    env = faultServers.env;
  }
  const verifyOutputs = config.verifyOutputs ?? schedule !== undefined;
  const runId = `lt${randomUUID().replace(/-/g, '').slice(0, 8)}`;
  const startedAt = new Date();
  const loadAverageStart = loadavg()[0] ?? 0;
  const reportDir = resolve(
    config.reportDir ??
      resolve(PROJECT_ROOT, 'reports', `loadtest-${startedAt.toISOString().replace(/[:.]/g, '-')}-${runId}`),
  );
  mkdirSync(reportDir, { recursive: true });
  const prefix = config.startPipeline ? `${runId}.` : (env.TOPIC_PREFIX ?? '');
  const dataDir = config.startPipeline ? mkdtempSync(resolve(tmpdir(), `fleetgrid-${runId}-`)) : undefined;
  const app = loadConfig({
    ...env,
    TOPIC_PREFIX: prefix,
    ...(dataDir ? { FLEETGRID_DATA_DIR: dataDir } : {}),
  });
  // The status line owns stderr while it runs: only warnings and errors are logged.
  const log = createLogger('loadtest', env.LOG_LEVEL ?? 'warn');
  const topics = topicNames(prefix);
  const profile: Profile = buildProfile({
    name: config.profile,
    rate: config.rate,
    durationS: config.durationS,
    spikeFactor: config.spikeFactor,
    spikeAtS: config.spikeAtS,
    spikeForS: config.spikeForS,
    stepRate: config.stepRate,
    stepS: config.stepS,
  });
  const notes: string[] = [];
  const kafka = createKafkaClient(app.kafka, { log });
  const admin = kafka.admin();
  const drivers: LoadDriver[] = [];
  let pipeline: StartedPipeline | undefined;
  let backend: QueryBackend | undefined;
  const stream = options.progressStream ?? process.stderr;
  const showProgress = config.progress ?? Boolean(stream.isTTY);
  // Set once sampling runs; the outer finally calls it so a failed run leaves no timer behind.
  let stopSampling = async () => {};
  let injector: FaultInjector | undefined;

  try {
    await admin.connect();
    await ensureTopics(admin, topicSpecs(prefix, config.partitions, app.topics));
    // Existing topics keep their partition count: records are partitioned by the real one.
    const partitions = Object.fromEntries(
      (await admin.fetchTopicMetadata(RAW_TOPIC_KEYS.map((key) => topics[key]))).map((t) => [
        t.name,
        t.partitions.length,
      ]),
    );
    const serde = createSerde(app.registry, { topics });
    await serde.registerAll();

    // (2) The broker baseline, before anything else loads the machine.
    let baseline: BaselineReport | undefined;
    if (config.baselineRecords > 0) {
      const recordSize = sampleRecordBytes(serde, topics, config.devices, config.seed, runId);
      progressLine(
        stream,
        showProgress,
        `broker baseline: ${config.baselineRecords} records of ${Math.round(recordSize)} B…`,
      );
      baseline = await runBrokerBaseline({
        admin,
        brokers: app.kafka.brokers,
        topic: `${prefix}loadtest.baseline`,
        partitions: config.partitions,
        records: config.baselineRecords,
        recordSize,
      });
      if (baseline.error) notes.push(`broker baseline failed: ${baseline.error.split('\n')[0]}`);
    }

    // (3) The pipeline.
    let groups: WatchedGroup[];
    const metricsUrls = [...config.metricsUrls];
    const processes: WatchedProcess[] = [{ name: 'loadtest', pid: process.pid }];
    // The load generator's own memory too: at a high rate it is a process of the same size.
    const memoryTargets: MemoryTarget[] = [
      {
        name: 'loadtest',
        pid: () => process.pid,
        heap: () => {
          const { heapUsed, heapTotal } = process.memoryUsage();
          return { usedBytes: heapUsed, totalBytes: heapTotal };
        },
      },
    ];
    // A started child's CPU and memory, its pid read at every sample: a child restarted by a
    // fault is followed under its new pid.
    const watchChild = (child: PipelineChild) => {
      processes.push({
        name: child.name,
        get pid() {
          return child.pid;
        },
      });
      memoryTargets.push({
        name: child.name,
        pid: () => child.pid,
        ...(child.metricsUrl ? { metricsUrl: child.metricsUrl } : {}),
      });
    };
    if (config.startPipeline) {
      progressLine(stream, showProgress, `starting the pipeline on prefix ${prefix}…`);
      pipeline = await startPipeline({
        topicPrefix: prefix,
        dataDir: dataDir as string,
        partitions: config.partitions,
        windowSizeS: config.windowSizeS,
        graceS: config.graceS,
        maxLatenessS: config.maxLatenessS,
        logDir: reportDir,
        env,
        queryApi: config.probeApi,
        processors: config.processors,
      });
      groups = pipelineGroups(topics, prefix);
      for (const child of [...pipeline.processors, pipeline.sink]) {
        if (child.metricsUrl) metricsUrls.push(child.metricsUrl);
        watchChild(child);
      }
      backend =
        app.clickhouse.mode === 'embedded' && pipeline.sink.queryUrl
          ? createRemoteBackend(pipeline.sink.queryUrl, {
              // The sink child's data dir holds the endpoint's secret (or the environment does).
              secret: querySecret({ dataDir: dataDir as string }),
            })
          : await createQueryBackend(app);
    } else {
      groups = config.groups
        ? config.groups.map((groupId) => ({
            groupId,
            topics: Object.values(topics),
            committedTopicsOnly: true,
          }))
        : pipelineGroups(topics, prefix);
      backend = await createQueryBackend(app, config.queryUrl ? { url: config.queryUrl } : {});
    }
    const api = pipeline?.api;
    if (api) {
      watchChild(api);
    }
    // The API's /metrics is on its own port: its origin is the API's base URL.
    const apiBase = api?.metricsUrl ? new URL(api.metricsUrl).origin : config.apiUrl;
    // Services of an external pipeline: their heap from /metrics (their pids are not known here).
    for (const url of config.metricsUrls) memoryTargets.push({ name: new URL(url).host, metricsUrl: url });
    processes.push(...findStackProcesses());
    const groupIds = groups.map((g) => g.groupId);

    // (4) The load, after an optional warm-up at the profile's first rate: the first
    // seconds of a fresh pipeline (JIT, first inserts and parts, group joins) are not what
    // a rate is judged by. Warm-up devices carry `<run id>w-`, so none of the run's
    // queries (`<run id>-%`) see them.
    if (config.warmupS > 0) {
      progressLine(stream, showProgress, `warming up for ${config.warmupS} s at ${rateAt(profile, 0)}/s…`);
      const warmStart = Date.now();
      const warm = createLoadDriver(
        {
          profile: buildProfile({ name: 'constant', rate: rateAt(profile, 0), durationS: config.warmupS }),
          devices: config.devices,
          seed: config.seed + 1,
          runTag: `${runId}w`,
          startMs: warmStart,
          topics,
          partitions,
          maxInFlight: config.maxInFlight,
        },
        { kafka, serde },
      );
      drivers.push(warm);
      await warm.start();
      while (!options.signal?.aborted && Date.now() - warmStart < config.warmupS * 1_000) {
        warm.tick((Date.now() - warmStart) / 1_000, Date.now());
        await sleep(TICK_MS);
      }
      await warm.flush();
      notes.push(
        `warm-up: ${warm.stats().acked} events at ${rateAt(profile, 0)}/s for ${config.warmupS} s, not counted`,
      );
    }
    const startMs = Date.now();
    let sendError: string | undefined;
    const manifest: OutputManifest | undefined = verifyOutputs
      ? createOutputManifest(
          parseCoreConfig({
            windowSizeMs: config.windowSizeS * 1_000,
            graceMs: config.graceS * 1_000,
            ...(config.maxLatenessS === undefined
              ? {}
              : { maxLatenessMs: Math.round(config.maxLatenessS * 1_000) }),
          }),
        )
      : undefined;
    let undecodable = 0;
    const driver = createLoadDriver(
      {
        profile,
        devices: config.devices,
        seed: config.seed,
        runTag: runId,
        startMs,
        topics,
        partitions,
        maxInFlight: config.maxInFlight,
        onError: (error) => {
          sendError ??= toFleetgridError(error, 'KAFKA_UNAVAILABLE').message;
        },
        ...(manifest
          ? {
              onAcked: (topic: string, partition: number, bytes: Buffer) => {
                // The writer schema is cached: this process registered it.
                const decoded = serde.decodeCached(bytes);
                if (decoded)
                  manifest.add(topic, partition, { type: decoded.record, value: decoded.value } as RawEvent);
                else undecodable++;
              },
            }
          : {}),
      },
      { kafka, serde },
    );
    drivers.push(driver);
    await driver.start();
    const series: SeriesPoint[] = [];
    const sampler = createProcessSampler(processes);
    sampler.sample(startMs);
    const phaseList = phases(profile);
    const evaluations = new Map<number, StepEvaluation>();
    const pendingEvaluationsFor = new Set<number>();
    let stopLoad = false;
    let loading = true;
    let liveP99: { ms: number; atLeast: boolean } | undefined;
    let previous = { t: 0, offered: 0, acked: 0 };
    // Lag, backpressure and live freshness are polled in their own loops: a slow broker
    // or a sink busy inserting must not thin out the once-a-second series of rates and CPU.
    const lagSamples: { t: number; lag: Record<string, number> }[] = [];
    let latestLag: Record<string, number> = {};
    let latestBackpressure = { pauses: 0, paused: 0 };
    const scrapes = { ok: 0, failed: 0 };
    let slowestLagPollMs = 0;
    let polling = true;
    const pollLag = async () => {
      while (polling) {
        const began = Date.now();
        try {
          latestLag = await sampleLag(admin, groups);
          const done = Date.now();
          slowestLagPollMs = Math.max(slowestLagPollMs, done - began);
          // Stamped at the middle of the poll: the offsets were read somewhere in between.
          lagSamples.push({ t: round((began + done) / 2_000 - startMs / 1_000, 2), lag: latestLag });
        } catch (error) {
          log.warn({ err: error }, 'lag sample failed');
        }
        await sleep(Math.max(50, SAMPLE_MS - (Date.now() - began)));
      }
    };
    const pollMetrics = async () => {
      while (polling) {
        const began = Date.now();
        const scraped = await scrapeBackpressure(metricsUrls);
        scrapes.ok += scraped.ok;
        scrapes.failed += scraped.failed;
        // A failed scrape must not make the counters look as if they went back.
        if (scraped.failed === 0) latestBackpressure = { pauses: scraped.pauses, paused: scraped.paused };
        await sleep(Math.max(50, SAMPLE_MS - (Date.now() - began)));
      }
    };
    const memory: MemorySampler = createMemorySampler(memoryTargets, SAMPLE_MS);
    const pollMemory = async () => {
      while (polling) {
        const began = Date.now();
        await memory.sample((began - startMs) / 1_000);
        await sleep(Math.max(50, SAMPLE_MS - (Date.now() - began)));
      }
    };
    // The query API, one request at a time, twice a second at most: a reader beside the load.
    const querySamples: QuerySample[] = [];
    const apiToken = readSecret(env, 'API_TOKEN');
    const apiHeaders: Record<string, string> = apiToken ? { authorization: `Bearer ${apiToken}` } : {};
    const pollApi = async () => {
      while (polling && apiBase) {
        const began = Date.now();
        querySamples.push(await probeQueryApi(apiBase, (began - startMs) / 1_000, apiHeaders));
        await sleep(Math.max(50, SAMPLE_MS / 2 - (Date.now() - began)));
      }
    };
    const pollFreshness = async () => {
      while (polling && showProgress) {
        const began = Date.now();
        liveP99 = await liveFreshness(backend as QueryBackend, driver, runId, startMs, began);
        await sleep(Math.max(50, 2 * SAMPLE_MS - (Date.now() - began)));
      }
    };
    // A fault run: the outputs as they grow, for the recovery time.
    const outputSamples: RecoverySample[] = [];
    const sampleOutputs = async () => {
      const began = Date.now();
      const b = backend as QueryBackend;
      const [raw, aggregates] = await Promise.all([
        storedRawCount(b, runId).catch(() => undefined),
        b
          .run('tableRows', { table: 'aggregates_1m' })
          .then((rows) => Number(rows[0]?.n ?? Number.NaN))
          .catch(() => undefined),
      ]);
      outputSamples.push({
        t: round((began + Date.now()) / 2_000 - startMs / 1_000, 2),
        ...(raw === undefined || raw < 0 ? {} : { raw }),
        ...(aggregates === undefined || Number.isNaN(aggregates) ? {} : { aggregates }),
      });
    };
    const pollOutputs = async () => {
      while (polling && schedule) {
        const began = Date.now();
        await sampleOutputs();
        await sleep(Math.max(50, SAMPLE_MS - (Date.now() - began)));
      }
    };
    const pollers = [pollLag(), pollMetrics(), pollMemory(), pollApi(), pollFreshness(), pollOutputs()];
    if (schedule && faultServers)
      injector = createFaultInjector(
        schedule,
        {
          servers: faultServers,
          pipeline,
          log,
          watch: (child) => {
            if (child.metricsUrl) metricsUrls.push(child.metricsUrl);
            watchChild(child);
          },
          unwatch: (child) => {
            const at = child.metricsUrl ? metricsUrls.indexOf(child.metricsUrl) : -1;
            if (at >= 0) metricsUrls.splice(at, 1);
          },
        },
        () => (Date.now() - startMs) / 1_000,
      );

    const elapsed = () => (Date.now() - startMs) / 1_000;
    const takeSample = () => {
      const now = Date.now();
      const t = (now - startMs) / 1_000;
      const stats = driver.stats();
      const { cpuPct, rssMiB } = sampler.sample(now);
      const dt = Math.max(0.001, t - previous.t);
      series.push({
        t: round(t, 2),
        offeredPerS: loading ? (stats.offered - previous.offered) / dt : 0,
        achievedPerS: (stats.acked - previous.acked) / dt,
        lag: latestLag,
        pauses: latestBackpressure.pauses,
        paused: latestBackpressure.paused,
        errors: stats.errors,
        cpuPct: roundValues(cpuPct, 1),
        rssMiB: roundValues(rssMiB, 1),
      });
      previous = { t, offered: stats.offered, acked: stats.acked };
      // A terminal gets the line rewritten every second; a log (not a terminal, progress
      // not turned off) gets a plain line every 10 s, so a long run is not silent.
      const plain = !showProgress && config.progress === undefined && series.length % 10 === 0;
      if (showProgress || plain) {
        const last = series.at(-1) as SeriesPoint;
        const phase = phaseList.find((p) => t >= p.startS && t < p.endS)?.label ?? (loading ? '' : 'drain');
        stream.write(
          `${showProgress ? '\r\x1b[2K' : ''}${formatProgress(
            {
              elapsedS: t,
              durationS: profile.durationS,
              phase,
              offeredPerS: last.offeredPerS,
              achievedPerS: last.achievedPerS,
              lag: latestLag,
              rawP99Ms: liveP99?.ms,
              rawP99AtLeast: liveP99?.atLeast ?? false,
              errors: stats.errors,
              shed: stats.shed,
              draining: !loading,
            },
            groupLabel,
          )}${showProgress ? '' : '\n'}`,
        );
      }
    };
    const sampleTimer = setInterval(takeSample, SAMPLE_MS);
    stopSampling = async () => {
      clearInterval(sampleTimer);
      polling = false;
      await Promise.all(pollers);
    };

    // The step profile: each step is judged once its last events had time to arrive.
    const evalDelayS = Math.ceil(config.p99MaxMs / 1_000) + 1;
    const pendingEvaluations: Promise<void>[] = [];
    const evaluateStep = async (index: number, phase: Phase) => {
      // Whole seconds: acked events are counted per second, so a window starting inside a
      // second would count that second's acks in full but fetch only part of its rows, and
      // take the difference for events still unseen (a 20 s step once failed on exactly that).
      const warmS = Math.ceil((phase.endS - phase.startS) / 3);
      const fromS = phase.startS + warmS;
      const histograms = await rawFreshness(
        backend as QueryBackend,
        runId,
        startMs,
        startMs + fromS * 1_000,
        startMs + phase.endS * 1_000,
      );
      const evaluation = judgeWindow(
        phase,
        fromS,
        histograms,
        driver.ackedBySecond,
        lagSamples,
        groupIds,
        config,
        Date.now() - (startMs + phase.endS * 1_000),
        phase.endS + evalDelayS,
      );
      evaluations.set(index, evaluation);
      if (!evaluation.verdict.sustainable) stopLoad = true;
    };

    try {
      while (!stopLoad && !options.signal?.aborted) {
        const t = elapsed();
        if (t >= profile.durationS) {
          // The last slice of the schedule, so the run offers exactly the profile's total.
          for (let i = 0; i < 100 && driver.stats().inFlight >= config.maxInFlight; i++) await sleep(TICK_MS);
          driver.tick(profile.durationS, Date.now());
          break;
        }
        driver.tick(t, Date.now());
        injector?.poll(t);
        if (profile.name === 'step') {
          phaseList.forEach((phase, index) => {
            if (
              !evaluations.has(index) &&
              !pendingEvaluationsFor.has(index) &&
              t >= phase.endS + evalDelayS
            ) {
              pendingEvaluationsFor.add(index);
              pendingEvaluations.push(
                evaluateStep(index, phase).catch((error: unknown) => {
                  notes.push(`step ${index + 1} could not be judged: ${String(error)}`);
                }),
              );
            }
          });
        }
        await sleep(TICK_MS);
      }
      loading = false;
      await driver.flush();
    } finally {
      loading = false;
    }
    const loadEndMs = Date.now();
    // The fault is undone before the drain (a load ended early, or a restart still under way).
    await injector?.settle();
    const loadSeconds = (loadEndMs - startMs) / 1_000;
    if (options.signal?.aborted) notes.push(`stopped early by a signal after ${round(loadSeconds, 1)} s`);
    if (sendError) notes.push(`produce errors (first): ${sendError}`);

    // (5) Drain: lag 0 on every group and every acknowledged event visible.
    progressLine(stream, showProgress, '');
    const produced = driver.stats().acked;
    const drainDeadline = Date.now() + config.drainTimeoutS * 1_000;
    let drained = false;
    while (Date.now() < drainDeadline) {
      // A started service that died will not drain anything: say so instead of waiting.
      const dead = [...(pipeline?.processors ?? []), pipeline?.sink].filter((child) => child?.exited());
      if (dead.length > 0) {
        notes.push(
          `${dead.map((c) => c?.name).join(' and ')} exited during the run (see its log in ${reportDir})`,
        );
        break;
      }
      const lag = await sampleLag(admin, groups).catch(() => undefined);
      // The drain's own readings count for the recovery time too (the poller may be a second behind).
      if (lag) lagSamples.push({ t: round((Date.now() - startMs) / 1_000, 2), lag });
      const visible = await storedRawCount(backend, runId).catch(() => -1);
      if (lag && Object.values(lag).every((v) => v === 0) && visible >= produced) {
        drained = true;
        break;
      }
      await sleep(1_000);
    }
    const drainSeconds = (Date.now() - loadEndMs) / 1_000;
    if (!drained) notes.push(`the pipeline had not drained ${config.drainTimeoutS} s after the load`);
    // The last step ends with the load: judge it now. A step interrupted because an
    // earlier one failed stays unjudged (a few seconds of it would prove nothing).
    if (profile.name === 'step') {
      for (const [index, phase] of phaseList.entries()) {
        if (evaluations.has(index) || pendingEvaluationsFor.has(index)) continue;
        if (phase.endS > loadSeconds + 0.5 || phase.startS >= loadSeconds) continue;
        pendingEvaluationsFor.add(index);
        pendingEvaluations.push(evaluateStep(index, phase).catch(() => {}));
      }
    }
    await Promise.all(pendingEvaluations);
    await stopSampling();
    // A drained pipeline has written its last outputs, but the poller may not have read them
    // yet (a restarted sink can catch up its whole backlog between two polls): one reading
    // now, so the recovery time sees the outputs that resumed at the end of the drain.
    if (schedule && drained) await sampleOutputs();
    if (slowestLagPollMs > 3 * SAMPLE_MS)
      notes.push(`the slowest consumer-lag poll took ${slowestLagPollMs} ms (a busy broker or machine)`);
    if (showProgress) stream.write('\n');

    await options.beforeReconcile?.({ runId, topics, backend, env });

    // (6) Freshness and reconciliation, from ClickHouse.
    const queriedAt = Date.now();
    const rawBySecond = await rawFreshness(backend, runId, startMs, startMs, loadEndMs + 1_000);
    // A window closes by stream time only when a later event reaches its partition: windows
    // due in the last seconds of the load wait for the idle timer instead, which is not what
    // aggregate freshness is about, so they are left out.
    const aggBySecond = await aggregateFreshness(
      backend,
      runId,
      startMs,
      config.graceS * 1_000,
      loadEndMs - AGGREGATE_END_MARGIN_MS,
    );
    let reconciliation: Reconciliation | undefined;
    try {
      reconciliation = reconcile(driver.tally, await storedTally(backend, runId, topics, SINK_STAGE));
    } catch (error) {
      notes.push(`reconciliation failed: ${String(error)}`);
    }
    let outputs: OutputReconciliation | undefined;
    if (manifest) {
      if (undecodable > 0)
        notes.push(`${undecodable} acknowledged events could not be decoded for the output check`);
      const settleDeadline = Date.now() + OUTPUT_SETTLE_MS;
      for (;;) {
        try {
          const stored = await storedOutputs(backend, runId);
          outputs = reconcileOutputs({
            expectedWindows: manifest.windows,
            storedWindows: stored.windows,
            expectedAlerts: manifest.alerts(),
            storedAlerts: stored.alerts,
            producedByDevice: driver.tally.byDevice,
            storedStates: stored.states,
            windowSizeMs: config.windowSizeS * 1_000,
            graceMs: config.graceS * 1_000,
            horizonMs: manifest.maxTs - OUTPUT_HORIZON_MARGIN_MS,
          });
        } catch (error) {
          notes.push(`output reconciliation failed: ${String(error)}`);
          break;
        }
        // Only a drained pipeline is waited for: one that did not drain will not get better.
        if (outputs.ok || !drained || Date.now() >= settleDeadline) break;
        await sleep(2_000);
      }
    }
    let fault: LoadTestReport['fault'];
    if (schedule && injector) {
      const lagTotals: RecoverySample[] = lagSamples.map((p) => ({
        t: p.t,
        lag: Object.values(p.lag).reduce((a, b) => a + b, 0),
      }));
      const samples = [...lagTotals, ...outputSamples].sort((a, b) => a.t - b.t);
      if (injector.error) notes.push(`fault injection: ${injector.error}`);
      fault = {
        schedule,
        events: injector.events,
        recovery: faultRecovery(samples, schedule, profile.rate, injector.backAtS),
        ...(injector.error ? { error: injector.error } : {}),
      };
    }
    const insertMeanMs = await scrapeMeanInsertMs(metricsUrls);
    const rawAll = mergeHistograms(rawBySecond.values());
    const pendingAll = Math.max(0, produced - histogramCount(rawAll));

    // (8) The report (built before the clean-up so a failing clean-up loses nothing).
    // Phases as they ran: one cut short by the end of the load counts only what it ran.
    const phaseReports = phaseList
      .filter((phase) => phase.startS < loadSeconds)
      .map((phase) => ({ ...phase, endS: Math.min(phase.endS, round(loadSeconds, 2)) }))
      .map((phase, index) =>
        phaseReport(
          profile,
          phase,
          evaluations.get(index),
          rawBySecond,
          driver.ackedBySecond,
          lagSamples,
          groupIds,
          config,
          queriedAt - startMs,
        ),
      );
    const step = profile.name === 'step' ? stepSummary(phaseReports) : undefined;
    const totalLag: LagSample[] = lagSamples.map((p) => ({
      t: p.t,
      lag: Object.values(p.lag).reduce((a, b) => a + b, 0),
    }));
    let spike: LoadTestReport['spike'];
    if (profile.name === 'spike') {
      const spikeEndS = profile.spikeAtS + profile.spikeForS;
      const recovery = recoveryTime(totalLag, {
        startS: profile.spikeAtS,
        endS: spikeEndS,
        baseRate: profile.rate,
      });
      spike = {
        recoverySeconds: recovery.seconds,
        stableSeconds: recovery.stableSeconds,
        thresholdLag: recovery.thresholdLag,
        spikeEndS,
      };
    }
    const stats = driver.stats();
    const achievedPerS = loadSeconds > 0 ? stats.acked / loadSeconds : 0;
    if (baseline?.result) {
      const endToEnd = step ? step.highestSustainableRate : achievedPerS;
      baseline.ratio = endToEnd === undefined ? undefined : round(endToEnd / baseline.result.recordsPerS, 4);
    }
    if (stats.shed > 0)
      notes.push(
        `${stats.shed} offered events were shed: the load generator could not keep up with the offered rate`,
      );
    const report: LoadTestReport = {
      version: REPORT_VERSION,
      runId,
      startedAt: startedAt.toISOString(),
      endedAt: new Date().toISOString(),
      command: options.command ?? 'fleetgrid loadtest',
      machine: machine(loadAverageStart),
      settings: {
        profile,
        devices: config.devices,
        partitions: config.partitions,
        warmupS: config.warmupS,
        topicPrefix: prefix,
        pipeline: config.startPipeline ? 'started' : 'external',
        windowSizeMs: config.windowSizeS * 1_000,
        graceMs: config.graceS * 1_000,
        maxLatenessMs:
          config.maxLatenessS === undefined ? undefined : Math.round(config.maxLatenessS * 1_000),
        groups: groupIds,
      },
      totals: {
        offered: stats.offered,
        produced: stats.acked,
        sendErrors: stats.errors,
        avgRecordBytes: round(driver.avgRecordBytes(), 1),
        loadSeconds: round(loadSeconds, 2),
        drainSeconds: round(drainSeconds, 2),
        achievedPerS: round(achievedPerS, 1),
      },
      freshness: {
        raw: summarize(rawAll, pendingAll, queriedAt - loadEndMs),
        aggregates: summarize(mergeHistograms(aggBySecond.values())),
        sinkInsertMeanMs: insertMeanMs === undefined ? undefined : round(insertMeanMs, 1),
        rawSeries: freshnessSeries(rawBySecond),
        aggregatesSeries: freshnessSeries(aggBySecond),
      },
      series,
      phases: phaseReports,
      backpressure: {
        pauses: series.at(-1)?.pauses ?? 0,
        maxPaused: series.reduce((max, p) => Math.max(max, p.paused), 0),
        services: metricsUrls.length,
        scrapes: scrapes.ok,
        failedScrapes: scrapes.failed,
      },
      processes: processReports(processes, series),
      step,
      spike,
      baseline,
      reconciliation,
      outputs,
      fault,
      memory: memory.report(),
      queryApi: apiBase
        ? queryApiReport(apiBase, querySamples, [
            ...phaseReports,
            { label: 'drain', startS: round(loadSeconds, 2), endS: round(loadSeconds + drainSeconds + 1, 2) },
          ])
        : undefined,
      notes,
    };
    const jsonPath = resolve(reportDir, 'report.json');
    const htmlPath = resolve(reportDir, 'report.html');
    writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(htmlPath, renderHtml(report));
    return { report, reportDir, jsonPath, htmlPath };
  } finally {
    // (7) Stop and clean up: everything below is tidiness and must not hide a result.
    await stopSampling().catch(() => {});
    for (const d of drivers) await d.close().catch(() => {});
    await backend?.close().catch(() => {});
    if (pipeline)
      await pipeline.stop().catch((error: unknown) => log.warn({ err: error }, 'stopping the pipeline'));
    if (config.startPipeline && config.cleanup) await cleanUp(admin, prefix, app.redis.url, dataDir, log);
    await admin.disconnect().catch(() => {});
    await faultServers?.stop();
  }
}

function progressLine(stream: NodeJS.WritableStream, show: boolean, text: string): void {
  if (show) stream.write(`\r\x1b[2K${text}`);
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function roundValues(values: Record<string, number>, digits: number): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, round(v, digits)]));
}

function sumSeconds(bySecond: Map<number, number>, fromS: number, toS: number): number {
  let n = 0;
  for (const [second, count] of bySecond)
    if (second >= Math.floor(fromS) && second < Math.ceil(toS)) n += count;
  return n;
}

function histogramsIn(bySecond: SecondHistograms, fromS: number, toS: number): Histogram {
  return mergeHistograms(
    [...bySecond]
      .filter(([second]) => second >= Math.floor(fromS) && second < Math.ceil(toS))
      .map(([, h]) => h),
  );
}

/** Lag of every watched group at one moment (seconds since the start of the load). */
type LagPoint = { t: number; lag: Record<string, number> };

function lagVerdicts(
  series: readonly LagPoint[],
  groups: readonly string[],
  fromS: number,
  toS: number,
  inputRate: number,
  config: LoadTestConfig,
): Record<string, LagVerdict> {
  const window = series.filter((p) => p.t >= fromS && p.t <= toS);
  return Object.fromEntries(
    groups.map((group) => [
      group,
      judgeLag(
        window.flatMap((p) => (p.lag[group] === undefined ? [] : [{ t: p.t, lag: p.lag[group] as number }])),
        inputRate,
        { maxGrowthShare: config.maxLagGrowthShare, maxLagS: config.maxLagS },
      ),
    ]),
  );
}

/** Judges [fromS, phase.endS) of a phase: the definition of sustainable (docs/loadtest.md). */
function judgeWindow(
  phase: Phase,
  fromS: number,
  histograms: SecondHistograms,
  ackedBySecond: Map<number, number>,
  series: readonly LagPoint[],
  groups: readonly string[],
  config: LoadTestConfig,
  waitedMs: number,
  lagUntilS: number,
): StepEvaluation {
  const h = histogramsIn(histograms, fromS, phase.endS);
  const acked = sumSeconds(ackedBySecond, fromS, phase.endS);
  const pending = Math.max(0, acked - histogramCount(h));
  const rawP99 = histogramPercentile(h, 0.99, pending, waitedMs);
  const lag = lagVerdicts(series, groups, fromS, lagUntilS, phase.rate, config);
  const achievedRate = acked / Math.max(0.001, phase.endS - fromS);
  const verdict = judgeSustainable({
    offeredRate: phase.rate,
    achievedRate,
    lag,
    rawP99,
    minAchievedShare: config.minAchievedShare,
    p99MaxMs: config.p99MaxMs,
  });
  return { phase, verdict, rawP99, lag, achievedRate };
}

function phaseReport(
  profile: Profile,
  phase: Phase,
  evaluation: StepEvaluation | undefined,
  rawBySecond: SecondHistograms,
  ackedBySecond: Map<number, number>,
  series: readonly LagPoint[],
  groups: readonly string[],
  config: LoadTestConfig,
  queriedAtS: number,
): PhaseReport {
  const h = histogramsIn(rawBySecond, phase.startS, phase.endS);
  const produced = sumSeconds(ackedBySecond, phase.startS, phase.endS);
  const pending = Math.max(0, produced - histogramCount(h));
  const offered = phase.rate * (phase.endS - phase.startS);
  const base = {
    ...phase,
    offered: Math.round(profile.name === 'diurnal' ? offered * 0.55 : offered),
    produced,
    achievedRate: round(produced / Math.max(0.001, phase.endS - phase.startS), 1),
    rawFreshness: summarize(h, pending, (queriedAtS - phase.endS) * 1_000),
  };
  if (evaluation) {
    return {
      ...base,
      lag: evaluation.lag,
      sustainable: evaluation.verdict.sustainable,
      reasons: evaluation.verdict.reasons,
    };
  }
  // The constant profile is judged over the run after a warm-up third; spikes and days
  // are not meant to be sustainable rates, so they are only described.
  if (profile.name === 'constant') {
    const fromS = phase.startS + (phase.endS - phase.startS) / 3;
    const judged = judgeWindow(
      phase,
      fromS,
      rawBySecond,
      ackedBySecond,
      series,
      groups,
      config,
      0,
      phase.endS,
    );
    return {
      ...base,
      lag: judged.lag,
      sustainable: judged.verdict.sustainable,
      reasons: judged.verdict.reasons,
    };
  }
  return {
    ...base,
    lag: lagVerdicts(series, groups, phase.startS, phase.endS, phase.rate, config),
    sustainable: undefined,
    reasons: [],
  };
}

function freshnessSeries(bySecond: SecondHistograms): FreshnessPoint[] {
  return [...bySecond.keys()]
    .sort((a, b) => a - b)
    .map((t) => {
      const h = bySecond.get(t) as Histogram;
      return {
        t,
        count: histogramCount(h),
        p50Ms: histogramPercentile(h, 0.5)?.ms,
        p99Ms: histogramPercentile(h, 0.99)?.ms,
      };
    });
}

function processReports(
  processes: readonly WatchedProcess[],
  series: readonly SeriesPoint[],
): ProcessReport[] {
  return processes.map((p) => {
    const cpu = series.flatMap((s) => (s.cpuPct[p.name] === undefined ? [] : [s.cpuPct[p.name] as number]));
    const rss = series.flatMap((s) => (s.rssMiB[p.name] === undefined ? [] : [s.rssMiB[p.name] as number]));
    return {
      name: p.name,
      pid: p.pid,
      cpuAvgPct: round(cpu.length ? cpu.reduce((a, b) => a + b, 0) / cpu.length : 0, 1),
      cpuMaxPct: round(cpu.length ? Math.max(...cpu) : 0, 1),
      rssMaxMiB: round(rss.length ? Math.max(...rss) : 0, 1),
    };
  });
}

/** p99 of the raw events of the last few seconds, counting the ones not visible yet. */
async function liveFreshness(
  backend: QueryBackend,
  driver: { ackedBySecond: Map<number, number> },
  runId: string,
  startMs: number,
  nowMs: number,
): Promise<{ ms: number; atLeast: boolean } | undefined> {
  const toS = Math.floor((nowMs - startMs) / 1_000) - 1;
  const fromS = toS - 3;
  if (fromS < 0) return undefined;
  try {
    const h = histogramsIn(
      await rawFreshness(backend, runId, startMs, startMs + fromS * 1_000, startMs + toS * 1_000),
      fromS,
      toS,
    );
    const pending = Math.max(0, sumSeconds(driver.ackedBySecond, fromS, toS) - histogramCount(h));
    return histogramPercentile(h, 0.99, pending, nowMs - (startMs + toS * 1_000));
  } catch {
    return undefined;
  }
}

function machine(loadAverageStart: number): LoadTestReport['machine'] {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryGiB: round(totalmem() / 1_073_741_824, 1),
    os: `${type()} (free ${round(freemem() / 1_073_741_824, 1)} GiB at the end)`,
    node: process.version,
    loadAverage: { start: round(loadAverageStart, 2), end: round(loadavg()[0] ?? 0, 2) },
  };
}

/** Removes what a started-pipeline run created: its topics, groups, Redis keys and data dir. */
async function cleanUp(
  admin: KafkaAdmin,
  prefix: string,
  redisUrl: string,
  dataDir: string | undefined,
  log: Logger,
): Promise<void> {
  try {
    const ours = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
    if (ours.length > 0) await admin.deleteTopics(ours, 15_000);
    const groups = (await admin.listGroups()).filter((g) => g.startsWith(prefix));
    if (groups.length > 0) await admin.deleteGroups(groups);
  } catch (error) {
    log.warn({ err: error }, 'could not delete the run topics or groups');
  }
  try {
    const { Redis } = await import('ioredis');
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    // Checkpoint and device-state keys of the processors embed the topic prefix.
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1_000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    await redis.quit();
  } catch (error) {
    log.warn({ err: error }, 'could not delete the run Redis keys');
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}
