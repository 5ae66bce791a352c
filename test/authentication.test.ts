import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, it } from 'node:test';
import { Code, createPromiseClient } from '@connectrpc/connect';
import { createViamClient, type ViamClient } from '@viamrobotics/sdk';
import { SignJWT, UnsecuredJWT, decodeJwt, type JWTPayload } from 'jose';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { AppService } from '../src/rpc/service-descriptors.generated.js';
import { bearer, connectTransport } from './support/clients.js';
import { forEachDialect } from './support/databases.js';
import { expectCode } from './support/expect.js';
import { startTestServer, type TestServer } from './support/server.js';

const authClient = (url: string) => createPromiseClient(AuthService, connectTransport(url));
const appClient = (url: string) => createPromiseClient(AppService, connectTransport(url));

/** Authenticate through the raw AuthService; resolves to the access token. */
async function authenticate(url: string, entity: string, type: string, payload: string): Promise<string> {
  const res = await authClient(url).authenticate({ entity, credentials: { type, payload } });
  return res.accessToken;
}

/** The organization ids an access token sees, through a raw AppService call. */
async function orgIdsWith(url: string, token: string): Promise<string[]> {
  const res = await appClient(url).listOrganizations({}, bearer(token));
  return res.organizations.map((o) => o.id);
}

const JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

forEachDialect('authentication', (newDatabase) => {
  let t: TestServer;
  let admin: ViamClient['appClient'];
  /** The server's own token signing key, as `flotilla init` wrote it. */
  let signingKey: Uint8Array;

  /** Org A's keys, reduced to comparable values: refused calls must leave them as they were. */
  const keySnapshot = async () =>
    (await admin.listKeys(t.admin.organizationId))
      .map(
        (k) =>
          `${k.apiKey?.id}|${k.apiKey?.name}|${k.authorizations.map((a) => a.authorizationId).join(',')}`,
      )
      .sort();
  const orgSnapshot = async () => (await admin.listOrganizations()).map((o) => `${o.id}|${o.name}`).sort();

  /** A token with the server's claims shape (src/crypto/tokens.ts), signed with `key`. */
  const signToken = (claims: JWTPayload, key: Uint8Array, iat: number, exp: number) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(String(claims.sub))
      .setIssuer('flotilla')
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(key);

  before(async () => {
    t = await startTestServer(await newDatabase());
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    const keys = JSON.parse(readFileSync(join(t.dataDir, 'server-keys.json'), 'utf8')) as {
      token_signing_key: string;
    };
    signingKey = Buffer.from(keys.token_signing_key, 'base64');
    assert.equal(signingKey.length, 32);
  });
  after(() => t.stop());

  it('exchanges a right API key for a JWT that works on AppService', async () => {
    const token = await authenticate(t.url, t.admin.apiKeyId, 'api-key', t.admin.apiKey);
    assert.match(token, JWT_RE);
    const claims = decodeJwt(token);
    assert.equal(claims.sub, t.admin.apiKeyId);
    const now = Math.floor(Date.now() / 1000);
    assert.ok(typeof claims.exp === 'number' && claims.exp > now, 'not yet expired');
    // The default lifetime is 24 hours.
    assert.ok(Math.abs((claims.exp ?? 0) - now - 24 * 3600) <= 5, `exp ${claims.exp} is about now + 24 h`);
    assert.deepEqual(await orgIdsWith(t.url, token), [t.admin.organizationId]);
    const keys = await appClient(t.url).listKeys({ orgId: t.admin.organizationId }, bearer(token));
    assert.ok(keys.apiKeys.some((k) => k.apiKey?.id === t.admin.apiKeyId));
  });

  const badCredentials: [string, () => [string, string, string]][] = [
    ['a wrong key value', () => [t.admin.apiKeyId, 'api-key', 'x'.repeat(32)]],
    ['an empty key value', () => [t.admin.apiKeyId, 'api-key', '']],
    ['an unknown key id', () => [randomUUID(), 'api-key', t.admin.apiKey]],
    ['an empty entity', () => ['', 'api-key', t.admin.apiKey]],
    ["an unknown credential type ('magic')", () => [t.admin.apiKeyId, 'magic', t.admin.apiKey]],
    ['a key presented as a password', () => [t.admin.apiKeyId, 'password', t.admin.apiKey]],
    ['a wrong password', () => [t.admin.email, 'password', 'not the password']],
    ['an empty password', () => [t.admin.email, 'password', '']],
    ['an unknown email', () => ['nobody@example.com', 'password', t.admin.password]],
    ['a password presented as a key', () => [t.admin.email, 'api-key', t.admin.password]],
  ];
  for (const [label, args] of badCredentials) {
    it(`refuses ${label} with UNAUTHENTICATED and changes nothing`, async () => {
      const keys = await keySnapshot();
      const orgs = await orgSnapshot();
      await expectCode(authenticate(t.url, ...args()), Code.Unauthenticated);
      assert.deepEqual(await keySnapshot(), keys);
      assert.deepEqual(await orgSnapshot(), orgs);
    });
  }

  it('refuses Authenticate without credentials (UNAUTHENTICATED)', async () => {
    await expectCode(authClient(t.url).authenticate({ entity: t.admin.apiKeyId }), Code.Unauthenticated);
  });

  it('refuses an AppService call without a token or with a malformed header (UNAUTHENTICATED)', async () => {
    const orgs = await orgSnapshot();
    const keys = await keySnapshot();
    const app = appClient(t.url);
    await expectCode(app.listOrganizations({}), Code.Unauthenticated);
    await expectCode(app.createOrganization({ name: 'sneaky' }), Code.Unauthenticated);
    await expectCode(app.listKeys({ orgId: t.admin.organizationId }), Code.Unauthenticated);
    await expectCode(
      app.createOrganization({ name: 'sneaky' }, { headers: { authorization: 'Bearer ' } }),
      Code.Unauthenticated,
    );
    await expectCode(
      app.createOrganization({ name: 'sneaky' }, { headers: { authorization: `Basic ${t.admin.apiKey}` } }),
      Code.Unauthenticated,
    );
    await expectCode(app.createOrganization({ name: 'sneaky' }, bearer('not.a.jwt')), Code.Unauthenticated);
    // The key value itself is not a token.
    await expectCode(
      app.createOrganization({ name: 'sneaky' }, bearer(t.admin.apiKey)),
      Code.Unauthenticated,
    );
    assert.deepEqual(await orgSnapshot(), orgs);
    assert.deepEqual(await keySnapshot(), keys);
  });

  it('refuses a forged token (same claims, another HS256 key) and an unsigned one', async () => {
    const real = await authenticate(t.url, t.admin.apiKeyId, 'api-key', t.admin.apiKey);
    const claims = decodeJwt(real);
    const now = Math.floor(Date.now() / 1000);
    const forged = await signToken(claims, randomBytes(32), now, now + 3600);
    assert.notEqual(forged, real);
    const unsigned = new UnsecuredJWT({ ...claims })
      .setSubject(String(claims.sub))
      .setIssuer('flotilla')
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .encode();
    // Control: the same claims signed with the server's key do work, so the signature is the cause.
    const genuine = await signToken(claims, signingKey, now, now + 3600);
    assert.deepEqual(await orgIdsWith(t.url, genuine), [t.admin.organizationId]);

    const orgs = await orgSnapshot();
    for (const token of [forged, unsigned]) {
      await expectCode(orgIdsWith(t.url, token), Code.Unauthenticated);
      await expectCode(
        appClient(t.url).createOrganization({ name: 'forged' }, bearer(token)),
        Code.Unauthenticated,
      );
    }
    assert.deepEqual(await orgSnapshot(), orgs);
  });

  it("refuses an expired token signed with the server's real key", async () => {
    const real = await authenticate(t.url, t.admin.apiKeyId, 'api-key', t.admin.apiKey);
    const claims = decodeJwt(real);
    assert.equal(claims.knd, 'api-key');
    assert.equal(typeof claims.ver, 'string');
    const now = Math.floor(Date.now() / 1000);
    const expired = await signToken(claims, signingKey, now - 7200, now - 60);
    // Control: identical but for exp, it works.
    const fresh = await signToken(claims, signingKey, now - 7200, now + 60);
    assert.deepEqual(await orgIdsWith(t.url, fresh), [t.admin.organizationId]);

    const orgs = await orgSnapshot();
    await expectCode(orgIdsWith(t.url, expired), Code.Unauthenticated);
    await expectCode(
      appClient(t.url).createOrganization({ name: 'expired' }, bearer(expired)),
      Code.Unauthenticated,
    );
    assert.deepEqual(await orgSnapshot(), orgs);
  });

  it('refuses a genuine token naming another subject kind or issuer', async () => {
    const real = await authenticate(t.url, t.admin.apiKeyId, 'api-key', t.admin.apiKey);
    const claims = decodeJwt(real);
    const now = Math.floor(Date.now() / 1000);
    // A key's id presented as a user.
    const asUser = await signToken({ ...claims, knd: 'user' }, signingKey, now, now + 60);
    await expectCode(orgIdsWith(t.url, asUser), Code.Unauthenticated);
    // Another issuer.
    const otherIssuer = await new SignJWT({ ...claims, iss: 'someone-else' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(signingKey);
    await expectCode(orgIdsWith(t.url, otherIssuer), Code.Unauthenticated);
  });

  it('honours FLOTILLA_TOKEN_TTL: a 1 s token works at once and stops after about 2 s', async () => {
    const short = await startTestServer(await newDatabase(), { FLOTILLA_TOKEN_TTL: '1s' });
    try {
      // Expiry is checked in whole seconds: mint and use the token early in a second so the
      // immediate call is not racing the next second boundary.
      while (Date.now() % 1000 > 300) await sleep(20);
      const token = await authenticate(short.url, short.admin.apiKeyId, 'api-key', short.admin.apiKey);
      const claims = decodeJwt(token);
      assert.ok(
        typeof claims.exp === 'number' &&
          typeof claims.iat === 'number' &&
          claims.exp - claims.iat >= 1 &&
          claims.exp - claims.iat <= 2,
        `lifetime ${String(claims.exp)} - ${String(claims.iat)} is the 1 s TTL, rounded up to whole seconds`,
      );
      assert.deepEqual(await orgIdsWith(short.url, token), [short.admin.organizationId]);
      await sleep(2100);
      await expectCode(orgIdsWith(short.url, token), Code.Unauthenticated);
      // A new token still works: the credentials were not touched.
      const again = await authenticate(short.url, short.admin.apiKeyId, 'api-key', short.admin.apiKey);
      assert.deepEqual(await orgIdsWith(short.url, again), [short.admin.organizationId]);
    } finally {
      await short.stop();
    }
  });

  it('logs a user in with a password; the token acts as that user (sees org A)', async () => {
    const token = await authenticate(t.url, t.admin.email, 'password', t.admin.password);
    assert.match(token, JWT_RE);
    const claims = decodeJwt(token);
    assert.equal(claims.sub, t.admin.userId);
    assert.equal(claims.knd, 'user');
    assert.ok((await orgIdsWith(t.url, token)).includes(t.admin.organizationId));
    // The user owns org A: it may list A's keys.
    const keys = await appClient(t.url).listKeys({ orgId: t.admin.organizationId }, bearer(token));
    assert.ok(keys.apiKeys.some((k) => k.apiKey?.id === t.admin.apiKeyId));
    // The email is matched without regard to case.
    const upper = await authenticate(t.url, t.admin.email.toUpperCase(), 'password', t.admin.password);
    assert.equal(decodeJwt(upper).sub, t.admin.userId);
  });

  it("accepts the SDK's access-token credential with createViamClient", async () => {
    const userToken = await authenticate(t.url, t.admin.email, 'password', t.admin.password);
    const asUser = await createViamClient({
      serviceHost: t.url,
      credentials: { type: 'access-token', payload: userToken },
    });
    assert.ok((await asUser.appClient.listOrganizations()).some((o) => o.id === t.admin.organizationId));

    const keyToken = await authenticate(t.url, t.admin.apiKeyId, 'api-key', t.admin.apiKey);
    const asKey = await createViamClient({
      serviceHost: t.url,
      credentials: { type: 'access-token', payload: keyToken },
    });
    assert.deepEqual(
      (await asKey.appClient.listOrganizations()).map((o) => o.id),
      [t.admin.organizationId],
    );

    // A bogus access token is refused on first use.
    const bogus = await createViamClient({
      serviceHost: t.url,
      credentials: { type: 'access-token', payload: 'bogus' },
    });
    const orgs = await orgSnapshot();
    await expectCode(bogus.appClient.listOrganizations(), Code.Unauthenticated);
    await expectCode(bogus.appClient.createOrganization('bogus'), Code.Unauthenticated);
    assert.deepEqual(await orgSnapshot(), orgs);
  });

  it('refuses createViamClient with a wrong API key (UNAUTHENTICATED)', async () => {
    await expectCode(t.clientForKey(t.admin.apiKeyId, 'y'.repeat(32)), Code.Unauthenticated);
    await expectCode(t.clientForKey(randomUUID(), t.admin.apiKey), Code.Unauthenticated);
  });
});
