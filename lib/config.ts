/**
 * Process-wide configuration from the environment, validated once at start-up.
 * Defaults point at the local stack of infra/local, so nothing needs setting on a
 * developer machine; production sets the same variables (DESIGN §2).
 * Component options (window size, batch sizes, …) live in each component's config.ts.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { FleetgridError } from './errors.ts';

export const PROJECT_ROOT = resolve(import.meta.dirname, '..');

const optionalText = z
  .string()
  .transform((value) => value.trim())
  .pipe(z.string())
  .optional()
  .transform((value) => (value === '' ? undefined : value));

const flag = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', ''])
  .optional()
  .transform((value) => value === '1' || value === 'true' || value === 'yes');

const envSchema = z.object({
  KAFKA_BROKERS: z.string().default('127.0.0.1:9092'),
  KAFKA_CLIENT_ID: z.string().default('fleetgrid'),
  KAFKA_SSL: flag,
  KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  KAFKA_SASL_USERNAME: optionalText,
  KAFKA_SASL_PASSWORD: optionalText,
  TOPIC_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9._-]*$/, 'only letters, digits, dot, underscore and dash')
    .default(''),
  SCHEMA_REGISTRY_URL: z.url().default('http://127.0.0.1:8081/apis/ccompat/v7'),
  SCHEMA_REGISTRY_USERNAME: optionalText,
  SCHEMA_REGISTRY_PASSWORD: optionalText,
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  CLICKHOUSE_URL: optionalText,
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'a plain identifier')
    .default('fleetgrid'),
  FLEETGRID_DATA_DIR: z.string().default(resolve(PROJECT_ROOT, '.data')),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type KafkaSasl = {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  password: string;
};

export interface KafkaConfig {
  brokers: string[];
  clientId: string;
  ssl: boolean;
  sasl: KafkaSasl | undefined;
}

export interface RegistryConfig {
  url: string;
  auth: { username: string; password: string } | undefined;
}

export type ClickHouseConfig =
  | { mode: 'embedded'; dataDir: string; database: string }
  | { mode: 'server'; url: string; user: string; password: string; database: string };

export interface AppConfig {
  kafka: KafkaConfig;
  topicPrefix: string;
  registry: RegistryConfig;
  redis: { url: string };
  clickhouse: ClickHouseConfig;
  dataDir: string;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
}

/** Parses the environment; a bad value fails fast with every problem listed. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new FleetgridError('CONFIG_INVALID', `invalid environment: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  const brokers = e.KAFKA_BROKERS.split(',')
    .map((broker) => broker.trim())
    .filter(Boolean);
  if (brokers.length === 0) throw new FleetgridError('CONFIG_INVALID', 'KAFKA_BROKERS names no broker');
  if (e.KAFKA_SASL_MECHANISM && (!e.KAFKA_SASL_USERNAME || !e.KAFKA_SASL_PASSWORD)) {
    throw new FleetgridError(
      'CONFIG_INVALID',
      'KAFKA_SASL_MECHANISM needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD',
    );
  }
  const dataDir = resolve(e.FLEETGRID_DATA_DIR);
  return {
    kafka: {
      brokers,
      clientId: e.KAFKA_CLIENT_ID,
      ssl: e.KAFKA_SSL,
      sasl: e.KAFKA_SASL_MECHANISM
        ? {
            mechanism: e.KAFKA_SASL_MECHANISM,
            username: e.KAFKA_SASL_USERNAME ?? '',
            password: e.KAFKA_SASL_PASSWORD ?? '',
          }
        : undefined,
    },
    topicPrefix: e.TOPIC_PREFIX,
    registry: {
      url: e.SCHEMA_REGISTRY_URL.replace(/\/+$/, ''),
      auth:
        e.SCHEMA_REGISTRY_USERNAME && e.SCHEMA_REGISTRY_PASSWORD
          ? { username: e.SCHEMA_REGISTRY_USERNAME, password: e.SCHEMA_REGISTRY_PASSWORD }
          : undefined,
    },
    redis: { url: e.REDIS_URL },
    clickhouse: e.CLICKHOUSE_URL
      ? {
          mode: 'server',
          url: e.CLICKHOUSE_URL,
          user: e.CLICKHOUSE_USER,
          password: e.CLICKHOUSE_PASSWORD,
          database: e.CLICKHOUSE_DATABASE,
        }
      : { mode: 'embedded', dataDir: resolve(dataDir, 'clickhouse'), database: e.CLICKHOUSE_DATABASE },
    dataDir,
    logLevel: e.LOG_LEVEL,
  };
}

/**
 * Validates a component's options: unknown keys are rejected (a typo must not silently
 * fall back to a default), defaults are filled in, and every problem is reported at once.
 */
export function parseComponentConfig<S extends z.ZodType>(
  component: string,
  schema: S,
  input: unknown,
): z.output<S> {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new FleetgridError('CONFIG_INVALID', `invalid ${component} config: ${problems.join('; ')}`);
  }
  return parsed.data;
}
