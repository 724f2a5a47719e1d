/**
 * The one rule for device and site ids, shared by ingestion (schemas/validate.ts refuses
 * other ids, so they reach the dead-letter topic instead of the tables) and the query API
 * (which refuses them in requests). Ids are short and URL-, label- and HTML-safe by
 * construction: 1–128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit.
 */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export const ID_MAX_LENGTH = 128;

export const ID_RULE_TEXT = "1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit";

export function isValidId(value: string): boolean {
  return ID_PATTERN.test(value);
}
