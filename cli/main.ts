/**
 * The one CLI: `fleetgrid simulate|process|sink|replay|serve|query|loadtest|demo|setup-topics`.
 * Each component's cli.ts declares its commands and imports its runner only inside the
 * action, so `fleetgrid --help` and quick commands load no Kafka client or ClickHouse engine.
 */
import { Command } from 'commander';
import { FleetgridError } from '../lib/errors.ts';
import { COMPONENT_CLIS } from './components.ts';

export type CommandModule = { register(program: Command): void };

const program = new Command()
  .name('fleetgrid')
  .description('Streaming telemetry pipeline for truck fleets and power stations')
  .version('0.1.0')
  .showHelpAfterError();

for (const path of COMPONENT_CLIS) {
  try {
    const module = (await import(path)) as CommandModule;
    module.register(program);
  } catch (error) {
    // A component that is not built yet must not break the others.
    if (
      (error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' ||
      !String(error).includes(path.slice(3))
    )
      throw error;
  }
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof FleetgridError) {
    console.error(`fleetgrid: ${error.code}: ${error.message}`);
    process.exit(error.code === 'CONFIG_INVALID' || error.code === 'INVALID_ARGUMENT' ? 2 : 1);
  }
  throw error;
}
