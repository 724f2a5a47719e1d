/**
 * Drill-down routes with the history API: `/` (fleet), `/sites/<id>` and `/devices/<id>`,
 * each a URL of its own that the server answers with this page (query/server.ts
 * isDashboardRoute). Links are real `<a href>` elements, so the keyboard (Tab, Enter) and
 * "open in a new tab" work; a plain click is handled here without reloading the page.
 */
export function matchRoute(pathname) {
  const site = /^\/sites\/([^/]+)\/?$/.exec(pathname);
  if (site) return { page: 'site', id: decodeURIComponent(site[1]) };
  const device = /^\/devices\/([^/]+)\/?$/.exec(pathname);
  if (device) return { page: 'device', id: decodeURIComponent(device[1]) };
  return { page: 'fleet' };
}

/** The URL of a page, keeping the range of the current view. */
export function hrefOf(page, id) {
  const search = location.search;
  if (page === 'site') return `/sites/${encodeURIComponent(id)}${search}`;
  if (page === 'device') return `/devices/${encodeURIComponent(id)}${search}`;
  return `/${search}`;
}

export function startRouter(render) {
  document.addEventListener('click', (event) => {
    const link = event.target instanceof Element ? event.target.closest('a[href]') : null;
    if (!link || link.origin !== location.origin || link.target || link.hasAttribute('download')) return;
    if (
      event.defaultPrevented ||
      event.button !== 0 ||
      event.metaKey ||
      event.ctrlKey ||
      event.shiftKey ||
      event.altKey
    )
      return;
    const route = matchRoute(link.pathname);
    if (route.page === 'fleet' && link.pathname !== '/') return;
    event.preventDefault();
    navigate(link.pathname + link.search);
  });
  window.addEventListener('popstate', () => render(matchRoute(location.pathname)));
  function navigate(url) {
    history.pushState(null, '', url);
    render(matchRoute(location.pathname));
  }
  return navigate;
}
