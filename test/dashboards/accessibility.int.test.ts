/**
 * Accessibility of the built-in dashboard's pages, checked by axe-core (npm) injected into
 * each page in headless Chromium: the WCAG 2.1 A and AA rules (contrast, labels, names of
 * controls and links, document structure) and axe's best practices (landmarks: every
 * content inside one, one main, unique names; headings in order). The page runs under its
 * Content-Security-Policy; axe is evaluated over the DevTools protocol, outside the policy.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, waitForPage } from '../../query/dashboard/browser.ts';
import { type DashboardWorld, startDashboardWorld } from './dashboard-world.ts';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface Violation {
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

const PAGES: [name: string, path: string, kind: string][] = [
  ['fleet', '/', 'fleet'],
  ['site', '/sites/plant-northsea', 'site'],
  ['truck', '/devices/truck-001', 'device'],
  ['turbine', '/devices/turbine-002', 'device'],
  ['solar', '/devices/solar-001', 'device'],
];

describe('the dashboard pages meet WCAG 2.1 AA as axe-core checks it', () => {
  let world: DashboardWorld;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    world = await startDashboardWorld('a11y');
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
  });

  afterAll(async () => {
    await browser?.close();
    await world?.stop();
  });

  async function audit(): Promise<{ violations: Violation[]; passes: string[] }> {
    await page.evaluate(AXE);
    return (await page.evaluate(`axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    }).then((r) => ({ passes: r.passes.map((p) => p.id), violations: r.violations.map((v) => ({ id: v.id,
      impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) })) }))`)) as {
      violations: Violation[];
      passes: string[];
    };
  }

  for (const [name, path, kind] of PAGES) {
    it(`${name} page: no violation`, async () => {
      await page.goto(`${world.origin}${path}`);
      await waitForPage(
        page,
        `document.body.dataset.page === '${kind}' && Number(document.body.dataset.refreshes || 0) >= 1`,
      );
      // The map's labels and the charts are drawn after the data: let them settle.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const { violations, passes } = await audit();
      expect(violations).toEqual([]);
      // axe checked what this test is about on this page: contrast, labels, landmarks.
      expect(passes).toEqual(
        expect.arrayContaining(['color-contrast', 'select-name', 'link-name', 'landmark-one-main', 'region']),
      );
    });
  }

  it('finds a planted fault: the audit can fail', async () => {
    await page.goto(`${world.origin}/`);
    await waitForPage(
      page,
      "document.body.dataset.page === 'fleet' && Number(document.body.dataset.refreshes || 0) >= 1",
    );
    await page.evaluate(`(() => { const i = document.createElement('input'); i.type = 'text';
      document.querySelector('main').append(i); const p = document.createElement('p'); p.textContent = 'faint';
      p.style.color = '#eeeeee'; document.querySelector('main').append(p); })()`);
    const { violations } = await audit();
    expect(violations.map((v) => v.id)).toEqual(expect.arrayContaining(['label', 'color-contrast']));
  });
});
