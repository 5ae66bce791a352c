import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { appApi, type AppClient } from '@viamrobotics/sdk';
import type { Browser, Page } from 'playwright-core';
import { structFromObject } from '../src/rpc/wire-values.js';
import { rawAppClient, type RawAppClient } from './support/clients.js';
import { defined, expectCode } from './support/expect.js';
import { organizationRole } from './support/roles.js';
import { startTestServer, type TestServer } from './support/server.js';
import { hasChromium, launchBrowser, openPage, signInWithKey, CHROMIUM_PATH } from './support/browser.js';

/*
 * The console's Fragments page (console/src/pages/Fragments.svelte) in headless Chromium against
 * a real server: what the page does is checked through the API, not only on the screen.
 */
const missing = hasChromium() ? undefined : `no Chromium at ${CHROMIUM_PATH}`;
if (missing && process.env.CI === 'true') {
  it('needs Chromium under CI=true', () => assert.fail(missing));
}

const { FragmentVisibility } = appApi;

/** A fragment config viam-server would accept: one fake motor. */
const motorConfig = (name: string, maxRpm = 100) => ({
  components: [
    {
      name,
      api: 'rdk:component:motor',
      model: 'rdk:builtin:fake',
      attributes: { max_rpm: maxRpm },
    },
  ],
});

/** Replaces the text of the CodeMirror editor named `label` (typed as a paste, without auto-closing). */
async function replaceEditorText(page: Page, label: string, text: string): Promise<void> {
  const editor = page.getByRole('textbox', { name: label, exact: true });
  await editor.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
  // The editor holds exactly the text (nothing auto-inserted).
  assert.equal(await editor.innerText(), text);
}

describe('web console: fragments', { skip: missing }, () => {
  let server: TestServer;
  let browser: Browser;
  let launched: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  let admin: AppClient;
  let raw: RawAppClient;
  let orgId: string;

  before(async () => {
    // startTestServer reads no variable of this process: a console built elsewhere is passed on.
    const consoleDir = process.env.FLOTILLA_CONSOLE_DIR;
    server = await startTestServer(
      { dialect: 'sqlite', databaseUrl: undefined, drop: () => Promise.resolve() },
      consoleDir ? { FLOTILLA_CONSOLE_DIR: consoleDir } : {},
    );
    launched = await launchBrowser();
    browser = launched.browser;
    admin = (await server.clientForKey(server.admin.apiKeyId, server.admin.apiKey)).appClient;
    raw = rawAppClient(admin);
    orgId = server.admin.organizationId;
  });
  after(async () => {
    await launched?.close();
    await server?.stop();
  });

  /** A signed-in page, and a check that it asked nothing of any other origin and threw nothing. */
  async function signedIn(keyId = server.admin.apiKeyId, key = server.admin.apiKey) {
    const opened = await openPage(browser, server.url);
    await signInWithKey(opened.page, keyId, key);
    const origin = new URL(server.url).origin;
    return {
      ...opened,
      finish: async () => {
        assert.ok(opened.requests.length > 0, 'the page made requests');
        const elsewhere = opened.requests.filter((url) => new URL(url).origin !== origin);
        assert.deepEqual(elsewhere, [], 'every request stays on the server’s origin');
        assert.deepEqual(opened.pageErrors, [], 'no uncaught errors in the page');
        await opened.context.close();
      },
    };
  }

  async function createFragment(
    name: string,
    config: Record<string, unknown>,
    visibility = FragmentVisibility.PRIVATE,
  ): Promise<appApi.Fragment> {
    const reply = await raw.createFragment({
      organizationId: orgId,
      name,
      config: structFromObject(config),
      visibility,
    });
    return defined(reply.fragment, `fragment ${name}`);
  }

  async function getFragment(id: string, version?: string): Promise<appApi.Fragment> {
    const reply = await raw.getFragment({ id, ...(version === undefined ? {} : { version }) });
    return defined(reply.fragment, `fragment ${id}`);
  }

  const configOf = (f: appApi.Fragment) => f.fragment?.toJson();

  it('creates a fragment, saves an edited config, and shows a refused edit without changing anything', async () => {
    const { page, requests, finish } = await signedIn();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Fragments' }).click();
    await page.getByRole('heading', { name: 'Fragments', level: 1 }).waitFor();

    // Create through the form: name, visibility, config.
    await page.getByRole('button', { name: 'New fragment' }).click();
    await page.getByLabel('Name').fill('arm kit');
    await page.getByLabel('Visibility').selectOption({ label: 'Unlisted — anyone with its ID' });
    const first = motorConfig('motor-a');
    await replaceEditorText(page, 'New fragment config', JSON.stringify(first));
    await page.getByRole('button', { name: 'Create fragment' }).click();
    await page.waitForURL(/\/fragments\/[^/?]+$/);
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/')[2] ?? '');
    await page.getByRole('heading', { name: 'arm kit', level: 1 }).waitFor();

    const created = await getFragment(id);
    assert.equal(created.name, 'arm kit');
    assert.equal(created.organizationOwner, orgId);
    assert.equal(created.visibility, FragmentVisibility.PUBLIC_UNLISTED);
    assert.equal(created.revision, '1');
    assert.deepEqual(configOf(created), first);

    // Edit and save: a new revision with the new config.
    const editor = page.getByRole('textbox', { name: 'Fragment config', exact: true });
    assert.deepEqual(JSON.parse(await editor.innerText()), first, 'the editor shows the saved config');
    const save = page.getByRole('button', { name: 'Save config' });
    assert.equal(await save.isDisabled(), true, 'nothing to save before an edit');
    const second = motorConfig('motor-b', 250);
    await replaceEditorText(page, 'Fragment config', JSON.stringify(second));
    await save.click();
    await page.getByRole('status').filter({ hasText: 'Saved as revision 2.' }).waitFor();
    const saved = await getFragment(id);
    assert.equal(saved.revision, '2');
    assert.equal(saved.name, 'arm kit', 'the name is kept');
    assert.equal(saved.visibility, FragmentVisibility.PUBLIC_UNLISTED, 'the visibility is kept');
    assert.deepEqual(configOf(saved), second);
    assert.equal(await save.isDisabled(), true, 'nothing left to save');

    // An edit the server refuses: its error in words, and the fragment as it was.
    const invalid = { services: { not: 'a list' } };
    const refusal = await raw.updateFragment({ id, name: 'arm kit', config: structFromObject(invalid) }).then(
      () => assert.fail('the server accepted an invalid config'),
      (error: unknown) => ConnectError.from(error),
    );
    assert.equal(refusal.code, Code.InvalidArgument);
    assert.ok(refusal.rawMessage.length > 0);
    await replaceEditorText(page, 'Fragment config', JSON.stringify(invalid));
    await save.click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const shown = await alert.innerText();
    assert.ok(shown.includes(refusal.rawMessage), `the alert shows the server's message: ${shown}`);
    assert.match(shown, /^Invalid input: /);
    assert.equal(await save.isEnabled(), true, 'the edit stays, to be corrected');
    assert.deepEqual(JSON.parse(await editor.innerText()), invalid);
    const after = await getFragment(id);
    assert.equal(after.revision, '2');
    assert.deepEqual(configOf(after), second);

    // Text that is not JSON is refused in the page, without asking the server.
    const updatesBefore = requests.filter((u) => u.endsWith('/UpdateFragment')).length;
    assert.equal(updatesBefore, 2, 'one UpdateFragment per save so far');
    await replaceEditorText(page, 'Fragment config', '{"components": [');
    await save.click();
    await page.getByRole('alert').filter({ hasText: 'The config is not valid JSON' }).waitFor();
    assert.equal(requests.filter((u) => u.endsWith('/UpdateFragment')).length, updatesBefore);
    assert.equal((await getFragment(id)).revision, '2');

    // Revert puts the saved config back.
    await page.getByRole('button', { name: 'Revert' }).click();
    assert.deepEqual(JSON.parse(await editor.innerText()), second);
    assert.equal(await save.isDisabled(), true);
    await finish();
  });

  it('refuses to save over a newer revision, then saves on top of it', async () => {
    const f = await createFragment('contended', motorConfig('c1'));
    const { page, finish } = await signedIn();
    await page.goto(`/fragments/${f.id}`);
    await page.getByRole('heading', { name: 'contended', level: 1 }).waitFor();
    // Someone else saves revision 2 while the page shows revision 1.
    await raw.updateFragment({ id: f.id, name: f.name, config: structFromObject(motorConfig('c2')) });
    const mine = motorConfig('c3', 300);
    await replaceEditorText(page, 'Fragment config', JSON.stringify(mine));
    await page.getByRole('button', { name: 'Save config' }).click();
    await page.getByRole('alert').filter({ hasText: 'Not possible now' }).waitFor();
    const other = await getFragment(f.id);
    assert.equal(other.revision, '2', 'the newer revision stays');
    assert.deepEqual(configOf(other), motorConfig('c2'));

    await page.getByRole('button', { name: 'Load the latest revision' }).click();
    await page.getByRole('status').filter({ hasText: 'Loaded revision 2' }).waitFor();
    assert.equal(await page.getByRole('alert').count(), 0);
    await page.getByRole('button', { name: 'Save config' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved as revision 3.' }).waitFor();
    assert.deepEqual(configOf(await getFragment(f.id)), mine);
    await finish();
  });

  it('lists fragments by visibility', async () => {
    const secret = await createFragment('listed private', motorConfig('p'));
    const unlisted = await createFragment(
      'listed unlisted',
      motorConfig('u'),
      FragmentVisibility.PUBLIC_UNLISTED,
    );
    const { page, finish } = await signedIn();
    await page.goto('/fragments');
    const table = page.getByRole('table', { name: 'Fragments' });
    const link = (name: string) => table.getByRole('link', { name, exact: true });
    await link(secret.name).waitFor();
    await link(unlisted.name).waitFor();

    await page.getByRole('checkbox', { name: 'Private' }).uncheck();
    await link(secret.name).waitFor({ state: 'detached' });
    assert.equal(await link(unlisted.name).isVisible(), true);

    await page.getByRole('checkbox', { name: 'Unlisted' }).uncheck();
    await page.getByRole('checkbox', { name: 'Public' }).uncheck();
    await page.getByText('Choose at least one visibility').waitFor();

    await page.getByRole('checkbox', { name: 'Private' }).check();
    await link(secret.name).click();
    await page.waitForURL(`**/fragments/${secret.id}`);
    await page.getByRole('heading', { name: secret.name, level: 1 }).waitFor();
    await finish();
  });

  it('sets a tag on a revision, moves it and deletes it', async () => {
    const f = await createFragment('tagged', motorConfig('t1'));
    await raw.updateFragment({ id: f.id, name: f.name, config: structFromObject(motorConfig('t2')) });
    await raw.updateFragment({ id: f.id, name: f.name, config: structFromObject(motorConfig('t3')) });
    const { page, finish } = await signedIn();
    await page.goto(`/fragments/${f.id}?tab=revisions`);
    const revisions = page.getByRole('table', { name: 'Revisions' });
    const revisionRow = (n: string) =>
      revisions
        .getByRole('row')
        .filter({ has: page.getByRole('button', { name: `View revision ${n}`, exact: true }) });
    await revisionRow('1').waitFor();
    assert.equal(await revisions.getByRole('row').count(), 4, 'a header and three revisions');

    // Set `stable` on revision 1, from that revision's row.
    await revisionRow('1').getByRole('button', { name: 'Tag revision 1' }).click();
    const tagInput = page.getByLabel('Tag', { exact: true });
    assert.equal(await tagInput.and(page.locator(':focus')).count(), 1, 'the tag field has focus');
    await tagInput.fill('stable');
    assert.equal(await page.getByRole('combobox', { name: 'Revision', exact: true }).inputValue(), '1');
    await page.getByRole('button', { name: 'Set tag' }).click();
    await page.getByRole('status').filter({ hasText: 'Tag stable points at revision 1.' }).waitFor();
    const tags = page.getByRole('table', { name: 'Tags' });
    const stableRow = tags.getByRole('row').filter({ hasText: 'stable' });
    assert.deepEqual(
      (await stableRow.getByRole('cell').allInnerTexts()).slice(0, 2).map((s) => s.trim()),
      ['stable', '1'],
    );
    assert.match(await revisionRow('1').innerText(), /stable/, 'the revision lists its tag');
    assert.doesNotMatch(await revisionRow('3').innerText(), /stable/);
    assert.equal((await getFragment(f.id, 'stable')).revision, '1');

    // Move it to revision 3.
    await page.getByRole('combobox', { name: 'New revision for tag stable' }).selectOption('3');
    await page.getByRole('button', { name: 'Move tag stable' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Moved tag stable from revision 1 to revision 3.' })
      .waitFor();
    assert.equal((await getFragment(f.id, 'stable')).revision, '3');
    assert.match(await revisionRow('3').innerText(), /stable/);
    assert.doesNotMatch(await revisionRow('1').innerText(), /stable/);

    // A tag name the server would refuse is explained, and nothing is asked.
    await tagInput.fill('Not A Tag');
    await page.getByRole('button', { name: 'Set tag' }).click();
    await page.getByRole('alert').filter({ hasText: 'A tag starts with a lowercase letter' }).waitFor();

    // Delete it, after confirming.
    await page.getByRole('button', { name: 'Delete tag stable' }).click();
    await page
      .getByRole('dialog', { name: 'Delete tag stable' })
      .getByRole('button', { name: 'Delete tag' })
      .click();
    await page.getByRole('status').filter({ hasText: 'Deleted tag stable.' }).waitFor();
    assert.equal(await tags.count(), 0, 'no tags left');
    await expectCode(raw.getFragment({ id: f.id, version: 'stable' }), Code.NotFound);

    // A tag set elsewhere is listed when the page opens (GetFragment returns every tag).
    await raw.setFragmentTag({ fragmentId: f.id, tag: 'canary', revision: '2' });
    await page.reload();
    const canaryRow = tags.getByRole('row').filter({ hasText: 'canary' });
    await canaryRow.waitFor();
    assert.deepEqual(
      (await canaryRow.getByRole('cell').allInnerTexts()).slice(0, 2).map((s) => s.trim()),
      ['canary', '2'],
    );
    await finish();
  });

  it('changes visibility and deletes a fragment', async () => {
    const f = await createFragment('short-lived', motorConfig('s'));
    const { page, finish } = await signedIn();
    await page.goto(`/fragments/${f.id}`);
    await page.getByRole('tab', { name: 'Settings' }).click();
    await page.getByLabel('Visibility').selectOption({ label: 'Unlisted — anyone with its ID' });
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved as revision 2.' }).waitFor();
    const changed = await getFragment(f.id);
    assert.equal(changed.visibility, FragmentVisibility.PUBLIC_UNLISTED);
    assert.deepEqual(configOf(changed), motorConfig('s'), 'the config is kept');

    await page.getByRole('button', { name: 'Delete fragment' }).click();
    await page
      .getByRole('dialog', { name: 'Delete fragment' })
      .getByRole('button', { name: 'Delete fragment' })
      .click();
    await page.waitForURL(/\/fragments$/);
    await expectCode(raw.getFragment({ id: f.id }), Code.NotFound);
    await finish();
  });

  it('hides writes from a key that may not write fragments', async () => {
    const f = await createFragment('look only', motorConfig('r'));
    const operator = await admin.createKey([organizationRole('operator', orgId)], 'fragments reader');
    // The operator role reads fragments but may not write them.
    const operatorClient = (await server.clientForKey(operator.id, operator.key)).appClient;
    await expectCode(
      operatorClient.updateFragment(f.id, f.name, structFromObject(motorConfig('r2'))),
      Code.PermissionDenied,
    );

    const { page, finish } = await signedIn(operator.id, operator.key);
    await page.goto('/fragments');
    await page.getByRole('link', { name: 'look only' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'New fragment' }).count(), 0);
    await page.getByRole('link', { name: 'look only' }).click();
    await page.getByRole('heading', { name: 'look only', level: 1 }).waitFor();
    await page.getByText('You may view this fragment but not change it.').waitFor();
    const editor = page.getByRole('textbox', { name: 'Fragment config', exact: true });
    assert.deepEqual(JSON.parse(await editor.innerText()), motorConfig('r'));
    assert.equal(await editor.getAttribute('contenteditable'), 'false');
    assert.equal(await page.getByRole('button', { name: 'Save config' }).count(), 0);

    await page.getByRole('tab', { name: 'Settings' }).click();
    assert.equal(await page.getByLabel('Name').isDisabled(), true);
    assert.equal(await page.getByRole('button', { name: 'Delete fragment' }).count(), 0);
    await page.getByRole('tab', { name: 'Revisions and tags' }).click();
    await page.getByRole('table', { name: 'Revisions' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Set tag' }).count(), 0);
    await finish();
  });
});
