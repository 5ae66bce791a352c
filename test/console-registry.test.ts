import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { PartialMessage } from '@bufbuild/protobuf';
import { createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import { createAsyncIterable } from '@connectrpc/connect/protocol';
import { appApi } from '@viamrobotics/sdk';
import type { Browser, Page } from 'playwright-core';
import { AppService } from '../src/rpc/service-descriptors.generated.js';
import { bearer, grpcTransport } from './support/clients.js';
import { startTestServer, type TestServer } from './support/server.js';
import { hasChromium, launchBrowser, openPage, signInWithKey, CHROMIUM_PATH } from './support/browser.js';

/*
 * The console's Registry page against the real server: modules made and uploaded through the API
 * (native gRPC, as the viam CLI does) must show on the page with their versions, platforms and
 * models; the name filter narrows the list; a failing ListModules is said in words. Every request
 * the page makes stays on the server's origin.
 */
const missing = hasChromium() ? undefined : `no Chromium at ${CHROMIUM_PATH}`;
if (missing && process.env.CI === 'true') {
  it('needs Chromium under CI=true', () => assert.fail(missing));
}

const { Visibility } = appApi;

describe('web console: registry', { skip: missing }, () => {
  let server: TestServer;
  let browser: Browser;
  let launched: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  let grpc: PromiseClient<typeof AppService>;
  let token: string;

  const call = () => bearer(token);

  async function createModule(
    organizationId: string,
    name: string,
    fields: { visibility: appApi.Visibility; description: string; url: string; models: [string, string][] },
  ): Promise<string> {
    const { moduleId } = await grpc.createModule({ organizationId, name }, call());
    await grpc.updateModule(
      {
        moduleId,
        visibility: fields.visibility,
        url: fields.url,
        description: fields.description,
        models: fields.models.map(([api, model]) => ({ api, model })),
        entrypoint: 'bin/run',
      },
      call(),
    );
    return moduleId;
  }

  async function upload(moduleId: string, version: string, platform: string): Promise<void> {
    const messages: PartialMessage<appApi.UploadModuleFileRequest>[] = [
      { moduleFile: { case: 'moduleFileInfo', value: { moduleId, version, platform } } },
      { moduleFile: { case: 'file', value: new TextEncoder().encode(`${moduleId} ${version} ${platform}`) } },
    ];
    await grpc.uploadModuleFile(createAsyncIterable(messages), call());
  }

  /**
   * Each row of a module's versions table, top to bottom: version, platforms and models as their
   * text reads; the upload time must be a time, not the placeholder.
   */
  async function versionRows(page: Page, moduleName: string): Promise<string[][]> {
    const table = page.getByRole('table', { name: `Versions of ${moduleName}` });
    await table.waitFor();
    const rows: string[][] = [];
    for (const row of await table.locator('tbody tr').all()) {
      const cells = (await row.locator('td').allInnerTexts()).map((c) => c.replace(/\s+/g, ' ').trim());
      assert.equal(cells.length, 4, `four cells in ${cells.join(' | ')}`);
      assert.match(cells[3] ?? '', /\d{1,2}:\d{2}:\d{2}/, `an upload time in ${cells.join(' | ')}`);
      rows.push(cells.slice(0, 3));
    }
    return rows;
  }

  before(async () => {
    server = await startTestServer({
      dialect: 'sqlite',
      databaseUrl: undefined,
      drop: () => Promise.resolve(),
    });
    token = await server.adminToken();
    assert.ok(token, 'an access token for the admin key');
    grpc = createPromiseClient(AppService, grpcTransport(server.url));
    const orgA = server.admin.organizationId;

    const mover = await createModule(orgA, 'mover', {
      visibility: Visibility.PRIVATE,
      description: 'Moves things about',
      url: 'https://example.com/mover',
      models: [['rdk:component:motor', 'acme:motors:mover']],
    });
    await upload(mover, '1.0.0', 'linux/amd64');
    await upload(mover, '1.0.0', 'linux/arm64');
    // A new model list: 1.1.0 records the models the module has at its first upload.
    await grpc.updateModule(
      {
        moduleId: mover,
        visibility: Visibility.PRIVATE,
        url: 'https://example.com/mover',
        description: 'Moves things about',
        models: [
          { api: 'rdk:component:motor', model: 'acme:motors:mover' },
          { api: 'rdk:component:base', model: 'acme:bases:roller' },
        ],
        entrypoint: 'bin/run',
      },
      call(),
    );
    await upload(mover, '1.1.0', 'any');

    await createModule(orgA, 'sensor-kit', {
      visibility: Visibility.PRIVATE,
      description: 'No files yet',
      url: '',
      models: [],
    });

    // Another organization the admin owns, with a public module: listed under other organizations.
    const { organization } = await grpc.createOrganization({ name: 'Org B' }, call());
    assert.ok(organization, 'Org B');
    await grpc.updateOrganizationNamespace(
      { organizationId: organization.id, newPublicNamespace: 'bravo' },
      call(),
    );
    const shared = await createModule(organization.id, 'shared-gizmo', {
      visibility: Visibility.PUBLIC,
      description: 'For everyone',
      url: '',
      models: [['rdk:service:generic', 'bravo:gizmos:shared']],
    });
    await upload(shared, '0.1.0', 'linux/arm64');

    launched = await launchBrowser();
    browser = launched.browser;
  });
  after(async () => {
    await launched?.close();
    await server?.stop();
  });

  it('lists the modules with their versions, platforms and models, filters by name, and stays on its origin', async () => {
    const { page, context, requests, pageErrors } = await openPage(browser, server.url);
    await signInWithKey(page, server.admin.apiKeyId, server.admin.apiKey);
    await page.getByRole('link', { name: 'Registry' }).click();
    await page.getByRole('heading', { name: 'Registry', level: 1 }).waitFor();

    const own = page.getByRole('region', { name: 'This organization' });
    const others = page.getByRole('region', { name: 'Public modules of other organizations' });
    const mover = own.getByRole('article', { name: 'mover' });
    await mover.waitFor();
    await mover.getByText('Moves things about').waitFor();
    assert.equal(await mover.getByText('Private', { exact: true }).count(), 1, 'visibility');
    assert.equal(
      await mover.getByRole('link', { name: 'https://example.com/mover' }).getAttribute('href'),
      'https://example.com/mover',
    );
    assert.equal(await mover.getByText(`${server.admin.organizationId}:mover`).count(), 1, 'module id');
    // The module's models now, and each version's models as recorded at its first upload.
    await mover.getByText('acme:bases:roller').first().waitFor();
    assert.deepEqual(await versionRows(page, 'mover'), [
      ['1.1.0', 'any', 'acme:motors:mover, acme:bases:roller'],
      ['1.0.0', 'linux/amd64 linux/arm64', 'acme:motors:mover'],
    ]);

    const kit = own.getByRole('article', { name: 'sensor-kit' });
    await kit.getByText('No versions uploaded yet.').waitFor();
    assert.equal(await kit.getByRole('table').count(), 0);

    const gizmo = others.getByRole('article', { name: 'shared-gizmo' });
    await gizmo.getByText('bravo:shared-gizmo').waitFor();
    assert.equal(await gizmo.getByText('Public', { exact: true }).count(), 1);
    assert.equal(
      await own.getByRole('article', { name: 'shared-gizmo' }).count(),
      0,
      'not in this organization',
    );
    assert.deepEqual(await versionRows(page, 'shared-gizmo'), [
      ['0.1.0', 'linux/arm64', 'bravo:gizmos:shared'],
    ]);

    // The filter: a part of a name, case-insensitive; then one nothing matches.
    const filter = page.getByLabel('Filter by name');
    await filter.fill('SENSOR');
    await mover.waitFor({ state: 'detached' });
    await kit.waitFor();
    assert.equal(await page.getByRole('article').count(), 1);
    await filter.fill('gizmo');
    await gizmo.waitFor();
    assert.equal(await page.getByRole('article').count(), 1);
    assert.equal(await own.count(), 0, 'no empty group');
    // Names only: every module id here holds a namespace or an organization id.
    await filter.fill('bravo');
    await page.getByRole('status').getByText('No module’s name matches “bravo”.').waitFor();
    await filter.fill('no-such-module');
    await page.getByRole('status').getByText('No module’s name matches “no-such-module”.').waitFor();
    assert.equal(await page.getByRole('article').count(), 0);
    await filter.fill('');
    assert.equal(await page.getByRole('article').count(), 3);

    await page.screenshot({ path: '/tmp/console-registry.png', fullPage: true });
    const origin = new URL(server.url).origin;
    const elsewhere = requests.filter((url) => new URL(url).origin !== origin);
    assert.deepEqual(elsewhere, [], 'every request stays on the server');
    assert.ok(
      requests.some((url) => url.endsWith('/viam.app.v1.AppService/ListModules')),
      'the page asked ListModules',
    );
    assert.deepEqual(pageErrors, []);
    await context.close();
  });

  it('shows loading, then a failing ListModules in words', async () => {
    const { page, context, pageErrors } = await openPage(browser, server.url);
    await signInWithKey(page, server.admin.apiKeyId, server.admin.apiKey);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    // A gRPC-web trailers-only answer: PERMISSION_DENIED, after the page has shown it is loading.
    await page.route('**/viam.app.v1.AppService/ListModules', async (route) => {
      await held;
      await route.fulfill({
        status: 200,
        headers: {
          'content-type': 'application/grpc-web+proto',
          'grpc-status': '7',
          'grpc-message': encodeURIComponent('not yours'),
        },
        body: '',
      });
    });
    await page.getByRole('link', { name: 'Registry' }).click();
    await page.getByText('Loading modules…').waitFor();
    assert.equal(await page.getByRole('alert').count(), 0);
    release();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Permission denied: not yours/);
    assert.equal(await page.getByText('Loading modules…').count(), 0);
    assert.equal(await page.getByRole('article').count(), 0);

    // Reload asks again; with the server answering, the modules come.
    await page.unroute('**/viam.app.v1.AppService/ListModules');
    await page.getByRole('button', { name: 'Reload' }).click();
    await page.getByRole('article', { name: 'mover' }).waitFor();
    assert.equal(await page.getByRole('alert').count(), 0);
    assert.deepEqual(pageErrors, []);
    await context.close();
  });
  it('Connect tab: shows viam.json with the secret masked, reveals it on request, and downloads it', async () => {
    const { location } = await grpc.createLocation(
      { organizationId: server.admin.organizationId, name: 'Yard' },
      call(),
    );
    assert.ok(location, 'a location');
    const { id: robotId } = await grpc.newRobot({ name: 'rover', location: location.id }, call());
    const { parts } = await grpc.getRobotParts({ robotId }, call());
    const part = parts[0];
    assert.ok(part, 'the machine has its main part');
    // The file as the server answers it, to compare the page with.
    const res = await fetch(`${server.url}/machines/${part.id}/viam.json`, bearer(token));
    assert.equal(res.status, 200);
    const served = (await res.json()) as { cloud: { app_address: string; id: string; secret: string } };
    assert.equal(served.cloud.id, part.id);
    assert.ok(served.cloud.secret.length >= 16, 'the part has a secret');

    const { page, context, requests, pageErrors } = await openPage(browser, server.url);
    await signInWithKey(page, server.admin.apiKeyId, server.admin.apiKey);
    await page.goto(`/machine/${robotId}?tab=connect`);
    const shown = page.getByLabel('viam.json', { exact: true });
    await shown.waitFor();
    const masked = JSON.parse(await shown.innerText()) as typeof served;
    assert.equal(masked.cloud.app_address, served.cloud.app_address);
    assert.equal(masked.cloud.id, part.id);
    assert.notEqual(masked.cloud.secret, served.cloud.secret);
    assert.match(masked.cloud.secret, /^•+$/);
    assert.equal(
      (await page.locator('body').innerText()).includes(served.cloud.secret),
      false,
      'the secret is nowhere on the page',
    );

    await page.getByRole('button', { name: 'Show secret' }).click();
    await page.getByRole('button', { name: 'Hide secret' }).waitFor();
    assert.deepEqual(JSON.parse(await shown.innerText()), served);
    await page.getByRole('button', { name: 'Hide secret' }).click();
    assert.match((JSON.parse(await shown.innerText()) as typeof served).cloud.secret, /^•+$/);

    // The download is the whole file, secret included, even while it is masked on screen.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download viam.json' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'viam.json');
    assert.match(download.url(), /^blob:/);
    assert.deepEqual(JSON.parse(await readFile(await download.path(), 'utf8')), served);

    // Numbered steps: install viam-server, put the file at /etc/viam.json, start it.
    const steps = await page
      .getByRole('list')
      .filter({ hasText: '/etc/viam.json' })
      .locator('li')
      .allInnerTexts();
    assert.equal(steps.length, 4, steps.join(' | '));
    assert.match(steps[0] ?? '', /Install viam-server/);
    assert.match(steps[1] ?? '', /\/etc\/viam\.json/);
    assert.match(steps[2] ?? '', /viam-server -config \/etc\/viam\.json/);
    assert.match(steps[3] ?? '', /Online/);

    // The test server has an http address: machines are told they connect without TLS.
    await page.getByText(`must be able to reach ${served.cloud.app_address} (without TLS).`).waitFor();

    await page.screenshot({ path: '/tmp/console-connect.png', fullPage: true });
    const origin = new URL(server.url).origin;
    assert.deepEqual(
      requests.filter((url) => new URL(url).origin !== origin),
      [],
      'every request stays on the server',
    );
    assert.ok(requests.some((url) => url.endsWith(`/machines/${part.id}/viam.json`)));
    assert.deepEqual(pageErrors, []);

    // A refusal is said in words, with the server's reason.
    await page.route(`**/machines/${part.id}/viam.json`, (route) =>
      route.fulfill({
        status: 412,
        contentType: 'application/json',
        body: JSON.stringify({ error: 'set FLOTILLA_PUBLIC_URL' }),
      }),
    );
    await page.reload();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /set FLOTILLA_PUBLIC_URL \(HTTP 412\)/);
    assert.equal(await page.getByRole('button', { name: 'Download viam.json' }).count(), 0);
    await context.close();
  });
});
