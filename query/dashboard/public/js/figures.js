/**
 * Key figures as a definition list. Each value keeps the API's raw number in `data-value`
 * (JSON) beside its text, so the browser tests compare both with the API's answer.
 */
import { el } from './dom.js';
import { formatFigure } from './format.js';

/** [{key, label, value, digits, unit, scale}] → <dl> with data-figure, data-value. */
export function figures(items) {
  const dl = el('dl', { class: 'figures' });
  for (const item of items) {
    dl.append(
      el('dt', {}, item.label),
      el(
        'dd',
        {
          'data-figure': item.key,
          'data-value': JSON.stringify(item.value ?? null),
          'data-digits': item.digits ?? 0,
          'data-unit': item.unit || undefined,
          'data-scale': item.scale && item.scale !== 1 ? item.scale : undefined,
        },
        formatFigure(item.value, item),
      ),
    );
  }
  return dl;
}
