import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's chromium (installed by .ci/run), or FLOTILLA_TEST_CHROMIUM. */
export const CHROMIUM_PATH = process.env.FLOTILLA_TEST_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Where the browser tests save their screenshots: the README's (docs/screenshots/) with
 * FLOTILLA_UPDATE_SCREENSHOTS=1, otherwise a folder under the system's temp directory, so that a
 * test run leaves the checkout as it was.
 */
export const SCREENSHOT_DIR =
  process.env.FLOTILLA_UPDATE_SCREENSHOTS === '1'
    ? new URL('../../docs/screenshots/', import.meta.url).pathname
    : join(tmpdir(), 'flotilla-screenshots');

export const hasChromium = () => existsSync(CHROMIUM_PATH);

/**
 * Headless Chromium with the flags this closed network needs (no background connections to
 * Google's hosts); Playwright gives it a throwaway profile.
 */
export async function launchBrowser(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

/** A page in a fresh context (its own sessionStorage), recording every URL it requests. */
export async function openPage(
  browser: Browser,
  baseUrl: string,
): Promise<{ page: Page; context: BrowserContext; requests: string[]; pageErrors: string[] }> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const requests: string[] = [];
  const pageErrors: string[] = [];
  page.on('request', (req) => requests.push(req.url()));
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.setDefaultTimeout(10_000);
  return { page, context, requests, pageErrors };
}

/** Saves a screenshot of the page as SCREENSHOT_DIR/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}

/** Signs in on the console's sign-in page with an API key, and waits for the Fleet page. */
export async function signInWithKey(page: Page, id: string, key: string): Promise<void> {
  await page.goto('/');
  await page.getByRole('tab', { name: 'API key' }).click();
  await page.getByLabel('API key ID').fill(id);
  await page.getByLabel('API key', { exact: true }).fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Fleet' }).waitFor();
}

/** Fails unless every request the page made went to the server at `serverUrl` (and it made some). */
export function assertRequestsStayedOn(serverUrl: string, requests: readonly string[]): void {
  const origin = new URL(serverUrl).origin;
  assert.ok(requests.length > 0);
  assert.deepEqual(
    requests.filter((u) => new URL(u).origin !== origin),
    [],
    'every request goes to the server itself',
  );
}
