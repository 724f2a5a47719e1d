/**
 * Commands this API process has seen recently (written by it, or read from the commands
 * topic by the live feed) that the ClickHouse projection may not hold yet: the sink writes
 * in batches, so a shelve followed a second later by an unshelve, or a repeated command id,
 * must not depend on the projection having caught up. Bounded by count and age: once the
 * projection has a command the projection's row serves, and after `ttlMs` it surely has.
 */
import type { AlertCommand } from '../schemas/types.ts';

export interface RecentCommands {
  add(command: AlertCommand): void;
  byId(commandId: string): AlertCommand | undefined;
  forAlert(alertId: string): AlertCommand[];
  readonly size: number;
}

export function createRecentCommands(options: {
  now: () => number;
  ttlMs?: number;
  max?: number;
}): RecentCommands {
  const ttlMs = options.ttlMs ?? 10 * 60_000;
  const max = options.max ?? 10_000;
  /** Insertion order is age order: the oldest go first. */
  const commands = new Map<string, { command: AlertCommand; seenAt: number }>();

  function prune() {
    const oldest = options.now() - ttlMs;
    for (const [id, entry] of commands) {
      if (commands.size <= max && entry.seenAt >= oldest) break;
      commands.delete(id);
    }
  }

  return {
    add(command) {
      if (commands.has(command.commandId)) return;
      commands.set(command.commandId, { command, seenAt: options.now() });
      prune();
    },
    byId(commandId) {
      prune();
      return commands.get(commandId)?.command;
    },
    forAlert(alertId) {
      prune();
      return [...commands.values()].filter((e) => e.command.alertId === alertId).map((e) => e.command);
    },
    get size() {
      return commands.size;
    },
  };
}
