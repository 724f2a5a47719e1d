/**
 * Options of the registry component (docs/design.md §5: strict, defaults filled in). The
 * database connection comes from the environment (lib/config.ts: POSTGRES_URL,
 * POSTGRES_PASSWORD(_FILE)); these are the knobs of the service and of its CDC connector.
 */
import { z } from 'zod';
import { parseComponentConfig } from '../lib/config.ts';

const millis = z.number().int().positive();

const schema = z.strictObject({
  /** Connections the service holds at most (the API serves concurrent writes with a few). */
  poolMax: z.number().int().min(1).max(50).default(4),
  connectTimeoutMs: millis.default(5_000),
  /** Server-side limit of one statement; a stuck lock becomes a clear TIMEOUT, not a hung request. */
  statementTimeoutMs: millis.default(10_000),
  /** Apply pending migrations before the first query (the CLI and the API); `make up` applies them too. */
  migrateOnUse: z.boolean().default(true),
  /** Default and largest page of a list. */
  pageSize: z.number().int().min(1).max(1_000).default(100),
  maxPageSize: z.number().int().min(1).max(10_000).default(1_000),
});

export type RegistryConfig = z.output<typeof schema>;
export type RegistryConfigInput = z.input<typeof schema>;

export function parseRegistryConfig(input: unknown = {}): RegistryConfig {
  return parseComponentConfig('registry', schema, input);
}
