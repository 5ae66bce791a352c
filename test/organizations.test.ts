import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Struct } from '@bufbuild/protobuf';
import { Code } from '@connectrpc/connect';
import { type ViamClient } from '@viamrobotics/sdk';
import { rawAppClient } from './support/clients.js';
import { forEachDialect } from './support/databases.js';
import { organizationRole } from './support/roles.js';
import { expectCode } from './support/expect.js';
import { startTestServer, type TestServer } from './support/server.js';

type AppClient = ViamClient['appClient'];

forEachDialect('organizations', (newDatabase) => {
  let t: TestServer;
  let suiteStart: number;
  /** The admin key: owner of org A, and of every organization it creates. */
  let admin: AppClient;
  let orgA: string;
  let orgB: string;
  /** A key that owns org B only. */
  let bKey: AppClient;

  const clientFor = async (key: { id: string; key: string }) =>
    (await t.clientForKey(key.id, key.key)).appClient;

  /** A fresh organization owned by the admin key. */
  const newOrg = async (name: string) => {
    const org = await admin.createOrganization(name);
    assert.ok(org?.id, 'createOrganization returned an organization');
    return org.id;
  };

  /** A key holding only the operator role on the organization. */
  const operatorOn = async (organizationId: string) =>
    clientFor(await admin.createKey([organizationRole('operator', organizationId)], 'operator-key'));

  const getOrg = async (client: AppClient, id: string) => {
    const org = await client.getOrganization(id);
    assert.ok(org, 'getOrganization returned an organization');
    return org;
  };

  const listIds = async (client: AppClient) => (await client.listOrganizations()).map((o) => o.id);

  before(async () => {
    suiteStart = Date.now();
    t = await startTestServer(await newDatabase());
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    orgA = t.admin.organizationId;
    orgB = await newOrg('Org B');
    bKey = await clientFor(await admin.createKey([organizationRole('owner', orgB)], 'b-key'));
  });
  after(() => t.stop());

  describe('GetUserIDByEmail', () => {
    it("returns the admin user's id for the admin's email", async () => {
      assert.equal(await admin.getUserIDByEmail(t.admin.email), t.admin.userId);
    });

    it('answers NOT_FOUND for an unknown email', async () => {
      await expectCode(admin.getUserIDByEmail('nobody@example.com'), Code.NotFound);
    });

    it('answers NOT_FOUND for a user who shares no organization with the caller', async () => {
      // The admin user holds a role in org A only; the B key sees org B only.
      await expectCode(bKey.getUserIDByEmail(t.admin.email), Code.NotFound);
    });

    it('answers INVALID_ARGUMENT for a malformed email', async () => {
      await expectCode(admin.getUserIDByEmail('not-an-email'), Code.InvalidArgument);
      await expectCode(admin.getUserIDByEmail(''), Code.InvalidArgument);
    });
  });

  describe('CreateOrganization', () => {
    it('refuses an empty name and creates nothing', async () => {
      const before = await listIds(admin);
      await expectCode(admin.createOrganization(''), Code.InvalidArgument);
      await expectCode(admin.createOrganization('   '), Code.InvalidArgument);
      assert.deepEqual(await listIds(admin), before);
    });

    it('creates an organization that the creator key lists and owns', async () => {
      const org = await admin.createOrganization('Org New');
      assert.ok(org);
      assert.equal(org.name, 'Org New');
      assert.notEqual(org.id, '');
      assert.equal(org.publicNamespace, '');

      const listed = (await admin.listOrganizations()).find((o) => o.id === org.id);
      assert.equal(listed?.name, 'Org New');
      // Owner-only calls succeed: metadata and the key list.
      assert.deepEqual(await admin.getOrganizationMetadata(org.id), {});
      assert.deepEqual(await admin.listKeys(org.id), []);
      const renamed = await admin.updateOrganization(org.id, 'Org New Renamed');
      assert.equal(renamed?.name, 'Org New Renamed');
      // Nobody else sees it.
      await expectCode(bKey.getOrganization(org.id), Code.NotFound);
      assert.deepEqual(await listIds(bKey), [orgB]);
    });
  });

  describe('ListOrganizations', () => {
    it('lists only the organizations the caller holds a role in', async () => {
      const bList = await bKey.listOrganizations();
      assert.deepEqual(
        bList.map((o) => [o.id, o.name]),
        [[orgB, 'Org B']],
      );
      const adminIds = await listIds(admin);
      assert.equal(adminIds[0], orgA, 'oldest first');
      assert.ok(adminIds.includes(orgB));
    });

    it('lists the organization an operator key holds its role in, and nothing else', async () => {
      const orgId = await newOrg('Org Listed To Operator');
      const operator = await operatorOn(orgId);
      assert.deepEqual(await listIds(operator), [orgId]);
    });
  });

  describe('GetOrganization', () => {
    it('returns id, name, createdOn and publicNamespace', async () => {
      const org = await getOrg(admin, orgA);
      assert.equal(org.id, orgA);
      assert.equal(org.name, 'Org A');
      assert.equal(org.publicNamespace, '');
      assert.equal(org.defaultRegion, '');
      assert.ok(org.createdOn, 'createdOn is set');
      const created = org.createdOn.toDate().getTime();
      assert.ok(created >= suiteStart - 1000 && created <= Date.now() + 1000, `createdOn ${created}`);
    });

    it('answers NOT_FOUND for an unknown id and for an organization the caller has no role in', async () => {
      await expectCode(admin.getOrganization(randomUUID()), Code.NotFound);
      await expectCode(bKey.getOrganization(orgA), Code.NotFound);
    });

    it('lets an operator read the organization', async () => {
      const orgId = await newOrg('Org Read By Operator');
      const operator = await operatorOn(orgId);
      assert.equal((await getOrg(operator, orgId)).name, 'Org Read By Operator');
    });
  });

  describe('GetOrganizationNamespaceAvailability', () => {
    it('answers true for a free namespace and false for a taken one', async () => {
      assert.equal(await admin.getOrganizationNamespaceAvailability('avail-free'), true);
      const orgId = await newOrg('Org Avail');
      await admin.updateOrganization(orgId, undefined, 'avail-taken');
      assert.equal(await admin.getOrganizationNamespaceAvailability('avail-taken'), false);
      // Taken for everyone, whoever asks.
      assert.equal(await bKey.getOrganizationNamespaceAvailability('avail-taken'), false);
      assert.equal(await admin.getOrganizationNamespaceAvailability('avail-free'), true);
    });

    it('refuses an empty or malformed namespace', async () => {
      await expectCode(admin.getOrganizationNamespaceAvailability(''), Code.InvalidArgument);
      await expectCode(admin.getOrganizationNamespaceAvailability('Bad_NS'), Code.InvalidArgument);
    });
  });

  describe('UpdateOrganization', () => {
    it('changes the name and nothing else', async () => {
      const orgId = await newOrg('Org Rename');
      const updated = await admin.updateOrganization(orgId, 'Org Renamed');
      assert.equal(updated?.name, 'Org Renamed');
      const org = await getOrg(admin, orgId);
      assert.equal(org.name, 'Org Renamed');
      assert.equal(org.publicNamespace, '');
      assert.equal(org.defaultRegion, '');
    });

    it('refuses an empty name and keeps the old one', async () => {
      const orgId = await newOrg('Org Keep Name');
      await expectCode(admin.updateOrganization(orgId, ''), Code.InvalidArgument);
      assert.equal((await getOrg(admin, orgId)).name, 'Org Keep Name');
    });

    it('sets the public namespace once; a second, different one is FAILED_PRECONDITION', async () => {
      const orgId = await newOrg('Org Namespace Once');
      const set = await admin.updateOrganization(orgId, undefined, 'once-first');
      assert.equal(set?.publicNamespace, 'once-first');
      assert.equal((await getOrg(admin, orgId)).publicNamespace, 'once-first');

      await expectCode(
        admin.updateOrganization(orgId, 'Org Namespace Twice', 'once-second'),
        Code.FailedPrecondition,
      );
      const org = await getOrg(admin, orgId);
      assert.equal(org.publicNamespace, 'once-first');
      assert.equal(org.name, 'Org Namespace Once');
      assert.equal(await admin.getOrganizationNamespaceAvailability('once-second'), true);
    });

    it("refuses another organization's namespace with ALREADY_EXISTS and changes nothing", async () => {
      const holder = await newOrg('Org Holder');
      await admin.updateOrganization(holder, undefined, 'held-ns');
      const orgId = await newOrg('Org Wants Held');
      await expectCode(
        admin.updateOrganization(orgId, 'Org Wants Held Renamed', 'held-ns'),
        Code.AlreadyExists,
      );
      const org = await getOrg(admin, orgId);
      assert.equal(org.publicNamespace, '');
      assert.equal(org.name, 'Org Wants Held');
      assert.equal((await getOrg(admin, holder)).publicNamespace, 'held-ns');
    });

    it('refuses a malformed namespace with INVALID_ARGUMENT and changes nothing', async () => {
      const orgId = await newOrg('Org Bad Namespace');
      await expectCode(
        admin.updateOrganization(orgId, 'Org Bad Namespace Renamed', 'Bad_NS'),
        Code.InvalidArgument,
      );
      const org = await getOrg(admin, orgId);
      assert.equal(org.publicNamespace, '');
      assert.equal(org.name, 'Org Bad Namespace');
    });

    it('sets the region (defaultRegion) and the cid', async () => {
      const orgId = await newOrg('Org Region');
      const withRegion = await admin.updateOrganization(orgId, undefined, undefined, 'us-east-1');
      assert.equal(withRegion?.defaultRegion, 'us-east-1');
      const withCid = await admin.updateOrganization(orgId, undefined, undefined, undefined, 'crm-42');
      assert.equal(withCid?.cid, 'crm-42');
      const org = await getOrg(admin, orgId);
      assert.equal(org.defaultRegion, 'us-east-1');
      assert.equal(org.cid, 'crm-42');
      assert.equal(org.name, 'Org Region');
    });

    it('refuses an operator with PERMISSION_DENIED and changes nothing', async () => {
      const orgId = await newOrg('Org Operated');
      const operator = await operatorOn(orgId);
      await expectCode(
        operator.updateOrganization(orgId, 'Hijacked', 'op-ns', 'eu-west-1', 'cid-x'),
        Code.PermissionDenied,
      );
      const org = await getOrg(admin, orgId);
      assert.equal(org.name, 'Org Operated');
      assert.equal(org.publicNamespace, '');
      assert.equal(org.defaultRegion, '');
      assert.equal(org.cid, undefined);
    });

    it('answers NOT_FOUND to a caller with no role and changes nothing', async () => {
      await expectCode(bKey.updateOrganization(orgA, 'Hijacked'), Code.NotFound);
      await expectCode(admin.updateOrganization(randomUUID(), 'Nobody'), Code.NotFound);
      assert.equal((await getOrg(admin, orgA)).name, 'Org A');
    });
  });

  describe('UpdateOrganizationNamespace', () => {
    it('changes the namespace and frees the old one', async () => {
      const orgId = await newOrg('Org Move Namespace');
      await admin.updateOrganization(orgId, undefined, 'move-old');
      const res = await rawAppClient(admin).updateOrganizationNamespace({
        organizationId: orgId,
        newPublicNamespace: 'move-new',
      });
      assert.equal(res.organization?.publicNamespace, 'move-new');
      assert.equal((await getOrg(admin, orgId)).publicNamespace, 'move-new');
      assert.equal(await admin.getOrganizationNamespaceAvailability('move-old'), true);
      assert.equal(await admin.getOrganizationNamespaceAvailability('move-new'), false);
    });

    it('sets a namespace on an organization that has none', async () => {
      const orgId = await newOrg('Org First Namespace');
      await rawAppClient(admin).updateOrganizationNamespace({
        organizationId: orgId,
        newPublicNamespace: 'first-set',
      });
      assert.equal((await getOrg(admin, orgId)).publicNamespace, 'first-set');
    });

    it('refuses a namespace held by another organization with ALREADY_EXISTS', async () => {
      const holder = await newOrg('Org Ns Holder');
      await admin.updateOrganization(holder, undefined, 'ns-held-2');
      const orgId = await newOrg('Org Ns Wanter');
      await admin.updateOrganization(orgId, undefined, 'ns-mine');
      await expectCode(
        rawAppClient(admin).updateOrganizationNamespace({
          organizationId: orgId,
          newPublicNamespace: 'ns-held-2',
        }),
        Code.AlreadyExists,
      );
      assert.equal((await getOrg(admin, orgId)).publicNamespace, 'ns-mine');
      assert.equal((await getOrg(admin, holder)).publicNamespace, 'ns-held-2');
    });

    it('refuses a malformed namespace and an operator, changing nothing', async () => {
      const orgId = await newOrg('Org Ns Guarded');
      await admin.updateOrganization(orgId, undefined, 'ns-guarded');
      await expectCode(
        rawAppClient(admin).updateOrganizationNamespace({
          organizationId: orgId,
          newPublicNamespace: 'Bad_NS',
        }),
        Code.InvalidArgument,
      );
      const operator = await operatorOn(orgId);
      await expectCode(
        rawAppClient(operator).updateOrganizationNamespace({
          organizationId: orgId,
          newPublicNamespace: 'ns-op',
        }),
        Code.PermissionDenied,
      );
      assert.equal((await getOrg(admin, orgId)).publicNamespace, 'ns-guarded');
      assert.equal(await admin.getOrganizationNamespaceAvailability('ns-op'), true);
    });

    it('refuses a namespace shaped like an organization id (registry ids would be ambiguous)', async () => {
      const orgId = await newOrg('Org Ns Impostor');
      await admin.updateOrganization(orgId, undefined, 'ns-impostor');
      const victim = t.admin.organizationId;
      await expectCode(
        rawAppClient(admin).updateOrganizationNamespace({
          organizationId: orgId,
          newPublicNamespace: victim,
        }),
        Code.InvalidArgument,
      );
      await expectCode(admin.updateOrganization(orgId, undefined, randomUUID()), Code.InvalidArgument);
      await expectCode(admin.getOrganizationNamespaceAvailability(victim), Code.InvalidArgument);
      assert.equal((await getOrg(admin, orgId)).publicNamespace, 'ns-impostor');
    });
  });

  describe('DeleteOrganization', () => {
    it('refuses while the organization holds a location, then deletes it once the location is gone', async () => {
      const orgId = await newOrg('Org Doomed');
      const location = await admin.createLocation(orgId, 'Doomed Site');
      assert.ok(location);

      await expectCode(admin.deleteOrganization(orgId), Code.FailedPrecondition);
      assert.equal((await getOrg(admin, orgId)).name, 'Org Doomed');
      assert.deepEqual(
        (await admin.listLocations(orgId)).map((l) => l.id),
        [location.id],
      );

      await admin.deleteLocation(location.id);
      await admin.deleteOrganization(orgId);
      await expectCode(admin.getOrganization(orgId), Code.NotFound);
      assert.ok(!(await listIds(admin)).includes(orgId));
    });

    it('refuses while the organization holds a fragment or a registry item, then deletes it', async () => {
      const orgId = await newOrg('Org With Things');
      const fragment = await admin.createFragment(orgId, 'kept', Struct.fromJson({}));
      assert.ok(fragment);
      await expectCode(admin.deleteOrganization(orgId), Code.FailedPrecondition);
      assert.equal((await admin.getFragment(fragment.id))?.id, fragment.id);

      await admin.deleteFragment(fragment.id);
      const { moduleId } = await admin.createModule(orgId, 'kept-module');
      await expectCode(admin.deleteOrganization(orgId), Code.FailedPrecondition);
      assert.equal((await getOrg(admin, orgId)).name, 'Org With Things');
      assert.equal((await admin.getModule(moduleId))?.moduleId, moduleId);

      await admin.deleteRegistryItem(moduleId);
      await admin.deleteOrganization(orgId);
      await expectCode(admin.getOrganization(orgId), Code.NotFound);
    });

    it('answers NOT_FOUND for an unknown organization', async () => {
      await expectCode(admin.deleteOrganization(randomUUID()), Code.NotFound);
    });

    it('refuses an operator with PERMISSION_DENIED and a stranger with NOT_FOUND; nothing is deleted', async () => {
      const orgId = await newOrg('Org Survivor');
      const operator = await operatorOn(orgId);
      await expectCode(operator.deleteOrganization(orgId), Code.PermissionDenied);
      await expectCode(bKey.deleteOrganization(orgId), Code.NotFound);
      assert.equal((await getOrg(admin, orgId)).name, 'Org Survivor');
      assert.equal((await getOrg(operator, orgId)).name, 'Org Survivor');
    });
  });

  describe('ListOrganizationsByUser', () => {
    it("lists the admin user's organizations with orgId and orgName", async () => {
      const orgs = await admin.listOrganizationsByUser(t.admin.userId);
      // The admin user holds a role in org A only: organizations the admin key created are the key's.
      assert.deepEqual(
        orgs.map((o) => [o.orgId, o.orgName]),
        [[orgA, 'Org A']],
      );
    });

    it('answers NOT_FOUND for an unknown user and for a user the caller shares no organization with', async () => {
      await expectCode(admin.listOrganizationsByUser(randomUUID()), Code.NotFound);
      await expectCode(bKey.listOrganizationsByUser(t.admin.userId), Code.NotFound);
    });
  });

  describe('GetOrganizationsWithAccessToLocation', () => {
    it('names the primary organization, and the organizations the location is shared with', async () => {
      const location = await admin.createLocation(orgA, 'Shared Site');
      assert.ok(location);
      const before = await admin.getOrganizationsWithAccessToLocation(location.id);
      assert.deepEqual(
        before.map((o) => [o.id, o.name]),
        [[orgA, 'Org A']],
      );
      await expectCode(bKey.getOrganizationsWithAccessToLocation(location.id), Code.NotFound);

      await admin.shareLocation(orgB, location.id);
      const sort = (list: { id: string; name: string }[]) =>
        list.map((o) => [o.id, o.name]).sort((x, y) => String(x[0]).localeCompare(String(y[0])));
      const expected = sort([
        { id: orgA, name: 'Org A' },
        { id: orgB, name: 'Org B' },
      ]);
      assert.deepEqual(sort(await admin.getOrganizationsWithAccessToLocation(location.id)), expected);
      assert.deepEqual(sort(await bKey.getOrganizationsWithAccessToLocation(location.id)), expected);
    });

    it('answers NOT_FOUND for an unknown location', async () => {
      await expectCode(admin.getOrganizationsWithAccessToLocation('zzzzzzzzzz'), Code.NotFound);
    });
  });

  describe('GetOrganizationMetadata / UpdateOrganizationMetadata', () => {
    const nested = {
      site: { name: 'north', floors: [1, 2, 3.5], open: true },
      tags: ['a', 'b', null],
      contact: { people: [{ name: 'Ada', on_call: false }] },
      empty: {},
    };

    it('starts empty and round-trips nested JSON', async () => {
      const orgId = await newOrg('Org Metadata');
      assert.deepEqual(await admin.getOrganizationMetadata(orgId), {});
      await admin.updateOrganizationMetadata(orgId, nested);
      assert.deepEqual(await admin.getOrganizationMetadata(orgId), nested);
      // An update replaces the whole document.
      await admin.updateOrganizationMetadata(orgId, { only: 'this' });
      assert.deepEqual(await admin.getOrganizationMetadata(orgId), { only: 'this' });
    });

    it('refuses an operator on both calls with PERMISSION_DENIED; the metadata is unchanged', async () => {
      const orgId = await newOrg('Org Metadata Guarded');
      await admin.updateOrganizationMetadata(orgId, nested);
      const operator = await operatorOn(orgId);
      await expectCode(operator.getOrganizationMetadata(orgId), Code.PermissionDenied);
      await expectCode(operator.updateOrganizationMetadata(orgId, { hijacked: true }), Code.PermissionDenied);
      assert.deepEqual(await admin.getOrganizationMetadata(orgId), nested);
    });

    it('answers NOT_FOUND to a caller with no role; the metadata is unchanged', async () => {
      const orgId = await newOrg('Org Metadata Hidden');
      await admin.updateOrganizationMetadata(orgId, { kept: 1 });
      await expectCode(bKey.getOrganizationMetadata(orgId), Code.NotFound);
      await expectCode(bKey.updateOrganizationMetadata(orgId, { hijacked: true }), Code.NotFound);
      assert.deepEqual(await admin.getOrganizationMetadata(orgId), { kept: 1 });
    });
  });
});
