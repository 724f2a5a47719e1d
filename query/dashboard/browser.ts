/**
 * Headless Chromium for the dashboard's browser tests and the screenshot tool (Debian's
 * chromium, driven by playwright-core, a dev dependency).
 * The dashboard runs under a strict Content-Security-Policy, which forbids `eval` in the
 * page: Playwright's string predicates of `waitForFunction` are evaluated that way, so the
 * tests poll with `evaluate` (sent over the DevTools protocol, outside the page's policy).
 */
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** Polls a page expression until it is truthy; a timeout is an error naming the expression. */
export async function waitForPage(page: Page, expression: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
