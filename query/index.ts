/**
 * The query side (DESIGN §1): HTTP API, CLI reports and the dashboard's server. Reads
 * only the ClickHouse projections (and Kafka's admin API for lag), never the write path.
 * Decisions, formulas and caps: docs/query.md.
 */
export type { QueryConfig, QueryConfigInput } from './config.ts';
export { parseQueryConfig, queryConfigSchema } from './config.ts';
export type { QueryApiDeps } from './server.ts';
export { createQueryApi, DEFAULT_DASHBOARD_DIR } from './server.ts';
export type { QueryService } from './service.ts';
export { createQueryService } from './service.ts';
export { fetchConsumerLag, runServeCommand } from './main.ts';
