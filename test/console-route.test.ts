import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AppClient } from '@viamrobotics/sdk';
import { BUILT_CONSOLE_DIR, consoleRoute } from '../src/server/console-route.js';
import { structFromObject } from '../src/rpc/wire-values.js';
import { startTestServer, type TestServer } from './support/server.js';
import { bearer } from './support/clients.js';
import { organizationRole } from './support/roles.js';

const SQLITE = { dialect: 'sqlite' as const, databaseUrl: undefined, drop: () => Promise.resolve() };

/*
 * The console's plain-HTTP side: its static files (built by `npm run build` into dist/console,
 * which `npm test` runs first) and the merged-config route. The authorization matrix covers who
 * may read the merged config; the browser tests cover the pages.
 */
describe('the console served at /', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer(SQLITE);
  });
  after(() => t?.stop());

  it('answers / and any page path with index.html, under a same-origin CSP, checked on each load', async () => {
    for (const path of ['/', '/machine/some-id', '/fragments/x?tab=history', '/keys']) {
      const res = await fetch(`${t.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      assert.equal(res.headers.get('cache-control'), 'no-cache');
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.match(csp, /connect-src 'self'/);
      assert.match(await res.text(), /<div id="app"><\/div>/);
    }
    const head = await fetch(`${t.url}/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  it('serves hashed assets with a long cache, and only scripts of its own', async () => {
    const html = await (await fetch(`${t.url}/`)).text();
    const scripts = [...html.matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => m[1] ?? '');
    assert.ok(scripts.length > 0);
    for (const src of scripts) assert.match(src, /^\/assets\//, 'no script from elsewhere');
    const res = await fetch(`${t.url}${scripts[0]}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const assets = readdirSync(join(BUILT_CONSOLE_DIR, 'assets'));
    assert.ok(
      assets.every((name) => /-[\w-]{8}\.\w+$/.test(name)),
      `unhashed asset in ${assets.join(', ')}`,
    );
  });

  it('leaves RPC paths, health checks and missing files to the server', async () => {
    assert.equal(await (await fetch(`${t.url}/healthz`)).text(), 'ok\n');
    for (const path of ['/viam.app.v1.AppService/ListOrganizations', '/missing.js', '/assets/nope.js']) {
      const res = await fetch(`${t.url}${path}`);
      assert.notEqual(res.status, 200, path);
      assert.doesNotMatch(await res.text(), /<div id="app">/, path);
    }
  });

  it('serves a console built elsewhere (FLOTILLA_CONSOLE_DIR), and none where there is none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-console-'));
    try {
      mkdirSync(join(dir, 'assets'));
      writeFileSync(join(dir, 'index.html'), '<p>custom console</p>');
      const other = await startTestServer(SQLITE, { FLOTILLA_CONSOLE_DIR: dir });
      try {
        assert.equal(await (await fetch(`${other.url}/anything`)).text(), '<p>custom console</p>');
      } finally {
        await other.stop();
      }
      rmSync(join(dir, 'index.html'));
      assert.equal(consoleRoute(dir), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('GET /api/parts/<id>/merged-config', () => {
  let t: TestServer;
  let admin: AppClient;
  let token: string;
  let partId: string;
  let fragmentId: string;
  before(async () => {
    t = await startTestServer(SQLITE);
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    token = await t.adminToken();
    const location = (await admin.createLocation(t.admin.organizationId, 'Yard'))!;
    const robotId = await admin.newRobot(location.id, 'rover');
    partId = (await admin.getRobotParts(robotId))[0]!.id;
    const motor = { name: 'left', api: 'rdk:component:motor', model: 'rdk:builtin:fake' };
    fragmentId = (await admin.createFragment(
      t.admin.organizationId,
      'drive',
      structFromObject({ components: [motor] }),
    ))!.id;
    const camera = { name: 'cam', api: 'rdk:component:camera', model: 'rdk:builtin:fake' };
    await admin.updateRobotPart(
      partId,
      'rover-main',
      structFromObject({ components: [camera], fragments: [fragmentId] }),
    );
  });
  after(() => t?.stop());

  it('answers the part config with its fragments merged in', async () => {
    const res = await fetch(`${t.url}/api/parts/${partId}/merged-config`, bearer(token));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = (await res.json()) as {
      config: { components: { name: string }[] };
      fragment_errors: unknown[];
    };
    assert.deepEqual(body.config.components.map((c) => c.name).sort(), ['cam', 'left']);
    assert.deepEqual(body.fragment_errors, []);
  });

  it('refuses a missing token, an operator, and a made-up part, in words', async () => {
    const anonymous = await fetch(`${t.url}/api/parts/${partId}/merged-config`);
    assert.equal(anonymous.status, 401);
    assert.deepEqual(await anonymous.json(), { error: 'missing bearer token' });
    const key = await admin.createKey([organizationRole('operator', t.admin.organizationId)], 'operator');
    const operatorToken = await (
      await fetch(`${t.url}/proto.rpc.v1.AuthService/Authenticate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ entity: key.id, credentials: { type: 'api-key', payload: key.key } }),
      })
    ).json();
    const operator = await fetch(
      `${t.url}/api/parts/${partId}/merged-config`,
      bearer((operatorToken as { accessToken: string }).accessToken),
    );
    assert.equal(operator.status, 403);
    const madeUp = await fetch(
      `${t.url}/api/parts/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}/merged-config`,
      bearer(token),
    );
    assert.equal(madeUp.status, 404);
    const malformed = await fetch(`${t.url}/api/parts/%E0%A4%A/merged-config`, bearer(token));
    assert.equal(malformed.status, 400);
  });
});
