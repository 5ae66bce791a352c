import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import type { AppClient } from '@viamrobotics/sdk';
import type { Browser, Page } from 'playwright-core';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { RobotService } from '../src/rpc/service-descriptors.generated.js';
import { structFromObject } from '../src/rpc/wire-values.js';
import { startTestServer, type TestServer } from './support/server.js';
import { bearer, grpcTransport } from './support/clients.js';
import { organizationRole, roleAuthorization } from './support/roles.js';
import {
  CHROMIUM_PATH,
  hasChromium,
  launchBrowser,
  openPage,
  screenshot,
  signInWithKey,
} from './support/browser.js';

/*
 * The web console, built by `npm run build` and served by the real server, driven in headless
 * Chromium (Debian's package; .ci/run installs it). It talks to the server over gRPC-web like
 * any client, so SQLite is enough here: the API itself is tested on both dialects elsewhere.
 * The pages it visits are saved as the README's screenshots (docs/screenshots/).
 */
const missing = hasChromium() ? undefined : `no Chromium at ${CHROMIUM_PATH}`;
if (missing && process.env.CI === 'true') {
  it('needs Chromium under CI=true', () => assert.fail(missing));
}

const AGENT_INFO = {
  host: 'rover-7.lan',
  os: 'linux',
  ips: ['192.168.1.37'],
  version: '0.52.0',
  gitRevision: 'abc123',
  platform: 'linux/arm64',
};

describe('web console', { skip: missing }, () => {
  let server: TestServer;
  let browser: Browser;
  let launched: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  let admin: AppClient;
  let robot: PromiseClient<typeof RobotService>;
  let auth: PromiseClient<typeof AuthService>;
  let page: Page;
  let requests: string[];
  let pageErrors: string[];
  /** The machine the owner creates through the console, and its main part. */
  let machineId = '';
  let partId = '';
  let partToken = '';

  before(async () => {
    server = await startTestServer({
      dialect: 'sqlite',
      databaseUrl: undefined,
      drop: () => Promise.resolve(),
    });
    admin = (await server.clientForKey(server.admin.apiKeyId, server.admin.apiKey)).appClient;
    const transport = grpcTransport(server.url);
    robot = createPromiseClient(RobotService, transport);
    auth = createPromiseClient(AuthService, transport);
    launched = await launchBrowser();
    browser = launched.browser;
    ({ page, requests, pageErrors } = await openPage(browser, server.url));
  });
  after(async () => {
    await launched?.close();
    await server?.stop();
  });

  /** Opens the Configure tab's editor with `text` in it (replacing everything). */
  async function typeConfig(text: string) {
    const editor = page.getByRole('textbox', { name: 'Part config (JSON)' });
    await editor.click();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.press('Delete');
    // CodeMirror closes brackets as they are typed: insert the text in one go instead.
    await page.keyboard.insertText(text);
  }

  const configOf = async () => (await admin.getRobotPart(partId)).part?.robotConfig?.toJson();

  it('signs in with a password, and with an API key after signing out', async () => {
    await page.goto('/');
    await page.getByLabel('Email').fill(server.admin.email);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /Not signed in|Unauthenticated|invalid/i);
    await page.getByLabel('Password').fill(server.admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(server.admin.email).waitFor();
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await signInWithKey(page, server.admin.apiKeyId, server.admin.apiKey);
    await page.getByText(`API key ${server.admin.apiKeyId}`).waitFor();
  });

  it('creates a location and a machine', async () => {
    await page.getByLabel('Location name').fill('North Yard');
    await page.getByRole('button', { name: 'Create location' }).click();
    await page.getByRole('button', { name: 'North Yard' }).waitFor();
    await page.getByLabel('Machine name').fill('rover-7');
    await page.getByRole('button', { name: 'Create machine' }).click();
    await page.waitForURL(/\/machine\//);
    machineId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2] ?? '');
    const machine = (await admin.getRobot(machineId))!;
    assert.equal(machine.name, 'rover-7');
    const locations = await admin.listLocations(server.admin.organizationId);
    assert.equal(locations.find((l) => l.id === machine.location)?.name, 'North Yard');
    const parts = await admin.getRobotParts(machineId);
    assert.equal(parts.length, 1);
    partId = parts[0]!.id;
    await page
      .getByRole('heading', { name: /rover-7/ })
      .getByText('Awaiting setup')
      .waitFor();
  });

  it('shows the machine Online, without a reload, once it polls its config', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Fleet' }).click();
    const row = page.getByRole('row', { name: /rover-7/ });
    await row.getByText('Awaiting setup').waitFor();
    const secret = (await admin.getRobotPart(partId)).part!.secret;
    partToken = (
      await auth.authenticate({ entity: partId, credentials: { type: 'robot-secret', payload: secret } })
    ).accessToken;
    const loadsBefore = requests.filter((r) => r.endsWith('/')).length;
    await robot.config({ id: partId, agentInfo: AGENT_INFO }, bearer(partToken));
    await row.getByText('Online').waitFor({ timeout: 8000 });
    await row.getByText('0.52.0').waitFor();
    assert.equal(requests.filter((r) => r.endsWith('/')).length, loadsBefore, 'the page was not reloaded');
    // Company for the screenshot: a machine in a sub-location that has never called.
    const yard = (await admin.listLocations(server.admin.organizationId)).find(
      (l) => l.name === 'North Yard',
    )!;
    const dock = (await admin.createLocation(server.admin.organizationId, 'Loading Dock', yard.id))!;
    await admin.newRobot(dock.id, 'arm-2');
    await page.getByRole('row', { name: /arm-2/ }).getByText('Awaiting setup').waitFor();
    await screenshot(page, 'fleet');
  });

  it('refuses an invalid config with the server’s error at its path, and saves nothing', async () => {
    await page.getByRole('link', { name: 'rover-7' }).click();
    await page.getByRole('cell', { name: 'rover-7.lan' }).waitFor();
    const before = await configOf();
    await typeConfig('{"components": [{"name": "left", "api": "rdk:component:motor"}]}');
    await page.getByRole('button', { name: 'Save config' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Invalid input: components\[0\]\.model/);
    // The editor marks the place the server named.
    await page.locator('.cm-lintRange-error').first().waitFor();
    assert.deepEqual(await configOf(), before);
  });

  it('saves a valid config, which then appears in history and in the merged config', async () => {
    const config = { components: [{ name: 'left', api: 'rdk:component:motor', model: 'rdk:builtin:fake' }] };
    await typeConfig(JSON.stringify(config, null, 2));
    await page.getByRole('button', { name: 'Save config' }).click();
    await page.getByRole('status').getByText('Saved.').waitFor();
    assert.deepEqual(await configOf(), config);
    await screenshot(page, 'machine');
    await page.getByRole('button', { name: 'History' }).click();
    const history = page.getByRole('table', { name: 'Config history' });
    await history
      .getByRole('button', { name: /Restore/ })
      .first()
      .waitFor();
    assert.equal(await history.getByRole('button', { name: /Restore/ }).count(), 1);
    await page.getByRole('button', { name: 'Merged config' }).click();
    await page
      .getByRole('textbox', { name: 'Merged config (read only)' })
      .getByText('rdk:builtin:fake')
      .waitFor();
  });

  it('tells a conflicting save apart and offers a reload', async () => {
    await page.getByRole('button', { name: 'Config', exact: true }).click();
    await typeConfig('{"components": []}');
    // Someone else saves meanwhile.
    const part = (await admin.getRobotPart(partId)).part!;
    await admin.updateRobotPart(partId, part.name, structFromObject({ components: [], services: [] }));
    await page.getByRole('button', { name: 'Save config' }).click();
    await page.getByRole('alert').getByText('Someone else saved').waitFor();
    await page.getByRole('button', { name: 'Reload their version' }).click();
    await page.getByRole('alert').waitFor({ state: 'detached' });
    await page.getByRole('textbox', { name: 'Part config (JSON)' }).getByText('"services"').waitFor();
  });

  it('shows logs pushed by the machine in live mode within 2 s', async () => {
    await page.getByRole('tab', { name: 'Logs' }).click();
    await page.getByRole('button', { name: 'Live' }).click();
    await page.getByText('Following new logs').waitFor();
    const now = Date.now();
    const entry = (offset: number, level: string, message: string) => ({
      host: 'rover-7.lan',
      level,
      time: { seconds: BigInt(Math.floor(now / 1000) + offset), nanos: 0 },
      loggerName: 'rdk.motor',
      message,
      stack: '',
      fields: [],
    });
    const sent = Date.now();
    await robot.log(
      { id: partId, logs: [entry(0, 'info', 'motor left started'), entry(1, 'error', 'motor left stalled')] },
      bearer(partToken),
    );
    const logs = page.getByRole('table', { name: 'Logs' });
    await logs.getByText('motor left stalled').waitFor({ timeout: 2000 });
    assert.ok(Date.now() - sent <= 2000);
    await logs.getByText('motor left started').waitFor({ timeout: 2000 });
    // Newest first.
    const messages = await logs.locator('.message').allInnerTexts();
    assert.deepEqual(messages.slice(0, 2), ['motor left stalled', 'motor left started']);
    await screenshot(page, 'logs');
    await page.getByRole('button', { name: 'Stop live' }).click();
    // A level filter narrows the list through the API.
    await page.getByLabel('error').check();
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await logs.getByText('motor left started').waitFor({ state: 'detached' });
    await logs.getByText('motor left stalled').waitFor();
  });

  it('lists the part’s alert deliveries and their attempts in the Alerts tab', async () => {
    // No SMTP server here: an email alert fails at once, saying why.
    const part = (await admin.getRobotPart(partId)).part!;
    const trigger = {
      name: 'motor errors',
      event: { type: 'conditional_logs_ingested', attributes: { log_levels: ['error'] } },
      notifications: [{ type: 'email', value: 'ops@example.com' }],
    };
    await admin.updateRobotPart(
      partId,
      part.name,
      structFromObject({ components: [], services: [], triggers: [trigger] }),
    );
    await robot.log(
      {
        id: partId,
        logs: [
          {
            host: 'rover-7.lan',
            level: 'error',
            time: { seconds: BigInt(Math.floor(Date.now() / 1000)), nanos: 0 },
            loggerName: 'rdk.motor',
            message: 'motor left stalled again',
            stack: '',
            fields: [],
          },
        ],
      },
      bearer(partToken),
    );
    await page.getByRole('tab', { name: 'Alerts' }).click();
    const row = page
      .getByRole('table', { name: 'Alert deliveries' })
      .getByRole('row', { name: /motor errors/ });
    await row.getByText('failed').waitFor({ timeout: 8000 });
    await row.getByRole('button', { name: '1' }).click();
    await page.getByText(/no SMTP server is configured/).waitFor();
    await screenshot(page, 'alerts');
    await admin.updateRobotPart(partId, part.name, structFromObject({ components: [], services: [] }));
  });

  it('gives an operator-role key the machines but no config saves, keys or members', async () => {
    const key = await admin.createKey(
      [organizationRole('operator', server.admin.organizationId)],
      'operator',
    );
    const { page: operator, context } = await openPage(browser, server.url);
    try {
      await signInWithKey(operator, key.id, key.key);
      await operator.getByRole('link', { name: 'rover-7' }).waitFor();
      const nav = operator.getByRole('navigation', { name: 'Main' });
      assert.equal(await nav.getByRole('link', { name: 'API keys' }).count(), 0);
      assert.equal(await nav.getByRole('link', { name: 'Members' }).count(), 0);
      assert.equal(await operator.getByRole('button', { name: 'Create machine' }).count(), 0);
      await operator.getByRole('link', { name: 'rover-7' }).click();
      await operator.getByRole('tab', { name: 'Configure' }).waitFor();
      await operator
        .getByText(/cannot|does not let you/)
        .first()
        .waitFor();
      assert.equal(await operator.getByRole('button', { name: 'Save config' }).count(), 0);
      assert.equal(await operator.getByRole('button', { name: 'Delete machine' }).count(), 0);
    } finally {
      await context.close();
    }
  });

  it('lets an owner of one location add machines and edit configs there, and nowhere else', async () => {
    const yard = (await admin.listLocations(server.admin.organizationId)).find(
      (l) => l.name === 'North Yard',
    )!;
    const key = await admin.createKey(
      [roleAuthorization(server.admin.organizationId, 'location', yard.id, 'owner')],
      'yard owner',
    );
    const { page: owner, context } = await openPage(browser, server.url);
    try {
      await signInWithKey(owner, key.id, key.key);
      await owner.getByRole('link', { name: 'rover-7' }).waitFor();
      // Machines and new locations go only where the role reaches: North Yard and what it holds,
      // not South Yard, and not the top level.
      const homes = owner.getByRole('combobox', { name: 'Machine location' }).getByRole('option');
      assert.deepEqual(await homes.allInnerTexts(), ['North Yard', 'Loading Dock']);
      const parents = owner.getByRole('combobox', { name: 'Inside' }).getByRole('option');
      assert.deepEqual(await parents.allInnerTexts(), ['North Yard', 'Loading Dock']);
      const nav = owner.getByRole('navigation', { name: 'Main' });
      assert.equal(await nav.getByRole('link', { name: 'API keys' }).count(), 0);
      await owner.getByRole('link', { name: 'rover-7' }).click();
      await owner.getByRole('button', { name: 'Save config' }).waitFor();
      assert.equal(await owner.getByRole('button', { name: 'Delete machine' }).count(), 1);
    } finally {
      await context.close();
    }
  });

  it('ends the session when its key is revoked, back at sign-in with a message', async () => {
    const key = await admin.createKey(
      [organizationRole('owner', server.admin.organizationId)],
      'short-lived',
    );
    const { page: other, context } = await openPage(browser, server.url);
    try {
      await signInWithKey(other, key.id, key.key);
      await admin.deleteKey(key.id);
      // The fleet table's next refresh is refused.
      await other.getByRole('button', { name: 'Sign in' }).waitFor();
      await other.getByText(/expired or its key was revoked/).waitFor();
    } finally {
      await context.close();
    }
  });

  it('loaded nothing from anywhere but its own origin, and raised no page errors', () => {
    const origin = new URL(server.url).origin;
    assert.ok(requests.length > 10);
    assert.deepEqual(
      requests.filter((r) => new URL(r).origin !== origin),
      [],
    );
    assert.deepEqual(pageErrors, []);
  });
});
