import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig, parseComponentConfig } from './config.ts';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const dirs: string[] = [];
const scratch = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-config-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('loadConfig', () => {
  it('points at the local stack when nothing is set', () => {
    const config = loadConfig({});
    expect(config.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(config.registry.url).toBe('http://127.0.0.1:8081/apis/ccompat/v7');
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.clickhouse.mode).toBe('embedded');
    expect(config.topicPrefix).toBe('');
  });

  it("bounds the embedded engine's read caches (64 MiB each unless CLICKHOUSE_EMBEDDED_CACHE_MB says)", () => {
    expect(loadConfig({}).clickhouse).toMatchObject({ mode: 'embedded', cacheBytes: 64 * 1024 * 1024 });
    expect(loadConfig({ CLICKHOUSE_EMBEDDED_CACHE_MB: '256' }).clickhouse).toMatchObject({
      cacheBytes: 256 * 1024 * 1024,
    });
    for (const bad of ['0', '-1', '1.5', 'lots'])
      expect(() => loadConfig({ CLICKHOUSE_EMBEDDED_CACHE_MB: bad })).toThrow(/CLICKHOUSE_EMBEDDED_CACHE_MB/);
  });

  it('switches to a ClickHouse server when CLICKHOUSE_URL is set', () => {
    const config = loadConfig({ CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_USER: 'sink' });
    expect(config.clickhouse).toMatchObject({
      mode: 'server',
      url: 'http://ch:8123',
      user: 'sink',
      database: 'fleetgrid',
    });
  });

  it('targets a ClickHouse cluster only on a server, with the default Keeper path unless one is set', () => {
    expect(loadConfig({ CLICKHOUSE_URL: 'http://ch:8123' }).clickhouse).not.toHaveProperty('cluster');
    expect(
      loadConfig({ CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_CLUSTER: 'fleet' }).clickhouse,
    ).toMatchObject({
      mode: 'server',
      cluster: { name: 'fleet', keeperPathPrefix: '/clickhouse/tables' },
    });
    expect(
      loadConfig({
        CLICKHOUSE_URL: 'http://ch:8123',
        CLICKHOUSE_CLUSTER: 'fleet',
        CLICKHOUSE_KEEPER_PATH_PREFIX: '/ch/fleetgrid',
      }).clickhouse,
    ).toMatchObject({ cluster: { name: 'fleet', keeperPathPrefix: '/ch/fleetgrid' } });
    expect(() => loadConfig({ CLICKHOUSE_CLUSTER: 'fleet' })).toThrow(/embedded engine \(chDB\) is one node/);
    expect(() =>
      loadConfig({ CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_KEEPER_PATH_PREFIX: '/ch' }),
    ).toThrow(/without CLICKHOUSE_CLUSTER/);
    for (const [key, value] of [
      ['CLICKHOUSE_CLUSTER', 'fleet; DROP'],
      ['CLICKHOUSE_KEEPER_PATH_PREFIX', "/ch/'x"],
      ['CLICKHOUSE_KEEPER_PATH_PREFIX', '/ch/'],
      ['CLICKHOUSE_KEEPER_PATH_PREFIX', 'ch'],
    ] as const) {
      expect(() =>
        loadConfig({ CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_CLUSTER: 'fleet', [key]: value }),
      ).toThrow(new RegExp(key));
    }
  });

  it('splits broker lists and configures SASL only with credentials', () => {
    const config = loadConfig({
      KAFKA_BROKERS: 'a:9092, b:9092',
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
    });
    expect(config.kafka).toMatchObject({
      brokers: ['a:9092', 'b:9092'],
      ssl: true,
      sasl: { mechanism: 'scram-sha-512' },
    });
    expect(() => loadConfig({ KAFKA_SASL_MECHANISM: 'plain' })).toThrow(/KAFKA_SASL_USERNAME/);
  });

  it('reads the SASL password from KAFKA_SASL_PASSWORD_FILE and the CA from KAFKA_SSL_CA_FILE (TLS on)', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'kafka.password'), 'from-file\n', { mode: 0o600 });
    writeFileSync(join(dir, 'ca.crt'), PEM);
    const config = loadConfig({
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'fleetgrid',
      KAFKA_SASL_PASSWORD_FILE: join(dir, 'kafka.password'),
      KAFKA_SSL_CA_FILE: join(dir, 'ca.crt'),
    });
    expect(config.kafka.sasl).toEqual({
      mechanism: 'scram-sha-512',
      username: 'fleetgrid',
      password: 'from-file',
    });
    expect(config.kafka.ssl).toBe(true);
    expect(config.kafka.sslCa).toBe(PEM);
    writeFileSync(join(dir, 'not-a-cert'), 'hello');
    expect(() => loadConfig({ KAFKA_SSL_CA_FILE: join(dir, 'not-a-cert') })).toThrow(/no PEM certificate/);
    expect(() => loadConfig({ KAFKA_SSL_CA_FILE: join(dir, 'missing') })).toThrow(/cannot read/);
  });

  it('PostgreSQL: the local cluster by default with its generated password file; a given URL never gets it', () => {
    const dataDir = scratch();
    expect(loadConfig({ FLEETGRID_DATA_DIR: dataDir }).postgres).toEqual({
      url: 'postgres://fleetgrid@127.0.0.1:5433/fleetgrid',
      password: undefined,
    });
    mkdirSync(join(dataDir, 'secrets'));
    writeFileSync(join(dataDir, 'secrets', 'postgres.password'), 'generated\n', { mode: 0o600 });
    expect(loadConfig({ FLEETGRID_DATA_DIR: dataDir }).postgres.password).toBe('generated');
    const external = loadConfig({
      FLEETGRID_DATA_DIR: dataDir,
      POSTGRES_URL: 'postgres://app@db.example:5432/fleet',
    });
    expect(external.postgres).toEqual({ url: 'postgres://app@db.example:5432/fleet', password: undefined });
    expect(
      loadConfig({ POSTGRES_URL: 'postgres://app@db:5432/fleet', POSTGRES_PASSWORD: 'direct' }).postgres
        .password,
    ).toBe('direct');
    expect(() => loadConfig({ POSTGRES_URL: 'postgres://app:secret@db:5432/fleet' })).toThrow(
      /must not hold a password/,
    );
    expect(() => loadConfig({ POSTGRES_URL: 'mysql://db' })).toThrow(/POSTGRES_URL/);
  });

  it('Kafka Connect: the local worker by default with its generated password; a given URL never gets it', () => {
    const dataDir = scratch();
    expect(loadConfig({ FLEETGRID_DATA_DIR: dataDir }).connect).toEqual({
      url: 'http://127.0.0.1:8083',
      auth: undefined,
    });
    mkdirSync(join(dataDir, 'secrets'));
    writeFileSync(join(dataDir, 'secrets', 'connect.password'), 'generated\n', { mode: 0o600 });
    expect(loadConfig({ FLEETGRID_DATA_DIR: dataDir }).connect.auth).toEqual({
      username: 'fleetgrid',
      password: 'generated',
    });
    expect(
      loadConfig({ FLEETGRID_DATA_DIR: dataDir, KAFKA_CONNECT_URL: 'http://connect.example:8083/' }).connect,
    ).toEqual({ url: 'http://connect.example:8083', auth: undefined });
    expect(
      loadConfig({
        KAFKA_CONNECT_URL: 'http://connect.example:8083',
        KAFKA_CONNECT_USERNAME: 'ops',
        KAFKA_CONNECT_PASSWORD: 'direct',
      }).connect.auth,
    ).toEqual({ username: 'ops', password: 'direct' });
  });

  it('topics: the broker replication and the development retention unless configured', () => {
    expect(loadConfig({}).topics).toEqual({
      replicationFactor: undefined,
      minInsyncReplicas: undefined,
      retention: 'development',
    });
    expect(
      loadConfig({
        KAFKA_TOPIC_REPLICATION_FACTOR: '3',
        KAFKA_TOPIC_MIN_INSYNC_REPLICAS: '2',
        TOPIC_RETENTION_PROFILE: 'production',
      }).topics,
    ).toEqual({ replicationFactor: 3, minInsyncReplicas: 2, retention: 'production' });
    expect(() =>
      loadConfig({ KAFKA_TOPIC_REPLICATION_FACTOR: '1', KAFKA_TOPIC_MIN_INSYNC_REPLICAS: '2' }),
    ).toThrow(/exceeds KAFKA_TOPIC_REPLICATION_FACTOR/);
    expect(() => loadConfig({ KAFKA_TOPIC_REPLICATION_FACTOR: '0' })).toThrow(
      /CONFIG_INVALID|invalid environment/,
    );
    expect(() => loadConfig({ TOPIC_RETENTION_PROFILE: 'forever' })).toThrow(/TOPIC_RETENTION_PROFILE/);
  });

  it('rejects bad values with a CONFIG_INVALID error naming every problem', () => {
    expect(() => loadConfig({ SCHEMA_REGISTRY_URL: 'not a url', LOG_LEVEL: 'loud' })).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        message: expect.stringMatching(/SCHEMA_REGISTRY_URL.*LOG_LEVEL/),
      }),
    );
  });
});

describe('parseComponentConfig', () => {
  const schema = z.strictObject({ sizeMs: z.number().int().positive().default(60_000) });

  it('fills defaults', () => {
    expect(parseComponentConfig('windows', schema, {})).toEqual({ sizeMs: 60_000 });
  });

  it('rejects unknown keys so a typo cannot fall back to a default', () => {
    expect(() => parseComponentConfig('windows', schema, { sizeMS: 1 })).toThrow(/invalid windows config/);
  });
});
