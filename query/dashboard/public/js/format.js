/**
 * Number and time formats of the dashboard, pure (the browser tests apply the same rules
 * to the API's answers to check the text on the page).
 */

/** en-US grouping, at most `digits` decimals; null → an en dash. */
export function formatNumber(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return '–';
  return new Intl.NumberFormat('en-US', { maximumFractionDigits: digits }).format(Number(value));
}

/** A figure with its unit, `scale` applied first (e.g. 100 for a share shown in %). */
export function formatFigure(value, { digits = 0, unit = '', scale = 1 } = {}) {
  if (value === null || value === undefined) return '–';
  return `${formatNumber(Number(value) * scale, digits)}${unit ? ` ${unit}` : ''}`;
}

export function formatAge(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 120) return `${formatNumber(seconds, 0)} s`;
  if (seconds < 7200) return `${formatNumber(seconds / 60, 1)} min`;
  return `${formatNumber(seconds / 3600, 1)} h`;
}

/** An ISO time as `YYYY-MM-DD HH:MM:SS` (UTC); null → an en dash. */
export const time = (iso) => (iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 19) : '–');

/** A duration in seconds as h/min/s for people. */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 60) return `${formatNumber(seconds, 0)} s`;
  if (seconds < 3600) return `${formatNumber(seconds / 60, 1)} min`;
  return `${formatNumber(seconds / 3600, 1)} h`;
}
