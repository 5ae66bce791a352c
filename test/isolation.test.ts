import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { Code } from '@connectrpc/connect';
import { type AppClient } from '@viamrobotics/sdk';
import { rawAppClient, type RawAppClient } from './support/clients.js';
import { forEachDialect } from './support/databases.js';
import { organizationRole, roleAuthorization } from './support/roles.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * Tenant isolation: a key that owns only organization B calls every organization, location and
 * API key method on organization A's objects. Each call must be refused (NOT_FOUND where B holds
 * no role on the object; never success), must answer exactly as it does for ids that do not
 * exist (so the refusal does not reveal that A's objects exist), and must change nothing.
 */

/** A's objects as the cases name them. `ghostTarget()` gives ids of the same shapes that exist nowhere. */
interface Target {
  orgId: string;
  rootLocationId: string;
  subLocationId: string;
  /** The root location's second secret. */
  secondSecretId: string;
  /** An extra API key of organization A (not the admin key). */
  keyId: string;
  /** A's admin user (created by `flotilla init`), who belongs to A only. */
  userId: string;
  email: string;
  /** A third organization that A's root location is shared with; B has no role there either. */
  sharedWithOrgId: string;
}

/** The refused caller: B's SDK client, its raw AppService client, and B's own objects. */
interface Caller {
  app: AppClient;
  raw: RawAppClient;
  orgId: string;
  locationId: string;
}

interface Case {
  name: string;
  /** The code observed: always one of REFUSAL_CODES. */
  code: Code;
  call: (b: Caller, a: Target) => Promise<unknown>;
}

const REFUSAL_CODES: readonly Code[] = [Code.NotFound, Code.PermissionDenied, Code.InvalidArgument];

const CASES: Case[] = [
  // Organizations.
  { name: 'getOrganization(A)', code: Code.NotFound, call: (b, a) => b.app.getOrganization(a.orgId) },
  {
    name: 'updateOrganization(A, rename)',
    code: Code.NotFound,
    call: (b, a) => b.app.updateOrganization(a.orgId, 'Taken by B'),
  },
  {
    name: 'updateOrganization(A, set namespace)',
    code: Code.NotFound,
    call: (b, a) => b.app.updateOrganization(a.orgId, undefined, 'b-was-here'),
  },
  {
    name: 'updateOrganizationNamespace(A)',
    code: Code.NotFound,
    call: (b, a) =>
      b.raw.updateOrganizationNamespace({ organizationId: a.orgId, newPublicNamespace: 'b-ns' }),
  },
  { name: 'deleteOrganization(A)', code: Code.NotFound, call: (b, a) => b.app.deleteOrganization(a.orgId) },
  {
    name: 'getOrganizationMetadata(A)',
    code: Code.NotFound,
    call: (b, a) => b.app.getOrganizationMetadata(a.orgId),
  },
  {
    name: 'updateOrganizationMetadata(A)',
    code: Code.NotFound,
    call: (b, a) => b.app.updateOrganizationMetadata(a.orgId, { tier: 'free' }),
  },
  {
    name: "listOrganizationsByUser(A's admin user)",
    code: Code.NotFound,
    call: (b, a) => b.app.listOrganizationsByUser(a.userId),
  },
  {
    name: "getOrganizationsWithAccessToLocation(A's root location)",
    code: Code.NotFound,
    call: (b, a) => b.app.getOrganizationsWithAccessToLocation(a.rootLocationId),
  },
  {
    name: "getUserIDByEmail(A's admin email)",
    code: Code.NotFound,
    call: (b, a) => b.app.getUserIDByEmail(a.email),
  },

  // Locations.
  {
    name: 'createLocation(A org)',
    code: Code.NotFound,
    call: (b, a) => b.app.createLocation(a.orgId, 'Intruder'),
  },
  {
    name: 'createLocation(A org, parent = A root location)',
    code: Code.NotFound,
    call: (b, a) => b.app.createLocation(a.orgId, 'Intruder', a.rootLocationId),
  },
  {
    name: "createLocation(B org, parent = A's root location)",
    code: Code.NotFound,
    call: (b, a) => b.app.createLocation(b.orgId, 'Intruder', a.rootLocationId),
  },
  {
    name: "getLocation(A's root location)",
    code: Code.NotFound,
    call: (b, a) => b.app.getLocation(a.rootLocationId),
  },
  {
    name: "getLocation(A's sub-location)",
    code: Code.NotFound,
    call: (b, a) => b.app.getLocation(a.subLocationId),
  },
  {
    name: "updateLocation(A's root location, rename)",
    code: Code.NotFound,
    call: (b, a) => b.app.updateLocation(a.rootLocationId, 'Renamed by B'),
  },
  {
    name: "updateLocation(A's sub-location, move to the root)",
    code: Code.NotFound,
    call: (b, a) => b.app.updateLocation(a.subLocationId, undefined, ''),
  },
  {
    name: "updateLocation(A's sub-location, move under B's location)",
    code: Code.NotFound,
    call: (b, a) => b.app.updateLocation(a.subLocationId, undefined, b.locationId),
  },
  {
    name: "updateLocation(B's location, move under A's root location)",
    code: Code.NotFound,
    call: (b, a) => b.app.updateLocation(b.locationId, undefined, a.rootLocationId),
  },
  {
    name: "deleteLocation(A's sub-location)",
    code: Code.NotFound,
    call: (b, a) => b.app.deleteLocation(a.subLocationId),
  },
  { name: 'listLocations(A)', code: Code.NotFound, call: (b, a) => b.app.listLocations(a.orgId) },
  {
    name: "shareLocation(A's root location, B org)",
    code: Code.NotFound,
    call: (b, a) => b.app.shareLocation(b.orgId, a.rootLocationId),
  },
  {
    name: "shareLocation(B's location, A org)",
    code: Code.NotFound,
    call: (b, a) => b.app.shareLocation(a.orgId, b.locationId),
  },
  {
    name: "unshareLocation(A's root location, the org it is shared with)",
    code: Code.NotFound,
    call: (b, a) => b.app.unshareLocation(a.sharedWithOrgId, a.rootLocationId),
  },
  {
    name: "locationAuth(A's root location)",
    code: Code.NotFound,
    call: (b, a) => b.app.locationAuth(a.rootLocationId),
  },
  {
    name: "createLocationSecret(A's sub-location)",
    code: Code.NotFound,
    call: (b, a) => b.app.createLocationSecret(a.subLocationId),
  },
  {
    name: "deleteLocationSecret(A's root location, its second secret)",
    code: Code.NotFound,
    call: (b, a) => b.app.deleteLocationSecret(a.rootLocationId, a.secondSecretId),
  },
  {
    name: "getLocationMetadata(A's root location)",
    code: Code.NotFound,
    call: (b, a) => b.app.getLocationMetadata(a.rootLocationId),
  },
  {
    name: "updateLocationMetadata(A's root location)",
    code: Code.NotFound,
    call: (b, a) => b.app.updateLocationMetadata(a.rootLocationId, { site: 'B' }),
  },

  // API keys.
  {
    name: 'createKey(owner of A org, in A)',
    code: Code.NotFound,
    call: (b, a) =>
      b.app.createKey([roleAuthorization(a.orgId, 'organization', a.orgId, 'owner')], 'b-into-a'),
  },
  {
    name: "createKey(owner of A's root location, in A)",
    code: Code.NotFound,
    call: (b, a) =>
      b.app.createKey([roleAuthorization(a.orgId, 'location', a.rootLocationId, 'owner')], 'b-into-a'),
  },
  {
    // The request names B's own organization but a resource outside it.
    name: "createKey(owner of A's root location, claimed to be in B)",
    code: Code.InvalidArgument,
    call: (b, a) =>
      b.app.createKey([roleAuthorization(b.orgId, 'location', a.rootLocationId, 'owner')], 'b-into-a'),
  },
  {
    name: 'createKey(owner of A org, claimed to be in B)',
    code: Code.InvalidArgument,
    call: (b, a) =>
      b.app.createKey([roleAuthorization(b.orgId, 'organization', a.orgId, 'owner')], 'b-into-a'),
  },
  { name: 'listKeys(A)', code: Code.NotFound, call: (b, a) => b.app.listKeys(a.orgId) },
  { name: "deleteKey(A's key)", code: Code.NotFound, call: (b, a) => b.app.deleteKey(a.keyId) },
  { name: "rotateKey(A's key)", code: Code.NotFound, call: (b, a) => b.app.rotateKey(a.keyId) },
  {
    name: "renameKey(A's key)",
    code: Code.NotFound,
    call: (b, a) => b.raw.renameKey({ id: a.keyId, name: 'renamed by B' }),
  },
  {
    name: "createKeyFromExistingKeyAuthorizations(A's key)",
    code: Code.NotFound,
    call: (b, a) => b.app.createKeyFromExistingKeyAuthorizations(a.keyId),
  },
];

const randomLocationId = () => randomUUID().replaceAll('-', '').slice(0, 10);

/** Ids of the same shapes as A's that name nothing. */
const ghostTarget = (): Target => ({
  orgId: randomUUID(),
  rootLocationId: randomLocationId(),
  subLocationId: randomLocationId(),
  secondSecretId: randomUUID(),
  keyId: randomUUID(),
  userId: randomUUID(),
  email: `nobody-${randomUUID()}@example.com`,
  sharedWithOrgId: randomUUID(),
});

interface Refusal {
  code: unknown;
  /** The message with the target's ids replaced by their field names. */
  message: string;
}

/** The call's error; fails the test if the call succeeds. */
async function refusalOf(call: Promise<unknown>, target: Target): Promise<Refusal> {
  let result: unknown;
  try {
    result = await call;
  } catch (error) {
    const e = error as { code?: unknown; rawMessage?: unknown; message?: unknown };
    let message = String(e.rawMessage ?? e.message);
    for (const [field, value] of Object.entries(target) as [string, string][]) {
      message = message.replaceAll(value, `<${field}>`);
    }
    return { code: e.code, message };
  }
  assert.fail(`the call succeeded: ${JSON.stringify(result)}`);
}

const json = (message: { toJson(): unknown }) => message.toJson();

forEachDialect('tenant isolation: a key of organization B on organization A', (newDatabase) => {
  let t: TestServer;
  let admin: AppClient;
  let b: Caller;
  let target: Target;
  let extraKey: string;
  let bKeyId: string;
  let before_: Awaited<ReturnType<typeof snapshot>>;

  /** Everything a refused call could touch in A, B and the organization A shares with. */
  async function snapshot() {
    const a = target;
    const reads = {
      organizations: admin.listOrganizations().then((l) => l.map(json)),
      orgA: admin.getOrganization(a.orgId).then((o) => json(o!)),
      orgAMetadata: admin.getOrganizationMetadata(a.orgId),
      locationsA: admin.listLocations(a.orgId).then((l) => l.map(json)),
      rootLocation: admin.getLocation(a.rootLocationId).then((l) => json(l!)),
      subLocation: admin.getLocation(a.subLocationId).then((l) => json(l!)),
      rootAuth: admin.locationAuth(a.rootLocationId).then((x) => json(x!)),
      subAuth: admin.locationAuth(a.subLocationId).then((x) => json(x!)),
      rootMetadata: admin.getLocationMetadata(a.rootLocationId),
      subMetadata: admin.getLocationMetadata(a.subLocationId),
      rootAccess: admin.getOrganizationsWithAccessToLocation(a.rootLocationId).then((l) => l.map(json)),
      keysA: admin.listKeys(a.orgId).then((l) => l.map(json)),
      adminUserOrgs: admin.listOrganizationsByUser(a.userId).then((l) => l.map(json)),
      // A's extra key still authenticates with its old value (not rotated, not deleted).
      extraKeySees: t
        .clientForKey(a.keyId, extraKey)
        .then((c) => c.appClient.listOrganizations())
        .then((l) => l.map((o) => o.id)),
      orgB: admin.getOrganization(b.orgId).then((o) => json(o!)),
      orgBMetadata: admin.getOrganizationMetadata(b.orgId),
      locationsB: admin.listLocations(b.orgId).then((l) => l.map(json)),
      locationBMetadata: admin.getLocationMetadata(b.locationId),
      keysB: admin.listKeys(b.orgId).then((l) => l.map(json)),
      orgC: admin.getOrganization(a.sharedWithOrgId).then((o) => json(o!)),
      locationsC: admin.listLocations(a.sharedWithOrgId).then((l) => l.map(json)),
      keysC: admin.listKeys(a.sharedWithOrgId).then((l) => l.map(json)),
    };
    const entries = await Promise.all(Object.entries(reads).map(async ([k, v]) => [k, await v] as const));
    return Object.fromEntries(entries) as { [K in keyof typeof reads]: Awaited<(typeof reads)[K]> };
  }

  before(async () => {
    t = await startTestServer(await newDatabase());
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    const orgA = t.admin.organizationId;

    // Organization A: root location with a sub-location, two secrets on the root, metadata, an extra key.
    const root = (await admin.createLocation(orgA, 'A Root'))!;
    const sub = (await admin.createLocation(orgA, 'A Sub', root.id))!;
    const firstSecret = root.auth!.secrets[0]!.id;
    const auth = (await admin.createLocationSecret(root.id))!;
    assert.equal(auth.secrets.length, 2);
    const secondSecretId = auth.secrets.find((s) => s.id !== firstSecret)!.id;
    await admin.updateOrganizationMetadata(orgA, { tier: 'gold', limits: { machines: 10 } });
    await admin.updateLocationMetadata(root.id, { site: 'north', floors: [1, 2] });
    await admin.updateLocationMetadata(sub.id, { room: 'lab' });
    const extra = await admin.createKey([organizationRole('operator', orgA)], 'a-extra');
    extraKey = extra.key;

    // Organization C, which A's root location is shared with (so unshare has something to remove).
    const orgC = (await admin.createOrganization('Org C'))!;
    await admin.shareLocation(orgC.id, root.id);

    // Organization B and a key that owns only B, with a location of its own.
    const orgB = (await admin.createOrganization('Org B'))!;
    const bKey = await admin.createKey([organizationRole('owner', orgB.id)], 'b-key');
    const bApp = (await t.clientForKey(bKey.id, bKey.key)).appClient;
    const bLocation = (await bApp.createLocation(orgB.id, 'B Home'))!;
    await admin.updateOrganizationMetadata(orgB.id, { tier: 'silver' });
    await admin.updateLocationMetadata(bLocation.id, { site: 'south' });

    bKeyId = bKey.id;
    b = { app: bApp, raw: rawAppClient(bApp), orgId: orgB.id, locationId: bLocation.id };
    target = {
      orgId: orgA,
      rootLocationId: root.id,
      subLocationId: sub.id,
      secondSecretId,
      keyId: extra.id,
      userId: t.admin.userId,
      email: t.admin.email,
      sharedWithOrgId: orgC.id,
    };
    before_ = await snapshot();
  });
  after(() => t.stop());

  it('the fixture is what the cases assume', async () => {
    const a = target;
    assert.deepEqual(
      (await admin.listLocations(a.orgId)).map((l) => [l.id, l.name, l.parentLocationId]),
      [
        [a.rootLocationId, 'A Root', ''],
        [a.subLocationId, 'A Sub', a.rootLocationId],
      ],
    );
    assert.deepEqual(
      (await admin.locationAuth(a.rootLocationId))!.secrets.map((s) => s.id).includes(a.secondSecretId),
      true,
    );
    assert.equal((await admin.locationAuth(a.rootLocationId))!.secrets.length, 2);
    assert.equal((await admin.locationAuth(a.subLocationId))!.secrets.length, 1);
    assert.deepEqual(await admin.getOrganizationMetadata(a.orgId), {
      tier: 'gold',
      limits: { machines: 10 },
    });
    assert.deepEqual(await admin.getLocationMetadata(a.rootLocationId), { site: 'north', floors: [1, 2] });
    assert.deepEqual(
      (await admin.getOrganizationsWithAccessToLocation(a.rootLocationId)).map((o) => o.id),
      [a.orgId, a.sharedWithOrgId],
    );
    assert.ok((await admin.listKeys(a.orgId)).some((k) => k.apiKey?.id === a.keyId));
    assert.deepEqual(before_.extraKeySees, [a.orgId]);
    assert.deepEqual(
      (await admin.listOrganizationsByUser(a.userId)).map((o) => o.orgId),
      [a.orgId],
    );
    // The snapshot compares real content, not empty lists.
    assert.deepEqual(await snapshot(), before_);
  });

  it("B's key works on B (control)", async () => {
    const org = (await b.app.getOrganization(b.orgId))!;
    assert.equal(org.name, 'Org B');
    assert.deepEqual(
      (await b.app.listLocations(b.orgId)).map((l) => [l.id, l.name]),
      [[b.locationId, 'B Home']],
    );
    assert.deepEqual(await b.app.getOrganizationMetadata(b.orgId), { tier: 'silver' });
    assert.equal((await b.app.locationAuth(b.locationId))!.secrets.length, 1);
    assert.deepEqual(
      (await b.app.listKeys(b.orgId)).map((k) => k.apiKey?.id),
      [bKeyId],
    );
  });

  it("listOrganizations with B's key returns only B", async () => {
    const orgs = await b.app.listOrganizations();
    assert.deepEqual(
      orgs.map((o) => [o.id, o.name]),
      [[b.orgId, 'Org B']],
    );
  });

  for (const c of CASES) {
    it(`${c.name} is refused with ${Code[c.code]} and changes nothing`, async () => {
      assert.ok(REFUSAL_CODES.includes(c.code), 'the table expects a refusal code');
      const refusal = await refusalOf(c.call(b, target), target);
      assert.equal(refusal.code, c.code, `${c.name}: ${refusal.message}`);
      // Ids that exist nowhere get the same answer, so the refusal reveals nothing about A.
      const ghost = ghostTarget();
      const ghostRefusal = await refusalOf(c.call(b, ghost), ghost);
      assert.deepEqual(ghostRefusal, refusal, `${c.name}: A's ids answer differently from unknown ids`);
      // Nothing changed in A, B or C: read everything back with A's admin key.
      assert.deepEqual(await snapshot(), before_, `${c.name} changed state`);
    });
  }
});
