/**
 * The query side's access to the projections, the same in both modes:
 * `createQueryBackend(config)` returns a read-only ClickHouseBackend.
 * - server mode: a @clickhouse/client connection (use a read-only user, docs/sinks.md);
 * - embedded mode: HTTP to the sink's read-only endpoint (sinks/query-server.ts), because
 *   the sink process owns the chDB data directory; `{ direct: true }` opens the data
 *   directory itself instead, for a process that runs while no sink does (offline CLI).
 */
import type { AppConfig } from '../lib/config.ts';
import { FleetgridError } from '../lib/errors.ts';
import type { ClickHouseBackend, QueryParams } from './backend.ts';
import { toClickHouseError } from './backend.ts';

export const DEFAULT_EMBEDDED_QUERY_URL = 'http://127.0.0.1:8124';

export interface QueryBackendOptions {
  /** Embedded mode: the sink's query endpoint; default CLICKHOUSE_QUERY_URL or 127.0.0.1:8124. */
  url?: string;
  /** Embedded mode: open the data directory in this process instead of asking the sink. */
  direct?: boolean;
  timeoutMs?: number;
}

export async function createQueryBackend(
  config: Pick<AppConfig, 'clickhouse'>,
  options: QueryBackendOptions = {},
): Promise<ClickHouseBackend> {
  const ch = config.clickhouse;
  if (ch.mode === 'server') {
    const { createServerBackend } = await import('./backends/server.ts');
    return readOnly(createServerBackend(ch));
  }
  if (options.direct) {
    const { createEmbeddedBackend } = await import('./backends/embedded.ts');
    return readOnly(await createEmbeddedBackend(ch));
  }
  return createRemoteBackend(
    options.url ?? process.env.CLICKHOUSE_QUERY_URL ?? DEFAULT_EMBEDDED_QUERY_URL,
    ch.database,
    options.timeoutMs,
  );
}

function refuse(): never {
  throw new FleetgridError('INVALID_ARGUMENT', 'the query backend is read-only');
}

function readOnly(backend: ClickHouseBackend): ClickHouseBackend {
  return {
    mode: backend.mode,
    database: backend.database,
    query: (sql, params) => backend.query(sql, params),
    exec: async () => refuse(),
    insert: async () => refuse(),
    close: () => backend.close(),
  };
}

/** HTTP client of sinks/query-server.ts. */
export function createRemoteBackend(url: string, database: string, timeoutMs = 30_000): ClickHouseBackend {
  const endpoint = `${url.replace(/\/+$/, '')}/query`;
  return {
    mode: 'remote',
    database,
    async query<T>(sql: string, params?: QueryParams) {
      let response: Response;
      try {
        response = await fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ sql, params: params ?? {} }, (_key, value) =>
            typeof value === 'bigint' ? value.toString() : value,
          ),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        throw new FleetgridError(
          'CLICKHOUSE_UNAVAILABLE',
          `sink query endpoint ${endpoint} unreachable (is \`fleetgrid sink\` running?): ${
            error instanceof Error ? error.message : String(error)
          }`,
          { cause: error },
        );
      }
      const text = await response.text();
      if (!response.ok) {
        let body: { code?: string; message?: string; retriable?: boolean } = {};
        try {
          body = JSON.parse(text);
        } catch {
          // not our error body: keep the status
        }
        const code =
          body.code === 'INVALID_ARGUMENT'
            ? 'INVALID_ARGUMENT'
            : response.status >= 500
              ? 'CLICKHOUSE_UNAVAILABLE'
              : 'CLICKHOUSE_REJECTED';
        throw new FleetgridError(code, body.message ?? `HTTP ${response.status}`, {
          details: { status: response.status },
        });
      }
      try {
        return text
          .split('\n')
          .filter((line) => line.length > 0)
          .map((line) => JSON.parse(line) as T);
      } catch (error) {
        throw toClickHouseError('parse query response', error);
      }
    },
    exec: async () => refuse(),
    insert: async () => refuse(),
    async close() {},
  };
}

/**
 * Asks the running embedded sink to replay a projection (POST /replay): the sink owns the
 * data directory, so the replay must run there. Progress text is passed to `onProgress`
 * as it arrives; resolves with the replay's result. Rejects with CLICKHOUSE_UNAVAILABLE
 * when no sink answers (the caller may then open the data directory itself).
 */
export async function requestReplay(
  url: string,
  request: { projection: string; from?: string },
  onProgress: (text: string) => void,
): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`${url.replace(/\/+$/, '')}/replay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });
  } catch (error) {
    throw new FleetgridError('CLICKHOUSE_UNAVAILABLE', `no sink answers at ${url}`, { cause: error });
  }
  if (!response.body) throw new FleetgridError('CLICKHOUSE_UNAVAILABLE', `empty answer from ${url}`);
  const decoder = new TextDecoder();
  let pending = '';
  let outcome: string | undefined;
  for await (const chunk of response.body) {
    pending += decoder.decode(chunk as Uint8Array, { stream: true });
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.startsWith('RESULT ') || line.startsWith('ERROR ')) outcome = line;
      else onProgress(`${line}\n`);
      newline = pending.indexOf('\n');
    }
  }
  if (outcome?.startsWith('RESULT ')) return JSON.parse(outcome.slice('RESULT '.length));
  const error = outcome
    ? (JSON.parse(outcome.slice('ERROR '.length)) as { code?: string; message?: string })
    : {};
  throw new FleetgridError(
    error.code === 'INVALID_ARGUMENT' ? 'INVALID_ARGUMENT' : 'INTERNAL',
    error.message ?? `replay failed (HTTP ${response.status})`,
  );
}
