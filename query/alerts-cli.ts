/**
 * `fleetgrid alerts list|ack|shelve|unshelve|comment|watch`: operators' alert commands
 * through the HTTP API, like the dashboard's buttons. Tokens come from the environment or
 * files, never argv (visible in `ps`): commands need API_WRITE_TOKEN(_FILE); list and watch
 * use API_TOKEN(_FILE), or the write token when only that is set (it reads too).
 */
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { FleetgridError } from '../lib/errors.ts';

interface AlertsGlobal {
  url: string;
  json?: boolean;
}

type Verb = 'ack' | 'shelve' | 'unshelve' | 'comment';

const RELATIVE = /^\+(\d{1,6})(m|h|d)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `--until`: `+30m`, `+4h`, `+2d` from now, or an ISO time passed to the API as it is. Pure. */
export function untilTime(text: string, now = Date.now()): string {
  const m = RELATIVE.exec(text.trim());
  if (!m) return text;
  return new Date(now + Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]).toISOString();
}

function defaultBy(): string {
  try {
    return userInfo().username;
  } catch {
    return 'cli';
  }
}

export function register(program: Command): void {
  const alerts = program
    .command('alerts')
    .description(
      'list, acknowledge, shelve, unshelve, comment and watch alerts through the query API; the write token from env API_WRITE_TOKEN or API_WRITE_TOKEN_FILE',
    )
    .option('--url <url>', 'query API base URL', process.env.FLEETGRID_API_URL ?? 'http://127.0.0.1:8080')
    .option('--json', 'print the JSON answer');

  async function options(write: boolean) {
    const { readSecret } = await import('../lib/secrets.ts');
    const global = alerts.opts<AlertsGlobal>();
    const token = write
      ? readSecret(process.env, 'API_WRITE_TOKEN')
      : (readSecret(process.env, 'API_TOKEN') ?? readSecret(process.env, 'API_WRITE_TOKEN'));
    if (write && token === undefined)
      throw new FleetgridError(
        'INVALID_ARGUMENT',
        'set API_WRITE_TOKEN or API_WRITE_TOKEN_FILE to change alerts',
      );
    return { url: global.url, token, json: global.json ?? false };
  }

  alerts
    .command('list')
    .description('alerts: open (default), resolved or all, with who acknowledged and until when shelved')
    .option('--state <state>', 'open, resolved or all')
    .option('--rule <rule>', 'e.g. truck.overspeed')
    .option('--device <deviceId>', 'one device')
    .option('--from <time>', 'raised at or after (ISO or -7d)')
    .option('--to <time>', 'raised before')
    .option('--limit <n>', 'at most this many (default 100)')
    .action(
      async (o: {
        state?: string;
        rule?: string;
        device?: string;
        from?: string;
        to?: string;
        limit?: string;
      }) => {
        const { runReport, cliTime } = await import('./client.ts');
        const now = Date.now();
        await runReport(
          'alerts',
          {
            params: {
              state: o.state,
              rule: o.rule,
              deviceId: o.device,
              from: cliTime(o.from, now),
              to: cliTime(o.to, now),
              limit: o.limit,
            },
          },
          await options(false),
        );
      },
    );

  const command = (verb: Verb, description: string) =>
    alerts
      .command(`${verb} <alertId>`)
      .description(description)
      .option('--by <who>', 'who acts (default: your user name)')
      .option(
        '--command-id <id>',
        'repeat a command safely: the same id is answered once (default: a new UUID)',
      );

  async function send(verb: Verb, alertId: string, body: Record<string, string | undefined>) {
    const { runCommand } = await import('./client.ts');
    const { by, commandId, ...rest } = body;
    await runCommand(
      alertId,
      verb,
      { commandId: commandId ?? randomUUID(), by: by ?? defaultBy(), ...rest },
      await options(true),
    );
  }

  command('ack', 'acknowledge an open alert')
    .option('--comment <text>', 'a note')
    .action((alertId: string, o: { by?: string; commandId?: string; comment?: string }) =>
      send('ack', alertId, { by: o.by, commandId: o.commandId, comment: o.comment }),
    );
  command('shelve', 'shelve an open alert until a time (silences it in Alertmanager)')
    .requiredOption('--until <time>', 'ISO time, or +30m/+4h/+2d from now')
    .requiredOption('--reason <text>', 'why')
    .action((alertId: string, o: { by?: string; commandId?: string; until: string; reason: string }) =>
      send('shelve', alertId, {
        by: o.by,
        commandId: o.commandId,
        until: untilTime(o.until),
        reason: o.reason,
      }),
    );
  command('unshelve', 'end a shelve (expires the Alertmanager silence)')
    .option('--comment <text>', 'a note')
    .action((alertId: string, o: { by?: string; commandId?: string; comment?: string }) =>
      send('unshelve', alertId, { by: o.by, commandId: o.commandId, comment: o.comment }),
    );
  command('comment', 'add a comment to an alert')
    .requiredOption('--comment <text>', 'the comment')
    .action((alertId: string, o: { by?: string; commandId?: string; comment: string }) =>
      send('comment', alertId, { by: o.by, commandId: o.commandId, comment: o.comment }),
    );

  alerts
    .command('watch')
    .description('follow the live stream (alerts raised and resolved, commands, device states) until Ctrl-C')
    .action(async () => {
      const { watchStream } = await import('./client.ts');
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      process.once('SIGTERM', () => controller.abort());
      await watchStream({ ...(await options(false)), signal: controller.signal });
    });
}
