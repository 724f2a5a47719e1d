/**
 * Alertmanager's v2 API as the notifier uses it: `POST /api/v2/alerts` and `GET /-/ready`,
 * with basic auth. Failures become FleetgridErrors the runner decides by: an unreachable
 * or overloaded Alertmanager (network error, timeout, 5xx, 429) is ALERTMANAGER_UNAVAILABLE
 * and retried; refused credentials are ALERTMANAGER_AUTH_FAILED (a retry cannot help); a
 * 400 means we built a bad alert, a programmer error (INTERNAL). The password is in the
 * header only: no URL, message or log line carries it.
 */
import { FleetgridError } from '../lib/errors.ts';
import type { AlertmanagerTarget } from './config.ts';
import type { PostableAlert } from './core.ts';

export interface AlertmanagerClient {
  /** Resolves once Alertmanager accepted every alert (200). */
  post(alerts: readonly PostableAlert[]): Promise<void>;
  /** Resolves when Alertmanager answers ready; throws like `post` otherwise. */
  ready(): Promise<void>;
}

export function createAlertmanagerClient(
  target: Pick<AlertmanagerTarget, 'url' | 'auth'>,
  options: { timeoutMs: number },
): AlertmanagerClient {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (target.auth) {
    headers.authorization = `Basic ${Buffer.from(`${target.auth.username}:${target.auth.password}`).toString('base64')}`;
  }

  async function call(path: string, init: RequestInit): Promise<void> {
    let response: Response;
    try {
      response = await fetch(`${target.url}${path}`, {
        ...init,
        headers,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (error) {
      throw new FleetgridError('ALERTMANAGER_UNAVAILABLE', `Alertmanager at ${target.url} did not answer`, {
        cause: error,
        details: { url: target.url, path },
      });
    }
    if (response.ok) {
      await response.body?.cancel();
      return;
    }
    // Alertmanager's error bodies are short texts; a cut keeps a log line bounded.
    const text = (await response.text().catch(() => '')).slice(0, 300);
    const details = { url: target.url, path, status: response.status };
    if (response.status === 401 || response.status === 403) {
      throw new FleetgridError('ALERTMANAGER_AUTH_FAILED', `Alertmanager refused the credentials`, {
        details,
      });
    }
    if (response.status === 429 || response.status >= 500) {
      throw new FleetgridError('ALERTMANAGER_UNAVAILABLE', `Alertmanager answered ${response.status}`, {
        details,
      });
    }
    throw new FleetgridError('INTERNAL', `Alertmanager refused the request (${response.status}): ${text}`, {
      details,
    });
  }

  return {
    post: (alerts) => call('/api/v2/alerts', { method: 'POST', body: JSON.stringify(alerts) }),
    ready: () => call('/-/ready', { method: 'GET' }),
  };
}
