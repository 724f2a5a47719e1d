/**
 * Structured logging with pino. Logs go to stderr so that stdout stays free for what a
 * command prints for people or scripts (tables, --json).
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { service: name } }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything: the default dependency of pure code and unit tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
