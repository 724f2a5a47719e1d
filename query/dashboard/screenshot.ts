/**
 * Saves a screenshot of the built-in dashboard of a running `fleetgrid serve`, e.g. during
 * `make demo`, with Debian's headless Chromium (the browser test's setup, docs/dashboards.md):
 *
 *   node query/dashboard/screenshot.ts [url] [file]
 *     url   default http://127.0.0.1:8080/
 *     file  default .data/screenshots/dashboard-live.png (git-ignored)
 *
 * It waits for the page's first complete refresh (every section loaded or failed) and
 * prints the file's path. A dev tool: playwright-core is a dev dependency.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { launchChromium, waitForPage } from './browser.ts';

export async function screenshot(url: string, file: string): Promise<string> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
    await page.goto(url);
    await waitForPage(page, 'Number(document.body.dataset.refreshes || 0) >= 1', 60_000);
    mkdirSync(dirname(file), { recursive: true });
    await page.screenshot({ path: file, fullPage: true });
    return file;
  } finally {
    await browser.close();
  }
}

if (import.meta.main) {
  const url = process.argv[2] ?? 'http://127.0.0.1:8080/';
  const file = resolve(process.argv[3] ?? join(PROJECT_ROOT, '.data', 'screenshots', 'dashboard-live.png'));
  screenshot(url, file).then(
    (saved) => console.log(saved),
    (error: unknown) => {
      console.error(`screenshot of ${url} failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
