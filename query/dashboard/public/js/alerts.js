/**
 * The alerts panel, a module of its own: the fleet page lists the open alerts, a site page
 * those of its devices, a device page its own of the range. Loaded once from the API, then
 * kept current by the live stream (live.js): alerts raised and resolved, acknowledged and
 * shelved, without polling (the page's refresh reloads it only while the stream is down).
 * Operators act from here: acknowledge, shelve for a while, unshelve, with the write token
 * typed into the panel and kept in memory only (api.js). Every text is set as text.
 */
import { api, command, hasWriteToken, setWriteToken } from './api.js';
import { el, h, section, table } from './dom.js';
import { formatNumber, time } from './format.js';
import { isLive, subscribe } from './live.js';
import { hrefOf } from './router.js';

const SHELVE_HOURS = [1, 4, 24];

/**
 * @param {{id: string, title: string, query: () => object, filter?: (alert) => boolean, deviceLinks?: boolean}} options
 *   `query`: the /alerts parameters (state, deviceId, from, to…); `filter`: a client-side cut (a site's devices).
 */
export function alertsPanel({ id = 'alerts', title, query, filter = () => true, deviceLinks = true }) {
  const part = section(id, title, { className: 'alerts' });
  const count = el('span', { class: 'muted count', 'data-count': '' });
  part.heading.append(' ', count);
  /** The shown alerts by id, in the API's order (newest raised first). */
  let alerts = new Map();
  let loaded = false;

  const tokenInput = el('input', {
    type: 'password',
    id: `${id}-token`,
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const byInput = el('input', { type: 'text', id: `${id}-by`, autocomplete: 'off', maxlength: '128' });
  const reasonInput = el('input', {
    type: 'text',
    id: `${id}-reason`,
    autocomplete: 'off',
    maxlength: '2000',
  });
  const hoursSelect = h(
    'select',
    { id: `${id}-hours` },
    SHELVE_HOURS.map((n) => el('option', { value: String(n) }, `${n} h`)),
  );
  const status = el('p', { class: 'muted', role: 'status', 'data-command-status': '' });
  tokenInput.addEventListener('change', () => setWriteToken(tokenInput.value.trim()));
  const form = h(
    'form',
    { class: 'alert-actions', 'aria-label': 'Alert actions' },
    h('label', { for: tokenInput.id }, 'Write token ', tokenInput),
    h('label', { for: byInput.id }, 'Your name ', byInput),
    h('label', { for: hoursSelect.id }, 'Shelve for ', hoursSelect),
    h('label', { for: reasonInput.id }, 'Reason ', reasonInput),
  );
  form.addEventListener('submit', (event) => event.preventDefault());

  function matches(alert) {
    const q = query();
    if (q.state === 'open' && alert.state !== 'RAISED') return false;
    if (q.deviceId !== undefined && alert.deviceId !== q.deviceId) return false;
    return filter(alert);
  }

  async function act(alert, verb) {
    setWriteToken(tokenInput.value.trim());
    if (!hasWriteToken()) {
      status.textContent = 'Enter the write token (API_WRITE_TOKEN) first.';
      tokenInput.focus();
      return;
    }
    const by = byInput.value.trim() || 'dashboard';
    const body =
      verb === 'shelve'
        ? {
            by,
            until: new Date(Date.now() + Number(hoursSelect.value) * 3_600_000).toISOString(),
            reason: reasonInput.value.trim() || 'shelved from the dashboard',
          }
        : { by };
    try {
      const answer = await command(alert.alertId, verb, body);
      status.textContent = `${answer.action} of ${answer.alertId} recorded.`;
      applyCommand(answer);
    } catch (error) {
      status.textContent = `Could not ${verb}: ${error.message}`;
    }
  }

  function actions(alert) {
    const buttons = [];
    const button = (verb, label) => {
      const b = el('button', { type: 'button', 'data-action': verb }, label);
      b.addEventListener('click', () => act(alert, verb));
      return b;
    };
    if (alert.state === 'RAISED' && !alert.acknowledged) buttons.push(button('ack', 'Acknowledge'));
    if (alert.state === 'RAISED' && !alert.shelved) buttons.push(button('shelve', 'Shelve'));
    if (alert.shelved) buttons.push(button('unshelve', 'Unshelve'));
    return h('span', { class: 'buttons' }, buttons);
  }

  function render() {
    const list = [...alerts.values()];
    count.textContent = String(list.length);
    count.dataset.count = String(list.length);
    const rows = list.map((a) => ({
      attributes: {
        'data-alert-id': a.alertId,
        'data-state': a.state,
        'data-acknowledged': a.acknowledged ? 'true' : undefined,
        'data-shelved': a.shelved ? 'true' : undefined,
      },
      cells: [
        time(a.raisedAt),
        a.state === 'RAISED' ? 'open' : `resolved ${time(a.resolvedAt)}`,
        a.rule,
        deviceLinks ? el('a', { href: hrefOf('device', a.deviceId) }, a.deviceId) : a.deviceId,
        formatNumber(a.value, 1),
        formatNumber(a.threshold, 1),
        el('span', { class: 'message' }, a.message),
        a.acknowledged ? `${a.acknowledged.by}, ${time(a.acknowledged.at)}` : '',
        a.shelved ? `until ${time(a.shelved.until)}` : '',
        // The registry's model and driver when the alert was processed (text: they are data).
        a.model ?? '',
        a.driverId ?? '',
        actions(a),
      ],
    }));
    part.body.replaceChildren(
      form,
      status,
      list.length === 0
        ? el('p', { class: 'muted note' }, 'no alerts')
        : table({
            caption: title,
            className: 'alert-table',
            columns: [
              { label: 'raised' },
              { label: 'state' },
              { label: 'rule' },
              { label: 'device' },
              { label: 'value', num: true },
              { label: 'threshold', num: true },
              { label: 'message' },
              { label: 'acknowledged' },
              { label: 'shelved' },
              { label: 'model' },
              { label: 'driver' },
              { label: 'actions' },
            ],
            rows,
          }),
    );
  }

  /** A command's answer or stream event applied to the shown alert. */
  function applyCommand(c) {
    const alert = alerts.get(c.alertId);
    if (!alert) return;
    if (c.action === 'ACK') alert.acknowledged ??= { by: c.by, at: c.at, comment: c.comment };
    else if (c.action === 'SHELVE')
      alert.shelved = {
        until: c.shelvedUntil,
        by: c.by,
        at: c.at,
        reason: c.comment,
        silenceId: c.silenceId,
      };
    else if (c.action === 'UNSHELVE') alert.shelved = null;
    render();
  }

  function onLive(type, data) {
    if (!loaded) return;
    // Opened (or too much missed): what happened before is the API's to say.
    if (type === 'reset' || type === 'open') {
      load().catch(() => undefined);
    } else if (type === 'alert.raised' || type === 'alert.resolved') {
      const known = alerts.get(data.alertId);
      const alert = { acknowledged: null, shelved: null, ...known, ...data };
      if (!matches(alert)) {
        if (known && alerts.delete(data.alertId)) render();
        return;
      }
      if (known) alerts.set(data.alertId, alert);
      else alerts = new Map([[data.alertId, alert], ...alerts]);
      render();
    } else if (type.startsWith('alert.')) applyCommand(data);
  }
  const unsubscribe = subscribe(onLive);

  async function load() {
    const answer = await api('alerts', { limit: 500, ...query() });
    alerts = new Map(answer.alerts.filter(filter).map((a) => [a.alertId, a]));
    loaded = true;
    render();
  }

  return {
    part,
    /**
     * The page's refresh: a full load the first time, while the stream is down (polling
     * then), and for a list of a range (the range moves with the refresh).
     */
    load: () => (loaded && isLive() && query().from === undefined ? Promise.resolve() : load()),
    destroy: unsubscribe,
  };
}
