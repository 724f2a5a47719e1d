/**
 * The query side's access to the projections, the same in every mode: `createQueryBackend`
 * returns a QueryBackend, which runs the named statement templates of query/templates.ts
 * and nothing else (no SQL text crosses this interface).
 * - server mode: rendered here, sent through @clickhouse/client (use a read-only user,
 *   docs/security.md);
 * - embedded mode: sent by name to the sink's query endpoint (sinks/query-server.ts) with
 *   the endpoint's secret, because the sink process owns the chDB data directory;
 *   `{ direct: true }` opens the data directory here in a read-only session instead, for a
 *   process that runs while no sink does (offline CLI).
 */
import { join } from 'node:path';
import type { AppConfig } from '../lib/config.ts';
import { FleetgridError } from '../lib/errors.ts';
import { ensureSecretFile, readSecret } from '../lib/secrets.ts';
// Not through query/index.ts, which would load the API server (Fastify) into the sink.
import { renderTemplate, type TemplateArgs, type TemplateName } from '../query/templates.ts';
import type { ClickHouseBackend } from './backend.ts';
import { toClickHouseError } from './backend.ts';

export const DEFAULT_EMBEDDED_QUERY_URL = 'http://127.0.0.1:8124';

export type Row = Record<string, unknown>;

export interface QueryBackend {
  readonly mode: 'embedded' | 'server' | 'remote';
  /** Runs a statement template of the catalogue with its arguments; rows as JSONEachRow objects. */
  run<N extends TemplateName>(name: N, args: TemplateArgs<N>): Promise<Row[]>;
  close(): Promise<void>;
}

/** Environment variable (or `…_FILE`) holding the secret of the sink's query endpoint. */
export const QUERY_SECRET_ENV = 'CLICKHOUSE_QUERY_SECRET';

/** Where the local stack keeps the endpoint's secret: `<FLEETGRID_DATA_DIR>/secrets/`. */
export function querySecretFile(dataDir: string): string {
  return join(dataDir, 'secrets', 'clickhouse-query.secret');
}

/**
 * The secret of the sink's query endpoint, the same on both sides: CLICKHOUSE_QUERY_SECRET,
 * or the file CLICKHOUSE_QUERY_SECRET_FILE names, else the data directory's secret file,
 * generated (mode 0600) by whichever side starts first.
 */
export function querySecret(app: Pick<AppConfig, 'dataDir'>, env: NodeJS.ProcessEnv = process.env): string {
  const secret = readSecret(env, QUERY_SECRET_ENV) ?? ensureSecretFile(querySecretFile(app.dataDir));
  if (secret.length < 16)
    throw new FleetgridError('CONFIG_INVALID', `${QUERY_SECRET_ENV} must be at least 16 characters`);
  return secret;
}

export interface QueryBackendOptions {
  /** Embedded mode: the sink's query endpoint; default CLICKHOUSE_QUERY_URL or 127.0.0.1:8124. */
  url?: string;
  /** Embedded mode: the endpoint's secret; default `querySecret(config)`. */
  secret?: string;
  /** Embedded mode: open the data directory in this process instead of asking the sink. */
  direct?: boolean;
  /** Limit of one statement: the client's wait, and the engine's max_execution_time where this side sets it. */
  timeoutMs?: number;
}

export async function createQueryBackend(
  config: Pick<AppConfig, 'clickhouse' | 'dataDir'>,
  options: QueryBackendOptions = {},
): Promise<QueryBackend> {
  const ch = config.clickhouse;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const readOnly = { maxExecutionTimeS: Math.max(1, Math.ceil(timeoutMs / 1000)) };
  if (ch.mode === 'server') {
    const { createServerBackend } = await import('./backends/server.ts');
    return localQueryBackend(createServerBackend(ch, { readOnly }));
  }
  if (options.direct) {
    const { createEmbeddedBackend } = await import('./backends/embedded.ts');
    return localQueryBackend(await createEmbeddedBackend(ch, { readOnly }));
  }
  return createRemoteBackend(options.url ?? process.env.CLICKHOUSE_QUERY_URL ?? DEFAULT_EMBEDDED_QUERY_URL, {
    secret: options.secret ?? querySecret(config),
    timeoutMs,
  });
}

/**
 * Runs the templates on a connection of this process: rendered here, sent as a statement
 * with bound parameters. The connection should be read-only (a read-only session or user):
 * the templates are the first fence, the engine the second.
 */
export function localQueryBackend(backend: ClickHouseBackend): QueryBackend {
  return {
    mode: backend.mode,
    run(name, args) {
      const statement = renderTemplate(name, args);
      return backend.query<Row>(statement.sql, statement.params);
    },
    close: () => backend.close(),
  };
}

/** The endpoint's error answer `{error, message}` as a FleetgridError of the caller's side. */
export function endpointError(status: number, text: string, url: string): FleetgridError {
  let body: { error?: unknown; message?: unknown } = {};
  try {
    body = JSON.parse(text);
  } catch {
    // not our error body: the status says enough
  }
  const message = `sink query endpoint: ${typeof body.message === 'string' ? body.message : `HTTP ${status}`}`;
  const details = { status };
  switch (status) {
    case 400:
      return new FleetgridError('INVALID_ARGUMENT', message, { details });
    case 401:
    case 403:
      // The secret or the URL is wrong: configuration, which no retry repairs.
      return new FleetgridError(
        'CONFIG_INVALID',
        `${message} (${url}; the secret comes from CLICKHOUSE_QUERY_SECRET, CLICKHOUSE_QUERY_SECRET_FILE or <data dir>/secrets/clickhouse-query.secret)`,
        { details },
      );
    case 422:
      return new FleetgridError('CLICKHOUSE_REJECTED', message, { details });
    case 503:
      return new FleetgridError('CLICKHOUSE_UNAVAILABLE', message, { details });
    case 504:
      return new FleetgridError('TIMEOUT', message, { details });
    default:
      // 404, 413, 415, 500: the two sides disagree about the protocol, or a bug.
      return new FleetgridError('INTERNAL', message, { details });
  }
}

function unreachable(url: string, error: unknown): FleetgridError {
  return new FleetgridError(
    'CLICKHOUSE_UNAVAILABLE',
    `sink query endpoint ${url} unreachable (is \`fleetgrid sink\` running?): ${
      error instanceof Error ? error.message : String(error)
    }`,
    { cause: error },
  );
}

const jsonHeaders = (secret: string) => ({
  authorization: `Bearer ${secret}`,
  'content-type': 'application/json',
});

/** HTTP client of sinks/query-server.ts. */
export function createRemoteBackend(
  url: string,
  options: { secret: string; timeoutMs?: number },
): QueryBackend {
  const base = url.replace(/\/+$/, '');
  const endpoint = `${base}/query`;
  return {
    mode: 'remote',
    async run(name, args) {
      let response: Response;
      try {
        response = await fetch(endpoint, {
          method: 'POST',
          headers: jsonHeaders(options.secret),
          body: JSON.stringify({ template: name, args }),
          signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
        });
      } catch (error) {
        throw unreachable(base, error);
      }
      const text = await response.text();
      if (!response.ok) throw endpointError(response.status, text, base);
      try {
        return text
          .split('\n')
          .filter((line) => line.length > 0)
          .map((line) => JSON.parse(line) as Row);
      } catch (error) {
        throw toClickHouseError('parse query response', error);
      }
    },
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
  secret: string,
  request: { projection: string; from?: string },
  onProgress: (text: string) => void,
): Promise<unknown> {
  const base = url.replace(/\/+$/, '');
  let response: Response;
  try {
    response = await fetch(`${base}/replay`, {
      method: 'POST',
      headers: jsonHeaders(secret),
      body: JSON.stringify(request),
    });
  } catch (error) {
    throw unreachable(base, error);
  }
  if (!response.ok) throw endpointError(response.status, await response.text(), base);
  if (!response.body) throw new FleetgridError('CLICKHOUSE_UNAVAILABLE', `empty answer from ${base}`);
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
    ? (JSON.parse(outcome.slice('ERROR '.length)) as { error?: string; message?: string })
    : {};
  throw new FleetgridError(
    error.error === 'bad_request' ? 'INVALID_ARGUMENT' : 'INTERNAL',
    `replay: ${error.message ?? 'failed without a reason'}`,
  );
}
