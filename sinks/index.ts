/**
 * Public surface of the sinks component: the sink service, replay and the table catalogue.
 * ClickHouse access itself (backends, migrations, the query side's client) is clickhouse/.
 */
export { parseSinkConfig, type SinkConfig } from './config.ts';
export { parseFrom, type ReplayResult, replayProjection } from './replay.ts';
export { DEAD_LETTERS_TABLE, RAW_TABLES, RECORD_TABLES, TABLE_COLUMNS, TOPIC_TABLES } from './rows.ts';
export { type ClickHouseSink, createClickHouseSink } from './runner.ts';
