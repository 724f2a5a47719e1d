/**
 * Read access to the embedded engine for other processes. chDB locks its data directory
 * to one process (a second process cannot open it, not even read-only; see docs/sinks.md),
 * so the sink, which owns it, serves a small HTTP endpoint on 127.0.0.1 and
 * `createQueryBackend` (clickhouse/query-client.ts) talks to it. In server mode nobody needs
 * this: everyone connects to the server.
 *
 * Only the query side may use it, and only for what the query side sends (docs/security.md):
 * - every request carries the endpoint's secret (`Authorization: Bearer …`, generated at
 *   first start into `<data dir>/secrets/clickhouse-query.secret`, mode 0600), compared in
 *   constant time; `POST /replay` included;
 * - a request with an `Origin` header (a browser page) or a `Host` other than the address
 *   the endpoint listens on (DNS rebinding) is refused, and so is any body that is not
 *   `application/json` (no CORS-simple `text/plain` POST reaches the engine);
 * - `POST /query` takes `{template, args}`: the name of a statement template of
 *   query/templates.ts and its arguments, validated by the template's strict schema and
 *   bound as parameters. No text of the request becomes SQL;
 * - the statements run in a session of their own that the engine holds read-only
 *   (`readonly = 1`: no write, DDL, SYSTEM, table function or setting change) with a time
 *   limit (`max_execution_time`).
 * Answers: 200 with JSONEachRow lines, or `{error, message}` (the query API's error shape)
 * whose message never repeats the request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClickHouseConfig } from '../lib/config.ts';
import { FleetgridError, toFleetgridError } from '../lib/errors.ts';
import { answerClientError } from '../lib/http.ts';
import type { Logger } from '../lib/log.ts';
import { secretMatches } from '../lib/secrets.ts';
import type { ClickHouseBackend } from '../clickhouse/index.ts';
import { localQueryBackend } from '../clickhouse/index.ts';

const MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_MAX_EXECUTION_MS = 30_000;

export interface QueryServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

export interface ReplayRequest {
  projection: string;
  from?: string;
}

/** Progress lines go to the client as they come (the CLI prints them on its stderr). */
export type ProgressSink = { write(text: string): boolean; isTTY?: boolean };

export interface QueryServerOptions {
  /** The sink's embedded engine; the endpoint reads it through a read-only session of its own. */
  clickhouse: Extract<ClickHouseConfig, { mode: 'embedded' }>;
  /** The secret every request must carry (clickhouse/query-client.ts `querySecret`). */
  secret: string;
  port: number;
  host?: string;
  log: Logger;
  /** Time limit of one statement in the engine (max_execution_time); default 30 s. */
  maxExecutionMs?: number;
  /** Serves POST /replay (embedded mode: replay must run in the process owning the data). */
  replay?: (request: ReplayRequest, progress: ProgressSink) => Promise<unknown>;
}

/** An answer of the endpoint other than rows: the status, and `{error, message}`. */
class Refusal extends Error {
  readonly status: number;
  readonly error: string;
  constructor(status: number, error: string, message: string) {
    super(message);
    this.status = status;
    this.error = error;
  }
}

function send(response: ServerResponse, status: number, error: string, message: string): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  response
    .writeHead(status, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...(status === 401 ? { 'www-authenticate': 'Bearer realm="fleetgrid-query"' } : {}),
    })
    .end(JSON.stringify({ error, message }));
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json')
    throw new Refusal(415, 'unsupported_media_type', 'the body must be application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Refusal(413, 'payload_too_large', 'the body exceeds 1 MiB');
    chunks.push(chunk as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new Refusal(400, 'bad_request', 'the body is not JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new Refusal(400, 'bad_request', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

/** The answer to a failed statement: never the engine's message (it quotes the statement), which goes to the log. */
function statementRefusal(error: unknown): Refusal {
  if (error instanceof Refusal) return error;
  const e = toFleetgridError(error, 'INTERNAL');
  const engineCode = e.details?.clickhouseCode;
  if (e.code === 'INVALID_ARGUMENT') return new Refusal(400, 'bad_request', e.message);
  if (engineCode === 159 || e.code === 'TIMEOUT')
    return new Refusal(504, 'timeout', 'the statement exceeded the time limit of the endpoint');
  if (engineCode === 60 || engineCode === 81)
    return new Refusal(
      503,
      'unavailable',
      'projection tables missing: the sink creates them at start (its migrations have not run yet)',
    );
  if (e.retriable) return new Refusal(503, 'unavailable', 'the embedded engine is unavailable; retry later');
  if (e.code === 'CLICKHOUSE_REJECTED')
    return new Refusal(422, 'rejected', "the engine refused the statement (details in the sink's log)");
  return new Refusal(500, 'internal', "internal error (details in the sink's log)");
}

/** Replay arguments: a projection name and an optional start, in characters that cannot carry markup. */
function replayRequest(body: Record<string, unknown>): ReplayRequest {
  const { projection, from, ...rest } = body;
  if (Object.keys(rest).length > 0) throw new Refusal(400, 'bad_request', 'unexpected field in the body');
  if (typeof projection !== 'string' || !/^[a-z][a-z0-9_]{0,63}$/.test(projection))
    throw new Refusal(400, 'bad_request', 'projection must be a table name');
  if (from !== undefined && (typeof from !== 'string' || !/^[0-9A-Za-z:.+-]{1,40}$/.test(from)))
    throw new Refusal(400, 'bad_request', 'from must be an ISO time, epoch ms or offset:N');
  return from === undefined ? { projection } : { projection, from };
}

export async function startQueryServer(options: QueryServerOptions): Promise<QueryServer> {
  const { log, secret } = options;
  if (secret.length < 16)
    throw new FleetgridError('CONFIG_INVALID', 'the query endpoint secret is too short');
  const { createEmbeddedBackend } = await import('../clickhouse/index.ts');
  const maxExecutionMs = options.maxExecutionMs ?? DEFAULT_MAX_EXECUTION_MS;
  const session: ClickHouseBackend = await createEmbeddedBackend(options.clickhouse, {
    readOnly: { maxExecutionTimeS: Math.max(1, Math.ceil(maxExecutionMs / 1000)) },
  });
  const reader = localQueryBackend(session);
  const host = options.host ?? '127.0.0.1';
  /** Host headers naming this endpoint; filled in once the port is known. */
  const ownHosts = new Set<string>();

  function admit(request: IncomingMessage): void {
    // A browser page (any origin) may not talk to the engine, not even a page of this host.
    if (request.headers.origin !== undefined)
      throw new Refusal(403, 'forbidden', 'requests from browser pages are refused');
    // A page of another name resolving to 127.0.0.1 (DNS rebinding) sends its own Host.
    if (!ownHosts.has((request.headers.host ?? '').toLowerCase()))
      throw new Refusal(403, 'forbidden', 'the Host header does not name this endpoint');
    if (!secretMatches(request.headers.authorization, secret))
      throw new Refusal(401, 'unauthorized', 'missing or wrong secret (Authorization: Bearer <secret>)');
  }

  async function query(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { template, args, ...rest } = await readJson(request);
    if (Object.keys(rest).length > 0) throw new Refusal(400, 'bad_request', 'unexpected field in the body');
    let rows: Record<string, unknown>[];
    try {
      rows = await reader.run(template as never, args as never);
    } catch (error) {
      const refusal = statementRefusal(error);
      if (refusal.status >= 500 || refusal.status === 422)
        log.warn(
          { err: error, template: typeof template === 'string' ? template : undefined },
          'query endpoint',
        );
      throw refusal;
    }
    const text = rows.map((row) => JSON.stringify(row)).join('\n');
    response
      .writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' })
      .end(text.length > 0 ? `${text}\n` : '');
  }

  async function replay(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const run = options.replay;
    if (!run) throw new Refusal(404, 'not_found', 'no such endpoint');
    const body = replayRequest(await readJson(request));
    response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    const progress: ProgressSink = { write: (text) => response.write(text), isTTY: false };
    try {
      const result = await run(body, progress);
      response.end(`RESULT ${JSON.stringify(result)}\n`);
    } catch (error) {
      const e = toFleetgridError(error, 'INTERNAL');
      log.warn({ err: e }, 'replay failed');
      const line =
        e.code === 'INVALID_ARGUMENT'
          ? { error: 'bad_request', message: e.message }
          : { error: 'internal', message: "replay failed (details in the sink's log)" };
      response.end(`ERROR ${JSON.stringify(line)}\n`);
    }
  }

  const server: Server = createServer((request, response) => {
    (async () => {
      admit(request);
      const path = (request.url ?? '').split('?')[0];
      if (request.method === 'POST' && path === '/query') return query(request, response);
      if (request.method === 'POST' && path === '/replay') return replay(request, response);
      if (request.method === 'GET' && path === '/health') {
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
        return;
      }
      throw new Refusal(404, 'not_found', 'no such endpoint');
    })().catch((error: unknown) => {
      const refusal =
        error instanceof Refusal
          ? error
          : new Refusal(500, 'internal', "internal error (details in the sink's log)");
      if (!(error instanceof Refusal)) log.warn({ err: error }, 'query endpoint error');
      send(response, refusal.status, refusal.error, refusal.message);
    });
  });
  // Requests Node's parser refuses (bad request line, headers too large) get the same shape.
  server.on('clientError', answerClientError);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => resolve());
    });
  } catch (error) {
    await session.close();
    throw error;
  }
  const { port, address } = server.address() as AddressInfo;
  const shown = address.includes(':') ? `[${address}]` : address;
  ownHosts.add(`${shown}:${port}`.toLowerCase());
  if (address === '127.0.0.1' || address === '::1') ownHosts.add(`localhost:${port}`);
  return {
    port,
    url: `http://${shown}:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await session.close();
    },
  };
}
