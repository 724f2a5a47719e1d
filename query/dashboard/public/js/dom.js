/**
 * DOM helpers. Every value from the data (ids, sites, codes, messages) is set as text
 * (`textContent`) or as an attribute, never parsed as HTML: the stored values are written
 * by whoever can produce to Kafka (docs/security.md). query/dashboard.test.ts checks that
 * no module hands anything to an HTML parser.
 */

/** An element with attributes and optional text content. */
export function el(tag, attributes = {}, text = undefined) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    node.setAttribute(key, value === true ? '' : String(value));
  }
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** An element with children (nodes or strings, which become text). */
export function h(tag, attributes = {}, ...children) {
  const node = el(tag, attributes);
  node.append(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return node;
}

/**
 * A page section: a landmark with a heading, a body, and its own error line. Each section
 * loads on its own: one failing endpoint shows its error here and leaves the others alone.
 */
export function section(id, title, { className = '' } = {}) {
  const heading = el('h2', { id: `${id}-title` }, title);
  const body = el('div', { class: 'section-body' });
  const error = el('p', { class: 'error', 'data-error-for': id, role: 'alert', hidden: true });
  const node = h(
    'section',
    { id, class: `panel ${className}`.trim(), 'aria-labelledby': `${id}-title` },
    heading,
    body,
    error,
  );
  return { node, heading, body, error };
}

/** Runs a section's loader, showing its error (or clearing it). */
export async function load(part, loader) {
  try {
    await loader();
    part.error.hidden = true;
    part.error.textContent = '';
  } catch (error) {
    part.error.hidden = false;
    part.error.textContent = `Could not load: ${error?.message ?? error}`;
  }
}

/** A definition list of figures: [label, value text, data attributes]. */
export function figureList(items) {
  const dl = el('dl', { class: 'figures' });
  for (const item of items) {
    dl.append(el('dt', {}, item.label), el('dd', { ...item.data }, item.text));
  }
  return dl;
}

/** A table with a header row and rows of cells (text or nodes); `caption` names it for screen readers. */
export function table({ caption, columns, rows, className = '' }) {
  const head = h(
    'thead',
    {},
    h(
      'tr',
      {},
      columns.map((c) => el('th', { scope: 'col', class: c.num ? 'num' : undefined }, c.label)),
    ),
  );
  const body = h(
    'tbody',
    {},
    rows.map((row) =>
      h(
        'tr',
        row.attributes ?? {},
        row.cells.map((cell, i) =>
          cell instanceof Node
            ? h('td', { class: columns[i]?.num ? 'num' : undefined }, cell)
            : el('td', { class: columns[i]?.num ? 'num' : undefined }, cell),
        ),
      ),
    ),
  );
  return h(
    'table',
    { class: className || undefined },
    el('caption', { class: 'visually-hidden' }, caption),
    head,
    body,
  );
}

/** A muted note (e.g. "no data yet"). */
export const note = (text, attributes = {}) => el('p', { class: 'muted note', ...attributes }, text);
