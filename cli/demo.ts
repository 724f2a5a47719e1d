/**
 * `fleetgrid demo`: the whole pipeline on the local defaults, one command. Starts the
 * services as child processes (each its own microservice, as in production), feeds them
 * from the simulators, waits until the API answers and prints where to look. Ctrl-C (or
 * --duration) drains every child with SIGTERM, the way an orchestrator would.
 */
import type { Command } from 'commander';

export interface DemoOptions {
  trucks: string;
  turbines: string;
  solar: string;
  speed: string;
  duration?: string;
  port: string;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('run simulators, processors, sink and API together and print where to look')
    .option('--trucks <n>', 'simulated trucks', '40')
    .option('--turbines <n>', 'simulated wind turbines', '12')
    .option('--solar <n>', 'simulated solar arrays', '12')
    .option('--speed <x>', 'simulated time per wall-clock second', '1')
    .option('--duration <seconds>', 'stop by itself after this many seconds (default: run until Ctrl-C)')
    .option('--port <port>', 'HTTP port of the API and dashboard', '8080')
    .action(async (options: DemoOptions) => {
      const { runDemo } = await import('./demo-runner.ts');
      await runDemo(options);
    });
}
