/**
 * The dashboard's access to the API: every request goes to the public /api/v1 endpoints
 * (the page is a client like any other), so what it shows is what the API answers.
 *
 * An API token (when `fleetgrid serve` runs with API_TOKEN) is passed once in the URL
 * fragment, `/#token=…`, which never reaches a server log, and kept in this module's memory
 * only (not in storage, where any script of the origin could read it later); a reload asks
 * for it again.
 */
let apiToken;
// Earlier versions kept the token in session storage: remove it from there.
sessionStorage.removeItem('fleetgrid-token');

/** Takes the token out of the address bar (once) and keeps it here. */
export function captureToken() {
  const match = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (match) {
    apiToken = decodeURIComponent(match[1]);
    history.replaceState(history.state, '', location.pathname + location.search);
  }
  return apiToken;
}

export async function api(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null));
  const url = `/api/v1/${path}${query.size > 0 ? `?${query}` : ''}`;
  const headers = { accept: 'application/json' };
  const bearer = captureToken();
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(`${url}: ${response.status} ${body.message ?? response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

/**
 * The write token for alert commands, typed into the alerts panel: kept in this module's
 * memory only, like the read token (a reload asks for it again).
 */
let writeToken;
export const setWriteToken = (token) => {
  writeToken = token || undefined;
};
export const hasWriteToken = () => writeToken !== undefined;

/** An alert command (POST /api/v1/alerts/{id}/{verb}) with the write token; the answer or an error. */
export async function command(alertId, verb, body) {
  const url = `/api/v1/alerts/${encodeId(alertId)}/${verb}`;
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      authorization: `Bearer ${writeToken}`,
    },
    body: JSON.stringify({ commandId: crypto.randomUUID(), ...body }),
    signal: AbortSignal.timeout(30_000),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(`${verb}: ${response.status} ${answer.message ?? response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return answer;
}

/** Every device of a listing, page after page (bounded: 20 pages of 1,000). */
export async function allDevices(params = {}) {
  const devices = [];
  let cursor;
  for (let page = 0; page < 20; page++) {
    const answer = await api('devices', { ...params, limit: 1000, cursor });
    devices.push(...answer.devices);
    cursor = answer.nextCursor;
    if (!cursor) break;
  }
  return devices;
}

/**
 * Ids the API serves (schemas/ids.ts; query/dashboard.test.ts keeps the two equal). A device
 * stored before ids were validated at ingestion is listed, but its pages cannot be asked for.
 */
export const QUERYABLE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export const encodeId = (id) => encodeURIComponent(id);
