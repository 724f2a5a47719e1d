/**
 * CSV export of the API's answers (RFC 4180), pure. Every cell is quoted when it holds a
 * comma, a quote, a carriage return or a line feed (quotes doubled). Exports are opened in
 * spreadsheets, and the values are data anyone able to produce to Kafka wrote: a cell
 * that starts with `=`, `+`, `-` or `@` (or a tab or carriage return, which some programs
 * skip before looking) would be run as a formula ("CSV injection"), so such a text cell is
 * prefixed with a single quote, which spreadsheets show as text. Numbers are written as
 * numbers (a negative number is a number, not a formula), null as an empty cell.
 */

export interface CsvColumn<R> {
  header: string;
  value: (row: R) => unknown;
}

/** Characters that make a spreadsheet read a cell as a formula when they come first. */
const FORMULA_START = /^[=+\-@\t\r]/;

/** One cell, quoted and guarded as needed. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text: string;
  if (typeof value === 'number') {
    // Non-finite numbers have no CSV form a spreadsheet reads as a number: left empty.
    if (!Number.isFinite(value)) return '';
    text = String(value);
  } else if (typeof value === 'boolean') text = value ? 'true' : 'false';
  else {
    text = typeof value === 'string' ? value : JSON.stringify(value);
    if (FORMULA_START.test(text)) text = `'${text}`;
  }
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A whole document: a header line, then one line per row, CRLF line ends (RFC 4180). */
export function toCsv<R>(columns: readonly CsvColumn<R>[], rows: Iterable<R>): string {
  const lines = [columns.map((c) => csvCell(c.header)).join(',')];
  for (const row of rows) lines.push(columns.map((c) => csvCell(c.value(row))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
