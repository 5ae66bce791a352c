import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { Code } from '@connectrpc/connect';
import type { appApi, AppClient } from '@viamrobotics/sdk';
import { forEachDialect } from './support/databases.js';
import { expectCode } from './support/expect.js';
import { roleAuthorization } from './support/roles.js';
import { startTestServer, type TestServer } from './support/server.js';

type Location = appApi.Location;

/** The parts of a location that matter for "nothing changed" checks. */
interface LocationState {
  id: string;
  name: string;
  parent: string;
  organizations: [string, boolean][];
  auth: string[] | undefined;
}

const stateOf = (l: Location): LocationState => ({
  id: l.id,
  name: l.name,
  parent: l.parentLocationId,
  organizations: l.organizations.map((o) => [o.organizationId, o.primary]),
  auth: l.auth?.secrets.map((s) => `${s.id}:${s.secret}`),
});

const byId = (a: LocationState, b: LocationState) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** A location the call must have returned. */
function present<T>(value: T | undefined, what = 'location'): T {
  assert.ok(value, `expected a ${what} in the reply`);
  return value;
}

forEachDialect('locations through the SDK', (newDatabase) => {
  let t: TestServer;
  let admin: AppClient;
  let orgA: string;
  let orgB: string;
  let bClient: AppClient;

  /** A client for a new key holding one role, made by the admin key. */
  async function clientWithRole(
    organizationId: string,
    resourceType: 'organization' | 'location',
    resourceId: string,
    role: 'owner' | 'operator',
  ): Promise<AppClient> {
    const issued = await admin.createKey(
      [roleAuthorization(organizationId, resourceType, resourceId, role)],
      `${resourceType}_${role}-${resourceId}`,
    );
    return (await t.clientForKey(issued.id, issued.key)).appClient;
  }

  /** Every location of an organization as the admin sees it, in a stable order. */
  async function snapshot(organizationId: string): Promise<LocationState[]> {
    return (await admin.listLocations(organizationId)).map(stateOf).sort(byId);
  }

  /** The admin's view of everything that a refused location call could have touched. */
  async function fullSnapshot(): Promise<{ a: LocationState[]; b: LocationState[] }> {
    return { a: await snapshot(orgA), b: await snapshot(orgB) };
  }

  before(async () => {
    t = await startTestServer(await newDatabase());
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    orgA = t.admin.organizationId;
    orgB = present(await admin.createOrganization('Org B'), 'organization').id;
    bClient = await clientWithRole(orgB, 'organization', orgB, 'owner');
  });
  after(() => t.stop());

  it('creates a root location with a location id, one secret and its primary organization', async () => {
    const before = await snapshot(orgA);
    const loc = present(await admin.createLocation(orgA, 'Robotville'));
    assert.match(loc.id, /^[a-z0-9]{10}$/);
    assert.equal(loc.name, 'Robotville');
    assert.equal(loc.parentLocationId, '');
    const auth = present(loc.auth, 'auth');
    assert.equal(auth.locationId, loc.id);
    assert.equal(auth.secrets.length, 1);
    assert.ok(auth.secrets[0]!.secret.length >= 16, 'the secret is a real secret');
    assert.ok(auth.secrets[0]!.id !== '');
    assert.deepEqual(
      loc.organizations.map((o) => ({ organizationId: o.organizationId, primary: o.primary })),
      [{ organizationId: orgA, primary: true }],
    );
    assert.deepEqual(
      { id: loc.primaryOrgIdentity?.id, name: loc.primaryOrgIdentity?.name },
      { id: orgA, name: 'Org A' },
    );

    const got = present(await admin.getLocation(loc.id));
    assert.deepEqual(stateOf(got), stateOf(loc));
    assert.deepEqual(await snapshot(orgA), [...before, stateOf(loc)].sort(byId));

    const other = present(await admin.createLocation(orgA, 'Robotville'));
    assert.notEqual(other.id, loc.id, 'every location gets its own id');
    assert.notEqual(other.auth!.secrets[0]!.secret, auth.secrets[0]!.secret, 'and its own secret');
  });

  it('creates a location under a parent', async () => {
    const parent = present(await admin.createLocation(orgA, 'Parent'));
    const child = present(await admin.createLocation(orgA, 'Child', parent.id));
    assert.equal(child.parentLocationId, parent.id);
    assert.equal(child.name, 'Child');
    assert.match(child.id, /^[a-z0-9]{10}$/);
    assert.equal(present(await admin.getLocation(child.id)).parentLocationId, parent.id);
    const listed = (await admin.listLocations(orgA)).find((l) => l.id === child.id);
    assert.equal(present(listed).parentLocationId, parent.id);
  });

  it('refuses an empty name and changes nothing', async () => {
    const before = await fullSnapshot();
    await expectCode(admin.createLocation(orgA, ''), Code.InvalidArgument);
    await expectCode(admin.createLocation(orgA, '   '), Code.InvalidArgument);
    assert.deepEqual(await fullSnapshot(), before);
  });

  it('refuses an unknown parent with NOT_FOUND and changes nothing', async () => {
    const before = await fullSnapshot();
    await expectCode(admin.createLocation(orgA, 'Orphan', 'zzzzzzzzzz'), Code.NotFound);
    await expectCode(admin.createLocation(orgA, 'Orphan', randomUUID()), Code.NotFound);
    assert.deepEqual(await fullSnapshot(), before);
  });

  it('refuses an unknown organization with NOT_FOUND', async () => {
    const before = await fullSnapshot();
    await expectCode(admin.createLocation(randomUUID(), 'Nowhere'), Code.NotFound);
    assert.deepEqual(await fullSnapshot(), before);
  });

  it('nests three levels and refuses a fourth', async () => {
    const l1 = present(await admin.createLocation(orgA, 'Level 1'));
    const l2 = present(await admin.createLocation(orgA, 'Level 2', l1.id));
    const l3 = present(await admin.createLocation(orgA, 'Level 3', l2.id));
    assert.equal(l3.parentLocationId, l2.id);
    const before = await fullSnapshot();
    await expectCode(admin.createLocation(orgA, 'Level 4', l3.id), Code.InvalidArgument);
    assert.deepEqual(await fullSnapshot(), before);
    // A second sub-location at level 3 is still fine: the limit is depth, not count.
    const l3b = present(await admin.createLocation(orgA, 'Level 3b', l2.id));
    assert.equal(l3b.parentLocationId, l2.id);
  });

  it('refuses a parent from another organization and changes nothing', async () => {
    const inA = present(await admin.createLocation(orgA, 'A parent'));
    const inB = present(await admin.createLocation(orgB, 'B parent'));
    assert.deepEqual(
      inB.organizations.map((o) => [o.organizationId, o.primary]),
      [[orgB, true]],
    );
    const before = await fullSnapshot();
    // The admin owns both organizations, so it sees both parents: the mismatch is the request's fault.
    await expectCode(admin.createLocation(orgA, 'Cross', inB.id), Code.InvalidArgument);
    await expectCode(admin.createLocation(orgB, 'Cross', inA.id), Code.InvalidArgument);
    // B's key cannot see A's location at all.
    await expectCode(bClient.createLocation(orgB, 'Cross', inA.id), Code.NotFound);
    assert.deepEqual(await fullSnapshot(), before);
  });

  it('GetLocation answers NOT_FOUND for an unknown id and for another tenant', async () => {
    await expectCode(admin.getLocation('zzzzzzzzzz'), Code.NotFound);
    await expectCode(admin.getLocation(randomUUID()), Code.NotFound);
    const inA = present(await admin.createLocation(orgA, 'Private'));
    await expectCode(bClient.getLocation(inA.id), Code.NotFound);
  });

  it('UpdateLocation renames, moves, moves to the root, and keeps the name when it is empty', async () => {
    const home = present(await admin.createLocation(orgA, 'Home'));
    const loc = present(await admin.createLocation(orgA, 'Old name', home.id));
    const target = present(await admin.createLocation(orgA, 'Target'));

    const renamed = present(await admin.updateLocation(loc.id, 'New name'));
    assert.equal(renamed.name, 'New name');
    assert.equal(renamed.parentLocationId, home.id, 'a rename keeps the parent');
    assert.deepEqual(
      [
        present(await admin.getLocation(loc.id)).name,
        present(await admin.getLocation(loc.id)).parentLocationId,
      ],
      ['New name', home.id],
    );

    const moved = present(await admin.updateLocation(loc.id, undefined, target.id));
    assert.equal(moved.parentLocationId, target.id);
    assert.equal(moved.name, 'New name', 'a move keeps the name');
    const movedBack = present(await admin.getLocation(loc.id));
    assert.deepEqual([movedBack.name, movedBack.parentLocationId], ['New name', target.id]);

    const toRoot = present(await admin.updateLocation(loc.id, undefined, ''));
    assert.equal(toRoot.parentLocationId, '');
    assert.equal(toRoot.name, 'New name');
    const atRoot = present(await admin.getLocation(loc.id));
    assert.deepEqual([atRoot.name, atRoot.parentLocationId], ['New name', '']);

    // The seed's form: name "" means "keep the name".
    const moved2 = present(await admin.updateLocation(loc.id, '', home.id));
    assert.deepEqual([moved2.name, moved2.parentLocationId], ['New name', home.id]);
    const kept = present(await admin.updateLocation(loc.id, ''));
    assert.deepEqual([kept.name, kept.parentLocationId], ['New name', home.id]);
    const read = present(await admin.getLocation(loc.id));
    assert.deepEqual([read.name, read.parentLocationId], ['New name', home.id]);
    // The secrets are untouched by updates.
    assert.deepEqual(stateOf(read).auth, stateOf(loc).auth);
  });

  it('UpdateLocation refuses cycles, a too deep tree, bad names and unknown ids, changing nothing', async () => {
    const x = present(await admin.createLocation(orgA, 'X'));
    const xc = present(await admin.createLocation(orgA, 'X child', x.id));
    const xgc = present(await admin.createLocation(orgA, 'X grandchild', xc.id));
    const p1 = present(await admin.createLocation(orgA, 'P1'));
    const p2 = present(await admin.createLocation(orgA, 'P2', p1.id));
    const p3 = present(await admin.createLocation(orgA, 'P3', p2.id));
    const y = present(await admin.createLocation(orgA, 'Y'));
    const yc = present(await admin.createLocation(orgA, 'Y child', y.id));
    const leaf = present(await admin.createLocation(orgA, 'Leaf'));
    const inB = present(await admin.createLocation(orgB, 'In B'));

    const before = await fullSnapshot();
    await expectCode(admin.updateLocation(x.id, undefined, x.id), Code.InvalidArgument);
    await expectCode(admin.updateLocation(x.id, undefined, xc.id), Code.InvalidArgument);
    await expectCode(admin.updateLocation(x.id, undefined, xgc.id), Code.InvalidArgument);
    await expectCode(admin.updateLocation(x.id, 'Renamed too', xc.id), Code.InvalidArgument);
    // Y has a child: under P2 (level 2) it would put Y's child at level 4.
    await expectCode(admin.updateLocation(y.id, undefined, p2.id), Code.InvalidArgument);
    // A leaf under a level-3 location would sit at level 4.
    await expectCode(admin.updateLocation(leaf.id, undefined, p3.id), Code.InvalidArgument);
    await expectCode(admin.updateLocation(leaf.id, '   '), Code.InvalidArgument);
    await expectCode(admin.updateLocation(leaf.id, undefined, 'zzzzzzzzzz'), Code.NotFound);
    await expectCode(admin.updateLocation(leaf.id, undefined, inB.id), Code.InvalidArgument);
    await expectCode(admin.updateLocation('zzzzzzzzzz', 'Ghost'), Code.NotFound);
    assert.deepEqual(await fullSnapshot(), before);

    // The same moves within the limit work: Y under P1 puts its child at level 3, a leaf under P2 at 3.
    assert.equal(present(await admin.updateLocation(y.id, undefined, p1.id)).parentLocationId, p1.id);
    assert.equal(present(await admin.getLocation(yc.id)).parentLocationId, y.id);
    assert.equal(present(await admin.updateLocation(leaf.id, undefined, p2.id)).parentLocationId, p2.id);
    // Moving a descendant up and out is not a cycle.
    assert.equal(present(await admin.updateLocation(xgc.id, undefined, '')).parentLocationId, '');
  });

  it('DeleteLocation refuses while a sub-location exists, then deletes, then answers NOT_FOUND', async () => {
    const parent = present(await admin.createLocation(orgA, 'Doomed'));
    const child = present(await admin.createLocation(orgA, 'Doomed child', parent.id));
    const before = await fullSnapshot();
    await expectCode(admin.deleteLocation(parent.id), Code.FailedPrecondition);
    assert.deepEqual(await fullSnapshot(), before);
    assert.equal(present(await admin.getLocation(parent.id)).name, 'Doomed');

    await admin.deleteLocation(child.id);
    await expectCode(admin.getLocation(child.id), Code.NotFound);
    await admin.deleteLocation(parent.id);
    await expectCode(admin.getLocation(parent.id), Code.NotFound);
    await expectCode(admin.deleteLocation(parent.id), Code.NotFound);
    await expectCode(admin.locationAuth(parent.id), Code.NotFound);
    assert.deepEqual(
      await snapshot(orgA),
      before.a.filter((l) => l.id !== parent.id && l.id !== child.id),
    );
  });

  it('DeleteLocation of another tenant answers NOT_FOUND and changes nothing', async () => {
    const inA = present(await admin.createLocation(orgA, 'Not yours'));
    const before = await fullSnapshot();
    await expectCode(bClient.deleteLocation(inA.id), Code.NotFound);
    assert.deepEqual(await fullSnapshot(), before);
  });

  it('ListLocations lists exactly the locations of the organization', async () => {
    const orgC = present(await admin.createOrganization('Org C'), 'organization').id;
    assert.deepEqual(await admin.listLocations(orgC), []);
    const c1 = present(await admin.createLocation(orgC, 'C1'));
    const c2 = present(await admin.createLocation(orgC, 'C2'));
    const c3 = present(await admin.createLocation(orgC, 'C3', c1.id));
    const listed = await admin.listLocations(orgC);
    assert.deepEqual(listed.map(stateOf).sort(byId), [c1, c2, c3].map(stateOf).sort(byId));
    for (const l of listed) assert.equal(l.primaryOrgIdentity?.name, 'Org C');
    // No location of C shows up in A, and B's key sees neither A's nor C's list.
    const inA = new Set((await admin.listLocations(orgA)).map((l) => l.id));
    for (const c of [c1, c2, c3]) assert.ok(!inA.has(c.id));
    await expectCode(bClient.listLocations(orgA), Code.NotFound);
    await expectCode(bClient.listLocations(orgC), Code.NotFound);
    await expectCode(admin.listLocations(randomUUID()), Code.NotFound);
  });

  it('ShareLocation and UnshareLocation give and take another organization access', async () => {
    const loc = present(await admin.createLocation(orgA, 'Shared yard'));
    await expectCode(bClient.getLocation(loc.id), Code.NotFound);
    assert.ok(!(await bClient.listLocations(orgB)).some((l) => l.id === loc.id));

    await admin.shareLocation(orgB, loc.id);
    const seenByB = present(await bClient.getLocation(loc.id));
    assert.equal(seenByB.name, 'Shared yard');
    assert.ok((await bClient.listLocations(orgB)).some((l) => l.id === loc.id));
    const bothOrgs = [
      [orgA, true],
      [orgB, false],
    ];
    assert.deepEqual(stateOf(seenByB).organizations, bothOrgs);
    assert.deepEqual(stateOf(present(await admin.getLocation(loc.id))).organizations, bothOrgs);
    assert.deepEqual(
      { id: seenByB.primaryOrgIdentity?.id, name: seenByB.primaryOrgIdentity?.name },
      { id: orgA, name: 'Org A' },
    );

    const shared = await fullSnapshot();
    await expectCode(admin.shareLocation(orgB, loc.id), Code.AlreadyExists);
    await expectCode(admin.shareLocation(orgA, loc.id), Code.InvalidArgument);
    await expectCode(admin.unshareLocation(orgA, loc.id), Code.FailedPrecondition);
    await expectCode(admin.shareLocation(randomUUID(), loc.id), Code.NotFound);
    assert.deepEqual(await fullSnapshot(), shared);

    await admin.unshareLocation(orgB, loc.id);
    await expectCode(bClient.getLocation(loc.id), Code.NotFound);
    assert.ok(!(await bClient.listLocations(orgB)).some((l) => l.id === loc.id));
    assert.deepEqual(stateOf(present(await admin.getLocation(loc.id))).organizations, [[orgA, true]]);

    const unshared = await fullSnapshot();
    await expectCode(admin.unshareLocation(orgB, loc.id), Code.NotFound);
    // B's key cannot share a location it cannot see into its own organization.
    await expectCode(bClient.shareLocation(orgB, loc.id), Code.NotFound);
    assert.deepEqual(await fullSnapshot(), unshared);
  });

  it('LocationAuth, CreateLocationSecret and DeleteLocationSecret keep one or two secrets', async () => {
    const loc = present(await admin.createLocation(orgA, 'Secretive'));
    const first = present(loc.auth, 'auth').secrets[0]!;

    const auth1 = present(await admin.locationAuth(loc.id), 'auth');
    assert.equal(auth1.locationId, loc.id);
    assert.deepEqual(
      auth1.secrets.map((s) => [s.id, s.secret]),
      [[first.id, first.secret]],
    );

    const auth2 = present(await admin.createLocationSecret(loc.id), 'auth');
    assert.equal(auth2.secrets.length, 2);
    assert.ok(auth2.secrets.some((s) => s.id === first.id && s.secret === first.secret));
    const second = auth2.secrets.find((s) => s.id !== first.id)!;
    assert.notEqual(second.secret, first.secret);
    assert.ok(second.secret.length >= 16);
    const two = (await admin.locationAuth(loc.id))!.secrets.map((s) => s.id).sort();
    assert.deepEqual(two, [first.id, second.id].sort());

    await expectCode(admin.createLocationSecret(loc.id), Code.FailedPrecondition);
    assert.deepEqual((await admin.locationAuth(loc.id))!.secrets.map((s) => s.id).sort(), two);

    await expectCode(admin.deleteLocationSecret(loc.id, randomUUID()), Code.NotFound);
    assert.deepEqual((await admin.locationAuth(loc.id))!.secrets.map((s) => s.id).sort(), two);

    await admin.deleteLocationSecret(loc.id, first.id);
    const left = (await admin.locationAuth(loc.id))!.secrets;
    assert.deepEqual(
      left.map((s) => [s.id, s.secret]),
      [[second.id, second.secret]],
    );
    assert.deepEqual(
      present(present(await admin.getLocation(loc.id)).auth, 'auth').secrets.map((s) => s.id),
      [second.id],
    );

    await expectCode(admin.deleteLocationSecret(loc.id, second.id), Code.FailedPrecondition);
    await expectCode(admin.deleteLocationSecret(loc.id, first.id), Code.NotFound);
    assert.deepEqual(
      (await admin.locationAuth(loc.id))!.secrets.map((s) => s.id),
      [second.id],
    );

    // A secret id of another location is not this location's secret.
    const other = present(await admin.createLocation(orgA, 'Other secretive'));
    const otherSecret = other.auth!.secrets[0]!.id;
    await admin.createLocationSecret(loc.id);
    await expectCode(admin.deleteLocationSecret(loc.id, otherSecret), Code.NotFound);
    assert.equal((await admin.locationAuth(loc.id))!.secrets.length, 2);
    assert.deepEqual(
      (await admin.locationAuth(other.id))!.secrets.map((s) => s.id),
      [otherSecret],
    );

    await expectCode(admin.locationAuth('zzzzzzzzzz'), Code.NotFound);
    await expectCode(bClient.locationAuth(loc.id), Code.NotFound);
    await expectCode(bClient.createLocationSecret(loc.id), Code.NotFound);
    await expectCode(bClient.deleteLocationSecret(loc.id, second.id), Code.NotFound);
    assert.equal((await admin.locationAuth(loc.id))!.secrets.length, 2);
  });

  it('GetLocationMetadata and UpdateLocationMetadata round-trip a JSON object', async () => {
    const loc = present(await admin.createLocation(orgA, 'Metadata'));
    assert.deepEqual(await admin.getLocationMetadata(loc.id), {});
    const data = { site: 'north', floors: 3, tags: ['a', 'b'], nested: { ok: true, none: null } };
    await admin.updateLocationMetadata(loc.id, data);
    assert.deepEqual(await admin.getLocationMetadata(loc.id), data);
    await admin.updateLocationMetadata(loc.id, { replaced: 'yes' });
    assert.deepEqual(await admin.getLocationMetadata(loc.id), { replaced: 'yes' });
    // Metadata is per location.
    const other = present(await admin.createLocation(orgA, 'Metadata 2'));
    assert.deepEqual(await admin.getLocationMetadata(other.id), {});
    await expectCode(admin.getLocationMetadata('zzzzzzzzzz'), Code.NotFound);
    await expectCode(admin.updateLocationMetadata('zzzzzzzzzz', { a: 1 }), Code.NotFound);
    await expectCode(bClient.getLocationMetadata(loc.id), Code.NotFound);
    await expectCode(bClient.updateLocationMetadata(loc.id, { stolen: true }), Code.NotFound);
    assert.deepEqual(await admin.getLocationMetadata(loc.id), { replaced: 'yes' });
  });

  it('an organization operator reads locations without secrets and may change nothing', async () => {
    const loc = present(await admin.createLocation(orgA, 'Operated'));
    const sub = present(await admin.createLocation(orgA, 'Operated child', loc.id));
    await admin.updateLocationMetadata(loc.id, { owner: 'only' });
    const operator = await clientWithRole(orgA, 'organization', orgA, 'operator');

    const got = present(await operator.getLocation(loc.id));
    assert.equal(got.id, loc.id);
    assert.equal(got.name, 'Operated');
    assert.ok(got.auth === undefined || (got.auth.secrets.length === 0 && got.auth.secret === ''));
    const listed = await operator.listLocations(orgA);
    assert.deepEqual(
      listed.map((l) => l.id).sort(),
      (await admin.listLocations(orgA)).map((l) => l.id).sort(),
    );
    for (const l of listed) {
      assert.ok(l.auth === undefined || (l.auth.secrets.length === 0 && l.auth.secret === ''), l.id);
    }

    const before = await fullSnapshot();
    await expectCode(operator.locationAuth(loc.id), Code.PermissionDenied);
    await expectCode(operator.createLocationSecret(loc.id), Code.PermissionDenied);
    await expectCode(operator.deleteLocationSecret(loc.id, loc.auth!.secrets[0]!.id), Code.PermissionDenied);
    await expectCode(operator.getLocationMetadata(loc.id), Code.PermissionDenied);
    await expectCode(operator.updateLocationMetadata(loc.id, { owner: 'operator' }), Code.PermissionDenied);
    await expectCode(operator.updateLocation(loc.id, 'Hijacked'), Code.PermissionDenied);
    await expectCode(operator.updateLocation(sub.id, undefined, ''), Code.PermissionDenied);
    await expectCode(operator.deleteLocation(sub.id), Code.PermissionDenied);
    await expectCode(operator.createLocation(orgA, 'Operator root'), Code.PermissionDenied);
    await expectCode(operator.createLocation(orgA, 'Operator sub', loc.id), Code.PermissionDenied);
    await expectCode(operator.shareLocation(orgA, loc.id), Code.PermissionDenied);
    assert.deepEqual(await fullSnapshot(), before);
    assert.deepEqual(await admin.getLocationMetadata(loc.id), { owner: 'only' });
    assert.equal((await admin.locationAuth(loc.id))!.secrets.length, 1);
    // Org B stays invisible to A's operator.
    await expectCode(operator.listLocations(orgB), Code.NotFound);
  });

  it('a location owner sees only its subtree and may create sub-locations but not root locations', async () => {
    const mine = present(await admin.createLocation(orgA, 'Mine'));
    const mineChild = present(await admin.createLocation(orgA, 'Mine child', mine.id));
    const elsewhere = present(await admin.createLocation(orgA, 'Elsewhere'));
    const owner = await clientWithRole(orgA, 'location', mine.id, 'owner');

    assert.deepEqual(
      (await owner.listLocations(orgA)).map((l) => l.id).sort(),
      [mine.id, mineChild.id].sort(),
    );
    // It owns the location, so it sees its secrets.
    assert.equal(present(await owner.getLocation(mine.id)).auth?.secrets.length, 1);
    await expectCode(owner.getLocation(elsewhere.id), Code.NotFound);

    const sub = present(await owner.createLocation(orgA, 'Owner sub', mine.id));
    assert.equal(sub.parentLocationId, mine.id);
    assert.deepEqual(
      (await owner.listLocations(orgA)).map((l) => l.id).sort(),
      [mine.id, mineChild.id, sub.id].sort(),
    );

    const before = await fullSnapshot();
    await expectCode(owner.createLocation(orgA, 'Owner root'), Code.PermissionDenied);
    await expectCode(owner.createLocation(orgA, 'Owner elsewhere', elsewhere.id), Code.NotFound);
    // Moving a location out of its subtree needs rights where it lands: on another location, or on
    // the organization for the root (the same right that creating a root location needs).
    await expectCode(owner.updateLocation(sub.id, undefined, elsewhere.id), Code.NotFound);
    await expectCode(owner.updateLocation(sub.id, undefined, ''), Code.PermissionDenied);
    assert.deepEqual(await fullSnapshot(), before);
  });
});
