/**
 * The Alertmanager side of shelving: a shelved alert is silenced in Alertmanager (API v2)
 * so no notification goes out for it until the shelve ends, and unshelving expires the
 * silence. Matchers are the labels fleetgrid alerts carry there: alertname = the rule,
 * deviceId = the device. Alertmanager runs with basic auth (infra/local/stack.sh); the
 * password comes from a file or the environment, never argv. Any transport failure, a
 * timeout or a 5xx is ALERTMANAGER_UNAVAILABLE, refused credentials ALERTMANAGER_AUTH_FAILED
 * (either way the API answers 503 and writes nothing).
 */
import { FleetgridError } from '../lib/errors.ts';

export interface SilenceRequest {
  rule: string;
  deviceId: string;
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
}

export interface SilenceClient {
  /** Creates the silence; its id. */
  create(request: SilenceRequest): Promise<string>;
  /** Expires the silence; one that is unknown or already expired counts as done. */
  expire(silenceId: string): Promise<void>;
}

export interface SilenceClientOptions {
  /** e.g. http://127.0.0.1:9095 */
  url: string;
  user?: string | undefined;
  password?: string | undefined;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** The silence body of Alertmanager's v2 API for a shelve (pure: unit-tested). */
export function silenceBody(request: SilenceRequest) {
  const equal = (name: string, value: string) => ({ name, value, isRegex: false, isEqual: true });
  return {
    matchers: [equal('alertname', request.rule), equal('deviceId', request.deviceId)],
    startsAt: new Date(request.startsAt).toISOString(),
    endsAt: new Date(request.endsAt).toISOString(),
    createdBy: request.createdBy,
    // Alertmanager refuses an empty comment.
    comment: request.comment || 'shelved in fleetgrid',
  };
}

export function createSilenceClient(options: SilenceClientOptions): SilenceClient {
  const base = options.url.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 3_000;
  const doFetch = options.fetch ?? fetch;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.user !== undefined && options.password !== undefined)
    headers.authorization = `Basic ${Buffer.from(`${options.user}:${options.password}`).toString('base64')}`;

  async function call(method: string, path: string, body?: unknown): Promise<Response> {
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new FleetgridError('ALERTMANAGER_UNAVAILABLE', `Alertmanager unreachable: ${reason(error)}`, {
        cause: error,
      });
    }
    if (response.status >= 500 || response.status === 401 || response.status === 403) {
      // Alertmanager answers 500 to expiring an expired silence: that one is done, not down.
      const text = await response.text().catch(() => '');
      if (method === 'DELETE' && /already expired/i.test(text)) return new Response(null, { status: 200 });
      // Refused credentials are the operator's to fix (not retriable); the command still
      // cannot go through, so the API answers 503 for both.
      if (response.status === 401 || response.status === 403) {
        throw new FleetgridError('ALERTMANAGER_AUTH_FAILED', 'Alertmanager refused the credentials', {
          details: { status: response.status },
        });
      }
      throw new FleetgridError('ALERTMANAGER_UNAVAILABLE', `Alertmanager answered ${response.status}`, {
        details: { status: response.status },
      });
    }
    return response;
  }

  return {
    async create(request) {
      const response = await call('POST', '/api/v2/silences', silenceBody(request));
      const answer = (await response.json().catch(() => undefined)) as { silenceID?: unknown } | undefined;
      if (!response.ok || typeof answer?.silenceID !== 'string')
        throw new FleetgridError('INTERNAL', `Alertmanager refused the silence (${response.status})`, {
          details: { status: response.status },
        });
      return answer.silenceID;
    },
    async expire(silenceId) {
      const response = await call('DELETE', `/api/v2/silence/${encodeURIComponent(silenceId)}`);
      await response.body?.cancel();
      if (response.ok || response.status === 404) return;
      throw new FleetgridError(
        'INTERNAL',
        `Alertmanager refused to expire the silence (${response.status})`,
        {
          details: { status: response.status },
        },
      );
    },
  };
}

function reason(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'timed out';
  const cause = (error as { cause?: { code?: string } })?.cause?.code;
  return cause ?? (error instanceof Error ? error.message : String(error));
}
