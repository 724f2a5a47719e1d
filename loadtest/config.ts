/**
 * Options of `fleetgrid loadtest` (docs/design.md §5: strict, defaults filled in). Connection
 * settings come from the environment (lib/config.ts); these say what load to offer, how to
 * judge it, and whether to start the pipeline's services for the run.
 */
import { z } from 'zod';
import { parseComponentConfig } from '../lib/config.ts';
import { ALL_FAULT_KINDS, CLUSTER_FAULT_KINDS } from './faults.ts';
import { PROFILE_NAMES } from './profiles.ts';

const positive = z.number().positive();
const seconds = z.number().positive();

const schema = z
  .strictObject({
    profile: z.enum(PROFILE_NAMES).default('constant'),
    /** Events/s: the constant rate, the base of a spike or of the first step, the diurnal peak. */
    rate: positive.default(1_000),
    durationS: seconds.default(60),
    devices: z.number().int().positive().default(300),
    seed: z.number().int().default(42),
    spikeFactor: positive.default(10),
    spikeAtS: z.number().nonnegative().optional(),
    spikeForS: seconds.optional(),
    /** step: rate added per step (default: `rate`) and each step's length. */
    stepRate: positive.optional(),
    stepS: seconds.optional(),
    /** Seconds of load at the profile's first rate before the measured run (not counted). */
    warmupS: z.number().nonnegative().default(0),
    /** Where the JSON and HTML go; the default is reports/loadtest-<run id>/ (git-ignored). */
    reportDir: z.string().optional(),
    /** Spawn `fleetgrid process` and a sink for this run, on a private topic prefix and data dir. */
    startPipeline: z.boolean().default(false),
    /** Started pipeline: processors in the one group (they share the partitions). */
    processors: z.number().int().min(1).max(6).default(1),
    /**
     * Started pipeline: sinks. One only: in embedded mode the sink holds chDB, whose data
     * directory one process at a time can open (pipeline.ts); the option exists to say so.
     */
    sinks: z
      .literal(1, { error: '--sinks: one sink only (the embedded chDB opens in one process at a time)' })
      .default(1),
    /** Partitions per topic when the load test creates the topics. */
    partitions: z.number().int().positive().default(6),
    /** The processors' window size and grace: passed to a started processor, and the base of aggregate freshness. */
    windowSizeS: seconds.default(60),
    graceS: z.number().nonnegative().default(30),
    /**
     * A started processor's max lateness: emitted windows are retained this long in stream
     * time (the state that grows with devices × horizon / window size). Default: the
     * processor's own (1 h, processors/core/config.ts). A soak run bounds it so that its
     * retained state levels off within the run (docs/reliability.md, "Memory under soak").
     */
    maxLatenessS: seconds.optional(),
    /** Consumer groups whose lag is watched; default: the processors' and the sink's. */
    groups: z.array(z.string().min(1)).optional(),
    /** /metrics URLs of services not started by the load test (external pipeline). */
    metricsUrls: z.array(z.url()).default([]),
    /**
     * Probe the query API's latency during the run (loadtest/query-probe.ts): with
     * startPipeline, a query API child is started for it; otherwise `apiUrl` is probed.
     */
    probeApi: z.boolean().default(false),
    /** An external pipeline's query API (base URL), probed when given. */
    apiUrl: z.url().optional(),
    /** Embedded mode: the sink's read-only query endpoint (external pipeline). */
    queryUrl: z.url().optional(),
    /** After the load: how long to wait for the pipeline to catch up before reconciling. */
    drainTimeoutS: seconds.default(120),
    /** Run Kafka's ProducerPerformance first, with this many records (0: skip). */
    baselineRecords: z.number().int().nonnegative().default(0),
    /** Judging a rate: the definition of "sustainable" (docs/loadtest.md). */
    p99MaxMs: positive.default(2_000),
    maxLagGrowthShare: positive.default(0.05),
    maxLagS: positive.default(30),
    minAchievedShare: positive.max(1).default(0.95),
    /** Producer: concurrent produce requests in flight (bounded, so memory is too). */
    maxInFlight: z.number().int().positive().default(8),
    /** Show the live status line on stderr (default: when stderr is a TTY). */
    progress: z.boolean().optional(),
    /** Delete the run's topics, groups, Redis keys and data dir at the end (started pipeline only). */
    cleanup: z.boolean().default(true),
    /**
     * A fault during the load (loadtest/faults.ts): infrastructure faults run against a
     * private server the run starts; process faults kill -9 a started child. Needs startPipeline.
     */
    fault: z.enum(ALL_FAULT_KINDS).optional(),
    faultAtS: z.number().nonnegative().optional(),
    faultForS: z.number().nonnegative().optional(),
    /** broker-kill / broker-pause: nodes of the private Kafka (one: an outage; three: a failover). */
    faultKafkaNodes: z.number().int().min(1).max(5).default(1),
    /** scale-out (loadtest/scale.ts): seconds between member changes, the most processors, which removal is a kill -9 (0: none), a sink handover halfway. */
    scaleEveryS: seconds.default(10),
    scaleMax: z.number().int().min(2).max(6).default(3),
    scaleKill: z.number().int().nonnegative().default(3),
    scaleSinkHandover: z.boolean().default(true),
    /**
     * Without a fault: run on a private Kafka of this many nodes started for the run (a
     * cluster of 3: replication 3, min ISR 2), e.g. to measure throughput on a cluster.
     */
    kafkaNodes: z.number().int().min(1).max(5).optional(),
    /**
     * Reconcile the derived outputs too (every device-window, alerts, device state;
     * loadtest/outputs.ts). Default: on in a fault run. Costs the load test a processor core's
     * work per event, so it is off for capacity runs.
     */
    verifyOutputs: z.boolean().optional(),
  })
  .refine((c) => c.maxLatenessS === undefined || c.startPipeline, {
    message: '--max-lateness sets the started processor: it needs --start-pipeline',
    path: ['maxLatenessS'],
  })
  // The core's own rule (processors/core/config.ts), checked before any child starts.
  .refine((c) => c.maxLatenessS === undefined || c.maxLatenessS >= c.windowSizeS + c.graceS, {
    message: '--max-lateness must be at least --window-size + --grace',
    path: ['maxLatenessS'],
  })
  .refine((c) => !c.probeApi || c.startPipeline || c.apiUrl !== undefined, {
    message: '--probe-api needs --start-pipeline (an API is started for it) or --api-url',
    path: ['probeApi'],
  })
  .refine((c) => c.processors === 1 || c.startPipeline, {
    message: '--processors sets the started pipeline: it needs --start-pipeline',
    path: ['processors'],
  })
  .refine(
    (c) => !(CLUSTER_FAULT_KINDS as readonly string[]).includes(c.fault ?? '') || c.faultKafkaNodes >= 2,
    { message: '--fault rolling-restart needs a cluster: --fault-kafka-nodes 3', path: ['fault'] },
  )
  .refine((c) => c.kafkaNodes === undefined || (c.fault === undefined && c.startPipeline), {
    message: '--kafka-nodes needs --start-pipeline and no --fault (a fault run takes --fault-kafka-nodes)',
    path: ['kafkaNodes'],
  })
  .refine((c) => c.fault !== 'scale-out' || c.scaleMax > c.processors, {
    message: '--fault scale-out: --scale-max must be more than --processors (where it starts)',
    path: ['scaleMax'],
  })
  .refine((c) => c.fault === undefined || c.startPipeline, {
    message: '--fault needs --start-pipeline: faults hit private servers and the children the run started',
    path: ['fault'],
  });

export type LoadTestConfig = z.output<typeof schema>;
export type LoadTestConfigInput = z.input<typeof schema>;

export function parseLoadTestConfig(input: unknown = {}): LoadTestConfig {
  return parseComponentConfig('loadtest', schema, input);
}

/** Devices per kind for N devices: the mix of a mixed fleet operator (half trucks). */
export function deviceMix(devices: number): { trucks: number; turbines: number; solar: number } {
  const trucks = Math.max(1, Math.round(devices * 0.5));
  const turbines = Math.max(devices >= 3 ? 1 : 0, Math.round(devices * 0.2));
  const solar = Math.max(0, devices - trucks - turbines);
  return { trucks, turbines, solar };
}
