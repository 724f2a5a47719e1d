/**
 * A device's page (`/devices/<id>`): its latest state decides the kind, and the kind's
 * page (truck, turbine, solar) draws it. The crumbs lead back to its site and the fleet.
 */
import { api, encodeId, QUERYABLE_ID } from '../api.js';
import { note, section } from '../dom.js';
import { solarPage } from './solar.js';
import { truckPage } from './truck.js';
import { turbinePage } from './turbine.js';

const PAGES = { truck: truckPage, turbine: turbinePage, solar: solarPage };

export function devicePage(ctx, deviceId) {
  const holder = section('device', deviceId, { className: 'wide' });
  let inner;
  return {
    title: deviceId,
    crumbs: [{ text: deviceId }],
    sections: [holder.node],
    async refresh() {
      if (!inner) {
        if (!QUERYABLE_ID.test(deviceId)) {
          holder.body.replaceChildren(
            note('this id cannot be shown: it is not a valid device id (stored before ids were validated)'),
          );
          return;
        }
        let state;
        try {
          state = (await api(`devices/${encodeId(deviceId)}/state`)).state;
        } catch (error) {
          holder.error.hidden = false;
          holder.error.textContent =
            error.status === 404 ? `no device ${deviceId} has reported` : `Could not load: ${error.message}`;
          return;
        }
        inner = PAGES[state.kind](ctx, state);
        ctx.setCrumbs([{ text: state.siteId, page: 'site', id: state.siteId }, { text: deviceId }]);
        holder.node.replaceWith(...inner.sections);
        document.body.dataset.deviceKind = state.kind;
      }
      await inner.refresh();
    },
    destroy: () => inner?.destroy?.(),
  };
}
