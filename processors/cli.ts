/**
 * `fleetgrid process`: runs one member of the processor group until SIGTERM/SIGINT, then
 * drains (flush, checkpoint, commit, leave the group). Run more copies to share the
 * partitions. Heavy modules (kafkajs, ioredis, avsc) load inside the action only.
 */
import type { Command } from 'commander';

interface ProcessOptions {
  metricsPort?: string;
  windowSize?: string;
  grace?: string;
  maxLateness?: string;
  idleTimeout?: string;
  checkpointInterval?: string;
  quietCheckpointInterval?: string;
  timerInterval?: string;
  sessionTimeout?: string;
  heartbeatInterval?: string;
  watchdogTimeout?: string;
  drainTimeout?: string;
  partitions?: string;
  group?: string;
  unknownDevice?: string;
  changeLead?: string;
  registryRestoreTimeout?: string;
  /** Commander's --no-registry-join: false when given, true otherwise. */
  registryJoin?: boolean;
}

export function register(program: Command): void {
  program
    .command('process')
    .description('run the stateful processors: windows, alerts and device state (consumer group member)')
    .option('--metrics-port <n>', 'serve /metrics on this port (0 = a free one)')
    .option('--window-size <duration>', 'tumbling window size, e.g. 60s')
    .option('--grace <duration>', 'how long after a window end it stays open, e.g. 30s')
    .option('--max-lateness <duration>', 'late events up to this re-emit a window; later ones go to the DLQ')
    .option('--idle-timeout <duration>', 'processing time without events before idle windows close')
    .option(
      '--checkpoint-interval <duration>',
      'how often each partition commits its outputs, checkpoint and offset (one Kafka transaction)',
    )
    .option(
      '--quiet-checkpoint-interval <duration>',
      'how often a quiet partition commits (no alert or dead letter pending, few rows); default 5s',
    )
    .option('--timer-interval <duration>', 'how often the idle/stream-time timer runs')
    .option('--session-timeout <duration>', 'Kafka group session timeout')
    .option('--heartbeat-interval <duration>', 'Kafka group heartbeat interval')
    .option('--watchdog-timeout <duration>', 'restart a consumer without progress for this long')
    .option('--drain-timeout <duration>', 'on SIGTERM, how long the final flush and checkpoint may take')
    .option('--partitions <n>', 'partitions per topic when creating missing topics')
    .option('--group <id>', 'consumer group id (prefixed with TOPIC_PREFIX)')
    .option(
      '--unknown-device <policy>',
      'telemetry of devices the registry does not know: quarantine (dead-lettered UNKNOWN_DEVICE, the default) or accept',
    )
    .option(
      '--change-lead <duration>',
      'a registry change applies from its commit time + this, in event time',
    )
    .option(
      '--registry-restore-timeout <duration>',
      'how long reading the registry topics at start (or the registry version of a checkpoint) may take',
    )
    .option('--no-registry-join', 'run without the registry table (every device accepted, built-in rules)')
    .action(async (options: ProcessOptions) => {
      const { runProcessCommand } = await import('./runner/main.ts');
      await runProcessCommand(options);
    });
}

export type { ProcessOptions };
