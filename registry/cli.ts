/**
 * `fleetgrid registry …`: the fleet registry from the command line (docs/registry.md). The
 * commands go through the same service as the API: validation, optimistic concurrency
 * (--if-version), one transaction each. Nothing heavy is imported here; the actions load
 * registry/main.ts (pg, zod schemas) when they run.
 */
import type { Command } from 'commander';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function register(program: Command): void {
  const registry = program
    .command('registry')
    .description('the fleet registry in PostgreSQL: sites, devices, drivers, alert rule parameters');

  const json = (command: Command) => command.option('--json', 'print JSON for scripts');
  const main = () => import('./main.ts');

  json(
    registry.command('migrate').description('apply pending schema migrations (also done on first use)'),
  ).action(async (options) => (await main()).runMigrate(options));

  json(
    registry
      .command('list <entity>')
      .description('list sites, devices, drivers or rules, by id')
      .option('--kind <kind>', 'sites: depot|wind_farm|solar_park; devices: truck|turbine|solar')
      .option('--site <siteId>', 'devices at this site')
      .option('--status <status>', 'devices: active|maintenance|decommissioned')
      .option('--rule <ruleId>', 'rules of this alert rule, e.g. truck.overspeed')
      .option('--limit <n>', 'rows per page (default 100)')
      .option('--after <id>', 'the page after this id'),
  ).action(async (entity: string, options) => (await main()).runList(entity, options));

  json(registry.command('show <entity> <id>').description('one row, with its version')).action(
    async (entity: string, id: string, options) => (await main()).runShow(entity, id, options),
  );

  json(
    registry
      .command('upsert <entity> [id]')
      .description('create a row, or change it at the version you read (--if-version)')
      .option('--data <json>', 'the row as JSON')
      .option('--file <path>', 'the row as a JSON file (- for stdin)')
      .option('--if-version <n>', 'required to change an existing row: the version you read'),
  ).action(async (entity: string, id: string | undefined, options) =>
    (await main()).runUpsert(entity, id, options),
  );

  json(
    registry
      .command('delete <entity> <id>')
      .description('delete a row at the version you read (refused while other rows refer to it)')
      .requiredOption('--if-version <n>', 'the version you read'),
  ).action(async (entity: string, id: string, options) => (await main()).runDelete(entity, id, options));

  json(
    registry
      .command('decommission <deviceId>')
      .description('take a device out of service (its telemetry is then ignored); idempotent')
      .option('--if-version <n>', 'only at this version'),
  ).action(async (id: string, options) => (await main()).runDecommission(id, options));

  json(
    registry
      .command('set-rule <ruleId>')
      .description(
        "set an alert rule's parameters for a scope (most specific wins: device, site, model, kind)",
      )
      .requiredOption(
        '--scope <scope>',
        'kind:truck, model:tractor-40t-reefer, site:depot-lyon or device:truck-00001',
      )
      .option(
        '--param <name=value>',
        'a parameter, e.g. limitKmh=80 (repeatable; others take the built-in value)',
        collect,
      )
      .option('--params <json>', 'all parameters as a JSON object')
      .option('--disable', 'switch the rule off for this scope')
      .option('--if-version <n>', 'required to change an existing row: the version you read'),
  ).action(async (ruleId: string, options) => (await main()).runSetRule(ruleId, options));

  json(
    registry
      .command('cdc <action>')
      .description(
        'up: create the topics and register the Debezium connector, wait until RUNNING (idempotent); down: delete it and its replication slot; status',
      ),
  ).action(async (action: string, options) => (await main()).runCdc(action, options));

  json(
    registry
      .command('seed')
      .description(
        'register the fleet `fleetgrid simulate` runs with the same options (existing rows are kept)',
      )
      .option('--trucks <n>', 'number of trucks', '20')
      .option('--turbines <n>', 'number of wind turbines', '10')
      .option('--solar <n>', 'number of solar arrays', '10')
      .option('--seed <n>', "the simulator's seed", '42')
      .option(
        '--faults <spec>',
        "the simulator's --faults (clock skew changes which trucks are refrigerated)",
      ),
  ).action(async (options) => (await main()).runSeed(options));
}
