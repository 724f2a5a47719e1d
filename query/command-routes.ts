/**
 * POST /api/v1/alerts/{alertId}/{ack|shelve|unshelve|comment}: operators' commands, a
 * Fastify plugin registered by server.ts. Authorised by the write token (query/auth.ts);
 * bodies validated by query/alert-actions.ts. A command is checked against the alert and
 * its recorded commands, then (shelve, unshelve) the Alertmanager silence is created or
 * expired, then the AlertCommand record is written: only a written record counts, and
 * nothing is written when a step before it fails. Commands on one alert run one at a time
 * in this process, so two racing commands see each other. A command id seen before is
 * answered with the recorded command and writes nothing.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { isFleetgridError, toFleetgridError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { ID_PATTERN, ID_RULE_TEXT } from '../schemas/ids.ts';
import type { AlertCommand } from '../schemas/types.ts';
import {
  type ActionView,
  actionView,
  type AlertTarget,
  COMMAND_BODIES,
  COMMAND_VERBS,
  type CommandVerb,
  type ParsedCommand,
  planCommand,
  sameCommand,
} from './alert-actions.ts';
import { requireWriteToken } from './auth.ts';
import type { CommandLog } from './command-log.ts';
import { parseParams } from './params.ts';
import type { RecentCommands } from './recent-commands.ts';
import type { SilenceClient } from './silences.ts';

export interface CommandRoutesOptions {
  tokens: { read: string | undefined; write: string | undefined };
  alerts: {
    alert(alertId: string): Promise<AlertTarget>;
    commandsOf(alertId: string): Promise<AlertCommand[]>;
    command(commandId: string): Promise<AlertCommand | undefined>;
  };
  /** Absent: commands are refused with 503 (no Kafka configured for the API). */
  commandLog: CommandLog | undefined;
  /** Absent: shelve and unshelve are refused with 503 (no Alertmanager configured). */
  silences: SilenceClient | undefined;
  recent: RecentCommands;
  now: () => number;
  log: Logger;
  /** Each answer: the verb and the status code, or `replayed` (metrics). */
  onAnswer?: (verb: CommandVerb, outcome: string) => void;
}

export const ALERTS_BASE = '/api/v1/alerts';
/** A comment of 2 000 characters is at most 8 KB of UTF-8; the rest is the JSON around it. */
export const COMMAND_BODY_LIMIT = 16 * 1024;

const ALERT_PATH = z.strictObject({
  alertId: z.string().regex(ID_PATTERN, `alertId must be ${ID_RULE_TEXT}`),
});

/** The answer to a command, the same every time its id is repeated. */
export function commandAnswer(command: AlertCommand): ActionView & { alertId: string } {
  return { alertId: command.alertId, ...actionView(command) };
}

/** HTTP status of a command failure; undefined: the server's own handler answers. */
export function commandErrorStatus(
  error: unknown,
): { status: number; error: string; message?: string } | undefined {
  if (!isFleetgridError(error)) return undefined;
  switch (error.code) {
    case 'NOT_FOUND':
      return { status: 404, error: 'not_found' };
    case 'CONFLICT':
      return { status: 409, error: 'conflict' };
    case 'ALERTMANAGER_UNAVAILABLE':
    case 'ALERTMANAGER_AUTH_FAILED':
      return { status: 503, error: 'unavailable', message: 'Alertmanager unavailable: nothing was written' };
    case 'KAFKA_UNAVAILABLE':
    case 'KAFKA_AUTH_FAILED':
    case 'REGISTRY_UNAVAILABLE':
    case 'TIMEOUT':
      return {
        status: 503,
        error: 'unavailable',
        message: `the commands topic is unavailable (${error.code}); retry with the same commandId`,
      };
    default:
      return undefined;
  }
}

export async function commandRoutes(app: FastifyInstance, options: CommandRoutesOptions): Promise<void> {
  const { alerts, recent, now, log } = options;
  /** The tail of each alert's queue of commands: one command per alert at a time. */
  const queues = new Map<string, Promise<unknown>>();

  app.setErrorHandler((error, request, reply) => {
    const mapped = commandErrorStatus(error);
    if (!mapped) throw error;
    if (mapped.status === 503)
      request.log.warn({ err: error }, 'alert command refused: dependency unavailable');
    reply.code(mapped.status).send({
      error: mapped.error,
      message: mapped.message ?? toFleetgridError(error, 'INTERNAL').message,
    });
  });

  function serialised<T>(alertId: string, work: () => Promise<T>): Promise<T> {
    const previous = queues.get(alertId) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => undefined);
    queues.set(alertId, tail);
    void tail.then(() => {
      if (queues.get(alertId) === tail) queues.delete(alertId);
    });
    return next;
  }

  async function execute(alertId: string, command: ParsedCommand, reply: FastifyReply) {
    const commandId = command.body.commandId ?? randomUUID();
    const earlier = await alerts.command(commandId);
    if (earlier) {
      if (!sameCommand(earlier, alertId, command.verb))
        return reply.code(409).send({
          error: 'conflict',
          message: 'this commandId was used for a different command; choose a new one',
        });
      return reply.header('idempotent-replayed', 'true').send(commandAnswer(earlier));
    }
    const alert = await alerts.alert(alertId);
    const plan = planCommand(command, alert, await alerts.commandsOf(alertId), { commandId, now: now() });
    if (plan.silence && !options.silences)
      return reply.code(503).send({
        error: 'unavailable',
        message: 'no Alertmanager configured (ALERTMANAGER_URL): shelving is unavailable',
      });
    if (!options.commandLog)
      return reply.code(503).send({ error: 'unavailable', message: 'commands are unavailable: no Kafka' });

    let created: string | undefined;
    const event: AlertCommand = { ...plan.event };
    if (plan.silence && 'create' in plan.silence) {
      created = await (options.silences as SilenceClient).create({
        rule: alert.rule,
        deviceId: alert.deviceId,
        startsAt: event.ts,
        endsAt: plan.silence.create.endsAt,
        createdBy: event.by,
        comment: event.comment,
      });
      event.silenceId = created;
    } else if (plan.silence && 'expire' in plan.silence && plan.silence.expire !== null) {
      await (options.silences as SilenceClient).expire(plan.silence.expire);
    }
    try {
      await options.commandLog.append(event);
    } catch (error) {
      // Not recorded: the silence must not outlive the command that failed.
      if (created !== undefined)
        await options.silences
          ?.expire(created)
          .catch((expireError: unknown) =>
            log.warn(
              { err: expireError, silenceId: created },
              'could not expire the silence of a failed shelve',
            ),
          );
      throw error;
    }
    recent.add(event);
    return reply.send(commandAnswer(event));
  }

  const write = { preHandler: requireWriteToken(options.tokens), bodyLimit: COMMAND_BODY_LIMIT };
  app.addHook('onResponse', async (request, reply) => {
    const verb = /\/(ack|shelve|unshelve|comment)$/.exec(request.routeOptions.url ?? '')?.[1] as
      | CommandVerb
      | undefined;
    if (!verb) return;
    const replayed = reply.getHeader('idempotent-replayed') === 'true';
    options.onAnswer?.(verb, replayed ? 'replayed' : String(reply.statusCode));
  });
  for (const verb of COMMAND_VERBS) {
    app.post(`${ALERTS_BASE}/:alertId/${verb}`, write, async (request: FastifyRequest, reply) => {
      const { alertId } = parseParams(ALERT_PATH, request.params);
      const body = parseParams(COMMAND_BODIES[verb as CommandVerb], request.body ?? {});
      const command = { verb, body } as ParsedCommand;
      return serialised(alertId, () => execute(alertId, command, reply));
    });
  }
}
