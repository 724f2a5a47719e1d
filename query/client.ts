/**
 * `fleetgrid query …`: the CLI talks to the HTTP API like any other client (no direct
 * ClickHouse access), so a terminal sees exactly the numbers the dashboard and scripts
 * see. `--json` prints the answer as received; otherwise format.ts renders a table.
 */
import { FleetgridError } from '../lib/errors.ts';
import * as format from './format.ts';

export interface ClientOptions {
  url: string;
  token?: string | undefined;
  json?: boolean;
  timeoutMs?: number;
}

export type Report = 'summary' | 'devices' | 'device' | 'series' | 'energy' | 'alerts' | 'health';

const RENDER: Record<Report, (json: Record<string, unknown>) => string> = {
  summary: format.renderSummary,
  devices: format.renderDevices,
  device: format.renderState,
  series: format.renderSeries,
  energy: format.renderEnergy,
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
    alerts: '/api/v1/alerts',
    health: '/api/v1/pipeline/health',
  }[report];
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(args.params)) if (value !== undefined) query.set(key, value);
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

export async function fetchReport(path: string, options: ClientOptions): Promise<Record<string, unknown>> {
  const url = `${options.url.replace(/\/+$/, '')}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (error) {
    // Exit code 1 (trouble), not 2 (a wrong argument): the usual cause is a stopped server.
    throw new FleetgridError(
      'INTERNAL',
      `cannot reach the query API at ${options.url} (is \`fleetgrid serve\` running?): ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new FleetgridError('INTERNAL', `HTTP ${response.status} from ${url}: not JSON`);
  }
  if (!response.ok) {
    // Caller mistakes (4xx) exit with code 2 like other argument errors; server trouble with 1.
    throw new FleetgridError(
      response.status < 500 ? 'INVALID_ARGUMENT' : 'INTERNAL',
      `HTTP ${response.status} ${String(body.error ?? '')}: ${String(body.message ?? text)}`,
    );
  }
  return body;
}

export async function runReport(
  report: Report,
  args: { id?: string | undefined; params: Record<string, string | undefined> },
  options: ClientOptions,
  write: (text: string) => void = (text) => process.stdout.write(text),
): Promise<void> {
  const body = await fetchReport(requestPath(report, args), options);
  write(options.json ? `${JSON.stringify(body, null, 2)}\n` : `${RENDER[report](body)}\n`);
}
