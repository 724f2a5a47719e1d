/**
 * `fleetgrid query …`: the CLI talks to the HTTP API like any other client (no direct
 * ClickHouse access), so a terminal sees exactly the numbers the dashboard and scripts
 * see. `--json` prints the answer as received; otherwise format.ts renders a table.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { FleetgridError } from '../lib/errors.ts';
import * as format from './format.ts';

export interface ClientOptions {
  url: string;
  token?: string | undefined;
  json?: boolean;
  /** Print the API's CSV export (summary, series, alerts) as it comes. */
  csv?: boolean;
  timeoutMs?: number;
}

/** Reports the API exports as CSV (query/export.ts). */
export const CSV_REPORTS: readonly Report[] = ['summary', 'series', 'alerts', 'trips'];

export type Report = 'summary' | 'devices' | 'device' | 'series' | 'energy' | 'trips' | 'alerts' | 'health';

const RENDER: Record<Report, (json: Record<string, unknown>) => string> = {
  summary: format.renderSummary,
  devices: format.renderDevices,
  device: format.renderState,
  series: format.renderSeries,
  energy: format.renderEnergy,
  trips: format.renderTrips,
  alerts: format.renderAlerts,
  health: format.renderHealth,
};

const RELATIVE = /^-(\d{1,6})(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Times on the command line: `-15m`, `-6h`, `-7d` (relative to now) become ISO times here;
 * anything else goes to the API unchanged (which validates it).
 */
export function cliTime(text: string | undefined, now = Date.now()): string | undefined {
  if (text === undefined) return undefined;
  const m = RELATIVE.exec(text.trim());
  if (!m) return text;
  return new Date(now - Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]).toISOString();
}

/** The API path of a report with its query string; undefined values are left out. Pure. */
export function requestPath(
  report: Report,
  args: { id?: string | undefined; params: Record<string, string | undefined> },
): string {
  const id = args.id === undefined ? '' : encodeURIComponent(args.id);
  const path = {
    summary: '/api/v1/fleet/summary',
    devices: '/api/v1/devices',
    device: `/api/v1/devices/${id}/state`,
    series: `/api/v1/devices/${id}/series`,
    energy: `/api/v1/sites/${id}/energy`,
    trips: `/api/v1/devices/${id}/trips`,
    alerts: '/api/v1/alerts',
    health: '/api/v1/pipeline/health',
  }[report];
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(args.params)) if (value !== undefined) query.set(key, value);
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

export async function fetchReport(
  path: string,
  options: ClientOptions,
  post?: unknown,
): Promise<Record<string, unknown>> {
  const { response, text, url } = await request(path, options, post);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new FleetgridError('INTERNAL', `HTTP ${response.status} from ${url}: not JSON`);
  }
  if (!response.ok) throw httpError(response.status, body, text);
  return body;
}

/** A report's CSV export as text. */
export async function fetchCsv(path: string, options: ClientOptions): Promise<string> {
  const { response, text } = await request(path, options);
  if (!response.ok) {
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // Not JSON: the text is the message.
    }
    throw httpError(response.status, body, text);
  }
  return text;
}

function httpError(status: number, body: Record<string, unknown>, text: string): FleetgridError {
  // Caller mistakes (4xx) exit with code 2 like other argument errors; server trouble with 1.
  return new FleetgridError(
    status < 500 ? 'INVALID_ARGUMENT' : 'INTERNAL',
    `HTTP ${status} ${String(body.error ?? '')}: ${String(body.message ?? text)}`,
  );
}

async function request(
  path: string,
  options: ClientOptions,
  body?: unknown,
): Promise<{ response: Response; text: string; url: string }> {
  const url = `${options.url.replace(/\/+$/, '')}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (error) {
    // Exit code 1 (trouble), not 2 (a wrong argument): the usual cause is a stopped server.
    throw new FleetgridError(
      'INTERNAL',
      `cannot reach the query API at ${options.url} (is \`fleetgrid serve\` running?): ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return { response, text: await response.text(), url };
}

export async function runReport(
  report: Report,
  args: { id?: string | undefined; params: Record<string, string | undefined> },
  options: ClientOptions,
  write: (text: string) => void = (text) => process.stdout.write(text),
): Promise<void> {
  if (options.csv) {
    if (!CSV_REPORTS.includes(report))
      throw new FleetgridError('INVALID_ARGUMENT', `--csv exists for ${CSV_REPORTS.join(', ')} only`);
    write(
      await fetchCsv(requestPath(report, { ...args, params: { ...args.params, format: 'csv' } }), options),
    );
    return;
  }
  const body = await fetchReport(requestPath(report, args), options);
  write(options.json ? `${JSON.stringify(body, null, 2)}\n` : `${RENDER[report](body)}\n`);
}

/** `fleetgrid alerts ack|shelve|unshelve|comment`: POSTs the command, prints the answer. */
export async function runCommand(
  alertId: string,
  verb: 'ack' | 'shelve' | 'unshelve' | 'comment',
  body: Record<string, string | undefined>,
  options: ClientOptions,
  write: (text: string) => void = (text) => process.stdout.write(text),
): Promise<void> {
  const answer = await fetchReport(`/api/v1/alerts/${encodeURIComponent(alertId)}/${verb}`, options, body);
  write(options.json ? `${JSON.stringify(answer, null, 2)}\n` : `${format.renderCommand(answer)}\n`);
}

export interface StreamEvent {
  id: string | undefined;
  type: string;
  data: string;
}

/** Splits Server-Sent Events text into complete events and the unfinished rest. Pure. */
export function parseEventStream(text: string): { events: StreamEvent[]; rest: string } {
  const events: StreamEvent[] = [];
  const blocks = text.replace(/\r\n?/g, '\n').split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    let id: string | undefined;
    let type = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const at = line.indexOf(':');
      const field = at < 0 ? line : line.slice(0, at);
      const value = at < 0 ? '' : line.slice(at + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') type = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) events.push({ id, type, data: data.join('\n') });
  }
  return { events, rest };
}

/**
 * `fleetgrid alerts watch`: follows /api/v1/stream, printing each event, and reconnects
 * with Last-Event-ID when the connection drops, until `signal` aborts (Ctrl-C).
 */
export async function watchStream(
  options: ClientOptions & { signal: AbortSignal; retryMs?: number },
  write: (text: string) => void = (text) => process.stdout.write(text),
): Promise<void> {
  const url = `${options.url.replace(/\/+$/, '')}/api/v1/stream`;
  let lastId: string | undefined;
  while (!options.signal.aborted) {
    try {
      const response = await fetch(url, {
        headers: {
          accept: 'text/event-stream',
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...(lastId ? { 'last-event-id': lastId } : {}),
        },
        signal: options.signal,
      });
      if (!response.ok || !response.body) {
        const text = await response.text();
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // Not JSON: the text is the message.
        }
        const error = httpError(response.status, body, text);
        // A refused token or a bad request will not pass on a retry.
        if (response.status < 500) throw error;
        write(`! ${error.message}; retrying\n`);
      } else {
        let buffer = '';
        for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) {
          const parsed = parseEventStream(buffer + chunk);
          buffer = parsed.rest;
          for (const event of parsed.events) {
            if (event.id) lastId = event.id;
            if (options.json)
              write(`${JSON.stringify({ id: event.id, type: event.type, data: JSON.parse(event.data) })}\n`);
            else
              write(
                `${format.renderLiveEvent(event.type, JSON.parse(event.data) as Record<string, unknown>)}\n`,
              );
          }
        }
      }
    } catch (error) {
      if (options.signal.aborted) return;
      if (error instanceof FleetgridError) throw error;
      write(
        `! stream interrupted (${error instanceof Error ? error.message : String(error)}); reconnecting\n`,
      );
    }
    await sleep(options.retryMs ?? 2_000, undefined, { signal: options.signal }).catch(() => undefined);
  }
}
