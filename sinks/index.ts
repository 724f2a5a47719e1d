/**
 * Public surface of the sinks component: the sink service, replay, the backends and the
 * query-side access (`createQueryBackend`) that the query API uses in both modes.
 */
export type { ClickHouseBackend, InsertOptions, QueryParams } from './backend.ts';
export { createBackend, toClickHouseError } from './backend.ts';
export { parseSinkConfig, SINK_GROUP_ID, type SinkConfig } from './config.ts';
export { migrate } from './migrate.ts';
export {
  createQueryBackend,
  createRemoteBackend,
  DEFAULT_EMBEDDED_QUERY_URL,
  type QueryBackendOptions,
  requestReplay,
} from './query-client.ts';
export { parseFrom, type ReplayResult, replayProjection } from './replay.ts';
export { DEAD_LETTERS_TABLE, RAW_TABLES, RECORD_TABLES, TABLE_COLUMNS, TOPIC_TABLES } from './rows.ts';
export { type ClickHouseSink, createClickHouseSink } from './runner.ts';
