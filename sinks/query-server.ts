/**
 * Read access to the embedded engine for other processes. chDB locks its data directory
 * to one process (a second Session on the same path fails with "Cannot lock file …/status",
 * even with --readonly=1; see docs/sinks.md), so the sink, which owns it, serves a small
 * read-only HTTP endpoint on 127.0.0.1 and `createQueryBackend` (sinks/query-client.ts)
 * talks to it. In server mode nobody needs this: everyone connects to the server.
 *
 * Protocol: POST /query with JSON {sql, params?} → 200 and JSONEachRow lines, or an error
 * status with JSON {code, message, retriable}. GET /health → 200 "ok".
 * Only single read statements are accepted (SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN)
 * and each runs with the engine setting readonly=1 where the syntax allows it.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FleetgridError, toFleetgridError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { ClickHouseBackend, QueryParams } from './backend.ts';

const READ_STATEMENT = /^\s*(select|with|show|describe|desc|exists|explain)\b/i;
const MAX_BODY_BYTES = 1024 * 1024;

/** Rejects anything but one read statement. Pure, so it is unit-tested. */
export function checkReadOnlySql(sql: string): string {
  const trimmed = sql.trim().replace(/;\s*$/, '');
  if (!READ_STATEMENT.test(trimmed)) {
    throw new FleetgridError(
      'INVALID_ARGUMENT',
      'only read statements (SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN)',
    );
  }
  // A second statement after a semicolon outside quotes would escape the check above.
  let quote: string | undefined;
  for (let i = 0; i < trimmed.length; i++) {
    const ch = trimmed[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"' || ch === '`') quote = ch;
    else if (ch === ';') throw new FleetgridError('INVALID_ARGUMENT', 'one statement per request');
  }
  return trimmed;
}

export interface QueryServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new FleetgridError('INVALID_ARGUMENT', 'request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface ReplayRequest {
  projection: string;
  from?: string;
}

/** Progress lines go to the client as they come (the CLI prints them on its stderr). */
export type ProgressSink = { write(text: string): boolean; isTTY?: boolean };

export async function startQueryServer(
  backend: ClickHouseBackend,
  options: {
    port: number;
    host?: string;
    log: Logger;
    /** Serves POST /replay (embedded mode: replay must run in the process owning the data). */
    replay?: (request: ReplayRequest, progress: ProgressSink) => Promise<unknown>;
  },
): Promise<QueryServer> {
  const server: Server = createServer((request, response) => {
    const path = request.url?.split('?')[0];
    if (request.method === 'POST' && path === '/replay' && options.replay) {
      const replay = options.replay;
      (async () => {
        const body = JSON.parse(await readBody(request)) as Partial<ReplayRequest>;
        if (typeof body.projection !== 'string') {
          throw new FleetgridError('INVALID_ARGUMENT', 'body.projection must be a string');
        }
        response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        const progress: ProgressSink = { write: (text) => response.write(text), isTTY: false };
        const result = await replay(
          { projection: body.projection, ...(typeof body.from === 'string' ? { from: body.from } : {}) },
          progress,
        );
        response.end(`RESULT ${JSON.stringify(result)}\n`);
      })().catch((error: unknown) => {
        const e = toFleetgridError(error, 'INTERNAL');
        options.log.warn({ err: e }, 'replay failed');
        const line = `ERROR ${JSON.stringify({ code: e.code, message: e.message })}\n`;
        if (response.headersSent) response.end(line);
        else response.writeHead(e.code === 'INVALID_ARGUMENT' ? 400 : 500).end(line);
      });
      return;
    }
    if (request.method === 'GET' && path === '/health') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (request.method !== 'POST' || path !== '/query') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    (async () => {
      const body = JSON.parse(await readBody(request)) as { sql?: unknown; params?: unknown };
      if (typeof body.sql !== 'string')
        throw new FleetgridError('INVALID_ARGUMENT', 'body.sql must be a string');
      const sql = checkReadOnlySql(body.sql);
      const rows = await backend.query(sql, (body.params ?? {}) as QueryParams);
      const text = rows.map((row) => JSON.stringify(row)).join('\n');
      response
        .writeHead(200, { 'content-type': 'application/x-ndjson' })
        .end(text.length > 0 ? `${text}\n` : '');
    })().catch((error: unknown) => {
      const e =
        error instanceof SyntaxError
          ? new FleetgridError('INVALID_ARGUMENT', 'body is not JSON')
          : toFleetgridError(error, 'INTERNAL');
      const status = e.retriable
        ? 503
        : e.code === 'INVALID_ARGUMENT'
          ? 400
          : e.code === 'CLICKHOUSE_REJECTED'
            ? 422
            : 500;
      if (status >= 500) options.log.warn({ err: e }, 'query endpoint error');
      response
        .writeHead(status, { 'content-type': 'application/json' })
        .end(
          JSON.stringify({ code: e.code, message: e.message, retriable: e.retriable, details: e.details }),
        );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  return {
    port,
    url: `http://${address}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
