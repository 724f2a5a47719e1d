/**
 * `fleetgrid serve` (the HTTP API) and `fleetgrid query …` (reports through that API).
 * Secrets are never options (argv shows in `ps`): the API token comes from API_TOKEN or
 * the file API_TOKEN_FILE names (lib/secrets.ts). Nothing heavy is imported here: Fastify, chDB and kafkajs load inside the serve action,
 * and the query reports only need fetch.
 */
import type { Command } from 'commander';
import type { ServeOptions } from './main.ts';

interface QueryGlobal {
  url: string;
  json?: boolean;
  csv?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function register(program: Command): void {
  program
    .command('serve')
    .description(
      'serve the query HTTP API, its OpenAPI document (/docs) and the dashboard; a bearer token from env API_TOKEN or API_TOKEN_FILE',
    )
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--port <n>', 'listen port (0 = a free one)', '8080')
    .option('--direct', 'embedded mode: open the ClickHouse data directory here (no sink may run)')
    .option('--ch-query-url <url>', "embedded mode: the sink's read-only query endpoint")
    .option('--timeout <ms>', 'timeout of one ClickHouse statement')
    .option('--metrics-url <name=url>', 'a service /metrics to read backpressure from (repeatable)', collect)
    .option(
      '--tile-origin <https-origin>',
      'an origin the dashboard may load map tiles from (repeatable; env DASHBOARD_TILE_ORIGINS)',
      collect,
    )
    .action(async (options: ServeOptions) => {
      const { runServeCommand } = await import('./main.ts');
      await runServeCommand(options);
    });

  const query = program
    .command('query')
    .description(
      'reports from the query API: tables for people, --json for scripts; the token from env API_TOKEN or API_TOKEN_FILE',
    )
    .option('--url <url>', 'query API base URL', process.env.FLEETGRID_API_URL ?? 'http://127.0.0.1:8080')
    .option('--json', 'print the JSON answer')
    .option('--csv', 'print the CSV export (summary, series, trips, alerts)');

  const run = async (
    report: import('./client.ts').Report,
    command: Command,
    args: { id?: string; params: Record<string, string | undefined> },
  ) => {
    const global = query.opts<QueryGlobal>();
    const local = command.opts<{ json?: boolean; csv?: boolean }>();
    const { runReport, cliTime } = await import('./client.ts');
    const { readSecret } = await import('../lib/secrets.ts');
    // Relative times (-6h) are resolved here, once, so from and to share one "now".
    const now = Date.now();
    const params = Object.fromEntries(
      Object.entries(args.params).map(([key, value]) => [
        key,
        ['from', 'to', 'asOf'].includes(key) ? cliTime(value, now) : value,
      ]),
    );
    await runReport(
      report,
      { ...args, params },
      {
        url: global.url,
        // Never from argv (visible in `ps`): the environment or a file.
        token: readSecret(process.env, 'API_TOKEN'),
        json: Boolean(global.json || local.json),
        csv: Boolean(global.csv || local.csv),
      },
    );
  };

  const withJson = (c: Command) => c.option('--json', 'print the JSON answer');
  const withCsv = (c: Command) => c.option('--csv', 'print the CSV export');

  withCsv(
    withJson(
      query
        .command('summary')
        .description(
          'per kind: devices, active devices, events and the kind figures; alerts; for a site or per group',
        )
        .option('--from <time>', 'start: ISO time or -15m/-6h/-7d (default: to - 24 h)')
        .option('--to <time>', 'end: ISO time or -15m (default: now)')
        .option('--site <siteId>', 'only this site')
        .option(
          '--group-by <dimension>',
          'one row per group: kind, site, model or driver (model and driver in force when each event was processed)',
        ),
    ),
  ).action(async (o: { from?: string; to?: string; site?: string; groupBy?: string }, c: Command) =>
    run('summary', c, { params: { from: o.from, to: o.to, siteId: o.site, groupBy: o.groupBy } }),
  );

  withJson(
    query
      .command('devices')
      .description('devices with their latest state')
      .option('--kind <kind>', 'truck, turbine or solar')
      .option('--site <siteId>', 'only this site')
      .option('--limit <n>', 'page size (default 100)')
      .option('--cursor <cursor>', 'next page'),
  ).action(async (o: { kind?: string; site?: string; limit?: string; cursor?: string }, c: Command) =>
    run('devices', c, { params: { kind: o.kind, siteId: o.site, limit: o.limit, cursor: o.cursor } }),
  );

  withJson(
    query
      .command('device <deviceId>')
      .description('latest state of a device, or --as-of a past moment (folded from its events)')
      .option('--as-of <time>', 'rebuild the state as of this time (ISO or -10m)'),
  ).action(async (deviceId: string, o: { asOf?: string }, c: Command) =>
    run('device', c, { id: deviceId, params: { asOf: o.asOf } }),
  );

  withCsv(
    withJson(
      query
        .command('series <deviceId>')
        .description('time series of one metric of a device')
        .requiredOption(
          '--metric <name>',
          'Avro field (speedKmh, powerKw, …) or derived figure (energyKwh, …)',
        )
        .option('--from <time>', 'start: ISO time or -15m/-6h/-7d')
        .option('--to <time>', 'end: ISO time or -15m')
        .option('--step <step>', 'raw, 1m, 1h, 1d or auto', 'auto'),
    ),
  ).action(
    async (deviceId: string, o: { metric: string; from?: string; to?: string; step?: string }, c: Command) =>
      run('series', c, { id: deviceId, params: { metric: o.metric, from: o.from, to: o.to, step: o.step } }),
  );

  withJson(
    query
      .command('energy <siteId>')
      .description('energy of the turbines and solar arrays of a site per step')
      .option('--from <time>', 'start: ISO time or -15m/-6h/-7d')
      .option('--to <time>', 'end: ISO time or -15m')
      .option('--step <step>', '1m, 1h, 1d or auto', 'auto'),
  ).action(async (siteId: string, o: { from?: string; to?: string; step?: string }, c: Command) =>
    run('energy', c, { id: siteId, params: { from: o.from, to: o.to, step: o.step } }),
  );

  withCsv(
    withJson(
      query
        .command('trips <deviceId>')
        .description(
          "a truck's trips that start in the range: distance, times, speeds, events (docs/query.md)",
        )
        .option('--from <time>', 'start: ISO time or -15m/-6h/-7d')
        .option('--to <time>', 'end: ISO time or -15m'),
    ),
  ).action(async (deviceId: string, o: { from?: string; to?: string }, c: Command) =>
    run('trips', c, { id: deviceId, params: { from: o.from, to: o.to } }),
  );

  withCsv(
    withJson(
      query
        .command('alerts')
        .description('alerts: open (default), resolved or all')
        .option('--state <state>', 'open, resolved or all')
        .option('--rule <rule>', 'e.g. truck.overspeed')
        .option('--device <deviceId>', 'one device')
        .option('--from <time>', 'raised at or after (ISO or -7d)')
        .option('--to <time>', 'raised before')
        .option('--limit <n>', 'at most this many (default 100)'),
    ),
  ).action(
    async (
      o: { state?: string; rule?: string; device?: string; from?: string; to?: string; limit?: string },
      c: Command,
    ) =>
      run('alerts', c, {
        params: { state: o.state, rule: o.rule, deviceId: o.device, from: o.from, to: o.to, limit: o.limit },
      }),
  );

  withJson(query.command('health').description('consumer lag, freshness, dead letters, backpressure')).action(
    async (_o: unknown, c: Command) => run('health', c, { params: {} }),
  );
}
