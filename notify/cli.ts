/**
 * `fleetgrid notify`: alerts of telemetry.alerts to Prometheus Alertmanager (docs/alerts.md).
 * Alertmanager's address and credentials come from the environment (ALERTMANAGER_URL,
 * ALERTMANAGER_USERNAME, ALERTMANAGER_PASSWORD or ALERTMANAGER_PASSWORD_FILE), never argv.
 * Kafka and the runner load inside the action only.
 */
import type { Command } from 'commander';
import { parseDuration } from '../lib/duration.ts';

function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a non-negative integer: ${value}`);
  return n;
}

export function register(program: Command): void {
  program
    .command('notify')
    .description('post alerts to Prometheus Alertmanager (consumer group fleetgrid-notify)')
    .option('--metrics-port <port>', 'serve /metrics and /readyz on this port (0: any free port)', int)
    .option('--resend-interval <duration>', 'post open alerts again this often (default 60s)')
    .option('--resolve-timeout <duration>', "Alertmanager's global.resolve_timeout (default 5m)")
    .option('--no-registry', 'labels without the registry fields (site name, model, plate)')
    .action(
      async (options: {
        metricsPort?: number;
        resendInterval?: string;
        resolveTimeout?: string;
        registry: boolean;
      }) => {
        const { runNotify } = await import('./main.ts');
        await runNotify({
          registry: options.registry,
          ...(options.metricsPort !== undefined ? { metricsPort: options.metricsPort } : {}),
          ...(options.resendInterval ? { resendIntervalMs: parseDuration(options.resendInterval) } : {}),
          ...(options.resolveTimeout ? { resolveTimeoutMs: parseDuration(options.resolveTimeout) } : {}),
        });
      },
    );
}
