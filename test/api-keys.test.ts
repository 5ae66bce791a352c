import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Code } from '@connectrpc/connect';
import type { ViamClient } from '@viamrobotics/sdk';
import { rawAppClient } from './support/clients.js';
import { forEachDialect } from './support/databases.js';
import { expectCode } from './support/expect.js';
import { authorization, type AuthorizationFields as Grant } from './support/roles.js';
import { startTestServer, type TestServer } from './support/server.js';

type AppClient = ViamClient['appClient'];

/** ListKeys of an organization, reduced to comparable plain values (sorted by id). */
async function snapshot(client: AppClient, orgId: string) {
  const keys = await client.listKeys(orgId);
  return keys
    .map((k) => ({
      id: k.apiKey?.id ?? '',
      key: k.apiKey?.key ?? '',
      name: k.apiKey?.name ?? '',
      createdOn: k.apiKey?.createdOn?.toDate().toISOString() ?? '',
      authorizations: k.authorizations
        .map((a) => ({
          authorizationType: a.authorizationType,
          authorizationId: a.authorizationId,
          resourceType: a.resourceType,
          resourceId: a.resourceId,
          orgId: a.orgId,
        }))
        .sort((x, y) =>
          `${x.authorizationId}/${x.resourceId}`.localeCompare(`${y.authorizationId}/${y.resourceId}`),
        ),
    }))
    .sort((x, y) => x.id.localeCompare(y.id));
}

/** RenameKey, which the SDK's AppClient does not wrap: called on its underlying connect client. */
const renameKey = (client: AppClient, req: { id: string; name: string }) =>
  rawAppClient(client).renameKey(req);

const KEY_VALUE_RE = /^[a-z0-9]{32}$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

forEachDialect('API keys', (newDatabase) => {
  let t: TestServer;
  let admin: AppClient;
  let orgA: string;
  let orgB: string;
  let locA: string;
  let locA2: string;
  let locB: string;
  let bKey: { id: string; key: string };
  let bClient: AppClient;
  let opKey: { id: string; key: string };
  let opClient: AppClient;
  let locOwnerKey: { id: string; key: string };
  let locOwnerClient: AppClient;

  const orgOwner = (org: string): Grant => ({
    authorizationId: 'organization_owner',
    resourceType: 'organization',
    resourceId: org,
    organizationId: org,
  });
  const orgOperator = (org: string): Grant => ({
    authorizationId: 'organization_operator',
    resourceType: 'organization',
    resourceId: org,
    organizationId: org,
  });
  const locationOwner = (org: string, loc: string): Grant => ({
    authorizationId: 'location_owner',
    resourceType: 'location',
    resourceId: loc,
    organizationId: org,
  });

  const clientFor = async (k: { id: string; key: string }) => (await t.clientForKey(k.id, k.key)).appClient;
  const createKey = async (grants: Grant[], name: string) => {
    const res = await admin.createKey(grants.map(authorization), name);
    return { id: res.id, key: res.key };
  };
  /** The key value still authenticates and its client can list its organizations. */
  const stillWorks = async (k: { id: string; key: string }) => {
    const c = await clientFor(k);
    assert.ok((await c.listOrganizations()).length > 0);
  };

  before(async () => {
    t = await startTestServer(await newDatabase());
    admin = await clientFor({ id: t.admin.apiKeyId, key: t.admin.apiKey });
    orgA = t.admin.organizationId;
    const b = await admin.createOrganization('Org B');
    orgB = b!.id;
    locA = (await admin.createLocation(orgA, 'Loc A'))!.id;
    locA2 = (await admin.createLocation(orgA, 'Loc A2'))!.id;
    locB = (await admin.createLocation(orgB, 'Loc B'))!.id;
    bKey = await createKey([orgOwner(orgB)], 'b-key');
    bClient = await clientFor(bKey);
    opKey = await createKey([orgOperator(orgA)], 'operator-key');
    opClient = await clientFor(opKey);
    locOwnerKey = await createKey([locationOwner(orgA, locA)], 'loc-owner-key');
    locOwnerClient = await clientFor(locOwnerKey);
  });
  after(() => t.stop());

  describe('CreateKey', () => {
    it('returns an id and a 32-character [a-z0-9] value that authenticates and acts within its role', async () => {
      const before = await snapshot(admin, orgA);
      const res = await admin.createKey([authorization(orgOwner(orgA))], 'create-owner');
      assert.match(res.id, UUID_RE);
      assert.match(res.key, KEY_VALUE_RE);
      // Two keys never share a value.
      const other = await admin.createKey([authorization(orgOwner(orgA))], 'create-owner-2');
      assert.notEqual(other.key, res.key);
      assert.notEqual(other.id, res.id);

      const after = await snapshot(admin, orgA);
      assert.equal(after.length, before.length + 2);
      const listed = after.find((k) => k.id === res.id);
      assert.ok(listed, 'new key is listed');
      assert.equal(listed.name, 'create-owner');
      assert.deepEqual(listed.authorizations, [
        {
          authorizationType: 'role',
          authorizationId: 'organization_owner',
          resourceType: 'organization',
          resourceId: orgA,
          orgId: orgA,
        },
      ]);

      // The new owner key works: it sees org A only, lists A's keys and creates a location there.
      const c = await clientFor(res);
      assert.deepEqual(
        (await c.listOrganizations()).map((o) => o.id),
        [orgA],
      );
      assert.equal((await c.listKeys(orgA)).length, after.length);
      const loc = await c.createLocation(orgA, 'made by new key');
      assert.ok(loc?.id);
      assert.ok((await admin.listLocations(orgA)).some((l) => l.id === loc.id));
      // ...but not in org B, which it holds no role on.
      await expectCode(c.listKeys(orgB), Code.NotFound);
    });

    it('an operator key created through it can read but not manage keys', async () => {
      const res = await admin.createKey([authorization(orgOperator(orgA))], 'create-operator');
      const c = await clientFor(res);
      assert.deepEqual(
        (await c.listOrganizations()).map((o) => o.id),
        [orgA],
      );
      assert.ok((await c.listLocations(orgA)).some((l) => l.id === locA));
      const before = await snapshot(admin, orgA);
      await expectCode(c.listKeys(orgA), Code.PermissionDenied);
      await expectCode(c.createLocation(orgA, 'nope'), Code.PermissionDenied);
      assert.deepEqual(await snapshot(admin, orgA), before);
    });

    it("names the key with its creation time when name is ''", async () => {
      const t0 = Date.now();
      const res = await admin.createKey([authorization(orgOperator(orgA))], '');
      const t1 = Date.now();
      const listed = (await snapshot(admin, orgA)).find((k) => k.id === res.id);
      assert.ok(listed);
      assert.notEqual(listed.name, '');
      const named = Date.parse(listed.name);
      assert.ok(!Number.isNaN(named), `name "${listed.name}" is a timestamp`);
      assert.ok(named >= t0 - 1000 && named <= t1 + 1000, `name "${listed.name}" is the creation time`);
      const created = Date.parse(listed.createdOn);
      assert.ok(created >= t0 - 1000 && created <= t1 + 1000, `createdOn ${listed.createdOn} is now`);
    });

    const refusals: [string, () => Grant[], Code][] = [
      ['zero authorizations', () => [], Code.InvalidArgument],
      ['two different organizations', () => [orgOwner(orgA), orgOwner(orgB)], Code.InvalidArgument],
      [
        "a bad authorization id ('organization_king')",
        () => [{ ...orgOwner(orgA), authorizationId: 'organization_king' }],
        Code.InvalidArgument,
      ],
      [
        'an authorization id not matching its resource type',
        () => [{ ...orgOwner(orgA), authorizationId: 'location_owner' }],
        Code.InvalidArgument,
      ],
      ['a location of another organization', () => [locationOwner(orgA, locB)], Code.InvalidArgument],
      [
        'another organization as the resource',
        () => [{ ...orgOwner(orgA), resourceId: orgB }],
        Code.InvalidArgument,
      ],
      ['an unknown organization', () => [orgOwner(randomUUID())], Code.NotFound],
    ];
    for (const [label, grants, code] of refusals) {
      it(`refuses ${label} (${Code[code]}) and creates nothing`, async () => {
        const a = await snapshot(admin, orgA);
        const b = await snapshot(admin, orgB);
        await expectCode(admin.createKey(grants().map(authorization), `refused ${label}`), code);
        assert.deepEqual(await snapshot(admin, orgA), a);
        assert.deepEqual(await snapshot(admin, orgB), b);
      });
    }

    it('answers NOT_FOUND for an organization the caller cannot see', async () => {
      const a = await snapshot(admin, orgA);
      await expectCode(bClient.createKey([authorization(orgOwner(orgA))], 'from b'), Code.NotFound);
      await expectCode(bClient.createKey([authorization(orgOperator(orgA))], 'from b'), Code.NotFound);
      await expectCode(
        bClient.createKey([authorization(locationOwner(orgA, locA))], 'from b'),
        Code.NotFound,
      );
      assert.deepEqual(await snapshot(admin, orgA), a);
    });

    it('does not let an operator key create an owner key (PERMISSION_DENIED)', async () => {
      const a = await snapshot(admin, orgA);
      await expectCode(
        opClient.createKey([authorization(orgOwner(orgA))], 'escalated'),
        Code.PermissionDenied,
      );
      await expectCode(
        opClient.createKey([authorization(locationOwner(orgA, locA))], 'escalated'),
        Code.PermissionDenied,
      );
      await expectCode(
        opClient.createKey([authorization(orgOperator(orgA))], 'escalated'),
        Code.PermissionDenied,
      );
      assert.deepEqual(await snapshot(admin, orgA), a);
    });

    it('lets a location-owner key create a key for its location, not for the organization', async () => {
      const a = await snapshot(admin, orgA);
      await expectCode(
        locOwnerClient.createKey([authorization(orgOwner(orgA))], 'escalated'),
        Code.PermissionDenied,
      );
      await expectCode(
        locOwnerClient.createKey([authorization(orgOperator(orgA))], 'escalated'),
        Code.PermissionDenied,
      );
      await expectCode(
        locOwnerClient.createKey([authorization(locationOwner(orgA, locA2))], 'other location'),
        Code.PermissionDenied,
      );
      await expectCode(
        locOwnerClient.createKey(
          [authorization(locationOwner(orgA, locA)), authorization(orgOwner(orgA))],
          'mixed',
        ),
        Code.PermissionDenied,
      );
      assert.deepEqual(await snapshot(admin, orgA), a);

      const res = await locOwnerClient.createKey([authorization(locationOwner(orgA, locA))], 'own location');
      assert.match(res.key, KEY_VALUE_RE);
      const listed = (await snapshot(admin, orgA)).find((k) => k.id === res.id);
      assert.deepEqual(listed?.authorizations, [
        {
          authorizationType: 'role',
          authorizationId: 'location_owner',
          resourceType: 'location',
          resourceId: locA,
          orgId: orgA,
        },
      ]);
      const c = await clientFor(res);
      assert.equal((await c.getLocation(locA))?.id, locA);
      await expectCode(c.getLocation(locA2), Code.NotFound);
    });
  });

  describe('ListKeys', () => {
    it('lists ids, names, creation times and authorizations, never values', async () => {
      const t0 = Date.now();
      const multi = await createKey([orgOperator(orgA), locationOwner(orgA, locA2)], 'list-multi');
      const keys = await admin.listKeys(orgA);
      for (const k of keys) {
        assert.equal(k.apiKey?.key, '', `key ${k.apiKey?.id} value is not returned`);
        assert.match(k.apiKey?.id ?? '', UUID_RE);
        assert.ok(k.apiKey?.createdOn, 'createdOn is set');
      }
      const ids = keys.map((k) => k.apiKey?.id);
      for (const id of [t.admin.apiKeyId, opKey.id, locOwnerKey.id, multi.id])
        assert.ok(ids.includes(id), id);
      assert.ok(!ids.includes(bKey.id), "org B's key is not in org A's list");

      const listed = (await snapshot(admin, orgA)).find((k) => k.id === multi.id);
      assert.ok(listed);
      assert.equal(listed.name, 'list-multi');
      assert.ok(Math.abs(Date.parse(listed.createdOn) - t0) < 5000, listed.createdOn);
      assert.deepEqual(listed.authorizations, [
        {
          authorizationType: 'role',
          authorizationId: 'location_owner',
          resourceType: 'location',
          resourceId: locA2,
          orgId: orgA,
        },
        {
          authorizationType: 'role',
          authorizationId: 'organization_operator',
          resourceType: 'organization',
          resourceId: orgA,
          orgId: orgA,
        },
      ]);

      assert.deepEqual(
        (await snapshot(admin, orgB)).map((k) => [k.id, k.name]),
        [[bKey.id, 'b-key']],
      );
    });

    it("shows only the listed organization's grants: org B's id does not reach an owner of A only", async () => {
      // The admin key created org B and so owns it too; an owner of org A alone must not learn
      // B's id from A's key list (existence never leaks across tenants).
      const aOnly = await clientFor(await createKey([orgOwner(orgA)], 'a-only-owner'));
      await expectCode(aOnly.getOrganization(orgB), Code.NotFound);
      const listed = await snapshot(aOnly, orgA);
      const adminListed = listed.find((k) => k.id === t.admin.apiKeyId);
      assert.deepEqual(adminListed?.authorizations, [
        {
          authorizationType: 'role',
          authorizationId: 'organization_owner',
          resourceType: 'organization',
          resourceId: orgA,
          orgId: orgA,
        },
      ]);
      assert.ok(!JSON.stringify(listed).includes(orgB), "org A's key list does not name org B");
    });

    it('refuses an operator key (PERMISSION_DENIED) and a location owner (PERMISSION_DENIED)', async () => {
      await expectCode(opClient.listKeys(orgA), Code.PermissionDenied);
      await expectCode(locOwnerClient.listKeys(orgA), Code.PermissionDenied);
    });

    it('answers NOT_FOUND for an unknown organization and INVALID_ARGUMENT for an empty id', async () => {
      await expectCode(admin.listKeys(randomUUID()), Code.NotFound);
      await expectCode(admin.listKeys(''), Code.InvalidArgument);
    });
  });

  describe('DeleteKey', () => {
    it('removes the key; its value and tokens already minted stop working at once', async () => {
      const k = await createKey([orgOwner(orgA)], 'to-delete');
      const early = await clientFor(k); // token minted before deletion
      assert.ok((await early.listKeys(orgA)).length > 0);

      await admin.deleteKey(k.id);
      const after = await snapshot(admin, orgA);
      assert.ok(!after.some((x) => x.id === k.id), 'deleted key is not listed');

      await expectCode(early.listOrganizations(), Code.Unauthenticated);
      await expectCode(early.listKeys(orgA), Code.Unauthenticated);
      await expectCode(t.clientForKey(k.id, k.key), Code.Unauthenticated);
      assert.deepEqual(await snapshot(admin, orgA), after);
    });

    it('answers NOT_FOUND for an unknown id, and again for a deleted one', async () => {
      const a = await snapshot(admin, orgA);
      await expectCode(admin.deleteKey(randomUUID()), Code.NotFound);
      await expectCode(admin.deleteKey('not-a-key'), Code.NotFound);
      assert.deepEqual(await snapshot(admin, orgA), a);

      const k = await createKey([orgOperator(orgA)], 'delete-twice');
      await admin.deleteKey(k.id);
      await expectCode(admin.deleteKey(k.id), Code.NotFound);
    });

    it('refuses an operator key (PERMISSION_DENIED) and changes nothing', async () => {
      const k = await createKey([orgOperator(orgA)], 'operator-cannot-delete');
      const a = await snapshot(admin, orgA);
      await expectCode(opClient.deleteKey(k.id), Code.PermissionDenied);
      await expectCode(opClient.deleteKey(t.admin.apiKeyId), Code.PermissionDenied);
      assert.deepEqual(await snapshot(admin, orgA), a);
      await stillWorks(k);
    });
  });

  describe('RotateKey', () => {
    it('keeps the id, issues a new value and revokes the old one with its tokens', async () => {
      const k = await createKey([orgOwner(orgA)], 'to-rotate');
      const early = await clientFor(k);
      assert.ok((await early.listKeys(orgA)).length > 0);
      const before = await snapshot(admin, orgA);

      const rotated = await admin.rotateKey(k.id);
      assert.equal(rotated.id, k.id);
      assert.match(rotated.key, KEY_VALUE_RE);
      assert.notEqual(rotated.key, k.key);

      await expectCode(early.listKeys(orgA), Code.Unauthenticated);
      await expectCode(t.clientForKey(k.id, k.key), Code.Unauthenticated);
      const fresh = await clientFor({ id: k.id, key: rotated.key });
      assert.deepEqual(
        (await fresh.listOrganizations()).map((o) => o.id),
        [orgA],
      );
      // Same id, name, creation time and authorizations: only the value changed.
      assert.deepEqual(await snapshot(fresh, orgA), before);
    });

    /** A key owning org A that then created org C, so it owns C too (as the admin key owns B). */
    const twoOrgKey = async (name: string) => {
      const k = await createKey([orgOwner(orgA)], name);
      const client = await clientFor(k);
      const orgC = (await client.createOrganization(`${name} org`))!.id;
      return { ...k, client, orgC };
    };

    it('lets a key that created a second organization rotate itself (it owns all it holds)', async () => {
      const k = await twoOrgKey('two-org-self');
      const rotated = await k.client.rotateKey(k.id);
      assert.equal(rotated.id, k.id);
      assert.notEqual(rotated.key, k.key);
      const fresh = await clientFor({ id: k.id, key: rotated.key });
      assert.deepEqual((await fresh.listOrganizations()).map((o) => o.id).sort(), [orgA, k.orgC].sort());
      await expectCode(t.clientForKey(k.id, k.key), Code.Unauthenticated);
    });

    it("refuses an owner of only the key's organization when the key holds more (PERMISSION_DENIED)", async () => {
      const k = await twoOrgKey('two-org-other');
      // The admin key owns A (and B) but not C: rotating K would hand it K's power over C.
      const before = await snapshot(admin, orgA);
      await assert.rejects(admin.rotateKey(k.id), (e: Error & { code?: unknown }) => {
        assert.equal(e.code, Code.PermissionDenied, String(e));
        assert.ok(!e.message.includes(k.orgC), `the refusal does not name org C: ${e.message}`);
        return true;
      });
      assert.deepEqual(await snapshot(admin, orgA), before);
      await stillWorks(k);
    });

    it('answers NOT_FOUND for an unknown id; an operator key is PERMISSION_DENIED', async () => {
      await expectCode(admin.rotateKey(randomUUID()), Code.NotFound);
      const k = await createKey([orgOperator(orgA)], 'operator-cannot-rotate');
      await expectCode(opClient.rotateKey(k.id), Code.PermissionDenied);
      await expectCode(opClient.rotateKey(opKey.id), Code.PermissionDenied);
      await stillWorks(k);
      await stillWorks(opKey);
    });
  });

  describe('RenameKey', () => {
    it('renames; ListKeys shows the new name', async () => {
      const k = await createKey([orgOperator(orgA)], 'old-name');
      const res = await renameKey(admin, { id: k.id, name: 'new-name' });
      assert.equal(res.id, k.id);
      assert.equal(res.name, 'new-name');
      const listed = (await snapshot(admin, orgA)).find((x) => x.id === k.id);
      assert.equal(listed?.name, 'new-name');
      await stillWorks(k);
    });

    it("refuses '' and blanks (INVALID_ARGUMENT), unknown ids (NOT_FOUND), operators (PERMISSION_DENIED)", async () => {
      const k = await createKey([orgOperator(orgA)], 'keeps-its-name');
      const a = await snapshot(admin, orgA);
      await expectCode(renameKey(admin, { id: k.id, name: '' }), Code.InvalidArgument);
      await expectCode(renameKey(admin, { id: k.id, name: '   ' }), Code.InvalidArgument);
      await expectCode(renameKey(admin, { id: randomUUID(), name: 'x' }), Code.NotFound);
      await expectCode(renameKey(opClient, { id: k.id, name: 'by operator' }), Code.PermissionDenied);
      assert.deepEqual(await snapshot(admin, orgA), a);
    });
  });

  describe('CreateKeyFromExistingKeyAuthorizations', () => {
    it('creates a new key with the same authorizations', async () => {
      const src = await createKey([orgOperator(orgA), locationOwner(orgA, locA2)], 'source');
      const before = await snapshot(admin, orgA);
      const res = await admin.createKeyFromExistingKeyAuthorizations(src.id);
      assert.match(res.id, UUID_RE);
      assert.notEqual(res.id, src.id);
      assert.match(res.key, KEY_VALUE_RE);
      assert.notEqual(res.key, src.key);

      const after = await snapshot(admin, orgA);
      assert.equal(after.length, before.length + 1);
      const srcListed = after.find((k) => k.id === src.id);
      const copy = after.find((k) => k.id === res.id);
      assert.ok(srcListed && copy);
      assert.equal(copy.authorizations.length, 2);
      assert.deepEqual(copy.authorizations, srcListed.authorizations);
      assert.notEqual(copy.name, '');

      // The copy acts with the same roles: owner of Loc A2, operator elsewhere.
      const c = await clientFor(res);
      assert.equal((await c.getLocation(locA2))?.auth?.secrets.length, 1, 'owner of Loc A2 reads its secret');
      assert.equal((await c.getLocation(locA))?.auth, undefined, 'operator on Loc A sees no secrets');
      await expectCode(c.listKeys(orgA), Code.PermissionDenied);
      // The source still works.
      await stillWorks(src);
    });

    it('answers NOT_FOUND for an unknown id and refuses an operator (PERMISSION_DENIED)', async () => {
      const a = await snapshot(admin, orgA);
      await expectCode(admin.createKeyFromExistingKeyAuthorizations(randomUUID()), Code.NotFound);
      await expectCode(opClient.createKeyFromExistingKeyAuthorizations(opKey.id), Code.PermissionDenied);
      await expectCode(
        opClient.createKeyFromExistingKeyAuthorizations(t.admin.apiKeyId),
        Code.PermissionDenied,
      );
      // A location owner cannot copy an organization owner's key either.
      await expectCode(
        locOwnerClient.createKeyFromExistingKeyAuthorizations(t.admin.apiKeyId),
        Code.PermissionDenied,
      );
      assert.deepEqual(await snapshot(admin, orgA), a);
    });
  });

  describe("isolation: org B's key on org A's keys", () => {
    it('answers NOT_FOUND to every key method and changes nothing', async () => {
      const target = await createKey([orgOperator(orgA)], 'isolation-target');
      const a = await snapshot(admin, orgA);
      const b = await snapshot(admin, orgB);

      await expectCode(bClient.listKeys(orgA), Code.NotFound);
      await expectCode(bClient.deleteKey(target.id), Code.NotFound);
      await expectCode(bClient.deleteKey(t.admin.apiKeyId), Code.NotFound);
      await expectCode(bClient.rotateKey(target.id), Code.NotFound);
      await expectCode(renameKey(bClient, { id: target.id, name: 'pwned' }), Code.NotFound);
      await expectCode(bClient.createKeyFromExistingKeyAuthorizations(target.id), Code.NotFound);
      await expectCode(bClient.createKeyFromExistingKeyAuthorizations(t.admin.apiKeyId), Code.NotFound);

      assert.deepEqual(await snapshot(admin, orgA), a);
      assert.deepEqual(await snapshot(admin, orgB), b);
      // Not rotated: the original value still authenticates.
      await stillWorks(target);
      // And B's key still works on B.
      assert.deepEqual(
        (await bClient.listKeys(orgB)).map((k) => k.apiKey?.id),
        [bKey.id],
      );
    });
  });
});
