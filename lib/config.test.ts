import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig, parseComponentConfig } from './config.ts';

describe('loadConfig', () => {
  it('points at the local stack when nothing is set', () => {
    const config = loadConfig({});
    expect(config.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(config.registry.url).toBe('http://127.0.0.1:8081/apis/ccompat/v7');
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.clickhouse.mode).toBe('embedded');
    expect(config.topicPrefix).toBe('');
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
