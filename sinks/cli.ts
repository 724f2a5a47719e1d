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
    .requiredOption(
      '--projection <name>',
      'a table, e.g. truck_telemetry, aggregates_1m, device_state, alerts',
    )
    .option('--from <time|offset>', 'ISO time or epoch ms (by timestamp), or offset:N (every partition)')
    .option('--yes', 'skip nothing; kept for scripts', false)
    .action(async (options: { projection: string; from?: string }) => {
      const { runReplay } = await import('./main.ts');
      await runReplay(options.projection, options.from);
    });
}
