import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { bearer, rawAppClient, type RawAppClient } from './support/clients.js';
import { organizationRole } from './support/roles.js';
import { startTestServer, type TestServer } from './support/server.js';
import {
  hasChromium,
  launchBrowser,
  openPage,
  signInWithKey,
  CHROMIUM_PATH,
  assertRequestsStayedOn,
} from './support/browser.js';

/*
 * The console's Members and API keys pages, driven in headless Chromium against a real server,
 * every effect checked through the API itself. FLOTILLA_CONSOLE_DIR, when set, names the built
 * console to serve (otherwise the one `npm run build` made).
 */
const missing = hasChromium() ? undefined : `no Chromium at ${CHROMIUM_PATH}`;
if (missing && process.env.CI === 'true') {
  it('needs Chromium under CI=true', () => assert.fail(missing));
}

/** AuthService.Authenticate over Connect JSON with an API key: the HTTP status and the token, if any. */
async function authenticate(
  url: string,
  id: string,
  key: string,
): Promise<{ status: number; token?: string }> {
  const res = await fetch(`${url}/proto.rpc.v1.AuthService/Authenticate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ entity: id, credentials: { type: 'api-key', payload: key } }),
  });
  const body = (await res.json().catch(() => ({}))) as { accessToken?: string };
  return { status: res.status, token: body.accessToken };
}

/** Everything the page holds as text: what it shows, its input values and its web storage. */
const pageText = (page: Page): Promise<string> =>
  page.evaluate<string>(`[
    document.body.innerText,
    ...[...document.querySelectorAll('input, textarea')].map((e) => e.value),
    JSON.stringify({ ...sessionStorage }),
    JSON.stringify({ ...localStorage }),
  ].join('\\n')`);

describe('web console: members and API keys', { skip: missing }, () => {
  let server: TestServer;
  let browser: Browser;
  let launched: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  let api: RawAppClient;
  let orgId: string;
  let locationId: string;
  let robotId: string;
  const logLines: string[] = [];

  before(async () => {
    server = await startTestServer(
      { dialect: 'sqlite', databaseUrl: undefined, drop: () => Promise.resolve() },
      // info: the invite links the server logs when it sends no mail.
      { FLOTILLA_LOG_LEVEL: 'info' },
      undefined,
      (line) => logLines.push(line),
    );
    api = rawAppClient((await server.clientForKey(server.admin.apiKeyId, server.admin.apiKey)).appClient);
    orgId = server.admin.organizationId;
    locationId = (await api.createLocation({ organizationId: orgId, name: 'North yard' })).location!.id;
    robotId = (await api.newRobot({ name: 'rover-1', location: locationId })).id;
    launched = await launchBrowser();
    browser = launched.browser;
  });
  after(async () => {
    await launched?.close();
    await server?.stop();
  });

  /** A signed-in page as the owner key, with its recorded requests and page errors. */
  async function ownerPage() {
    const opened = await openPage(browser, server.url);
    await signInWithKey(opened.page, server.admin.apiKeyId, server.admin.apiKey);
    return opened;
  }

  const assertSameOrigin = (requests: string[]) => assertRequestsStayedOn(server.url, requests);

  it('creates an API key shown once, rotates, renames and deletes it', async () => {
    const { page, context, requests, pageErrors } = await ownerPage();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await page.getByRole('link', { name: 'API keys' }).click();
    const rows = page.getByRole('table', { name: 'API keys' }).getByRole('row');
    // The owner key `flotilla init` made is listed with its role.
    await rows.filter({ hasText: server.admin.apiKeyId }).getByText('Owner').waitFor();

    const form = page.getByRole('form', { name: 'Create a key' });
    await form.getByLabel('Name').fill('ci-deploy');
    await form.getByLabel('Role').selectOption('operator');
    await form.getByLabel('Scope').selectOption('location');
    await form.getByLabel('Location').selectOption({ label: 'North yard' });
    await form.getByRole('button', { name: 'Create key' }).click();

    const shown = page.getByRole('region', { name: 'Key “ci-deploy” created' });
    await shown.waitFor();
    const id = await shown.getByLabel('Key ID').inputValue();
    const key = await shown.getByLabel('Key', { exact: true }).inputValue();
    assert.ok(id && key.length >= 16, `an id and a key are shown (${id}, ${key.length} characters)`);

    // The server holds the key as asked: the name, operator on the location.
    const listed = (await api.listKeys({ orgId })).apiKeys.find((k) => k.apiKey?.id === id);
    assert.equal(listed?.apiKey?.name, 'ci-deploy');
    assert.deepEqual(
      listed?.authorizations.map((a) => `${a.authorizationId}:${a.resourceType}:${a.resourceId}`),
      [`location_operator:location:${locationId}`],
    );
    const row = rows.filter({ hasText: id });
    await row.getByText('Operator').waitFor();
    await row.getByText('location North yard').waitFor();

    // Copy puts the key on the clipboard.
    await shown.getByRole('button', { name: 'Copy', exact: true }).click();
    await shown.getByText('Key copied to the clipboard.').waitFor();
    assert.equal(await page.evaluate<string>('navigator.clipboard.readText()'), key);

    // The shown key signs in, and its token is accepted (operator: may read its location).
    const signedIn = await authenticate(server.url, id, key);
    assert.equal(signedIn.status, 200);
    assert.ok(signedIn.token);
    const getLocation = await fetch(`${server.url}/viam.app.v1.AppService/GetLocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(signedIn.token).headers },
      body: JSON.stringify({ locationId }),
    });
    assert.equal(getLocation.status, 200, await getLocation.clone().text());

    // Shown once: after leaving the page and coming back, nowhere in the page or its storage.
    assert.ok((await pageText(page)).includes(key), 'the check below can see a shown key');
    await page.getByRole('link', { name: 'Fleet' }).click();
    await page.getByRole('link', { name: 'API keys' }).click();
    await rows.filter({ hasText: id }).waitFor();
    assert.equal(await page.getByRole('region', { name: /created/ }).count(), 0);
    assert.ok(!(await pageText(page)).includes(key), 'the key is not shown again');

    // Rotate (confirmed): a new value shown once; the old one stops working, the new one works.
    await rows.filter({ hasText: id }).getByRole('button', { name: 'Rotate' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate key' }).click();
    const rotated = page.getByRole('region', { name: 'Key “ci-deploy” rotated' });
    await rotated.waitFor();
    assert.equal(await rotated.getByLabel('Key ID').inputValue(), id);
    const newKey = await rotated.getByLabel('Key', { exact: true }).inputValue();
    assert.notEqual(newKey, key);
    assert.equal((await authenticate(server.url, id, key)).token, undefined, 'the old value is dead');
    assert.equal((await authenticate(server.url, id, newKey)).status, 200);
    await rotated.getByRole('button', { name: 'I have stored it' }).click();
    await rotated.waitFor({ state: 'detached' });
    assert.ok(!(await pageText(page)).includes(newKey));

    // Rename.
    await rows.filter({ hasText: id }).getByRole('button', { name: 'Rename' }).click();
    await rows.filter({ hasText: id }).getByLabel('New name').fill('ci-deploy-2');
    await rows.filter({ hasText: id }).getByRole('button', { name: 'Save' }).click();
    await rows.filter({ hasText: id }).getByText('ci-deploy-2', { exact: true }).waitFor();
    assert.equal(
      (await api.listKeys({ orgId })).apiKeys.find((k) => k.apiKey?.id === id)?.apiKey?.name,
      'ci-deploy-2',
    );

    // Delete asks first: cancelling keeps the key.
    await rows.filter({ hasText: id }).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await authenticate(server.url, id, newKey)).status, 200, 'cancel deletes nothing');
    assert.ok((await api.listKeys({ orgId })).apiKeys.some((k) => k.apiKey?.id === id));
    await rows.filter({ hasText: id }).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete key' }).click();
    await rows.filter({ hasText: id }).waitFor({ state: 'detached' });
    assert.ok(!(await api.listKeys({ orgId })).apiKeys.some((k) => k.apiKey?.id === id));
    const refused = await authenticate(server.url, id, newKey);
    assert.equal(refused.token, undefined);
    assert.notEqual(refused.status, 200);
    // The owner key this page uses is untouched.
    assert.equal((await authenticate(server.url, server.admin.apiKeyId, server.admin.apiKey)).status, 200);

    assert.deepEqual(pageErrors, []);
    assertSameOrigin(requests);
    await context.close();
  });

  it('invites a member, who accepts, changes their role and removes them', async () => {
    const { page, context, requests, pageErrors } = await ownerPage();
    await page.getByRole('link', { name: 'Members' }).click();
    const members = page.getByRole('table', { name: 'Members' });
    await members.getByRole('row').filter({ hasText: server.admin.email }).waitFor();

    const email = 'dana@example.com';
    const form = page.getByRole('form', { name: 'Invite someone' });
    await form.getByLabel('Email', { exact: true }).fill(email);
    await form.getByLabel('Role').selectOption('operator');
    await form.getByLabel('Scope').selectOption('robot');
    await form.getByLabel('Machine').selectOption({ label: 'rover-1' });
    await form.getByLabel('Email the invitee a link to accept').uncheck();
    await form.getByRole('button', { name: 'Send invite' }).click();

    const invite = page
      .getByRole('table', { name: 'Pending invites' })
      .getByRole('row')
      .filter({ hasText: email });
    await invite.getByText('machine rover-1 (North yard)').waitFor();
    await invite.getByText('Operator').waitFor();
    const pending = (await api.listOrganizationMembers({ organizationId: orgId })).invites;
    assert.deepEqual(
      pending.map(
        (i) => `${i.email}|${i.authorizations.map((a) => `${a.authorizationId}:${a.resourceId}`).join()}`,
      ),
      [`${email}|robot_operator:${robotId}`],
    );

    // Dana accepts through the link the server logged (no mail was asked for).
    const logged = logLines
      .map((l) => JSON.parse(l) as { email?: string; link?: string })
      .find((l) => l.email === email && l.link);
    assert.ok(logged?.link, 'the server logged the invite link');
    const accepted = await fetch(logged.link, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ password: 'dana-long-password' }).toString(),
    });
    assert.equal(accepted.status, 200, await accepted.text());

    await page.getByRole('button', { name: 'Refresh' }).click();
    const dana = members.getByRole('row').filter({ hasText: email });
    await dana.waitFor();
    assert.equal(await invite.count(), 0, 'the accepted invite is no longer pending');
    const roleSelect = dana.getByRole('combobox', {
      name: `Role of ${email} on machine rover-1 (North yard)`,
    });
    assert.equal(await roleSelect.inputValue(), 'operator');

    // Operator → owner (ChangeRole).
    await roleSelect.selectOption('owner');
    await page
      .getByRole('status')
      .getByText(`${email} is now owner of machine rover-1 (North yard).`)
      .waitFor();
    const userId = (await api.listOrganizationMembers({ organizationId: orgId })).members.find(
      (m) => m.emails[0] === email,
    )?.userId;
    assert.ok(userId);
    const rolesOf = async () =>
      (await api.listAuthorizations({ organizationId: orgId })).authorizations
        .filter((a) => a.identityId === userId)
        .map((a) => `${a.authorizationId}:${a.resourceId}`)
        .sort();
    assert.deepEqual(await rolesOf(), [`robot_owner:${robotId}`]);

    // A second role (AddRole), then removing the first (RemoveRole).
    await dana.getByRole('button', { name: `Add a role for ${email}` }).click();
    const adding = page.getByRole('form', { name: `Add a role for ${email}` });
    await adding.getByLabel('Role').selectOption('operator');
    await adding.getByLabel('Scope').selectOption('location');
    await adding.getByLabel('Location').selectOption({ label: 'North yard' });
    await adding.getByRole('button', { name: 'Add role' }).click();
    await dana.getByRole('combobox', { name: `Role of ${email} on location North yard` }).waitFor();
    assert.deepEqual(await rolesOf(), [`location_operator:${locationId}`, `robot_owner:${robotId}`].sort());
    await dana
      .getByRole('button', { name: `Remove the role of ${email} on machine rover-1 (North yard)` })
      .click();
    await dana
      .getByRole('combobox', { name: `Role of ${email} on machine rover-1 (North yard)` })
      .waitFor({ state: 'detached' });
    assert.deepEqual(await rolesOf(), [`location_operator:${locationId}`]);

    // Removing the member asks first, then takes every role away.
    await dana.getByRole('button', { name: 'Remove', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove member' }).click();
    await dana.waitFor({ state: 'detached' });
    assert.deepEqual(await rolesOf(), []);
    assert.ok(
      !(await api.listOrganizationMembers({ organizationId: orgId })).members.some(
        (m) => m.userId === userId,
      ),
    );

    assert.deepEqual(pageErrors, []);
    assertSameOrigin(requests);
    await context.close();
  });

  it('lists an invite with its role, resends and deletes it', async () => {
    const { page, context, requests, pageErrors } = await ownerPage();
    await page.getByRole('link', { name: 'Members' }).click();
    const email = 'eli@example.com';
    const form = page.getByRole('form', { name: 'Invite someone' });
    await form.getByLabel('Email', { exact: true }).fill(email);
    await form.getByLabel('Role').selectOption('owner');
    await form.getByRole('button', { name: 'Send invite' }).click();
    const invite = page
      .getByRole('table', { name: 'Pending invites' })
      .getByRole('row')
      .filter({ hasText: email });
    await invite.getByText('organization Org A').waitFor();
    await invite.getByText('Owner').waitFor();
    const stored = (await api.listOrganizationMembers({ organizationId: orgId })).invites.find(
      (i) => i.email === email,
    );
    assert.deepEqual(
      stored?.authorizations.map((a) => `${a.authorizationId}:${a.resourceType}:${a.resourceId}`),
      [`organization_owner:organization:${orgId}`],
    );

    // The same email again: the server's refusal is shown, not swallowed.
    await form.getByLabel('Email', { exact: true }).fill(email);
    await form.getByRole('button', { name: 'Send invite' }).click();
    await form
      .getByRole('alert')
      .getByText(/Already exists/)
      .waitFor();

    const linksBefore = logLines.filter((l) => l.includes(email)).length;
    await invite.getByRole('button', { name: `Resend the invite to ${email}` }).click();
    await page.getByRole('status').getByText(`Sent the invite to ${email} again.`).waitFor();
    assert.equal(
      logLines.filter((l) => l.includes(email)).length,
      linksBefore + 1,
      'the link went out again',
    );

    await invite.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete invite' }).click();
    await invite.waitFor({ state: 'detached' });
    assert.ok(
      !(await api.listOrganizationMembers({ organizationId: orgId })).invites.some((i) => i.email === email),
    );

    assert.deepEqual(pageErrors, []);
    assertSameOrigin(requests);
    await context.close();
  });

  it('shows the server refusing an operator both pages', async () => {
    const issued = await api.createKey({
      name: 'an operator',
      authorizations: [organizationRole('operator', orgId)],
    });
    const { page, context, requests } = await openPage(browser, server.url);
    await signInWithKey(page, issued.id, issued.key);
    assert.equal(await page.getByRole('link', { name: 'API keys' }).count(), 0, 'no link for an operator');
    for (const path of ['/keys', '/members']) {
      await page.goto(path);
      await page
        .getByRole('alert')
        .getByText(/Permission denied/)
        .waitFor();
      assert.equal(await page.getByRole('form').count(), 0, `${path} offers nothing to submit`);
    }
    assertSameOrigin(requests);
    await context.close();
  });
});
