import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { structFromObject } from '../src/rpc/wire-values.js';
import { allAuditEvents } from './support/audit.js';
import { rawAppClient, type RawAppClient } from './support/clients.js';
import { organizationRole } from './support/roles.js';
import { startTestServer, type TestServer } from './support/server.js';
import {
  hasChromium,
  launchBrowser,
  openPage,
  signInWithKey,
  CHROMIUM_PATH,
  assertRequestsStayedOn,
  screenshot,
} from './support/browser.js';

/*
 * The console's Audit page, driven in headless Chromium against a real server: changes made
 * through the SDK are listed newest first, filtered, paged and unfolded as `GET /api/audit`
 * answers them; an operator gets no nav entry and sees the server's refusal.
 */
const missing = hasChromium() ? undefined : `no Chromium at ${CHROMIUM_PATH}`;
if (missing && process.env.CI === 'true') {
  it('needs Chromium under CI=true', () => assert.fail(missing));
}

describe('web console: audit log', { skip: missing }, () => {
  let server: TestServer;
  let browser: Browser;
  let launched: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  let api: RawAppClient;
  let orgId: string;
  let dockId: string;
  let yardId: string;
  let operator: { id: string; key: string };

  before(async () => {
    server = await startTestServer({
      dialect: 'sqlite',
      databaseUrl: undefined,
      drop: () => Promise.resolve(),
    });
    const admin = (await server.clientForKey(server.admin.apiKeyId, server.admin.apiKey)).appClient;
    api = rawAppClient(admin);
    orgId = server.admin.organizationId;
    // Oldest to newest (after `flotilla init`'s): CreateLocation ×2, NewRobot, UpdateRobotPart (its
    // config: recorded with the changes), UpdateLocation ×2, CreateKey.
    yardId = (await api.createLocation({ organizationId: orgId, name: 'Yard' })).location!.id;
    dockId = (await api.createLocation({ organizationId: orgId, name: 'Dock' })).location!.id;
    const part = (await admin.getRobotParts(await admin.newRobot(yardId, 'rover-1')))[0]!;
    const motor = {
      name: 'm',
      api: 'rdk:component:motor',
      model: 'rdk:builtin:fake',
      attributes: { pin: 7 },
    };
    await admin.updateRobotPart(part.id, part.name, structFromObject({ components: [motor] }));
    await api.updateLocation({ locationId: yardId, name: 'Yard 2' });
    await api.updateLocation({ locationId: dockId, name: 'Dock 2' });
    const issued = await api.createKey({
      name: 'an operator',
      authorizations: [organizationRole('operator', orgId)],
    });
    operator = { id: issued.id, key: issued.key };
    launched = await launchBrowser();
    browser = launched.browser;
  });
  after(async () => {
    await launched?.close();
    await server?.stop();
  });

  /** Every event of the organization (or those `filters` select), newest first, through the route. */
  const allEvents = async (filters: Record<string, string> = {}) =>
    allAuditEvents(server.url, await server.adminToken(), orgId, filters);

  const assertSameOrigin = (requests: string[]) => assertRequestsStayedOn(server.url, requests);

  const table = (page: Page) => page.getByRole('table', { name: 'Audit events' });
  const rows = (page: Page) => table(page).locator('tbody tr');
  /** Waits for a list to be shown (the status counts its events), and reads its rows' methods. */
  async function shownMethods(page: Page): Promise<string[]> {
    await page
      .getByRole('status')
      .getByText(/^\d+ events?\b/)
      .waitFor();
    return rows(page).locator('td:nth-child(3) > span.mono').allInnerTexts();
  }

  it('lists the changes newest first, unfolds one, filters by resource and pages', async () => {
    const { page, context, requests, pageErrors } = await openPage(browser, server.url);
    await signInWithKey(page, server.admin.apiKeyId, server.admin.apiKey);
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('heading', { name: 'Audit' }).waitFor();

    const events = await allEvents();
    const shown = await shownMethods(page);
    assert.deepEqual(
      shown.slice(0, 7),
      [
        'CreateKey',
        'UpdateLocation',
        'UpdateLocation',
        'UpdateRobotPart',
        'NewRobot',
        'CreateLocation',
        'CreateLocation',
      ],
      'the changes made, newest first',
    );
    assert.deepEqual(
      shown,
      events.slice(0, shown.length).map((e) => e.method),
      'the first page the route answers, in its order',
    );
    // Who and what: the owner key, by kind; each change's resources as type:id.
    const first = rows(page).first();
    await first.getByText('API key', { exact: true }).waitFor();
    assert.ok((await first.innerText()).includes(operator.id), 'CreateKey names the new key');
    await rows(page)
      .nth(1)
      .getByRole('button', { name: `Filter by resource location:${dockId}` })
      .waitFor();
    await rows(page)
      .nth(2)
      .getByRole('button', { name: `Filter by resource location:${yardId}` })
      .waitFor();
    assert.equal(await first.locator('details').count(), 0, 'no fold-out without changes');

    // The changes of an event unfold (from the keyboard) as the JSON the route recorded.
    const withChanges = events.findIndex((e) => e.method === 'UpdateRobotPart');
    assert.ok(events[withChanges]?.changes, 'a config change records what changed');
    const folded = rows(page).nth(withChanges);
    const pre = folded.locator('details pre');
    assert.equal(await pre.isVisible(), false, 'folded at first');
    await folded.getByText('Changes', { exact: true }).focus();
    await page.keyboard.press('Enter');
    await pre.waitFor({ state: 'visible' });
    assert.deepEqual(JSON.parse(await pre.innerText()), events[withChanges]?.changes);
    await screenshot(page, 'audit');

    // Filtered by the Dock's id: its rename and its creation only, and the address says so.
    const filters = page.getByRole('form', { name: 'Audit filters' });
    await filters.getByLabel('Resource ID').fill(dockId);
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('status').getByText('2 events matching the filters.').waitFor();
    assert.deepEqual(await shownMethods(page), ['UpdateLocation', 'CreateLocation']);
    assert.equal(new URL(page.url()).searchParams.get('resource'), dockId);
    assert.ok(
      requests.some(
        (u) => u.includes('/api/audit?') && new URL(u).searchParams.get('resource_id') === dockId,
      ),
      'the filter went to the server',
    );
    // …and by method as well.
    await filters.getByLabel('Method').fill('CreateLocation');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('status').getByText('1 event matching the filters.').waitFor();
    assert.deepEqual(await shownMethods(page), ['CreateLocation']);
    // A time range ending before the changes leaves nothing.
    await filters.getByLabel('Method').fill('');
    await filters.getByLabel('To').fill('2001-01-01T00:00:00');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('status').getByText('0 events matching the filters.').waitFor();
    await table(page).getByText('No event matches the filters.').waitFor();
    await filters.getByRole('button', { name: 'Clear filters' }).click();
    await page
      .getByRole('status')
      .getByText(/^\d+ events(, and older ones)?\.$/)
      .waitFor();
    assert.equal(new URL(page.url()).search, '');
    // Pressing a resource's id filters by it.
    await rows(page)
      .nth(2)
      .getByRole('button', { name: `Filter by resource location:${yardId}` })
      .press('Enter');
    await page
      .getByRole('status')
      .getByText(/matching the filters/)
      .waitFor();
    assert.equal(await filters.getByLabel('Resource ID').inputValue(), yardId);
    assert.deepEqual(
      await shownMethods(page),
      (await allEvents({ resource_id: yardId })).map((e) => e.method),
    );
    assert.ok((await shownMethods(page)).includes('UpdateLocation'));

    // Two at a time (`?limit=2`): Load more until the oldest, the same events as the route has.
    await page.goto('/audit?limit=2');
    assert.deepEqual(await shownMethods(page), ['CreateKey', 'UpdateLocation']);
    const more = page.getByRole('button', { name: 'Load more' });
    for (let shownCount = 2; shownCount < events.length; shownCount += 2) {
      await more.click();
      await rows(page)
        .nth(Math.min(shownCount + 2, events.length) - 1)
        .waitFor();
    }
    await more.waitFor({ state: 'detached' });
    assert.deepEqual(
      await rows(page).locator('td:nth-child(3) > span.mono').allInnerTexts(),
      events.map((e) => e.method),
    );
    const audits = requests.filter((u) => u.includes('/api/audit?')).slice(-Math.ceil(events.length / 2));
    assert.ok(
      audits.every((u) => new URL(u).searchParams.get('limit') === '2'),
      'every page asked for two events',
    );
    assert.ok(
      audits.slice(1).every((u) => new URL(u).searchParams.get('page_token')),
      'each further page named the token of the one before',
    );

    assert.deepEqual(pageErrors, []);
    assertSameOrigin(requests);
    await context.close();
  });

  it('offers an operator no Audit entry, and shows the server refusing the page', async () => {
    const { page, context, requests, pageErrors } = await openPage(browser, server.url);
    await signInWithKey(page, operator.id, operator.key);
    assert.equal(await page.getByRole('link', { name: 'Audit' }).count(), 0, 'no link for an operator');
    await page.goto('/audit');
    const refusal = page.getByRole('alert');
    await refusal.getByText(/HTTP 403/).waitFor();
    assert.ok(
      (await refusal.innerText()).replace(/\(HTTP 403\)/, '').trim().length > 0,
      'the reason in words',
    );
    assert.equal(await table(page).count(), 0, 'no events are shown');
    assert.deepEqual(pageErrors, []);
    assertSameOrigin(requests);
    await context.close();
  });
});
