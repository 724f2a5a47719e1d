/**
 * `fleetgrid simulate`: runs the fleet simulator until --count events, --to, --duration,
 * or Ctrl-C/SIGTERM (which flushes and stops cleanly; a second signal exits at once).
 * Nothing heavy is imported at the top: the runner (kafkajs, avsc, registry client) is
 * loaded inside the action so `fleetgrid --help` stays fast.
 */
import type { Command } from 'commander';

interface SimulateOptions {
  trucks: string;
  turbines: string;
  solar: string;
  interval?: string;
  truckInterval?: string;
  turbineInterval?: string;
  solarInterval?: string;
  duration?: string;
  count?: string;
  seed: string;
  speed?: string;
  from?: string;
  to?: string;
  faults?: string;
  manifest?: string;
  manifestWindows: boolean;
  metricsPort?: string;
  batchSize: string;
  maxInFlight: string;
  partitions: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('simulate')
    .description('simulate trucks, wind turbines and solar arrays streaming telemetry into Kafka')
    .option('--trucks <n>', 'number of trucks', '20')
    .option('--turbines <n>', 'number of wind turbines', '10')
    .option('--solar <n>', 'number of solar arrays', '10')
    .option('--interval <duration>', 'sampling interval of every kind (e.g. 1s, 500ms)')
    .option('--truck-interval <duration>', 'sampling interval of trucks')
    .option('--turbine-interval <duration>', 'sampling interval of turbines')
    .option('--solar-interval <duration>', 'sampling interval of solar arrays')
    .option('--duration <duration>', 'wall-clock run time (e.g. 10m)')
    .option('--count <n>', 'stop after exactly n device events')
    .option('--seed <n>', 'seed of every random choice: same seed, same events', '42')
    .option(
      '--speed <x>',
      'simulated seconds per second, or "max" (default 1; max with --from, --to or --count)',
    )
    .option('--from <time>', 'simulated start: ISO time, epoch ms or now-2h')
    .option('--to <time>', 'simulated end: backfill [from, to) as fast as possible')
    .option('--faults <spec>', 'late=…,ooo=…,dup=…,poison=…,skew=…,v1=… (probabilities or %)')
    .option('--manifest <file>', 'write what was sent (per device and per device-window) as JSON')
    .option('--no-manifest-windows', 'leave the per-window summaries out of the manifest')
    .option('--metrics-port <port>', 'serve Prometheus metrics on 127.0.0.1:<port>/metrics')
    .option('--batch-size <n>', 'records per produce request', '2000')
    .option('--max-in-flight <n>', 'produce requests awaiting acks before generation pauses', '4')
    .option('--partitions <n>', 'partitions per topic if the topics must be created', '6')
    .option('--json', 'print the final summary as JSON on stdout')
    .action(async (options: SimulateOptions) => {
      const { runSimulateCommand } = await import('./main.ts');
      await runSimulateCommand(options);
    });
}

export type { SimulateOptions };
