/**
 * The query side (docs/design.md §1): HTTP API, CLI reports and the dashboard's server. Reads
 * only the ClickHouse projections (and Kafka's admin API for lag), never the write path.
 * Decisions, formulas and caps: docs/query.md. The write side of alert commands (the
 * commands topic, Alertmanager silences) and the live stream live here too (architecture.md).
 */
export type { QueryConfig, QueryConfigInput } from './config.ts';
export { parseQueryConfig, queryConfigSchema } from './config.ts';
export type { QueryApiDeps } from './server.ts';
export { createQueryApi, DEFAULT_DASHBOARD_DIR } from './server.ts';
export type { QueryService } from './service.ts';
export { createQueryService } from './service.ts';
export { type Column, formatValue, table } from './format.ts';
export { fetchConsumerLag, runServeCommand } from './main.ts';
export { type CommandLog, createCommandLog } from './command-log.ts';
export { createLiveHub, type LiveEvent, type LiveHub } from './live.ts';
export { createLiveFeed, type LiveFeed } from './live-feed.ts';
export { createRecentCommands, type RecentCommands } from './recent-commands.ts';
export { createSilenceClient, type SilenceClient } from './silences.ts';
