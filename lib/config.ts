/**
 * Process-wide configuration from the environment, validated once at start-up.
 * Defaults point at the local stack of infra/local, so nothing needs setting on a
 * developer machine; production sets the same variables (docs/design.md §2).
 * Component options (window size, batch sizes, …) live in each component's config.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { FleetgridError } from './errors.ts';
import { readSecret, readSecretFile } from './secrets.ts';
import { RETENTION_PROFILES, type TopicPolicy } from './topics.ts';

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
  // KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE: read by readSecret below.
  /** PEM file of the CA(s) that signed the brokers' certificates; implies TLS. */
  KAFKA_SSL_CA_FILE: optionalText,
  TOPIC_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9._-]*$/, 'only letters, digits, dot, underscore and dash')
    .default(''),
  /** Replication of the topics services create; unset: the broker's defaults. */
  KAFKA_TOPIC_REPLICATION_FACTOR: z.coerce.number().int().min(1).max(32).optional(),
  KAFKA_TOPIC_MIN_INSYNC_REPLICAS: z.coerce.number().int().min(1).max(32).optional(),
  TOPIC_RETENTION_PROFILE: z.enum(RETENTION_PROFILES).default('development'),
  SCHEMA_REGISTRY_URL: z.url().default('http://127.0.0.1:8081/apis/ccompat/v7'),
  SCHEMA_REGISTRY_USERNAME: optionalText,
  SCHEMA_REGISTRY_PASSWORD: optionalText,
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  // The project's own PostgreSQL cluster of `make up` (infra/local/stack.sh); the password
  // comes from POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE, else the stack's generated file.
  POSTGRES_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'a postgres:// URL')
    .default('postgres://fleetgrid@127.0.0.1:5433/fleetgrid'),
  CLICKHOUSE_URL: optionalText,
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'a plain identifier')
    .default('fleetgrid'),
  /**
   * Embedded engine only: the bound of each of chDB's read caches (marks, primary index,
   * skip-index marks, query condition), in MiB. The engine's defaults (5 GiB each) suit a
   * server of its own, not a sink sharing the host (docs/sinks.md "Memory").
   */
  CLICKHOUSE_EMBEDDED_CACHE_MB: z.coerce.number().int().min(1).max(65_536).default(64),
  /**
   * A cluster of the servers' `remote_servers` the migrations target (server mode only):
   * DDL ON CLUSTER, Replicated engines, Distributed tables (docs/sinks.md "ClickHouse cluster").
   */
  CLICKHOUSE_CLUSTER: optionalText.pipe(
    z
      .string()
      .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'a plain identifier')
      .optional(),
  ),
  /** Keeper path of the replicated tables: `<prefix>/{shard}/{database}/{table}`; with CLICKHOUSE_CLUSTER only. */
  CLICKHOUSE_KEEPER_PATH_PREFIX: optionalText.pipe(
    z
      .string()
      .regex(
        /^(\/[a-zA-Z0-9_.-]+)+$/,
        'an absolute Keeper path without a trailing slash, like /clickhouse/tables',
      )
      .optional(),
  ),
  /** Kafka Connect's REST API (the registry's Debezium connector); basic auth from KAFKA_CONNECT_PASSWORD(_FILE). */
  KAFKA_CONNECT_URL: optionalText,
  KAFKA_CONNECT_USERNAME: z.string().default('fleetgrid'),
  /** Alertmanager's API (notify's alerts, silences of shelved alerts); basic auth from ALERTMANAGER_PASSWORD(_FILE). */
  ALERTMANAGER_URL: optionalText,
  ALERTMANAGER_USERNAME: z.string().default('fleetgrid'),
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
  /** PEM text of the CA bundle the brokers' certificates must chain to (else the system's CAs). */
  sslCa?: string | undefined;
  sasl: KafkaSasl | undefined;
}

export interface PostgresConfig {
  /** Without the password; it never goes into a URL that may be logged. */
  url: string;
  password: string | undefined;
}

export interface RegistryConfig {
  url: string;
  auth: { username: string; password: string } | undefined;
}

export type ClickHouseConfig =
  | {
      mode: 'embedded';
      dataDir: string;
      database: string;
      /** Bound of each of the engine's read caches; unset: DEFAULT_EMBEDDED_CACHE_BYTES. */
      cacheBytes?: number;
    }
  | {
      mode: 'server';
      url: string;
      user: string;
      password: string;
      database: string;
      /** Set: the migrations target this cluster (clickhouse/cluster.ts). */
      cluster?: ClickHouseCluster | undefined;
    };

export interface ClickHouseCluster {
  name: string;
  keeperPathPrefix: string;
}

export const DEFAULT_KEEPER_PATH_PREFIX = '/clickhouse/tables';
/** CLICKHOUSE_EMBEDDED_CACHE_MB's default, for embedded configs made without the environment. */
export const DEFAULT_EMBEDDED_CACHE_BYTES = 64 * 1024 * 1024;

export interface ConnectConfig {
  url: string;
  auth: { username: string; password: string } | undefined;
}

export interface AppConfig {
  kafka: KafkaConfig;
  topicPrefix: string;
  /** Replication and retention of the topics this service creates. */
  topics: TopicPolicy;
  registry: RegistryConfig;
  redis: { url: string };
  postgres: PostgresConfig;
  clickhouse: ClickHouseConfig;
  connect: ConnectConfig;
  alertmanager: ConnectConfig;
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
  const saslPassword = readSecret(env, 'KAFKA_SASL_PASSWORD');
  if (e.KAFKA_SASL_MECHANISM && (!e.KAFKA_SASL_USERNAME || !saslPassword)) {
    throw new FleetgridError(
      'CONFIG_INVALID',
      'KAFKA_SASL_MECHANISM needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)',
    );
  }
  const sslCa = e.KAFKA_SSL_CA_FILE ? readPem(e.KAFKA_SSL_CA_FILE, 'KAFKA_SSL_CA_FILE') : undefined;
  const dataDir = resolve(e.FLEETGRID_DATA_DIR);
  if (/^postgres(ql)?:\/\/[^/@]*:[^/@]*@/.test(e.POSTGRES_URL)) {
    throw new FleetgridError(
      'CONFIG_INVALID',
      'POSTGRES_URL must not hold a password; set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE',
    );
  }
  return {
    kafka: {
      brokers,
      clientId: e.KAFKA_CLIENT_ID,
      ssl: e.KAFKA_SSL || sslCa !== undefined,
      sslCa,
      sasl: e.KAFKA_SASL_MECHANISM
        ? {
            mechanism: e.KAFKA_SASL_MECHANISM,
            username: e.KAFKA_SASL_USERNAME ?? '',
            password: saslPassword ?? '',
          }
        : undefined,
    },
    topicPrefix: e.TOPIC_PREFIX,
    topics: topicPolicy(e),
    registry: {
      url: e.SCHEMA_REGISTRY_URL.replace(/\/+$/, ''),
      auth:
        e.SCHEMA_REGISTRY_USERNAME && e.SCHEMA_REGISTRY_PASSWORD
          ? { username: e.SCHEMA_REGISTRY_USERNAME, password: e.SCHEMA_REGISTRY_PASSWORD }
          : undefined,
    },
    redis: { url: e.REDIS_URL },
    postgres: { url: e.POSTGRES_URL, password: postgresPassword(env, dataDir) },
    clickhouse: clickhouseConfig(e, dataDir),
    // Kafka Connect's worker (the registry's CDC), default the local stack's on 8083.
    connect: basicAuthService(env, {
      url: e.KAFKA_CONNECT_URL,
      username: e.KAFKA_CONNECT_USERNAME,
      secret: 'KAFKA_CONNECT_PASSWORD',
      localUrl: 'http://127.0.0.1:8083',
      localSecretFile: resolve(dataDir, 'secrets', 'connect.password'),
    }),
    alertmanager: basicAuthService(env, {
      url: e.ALERTMANAGER_URL,
      username: e.ALERTMANAGER_USERNAME,
      secret: 'ALERTMANAGER_PASSWORD',
      localUrl: 'http://127.0.0.1:9095',
      localSecretFile: resolve(dataDir, 'secrets', 'alertmanager.password'),
    }),
    dataDir,
    logLevel: e.LOG_LEVEL,
  };
}

function clickhouseConfig(e: z.infer<typeof envSchema>, dataDir: string): ClickHouseConfig {
  if (!e.CLICKHOUSE_URL) {
    if (e.CLICKHOUSE_CLUSTER || e.CLICKHOUSE_KEEPER_PATH_PREFIX)
      throw new FleetgridError(
        'CONFIG_INVALID',
        'CLICKHOUSE_CLUSTER needs a ClickHouse server (CLICKHOUSE_URL): the embedded engine (chDB) is one node and has no cluster',
      );
    return {
      mode: 'embedded',
      dataDir: resolve(dataDir, 'clickhouse'),
      database: e.CLICKHOUSE_DATABASE,
      cacheBytes: e.CLICKHOUSE_EMBEDDED_CACHE_MB * 1024 * 1024,
    };
  }
  if (e.CLICKHOUSE_KEEPER_PATH_PREFIX && !e.CLICKHOUSE_CLUSTER)
    throw new FleetgridError(
      'CONFIG_INVALID',
      'CLICKHOUSE_KEEPER_PATH_PREFIX is set without CLICKHOUSE_CLUSTER',
    );
  return {
    mode: 'server',
    url: e.CLICKHOUSE_URL,
    user: e.CLICKHOUSE_USER,
    password: e.CLICKHOUSE_PASSWORD,
    database: e.CLICKHOUSE_DATABASE,
    ...(e.CLICKHOUSE_CLUSTER
      ? {
          cluster: {
            name: e.CLICKHOUSE_CLUSTER,
            keeperPathPrefix: e.CLICKHOUSE_KEEPER_PATH_PREFIX ?? DEFAULT_KEEPER_PATH_PREFIX,
          },
        }
      : {}),
  };
}

function readPem(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new FleetgridError('CONFIG_INVALID', `${what}: cannot read ${path}`, { cause: error });
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new FleetgridError('CONFIG_INVALID', `${what}: ${path} holds no PEM certificate`);
  }
  return text;
}

/**
 * POSTGRES_PASSWORD, else the file POSTGRES_PASSWORD_FILE names, else, for the local cluster
 * only (POSTGRES_URL unset), the file `make up` generates (`<data dir>/secrets/postgres.password`)
 * when it exists: the local secret is never offered to a server someone else configured.
 */
function postgresPassword(env: NodeJS.ProcessEnv, dataDir: string): string | undefined {
  const explicit = readSecret(env, 'POSTGRES_PASSWORD');
  if (explicit || env.POSTGRES_URL?.trim()) return explicit;
  const generated = resolve(dataDir, 'secrets', 'postgres.password');
  return existsSync(generated) ? readSecretFile(generated) : undefined;
}

/**
 * A service behind basic auth: its URL (default the local stack's) with the password of
 * `<SECRET>` or `<SECRET>_FILE`, else, for the local service only, the file `make up`
 * generates; the local secret is never offered to a server someone else configured.
 */
function basicAuthService(
  env: NodeJS.ProcessEnv,
  o: { url: string | undefined; username: string; secret: string; localUrl: string; localSecretFile: string },
): ConnectConfig {
  if (o.url !== undefined) {
    const variable = `${o.secret.replace(/_PASSWORD$/, '')}_URL`;
    let parsed: URL;
    try {
      parsed = new URL(o.url);
    } catch {
      throw new FleetgridError('CONFIG_INVALID', `${variable} is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new FleetgridError('CONFIG_INVALID', `${variable} must be an http(s) URL`);
    }
    // A URL is logged and shown; credentials go in the password variable or its file.
    if (parsed.username || parsed.password) {
      throw new FleetgridError(
        'CONFIG_INVALID',
        `${variable} must not hold credentials; set ${o.secret} or ${o.secret}_FILE`,
      );
    }
  }
  let password = readSecret(env, o.secret);
  if (password === undefined && o.url === undefined && existsSync(o.localSecretFile))
    password = readSecretFile(o.localSecretFile);
  return {
    url: (o.url ?? o.localUrl).replace(/\/+$/, ''),
    auth: password === undefined ? undefined : { username: o.username, password },
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

function topicPolicy(e: z.infer<typeof envSchema>): TopicPolicy {
  const factor = e.KAFKA_TOPIC_REPLICATION_FACTOR;
  const minIsr = e.KAFKA_TOPIC_MIN_INSYNC_REPLICAS;
  if (factor !== undefined && minIsr !== undefined && minIsr > factor) {
    throw new FleetgridError(
      'CONFIG_INVALID',
      `KAFKA_TOPIC_MIN_INSYNC_REPLICAS (${minIsr}) exceeds KAFKA_TOPIC_REPLICATION_FACTOR (${factor}): no write could succeed`,
    );
  }
  return { replicationFactor: factor, minInsyncReplicas: minIsr, retention: e.TOPIC_RETENTION_PROFILE };
}
