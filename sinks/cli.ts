/**
 * `fleetgrid sink` and `fleetgrid replay`. Nothing heavy at top level: Kafka, chDB and
 * the runners are imported inside the actions so `fleetgrid --help` stays fast.
 */
import type { Command } from 'commander';

function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a non-negative integer: ${value}`);
  return n;
}

export function register(program: Command): void {
  program
    .command('sink')
    .description(
      'write every stream into the ClickHouse projections (consumer group fleetgrid-sink-clickhouse)',
    )
    .option('--metrics-port <port>', 'serve /metrics on this port (0: any free port)', int)
    .option('--query-port <port>', 'embedded mode: read-only query endpoint port on 127.0.0.1', int)
    .option('--batch-rows <rows>', 'flush a partition batch at this many rows', int)
    .option('--linger-ms <ms>', 'flush a partition batch after this long', int)
    .action(
      async (options: {
        metricsPort?: number;
        queryPort?: number;
        batchRows?: number;
        lingerMs?: number;
      }) => {
        const { runSink } = await import('./main.ts');
        await runSink({
          ...(options.metricsPort !== undefined ? { metricsPort: options.metricsPort } : {}),
          ...(options.queryPort !== undefined ? { queryPort: options.queryPort } : {}),
          ...(options.batchRows !== undefined ? { batchMaxRows: options.batchRows } : {}),
          ...(options.lingerMs !== undefined ? { lingerMs: options.lingerMs } : {}),
        });
      },
    );

  program
    .command('replay')
    .description(
      'rebuild a projection from the Kafka log into a shadow table, check it, swap it in atomically',
    )
    .option('--projection <name>', 'a table, e.g. truck_telemetry, aggregates_1m, device_state, alerts')
    .option('--from <time|offset>', 'ISO time or epoch ms (by timestamp), or offset:N (every partition)')
    .option(
      '--derived',
      'rebuild aggregates_1m, alerts and device_state (or the --projection one) from the raw topics by re-running the processor cores',
      false,
    )
    .option('--window-size <duration>', "with --derived: the processors' window size, e.g. 60s")
    .option('--grace <duration>', "with --derived: the processors' grace, e.g. 30s")
    .option('--max-lateness <duration>', "with --derived: the processors' max lateness, e.g. 1h")
    .option('--yes', 'skip nothing; kept for scripts', false)
    .action(
      async (
        options: {
          projection?: string;
          from?: string;
          derived: boolean;
          windowSize?: string;
          grace?: string;
          maxLateness?: string;
        },
        command: Command,
      ) => {
        if (options.derived) {
          const { runDerivedReplay } = await import('./main.ts');
          await runDerivedReplay(options);
          return;
        }
        if (options.projection === undefined) {
          // What commander said when --projection was required: --derived made it optional.
          command.error("error: required option '--projection <name>' not specified (or give --derived)");
        }
        const { runReplay } = await import('./main.ts');
        await runReplay(options.projection, options.from);
      },
    );
}
