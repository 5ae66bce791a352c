import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { Code, createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import { Http2SessionManager } from '@connectrpc/connect-node';
import { createAsyncIterable } from '@connectrpc/connect/protocol';
import { appApi, type AppClient } from '@viamrobotics/sdk';
import { ConfigError, loadServerConfig, normalizePublicUrl } from '../src/config.js';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { PackageService } from '../src/rpc/package-service.generated.js';
import { AppService, RobotService } from '../src/rpc/service-descriptors.generated.js';
import { bearer, grpcTransport } from './support/clients.js';
import { expectCode } from './support/expect.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * What a machine is told about where the server is: viam.json's `app_address` (viam-server dials
 * host:port, so a port is always there), Config's `cloud.signaling_insecure` (false behind https,
 * so the machine asks for a certificate), package URLs, and invite links; and, when the server
 * listens on a wildcard address with no FLOTILLA_PUBLIC_URL, a clear refusal instead of a URL
 * nobody can reach. These follow the configuration, not the database, so they run on SQLite only.
 */

describe('FLOTILLA_PUBLIC_URL is normalized at start', () => {
  it('adds the scheme’s default port and drops a trailing slash', () => {
    assert.equal(normalizePublicUrl('https://fleet.example.com'), 'https://fleet.example.com:443');
    assert.equal(normalizePublicUrl('http://fleet.example.com/'), 'http://fleet.example.com:80');
    assert.equal(normalizePublicUrl('https://fleet.example.com:8443/'), 'https://fleet.example.com:8443');
    assert.equal(normalizePublicUrl('https://example.com/flotilla/'), 'https://example.com:443/flotilla');
    assert.equal(normalizePublicUrl('http://[::1]:8080'), 'http://[::1]:8080');
    assert.equal(normalizePublicUrl(undefined), undefined);
    assert.equal(normalizePublicUrl(''), undefined);
  });

  it('refuses what is not an http(s) URL, naming the variable', () => {
    for (const bad of [
      'fleet.example.com',
      'ftp://fleet.example.com',
      'https://x/?a=1',
      'https://u:p@x',
      'https://x/#f',
    ]) {
      assert.throws(
        () => loadServerConfig({}, { FLOTILLA_PUBLIC_URL: bad }),
        (error: Error) => error instanceof ConfigError && /FLOTILLA_PUBLIC_URL/.test(error.message),
        bad,
      );
    }
  });
});

interface Setup {
  t: TestServer;
  admin: AppClient;
  sessions: Http2SessionManager;
  robot: PromiseClient<typeof RobotService>;
  packages: PromiseClient<typeof PackageService>;
  ownerToken: string;
  partId: string;
  partToken: string;
}

/** A server with one machine and one uploaded module version. */
async function setUp(env: Record<string, string>, listen?: string): Promise<Setup> {
  const t = await startTestServer(
    { dialect: 'sqlite', databaseUrl: undefined, drop: () => Promise.resolve() },
    env,
    listen,
  );
  const admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
  const sessions = new Http2SessionManager(t.url);
  const transport = grpcTransport(t.url, { sessionManager: sessions });
  const auth = createPromiseClient(AuthService, transport);
  const app = createPromiseClient(AppService, transport);
  const login = async (entity: string, type: string, payload: string) =>
    (await auth.authenticate({ entity, credentials: { type, payload } })).accessToken;
  const ownerToken = await login(t.admin.apiKeyId, 'api-key', t.admin.apiKey);
  const location = await admin.createLocation(t.admin.organizationId, 'Yard');
  const robotId = await admin.newRobot(location?.id ?? '', 'rover');
  const partId = (await admin.getRobotParts(robotId))[0]?.id ?? '';
  const secret = (await admin.getRobotPart(partId)).part?.secrets[0]?.secret ?? '';
  await admin.createModule(t.admin.organizationId, 'mover');
  await admin.updateModule(`${t.admin.organizationId}:mover`, appApi.Visibility.PRIVATE, '', '', [], 'run');
  await app.uploadModuleFile(
    createAsyncIterable([
      {
        moduleFile: {
          case: 'moduleFileInfo' as const,
          value: { moduleId: `${t.admin.organizationId}:mover`, version: '1.0.0', platform: 'any' },
        },
      },
      { moduleFile: { case: 'file' as const, value: gzipSync(Buffer.from('module bytes')) } },
    ]),
    bearer(ownerToken),
  );
  return {
    t,
    admin,
    sessions,
    robot: createPromiseClient(RobotService, transport),
    packages: createPromiseClient(PackageService, transport),
    ownerToken,
    partId,
    partToken: await login(partId, 'robot-secret', secret),
  };
}

async function viamJson(s: Setup): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${s.t.url}/machines/${s.partId}/viam.json`, {
    headers: { authorization: `Bearer ${s.ownerToken}` },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const cloudOf = async (s: Setup) =>
  (await s.robot.config({ id: s.partId }, bearer(s.partToken))).config?.cloud;

const packageUrl = (s: Setup) =>
  s.packages.getPackage(
    { id: `${s.t.admin.organizationId}/mover`, version: '1.0.0', includeUrl: true },
    bearer(s.partToken),
  );

for (const { name, env, appAddress, insecure } of [
  {
    name: 'https public URL without a port',
    env: { FLOTILLA_PUBLIC_URL: 'https://fleet.example.com' },
    appAddress: 'https://fleet.example.com:443',
    insecure: false,
  },
  {
    name: 'http public URL without a port',
    env: { FLOTILLA_PUBLIC_URL: 'http://fleet.example.com' },
    appAddress: 'http://fleet.example.com:80',
    insecure: true,
  },
  {
    name: 'https public URL with a port, behind a TLS proxy',
    env: { FLOTILLA_PUBLIC_URL: 'https://fleet.example.com:8443/' },
    appAddress: 'https://fleet.example.com:8443',
    insecure: false,
  },
]) {
  describe(`machines are told the public URL: ${name}`, () => {
    let s: Setup;
    before(async () => {
      s = await setUp(env);
    });
    after(async () => {
      s.sessions.abort();
      await s.t.stop();
    });

    it('viam.json, Config’s cloud section, package URLs and invite links use it', async () => {
      const file = await viamJson(s);
      assert.equal(file.status, 200);
      assert.equal((file.body.cloud as { app_address: string }).app_address, appAddress);
      assert.equal((await cloudOf(s))?.signalingInsecure, insecure);
      const url = (await packageUrl(s)).package?.url ?? '';
      assert.ok(url.startsWith(`${appAddress}/packages/`), url);
      await s.admin.createOrganizationInvite(s.t.admin.organizationId, 'new@example.com', [], false);
      const module = await s.admin.createModule(s.t.admin.organizationId, 'other');
      assert.equal(module.url, `${appAddress}/modules/${s.t.admin.organizationId}:other`);
    });
  });
}

describe('machines are told the listen address when no public URL is set', () => {
  let s: Setup;
  before(async () => {
    s = await setUp({});
  });
  after(async () => {
    s.sessions.abort();
    await s.t.stop();
  });

  it('viam.json names 127.0.0.1 with its port; signaling is insecure without TLS', async () => {
    const file = await viamJson(s);
    assert.equal(file.status, 200);
    assert.equal((file.body.cloud as { app_address: string }).app_address, s.t.url);
    assert.match(s.t.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await cloudOf(s))?.signalingInsecure, true);
    assert.ok((await packageUrl(s)).package?.url.startsWith(`${s.t.url}/packages/`));
  });
});

describe('a wildcard listen address without FLOTILLA_PUBLIC_URL gives out no URL', () => {
  let s: Setup;
  before(async () => {
    s = await setUp({}, '0.0.0.0:0');
  });
  after(async () => {
    s.sessions.abort();
    await s.t.stop();
  });

  it('viam.json, package URLs and invites are refused with a message naming FLOTILLA_PUBLIC_URL', async () => {
    const file = await viamJson(s);
    assert.equal(file.status, 412);
    assert.match(String(file.body.error), /FLOTILLA_PUBLIC_URL/);
    await expectCode(packageUrl(s), Code.FailedPrecondition);
    const invitesBefore = await s.admin.listOrganizationMembers(s.t.admin.organizationId);
    await expectCode(
      s.admin.createOrganizationInvite(s.t.admin.organizationId, 'new@example.com', [], false),
      Code.FailedPrecondition,
    );
    const invitesAfter = await s.admin.listOrganizationMembers(s.t.admin.organizationId);
    assert.equal(invitesAfter.invites.length, invitesBefore.invites.length, 'no invite was stored');
    // What needs no URL still works: the machine's config, and a package without a URL.
    assert.equal((await cloudOf(s))?.id, s.partId);
    const pkg = await s.packages.getPackage(
      { id: `${s.t.admin.organizationId}/mover`, version: '1.0.0' },
      bearer(s.partToken),
    );
    assert.equal(pkg.package?.url, '');
  });
});
