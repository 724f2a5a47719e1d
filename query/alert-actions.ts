/**
 * Operators' commands on alerts, pure: the request bodies (zod, bounded), the fold of an
 * alert's recorded commands into what the API shows (acknowledged by/at, shelved until,
 * the history), and the decision whether a new command is possible on the alert as it
 * stands. The routes (command-routes.ts) do the I/O around it: read the alert and its
 * actions, ask Alertmanager for a silence, write the AlertCommand event.
 */
import { z } from 'zod';
import { FleetgridError } from '../lib/errors.ts';
import type { AlertAction, AlertCommand } from '../schemas/types.ts';

/** Bounds of what an operator types: long enough for a note, short enough for a Kafka record and a page. */
export const LIMITS = {
  byChars: 128,
  commentChars: 2_000,
  commandIdChars: 64,
  /** A shelve longer than this is a rule change, not a shelve (the registry). */
  maxShelveMs: 30 * 86_400_000,
  /** A shelve shorter than this ends before Alertmanager would notice it. */
  minShelveMs: 60_000,
} as const;

/** Client-chosen command ids: URL-safe tokens such as a UUID. */
export const COMMAND_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{7,63}$/;
const commandId = z
  .string()
  .regex(COMMAND_ID_PATTERN, "commandId must be 8-64 letters, digits, '.', '_', ':' or '-' (a UUID fits)")
  .optional();
/** Whether `value` holds a control character (tab and newline allowed when `multiline`). */
export function hasControlCharacter(value: string, multiline: boolean): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (multiline && (code === 9 || code === 10 || code === 13)) continue;
    if (code < 32 || code === 127) return true;
  }
  return false;
}

/** Printable text without control characters (newlines and tabs allowed in comments). */
const text = (name: string, max: number, multiline: boolean) =>
  z
    .string({ error: `${name} must be a string` })
    .max(max, `${name} must be at most ${max} characters`)
    .refine((value) => !hasControlCharacter(value, multiline), {
      error: `${name} must not contain control characters`,
    });
const by = text('by', LIMITS.byChars, false).pipe(z.string().trim().min(1, 'by must name who acts'));
const comment = text('comment', LIMITS.commentChars, true);

export const COMMAND_BODIES = {
  ack: z.strictObject({ commandId, by, comment: comment.default('') }),
  shelve: z.strictObject({
    commandId,
    by,
    until: z.iso.datetime({
      offset: true,
      error: 'until must be an ISO 8601 time, e.g. 2026-12-01T18:00:00Z',
    }),
    reason: comment.pipe(z.string().trim().min(1, 'reason must say why the alert is shelved')),
  }),
  unshelve: z.strictObject({ commandId, by, comment: comment.default('') }),
  comment: z.strictObject({
    commandId,
    by,
    comment: comment.pipe(z.string().trim().min(1, 'comment must not be empty')),
  }),
} as const;

export type CommandVerb = keyof typeof COMMAND_BODIES;
export const COMMAND_VERBS = Object.keys(COMMAND_BODIES) as CommandVerb[];

export const ACTION_OF: Record<CommandVerb, AlertAction> = {
  ack: 'ACK',
  shelve: 'SHELVE',
  unshelve: 'UNSHELVE',
  comment: 'COMMENT',
};

/** A recorded command as the API shows it. */
export interface ActionView {
  commandId: string;
  action: AlertAction;
  by: string;
  comment: string;
  shelvedUntil: string | null;
  silenceId: string | null;
  at: string;
}

export interface AlertActionsView {
  acknowledged: { by: string; at: string; comment: string } | null;
  shelved: { until: string; by: string; at: string; reason: string; silenceId: string | null } | null;
  history: ActionView[];
}

const iso = (ms: number) => new Date(ms).toISOString();

export function actionView(command: AlertCommand): ActionView {
  return {
    commandId: command.commandId,
    action: command.action,
    by: command.by,
    comment: command.comment,
    shelvedUntil: command.shelvedUntil === null ? null : iso(command.shelvedUntil),
    silenceId: command.silenceId,
    at: iso(command.ts),
  };
}

/** Commands in the order they were accepted; a command id counts once. */
export function orderCommands(commands: readonly AlertCommand[]): AlertCommand[] {
  const byId = new Map<string, AlertCommand>();
  for (const command of commands) if (!byId.has(command.commandId)) byId.set(command.commandId, command);
  return [...byId.values()].sort((a, b) => a.ts - b.ts || a.commandId.localeCompare(b.commandId));
}

/**
 * The state the commands leave: the first ACK acknowledges for good; the newest SHELVE
 * holds until its time passes or an UNSHELVE follows it.
 */
export function foldCommands(commands: readonly AlertCommand[], now: number) {
  let acknowledged: AlertCommand | undefined;
  let shelved: AlertCommand | undefined;
  for (const command of orderCommands(commands)) {
    if (command.action === 'ACK') acknowledged ??= command;
    else if (command.action === 'SHELVE') shelved = command;
    else if (command.action === 'UNSHELVE') shelved = undefined;
  }
  if (shelved && (shelved.shelvedUntil ?? 0) <= now) shelved = undefined;
  return { acknowledged, shelved };
}

export function actionsView(commands: readonly AlertCommand[], now: number): AlertActionsView {
  const { acknowledged, shelved } = foldCommands(commands, now);
  return {
    acknowledged: acknowledged
      ? { by: acknowledged.by, at: iso(acknowledged.ts), comment: acknowledged.comment }
      : null,
    shelved: shelved
      ? {
          until: iso(shelved.shelvedUntil ?? 0),
          by: shelved.by,
          at: iso(shelved.ts),
          reason: shelved.comment,
          silenceId: shelved.silenceId,
        }
      : null,
    history: orderCommands(commands).map(actionView),
  };
}

/** What a command needs to know about its alert. */
export interface AlertTarget {
  alertId: string;
  rule: string;
  deviceId: string;
  state: 'RAISED' | 'RESOLVED';
}

export type ParsedCommand =
  | { verb: 'ack'; body: z.output<(typeof COMMAND_BODIES)['ack']> }
  | { verb: 'shelve'; body: z.output<(typeof COMMAND_BODIES)['shelve']> }
  | { verb: 'unshelve'; body: z.output<(typeof COMMAND_BODIES)['unshelve']> }
  | { verb: 'comment'; body: z.output<(typeof COMMAND_BODIES)['comment']> };

/** What to do for a possible command: the event to write, and the silence to create or expire. */
export interface CommandPlan {
  event: Omit<AlertCommand, 'silenceId'> & { silenceId: string | null };
  /** SHELVE: create a silence ending at shelvedUntil; UNSHELVE: expire this silence. */
  silence: { create: { endsAt: number } } | { expire: string | null } | undefined;
}

const conflict = (message: string) => new FleetgridError('CONFLICT', message);

/**
 * Whether `command` is possible on `alert` given its recorded `commands`, and what it
 * writes. Impossible or stale commands are CONFLICT (409) and write nothing; an unknown
 * alert is the caller's NOT_FOUND.
 */
export function planCommand(
  command: ParsedCommand,
  alert: AlertTarget,
  commands: readonly AlertCommand[],
  ids: { commandId: string; now: number },
): CommandPlan {
  const { acknowledged, shelved } = foldCommands(commands, ids.now);
  const base = {
    commandId: ids.commandId,
    alertId: alert.alertId,
    action: ACTION_OF[command.verb],
    rule: alert.rule,
    deviceId: alert.deviceId,
    by: command.body.by,
    shelvedUntil: null as number | null,
    silenceId: null as string | null,
    ts: ids.now,
  };
  switch (command.verb) {
    case 'ack':
      if (alert.state === 'RESOLVED') throw conflict('the alert is resolved: nothing to acknowledge');
      if (acknowledged)
        throw conflict(`the alert was already acknowledged by ${acknowledged.by} at ${iso(acknowledged.ts)}`);
      return { event: { ...base, comment: command.body.comment }, silence: undefined };
    case 'shelve': {
      if (alert.state === 'RESOLVED') throw conflict('the alert is resolved: nothing to shelve');
      if (shelved)
        throw conflict(
          `the alert is already shelved until ${iso(shelved.shelvedUntil ?? 0)}: unshelve it first`,
        );
      const until = Date.parse(command.body.until);
      if (until < ids.now + LIMITS.minShelveMs)
        throw new FleetgridError('INVALID_ARGUMENT', 'until must be at least a minute from now');
      if (until > ids.now + LIMITS.maxShelveMs)
        throw new FleetgridError('INVALID_ARGUMENT', 'until must be at most 30 days from now');
      return {
        event: { ...base, comment: command.body.reason, shelvedUntil: until },
        silence: { create: { endsAt: until } },
      };
    }
    case 'unshelve':
      if (!shelved) throw conflict('the alert is not shelved');
      return {
        event: { ...base, comment: command.body.comment, silenceId: shelved.silenceId },
        silence: { expire: shelved.silenceId },
      };
    case 'comment':
      return { event: { ...base, comment: command.body.comment }, silence: undefined };
  }
}

/**
 * Whether a repeated command id is the same command: same alert and action. A different
 * command under a used id is a client bug, refused rather than answered with the old one.
 */
export function sameCommand(recorded: AlertCommand, alertId: string, verb: CommandVerb): boolean {
  return recorded.alertId === alertId && recorded.action === ACTION_OF[verb];
}
