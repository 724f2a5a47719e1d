import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ID_PATTERN } from '../schemas/ids.ts';
import { DEFAULT_DASHBOARD_DIR } from './server.ts';

const JS = join(DEFAULT_DASHBOARD_DIR, 'js');
/** Every module of the page, pages/ included. */
const MODULES = readdirSync(JS, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.js'))
  .map((file) => ({ file, text: readFileSync(join(JS, file), 'utf8') }));

describe('the built-in dashboard scripts', () => {
  it('are ES modules split by page and concern', () => {
    const files = MODULES.map((m) => m.file).sort();
    for (const file of ['app.js', 'api.js', 'alerts.js', 'map.js', 'charts.js', 'labels.js', 'router.js'])
      expect(files).toContain(file);
    for (const page of ['fleet', 'site', 'device', 'truck', 'turbine', 'solar'])
      expect(files).toContain(join('pages', `${page}.js`));
  });

  it('ask the API only for ids of the API’s own rule (schemas/ids.ts)', () => {
    const api = MODULES.find((m) => m.file === 'api.js')?.text ?? '';
    const literal = /export const QUERYABLE_ID = \/(.+)\/;/.exec(api)?.[1];
    expect(literal).toBe(ID_PATTERN.source);
  });

  it('never hand data to an HTML parser, nor keep the token in storage', () => {
    for (const { file, text } of MODULES) {
      // Leaflet parses string content of popups, tooltips and div icons as HTML: only nodes or nothing.
      expect(text, file).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\.html\(|html:/);
      expect(text, file).not.toMatch(/bindPopup\(|setContent\(\s*[`'"]|bindTooltip\(|addAttribution\(/);
      expect(text, file).not.toMatch(/sessionStorage\.setItem|localStorage/);
      // No inline style attribute (the CSP forbids it); CSSOM properties are allowed.
      expect(text, file).not.toMatch(/setAttribute\(\s*['"]style['"]/);
    }
  });
});
