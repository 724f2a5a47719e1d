/**
 * Public surface of ClickHouse access, shared by the sink (writes, migrations), the query
 * side (templates over the read-only endpoint or a server) and the load test (reconciliation):
 *
 * - backend.ts: `ClickHouseBackend` (query, exec, insert with a deduplication token) and
 *   `createBackend` for the embedded engine (chDB, backends/embedded.ts) or a server
 *   (@clickhouse/client, backends/server.ts);
 * - migrate.ts: the versioned SQL migrations of migrations/NNN_name.sql;
 * - query-client.ts: the query side's read-only access (`createQueryBackend`): the embedded
 *   sink's template endpoint (127.0.0.1:8124, with its secret) or a server.
 */
export type { ClickHouseBackend, InsertOptions, QueryParams } from './backend.ts';
export { assertIdentifier, createBackend, toClickHouseError } from './backend.ts';
export { createEmbeddedBackend } from './backends/embedded.ts';
export { createServerBackend } from './backends/server.ts';
export { loadMigrations, type MigrationReport, migrate } from './migrate.ts';
export {
  createQueryBackend,
  createRemoteBackend,
  DEFAULT_EMBEDDED_QUERY_URL,
  localQueryBackend,
  type QueryBackend,
  type QueryBackendOptions,
  QUERY_SECRET_ENV,
  querySecret,
  querySecretFile,
  requestReplay,
} from './query-client.ts';
