/**
 * Starts the sink in-process against a test stack and a temporary embedded data dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppConfig } from '../../lib/config.ts';
import { createMetricsRegistry, type Registry } from '../../lib/metrics.ts';
import { createSerde } from '../../schemas/serde.ts';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';
import { parseSinkConfig, type SinkConfigInput } from '../../sinks/config.ts';
import type { QueryBackend } from '../../clickhouse/index.ts';
import type { RAW_TABLES, TableName } from '../../sinks/rows.ts';
import { type ClickHouseSink, createClickHouseSink } from '../../sinks/runner.ts';
import { isRetriable } from '../../lib/errors.ts';
import { createTestStack, type TestStack } from '../helpers.ts';

export function tempDataDir(name: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `fleetgrid-${name}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function embeddedConfig(stack: TestStack, dataDir: string): AppConfig {
  return { ...stack.config, clickhouse: { mode: 'embedded', dataDir, database: 'fleetgrid' } };
}

export interface RunningSink {
  sink: ClickHouseSink;
  registry: Registry;
  stop(): Promise<void>;
}

export async function startSink(
  stack: TestStack,
  app: AppConfig,
  options: SinkConfigInput = {},
  backend?: ClickHouseBackend,
): Promise<RunningSink> {
  const registry = createMetricsRegistry('sink-test', { defaultMetrics: false });
  const serde = createSerde(app.registry, { topics: stack.topics });
  const sink = createClickHouseSink(
    app,
    parseSinkConfig({ groupId: stack.group('sink'), lingerMs: 100, queryPort: 0, ...options }),
    { kafka: stack.kafka, serde, log: stack.log, registry, ...(backend ? { backend } : {}) },
  );
  await sink.start();
  return { sink, registry, stop: () => sink.stop() };
}

export async function count(
  backend: ClickHouseBackend,
  sql: string,
  params?: Record<string, unknown>,
): Promise<number> {
  const rows = await backend.query<{ n: string | number }>(sql, params);
  return Number(rows[0]?.n ?? 0);
}

/** Rows of a table, read the way the query side reads (by statement template, e.g. through the sink's endpoint). */
export async function storedRows(reader: QueryBackend, table: TableName): Promise<number> {
  const [row] = await reader.run('tableRows', { table });
  return Number(row?.n ?? 0);
}

/** Distinct events of a raw table, read by statement template. */
export async function distinctEvents(
  reader: QueryBackend,
  table: (typeof RAW_TABLES)[number],
): Promise<number> {
  const [row] = await reader.run('tableDistinctEvents', { table });
  return Number(row?.n ?? 0);
}

/**
 * createTestStack, retried: on a busy broker, creating topics can fail transiently
 * ("does not host this topic-partition" while leaders are elected). Each attempt uses a
 * new prefix, so a half-created attempt never meets the next one.
 */
export async function createSinkTestStack(
  name: string,
  options: { partitions?: number } = {},
): Promise<TestStack> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await createTestStack(name, options);
    } catch (error) {
      if (attempt >= 3 || !isRetriable(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}
