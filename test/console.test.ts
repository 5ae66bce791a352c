import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from './support/server.js';
import { hasChromium, launchBrowser, openPage, signInWithKey, CHROMIUM_PATH } from './support/browser.js';

/*
 * The web console, built by `npm run build` and served by the real server, driven in headless
 * Chromium (Debian's package; .ci/run installs it). It talks to the server over gRPC-web like
 * any client, so SQLite is enough here: the API itself is tested on both dialects elsewhere.
 */
const missing = hasChromium() ? undefined : `no Chromium at ${CHROMIUM_PATH}`;
if (missing && process.env.CI === 'true') {
  it('needs Chromium under CI=true', () => assert.fail(missing));
}

describe('web console', { skip: missing }, () => {
  let server: TestServer;
  let browser: Browser;
  let launched: Awaited<ReturnType<typeof launchBrowser>> | undefined;

  before(async () => {
    server = await startTestServer({
      dialect: 'sqlite',
      databaseUrl: undefined,
      drop: () => Promise.resolve(),
    });
    launched = await launchBrowser();
    browser = launched.browser;
  });
  after(async () => {
    await launched?.close();
    await server?.stop();
  });

  it('signs in with an API key and with a password, and signs out', async () => {
    const { page, context } = await openPage(browser, server.url);
    await signInWithKey(page, server.admin.apiKeyId, server.admin.apiKey);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Email').fill(server.admin.email);
    await page.getByLabel('Password').fill(server.admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(server.admin.email).waitFor();
    await context.close();
  });
});
