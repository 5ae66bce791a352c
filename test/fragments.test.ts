import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { Code } from '@connectrpc/connect';
import { appApi, type AppClient } from '@viamrobotics/sdk';
import { structFromObject } from '../src/rpc/wire-values.js';
import { rawAppClient } from './support/clients.js';
import { forEachDialect } from './support/databases.js';
import { clientForOrgRole } from './support/roles.js';
import { defined, expectCode } from './support/expect.js';
import { startTestServer, type TestServer } from './support/server.js';

type Fragment = appApi.Fragment;
const { FragmentVisibility } = appApi;

/** Timestamps as the wire carries them. */
type WireTime = { seconds: bigint; nanos: number };

const msOf = (ts: WireTime | undefined): number => {
  assert.ok(ts, 'expected a timestamp');
  return Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1_000_000);
};

const ALL_VISIBILITIES = [
  FragmentVisibility.PRIVATE,
  FragmentVisibility.PUBLIC,
  FragmentVisibility.PUBLIC_UNLISTED,
];

/** Tag names the tests use; a fragment's tags are read back through GetFragment(version=tag). */
const TAG_NAMES = ['stable', 'beta', 'prod', 'v1.2_rc-3'];

/** A fragment config viam-server would accept: one motor with attributes. */
const motorConfig = (tag: string, extra: Record<string, unknown> = {}) => ({
  components: [
    {
      name: `motor-${tag}`,
      api: 'rdk:component:motor',
      model: 'rdk:builtin:fake',
      attributes: { tag, max_rpm: 100, pins: { a: '1', b: '2' } },
    },
  ],
  ...extra,
});

const sortedIds = (fragments: readonly { id: string }[]) => fragments.map((f) => f.id).sort();
const tagList = (tags: readonly appApi.FragmentTag[]) =>
  tags.map((t) => [t.tag, t.revision]).sort(([a], [b]) => String(a).localeCompare(String(b)));

/** Everything about a fragment a refused call must leave as it was, as its owner sees it. */
interface FragmentState {
  name: string;
  revision: string;
  visibility: appApi.FragmentVisibility;
  public: boolean;
  config: unknown;
  lastUpdated: number;
  robotPartCount: number;
  history: number;
  tags: Record<string, string | null>;
}

forEachDialect('fragments through the SDK', (newDatabase) => {
  let t: TestServer;
  let admin: AppClient;
  let operator: AppClient;
  let bClient: AppClient;
  let orgA: string;
  let orgB: string;
  /** Owned by the admin key, with no public namespace. */
  let orgC: string;
  let locA: string;
  let locB: string;

  /** Creates a fragment through the raw client (the SDK's wrapper cannot pass a visibility). */
  async function createFragment(
    name: string,
    config: Record<string, unknown> = {},
    visibility?: appApi.FragmentVisibility,
    organizationId = orgA,
    client = admin,
  ): Promise<Fragment> {
    const res = await rawAppClient(client).createFragment({
      organizationId,
      name,
      config: structFromObject(config),
      ...(visibility === undefined ? {} : { visibility }),
    });
    return defined(res.fragment, `fragment ${name}`);
  }

  /** Saves a new revision with this config, keeping the name. */
  async function saveConfig(fragment: Fragment, config: Record<string, unknown>, client = admin) {
    return defined(
      await client.updateFragment(fragment.id, fragment.name, structFromObject(config)),
      'an updated fragment',
    );
  }

  async function getFragment(id: string, version?: string, client = admin): Promise<Fragment> {
    const res = await rawAppClient(client).getFragment({ id, ...(version === undefined ? {} : { version }) });
    return defined(res.fragment, `fragment ${id}@${version ?? 'latest'}`);
  }

  async function fragmentState(id: string): Promise<FragmentState> {
    const f = await getFragment(id);
    const history = await rawAppClient(admin).getFragmentHistory({ id, pageLimit: 100n });
    const tags: Record<string, string | null> = {};
    for (const tag of TAG_NAMES) {
      try {
        tags[tag] = (await getFragment(id, tag)).revision;
      } catch (error) {
        assert.equal((error as { code?: unknown }).code, Code.NotFound, String(error));
        tags[tag] = null;
      }
    }
    return {
      name: f.name,
      revision: f.revision,
      visibility: f.visibility,
      public: f.public,
      config: f.fragment?.toJson(),
      lastUpdated: msOf(f.lastUpdated),
      robotPartCount: f.robotPartCount,
      history: history.history.length,
      tags,
    };
  }

  /** Asserts the call is refused with `code` and that the fragment is exactly as it was. */
  async function refusedUnchanged(id: string, call: () => Promise<unknown>, code: Code) {
    const before = await fragmentState(id);
    await expectCode(call(), code);
    assert.deepEqual(await fragmentState(id), before, 'a refused call changed the fragment');
  }

  /** Every fragment an organization owns, as its owner lists them. */
  async function orgFragments(organizationId: string, client = admin) {
    return sortedIds(await client.listFragments(organizationId, false, ALL_VISIBILITIES));
  }

  /** A new machine in `location`; resolves to its id and its main part's id and name. */
  async function newMachine(name: string, location = locA, client = admin) {
    const machineId = await client.newRobot(location, name);
    const parts = await client.getRobotParts(machineId);
    assert.equal(parts.length, 1);
    return { machineId, partId: parts[0]!.id, partName: parts[0]!.name };
  }

  async function setPartConfig(
    partId: string,
    name: string,
    config: Record<string, unknown>,
    client = admin,
  ) {
    await client.updateRobotPart(partId, name, structFromObject(config));
  }

  async function partState(partId: string) {
    const res = await admin.getRobotPart(partId);
    const part = defined(res.part, 'a part');
    return {
      name: part.name,
      configJson: JSON.parse(res.configJson) as unknown,
      lastUpdated: msOf(part.lastUpdated),
      history: (await admin.getRobotPartHistory(partId)).length,
    };
  }

  before(async () => {
    t = await startTestServer(await newDatabase());
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    orgA = t.admin.organizationId;
    operator = await clientForOrgRole(t, admin, orgA, 'operator', 'operator');
    orgB = defined(await admin.createOrganization('Org B'), 'org B').id;
    bClient = await clientForOrgRole(t, admin, orgB, 'owner', 'b-key');
    orgC = defined(await admin.createOrganization('Org C'), 'org C').id;
    await admin.updateOrganization(orgA, undefined, 'org-a-fleet');
    locA = defined(await admin.createLocation(orgA, 'Fragment Lab'), 'a location').id;
    locB = defined(await bClient.createLocation(orgB, 'B Yard'), 'a location in B').id;
  });
  after(() => t.stop());

  it('CreateFragment: private by default at revision 1; PUBLIC needs a namespace; refusals create nothing', async () => {
    const config = motorConfig('create');
    const before = Date.now();
    const f = defined(await admin.createFragment(orgA, 'base motor', structFromObject(config)), 'a fragment');
    assert.match(f.id, /^[0-9a-f-]{36}$/);
    assert.equal(f.name, 'base motor');
    assert.equal(f.revision, '1');
    assert.equal(f.visibility, FragmentVisibility.PRIVATE);
    assert.equal(f.public, false);
    assert.equal(f.organizationOwner, orgA);
    assert.equal(f.organizationName, 'Org A');
    assert.deepEqual(f.fragment?.toJson(), config);
    assert.equal(f.robotPartCount, 0);
    assert.equal(f.organizationCount, 0);
    assert.ok(Math.abs(msOf(f.createdOn) - before) < 60_000, 'created just now');
    assert.equal(msOf(f.lastUpdated), msOf(f.createdOn));
    // Read back as stored.
    const read = await getFragment(f.id);
    assert.equal(read.revision, '1');
    assert.equal(read.name, 'base motor');
    assert.deepEqual(read.fragment?.toJson(), config);
    assert.equal(read.visibility, FragmentVisibility.PRIVATE);
    assert.deepEqual(
      (await rawAppClient(admin).getFragmentHistory({ id: f.id })).history,
      [],
      'no entry for creation',
    );

    // PUBLIC and PUBLIC_UNLISTED in org A (which has a public namespace).
    const pub = await createFragment('public motor', config, FragmentVisibility.PUBLIC);
    assert.equal(pub.visibility, FragmentVisibility.PUBLIC);
    assert.equal(pub.public, true);
    assert.equal(pub.revision, '1');
    const unl = await createFragment('unlisted motor', config, FragmentVisibility.PUBLIC_UNLISTED);
    assert.equal(unl.visibility, FragmentVisibility.PUBLIC_UNLISTED);
    assert.equal(unl.public, false);
    assert.equal((await getFragment(unl.id)).visibility, FragmentVisibility.PUBLIC_UNLISTED);

    // Refusals: nothing is created in either organization.
    const listedA = await orgFragments(orgA);
    const listedC = await orgFragments(orgC);
    const listedB = await orgFragments(orgB, bClient);
    await expectCode(
      createFragment('needs namespace', config, FragmentVisibility.PUBLIC, orgC),
      Code.FailedPrecondition,
    );
    await expectCode(admin.createFragment(orgA, '', structFromObject(config)), Code.InvalidArgument);
    await expectCode(admin.createFragment(orgA, '   ', structFromObject(config)), Code.InvalidArgument);
    await expectCode(
      admin.createFragment(orgA, 'bad config', structFromObject({ components: 'not a list' })),
      Code.InvalidArgument,
    );
    await expectCode(
      operator.createFragment(orgA, 'by operator', structFromObject(config)),
      Code.PermissionDenied,
    );
    await expectCode(bClient.createFragment(orgA, 'by b', structFromObject(config)), Code.NotFound);
    await expectCode(admin.createFragment(randomUUID(), 'nowhere', structFromObject(config)), Code.NotFound);
    assert.deepEqual(await orgFragments(orgA), listedA, 'a refused create added a fragment to org A');
    assert.deepEqual(await orgFragments(orgC), listedC, 'a refused create added a fragment to org C');
    assert.deepEqual(
      await orgFragments(orgB, bClient),
      listedB,
      'a refused create added a fragment to org B',
    );
    // PUBLIC_UNLISTED needs no namespace; only PUBLIC does.
    const unlistedC = await createFragment('unlisted in C', config, FragmentVisibility.PUBLIC_UNLISTED, orgC);
    assert.equal(unlistedC.visibility, FragmentVisibility.PUBLIC_UNLISTED);
  });

  it('GetFragment: latest, by revision and by tag; private ones invisible to other organizations', async () => {
    const f = await createFragment('versions', motorConfig('v1'));
    await admin.updateFragment(f.id, 'versions two', structFromObject(motorConfig('v2')));
    await admin.updateFragment(f.id, 'versions three', structFromObject(motorConfig('v3')));

    const latest = defined(await admin.getFragment(f.id), 'the latest revision');
    assert.equal(latest.revision, '3');
    assert.equal(latest.name, 'versions three');
    assert.deepEqual(latest.fragment?.toJson(), motorConfig('v3'));
    assert.equal(latest.organizationOwner, orgA);

    for (const [version, name, tag] of [
      ['1', 'versions', 'v1'],
      ['2', 'versions two', 'v2'],
      ['3', 'versions three', 'v3'],
    ] as const) {
      const at = await getFragment(f.id, version);
      assert.equal(at.id, f.id);
      assert.equal(at.revision, version);
      assert.equal(at.name, name);
      assert.deepEqual(at.fragment?.toJson(), motorConfig(tag));
    }
    assert.ok(msOf((await getFragment(f.id, '1')).lastUpdated) < msOf(latest.lastUpdated));

    const tags = await rawAppClient(admin).setFragmentTag({ fragmentId: f.id, tag: 'prod', revision: '2' });
    assert.deepEqual(tagList(tags.tags), [['prod', '2']]);
    // GetFragment lists every tag, at any version asked for.
    for (const version of [undefined, '1']) {
      const read = await rawAppClient(admin).getFragment({ id: f.id, ...(version ? { version } : {}) });
      assert.deepEqual(tagList(read.tags), [['prod', '2']]);
    }
    const tagged = await getFragment(f.id, 'prod');
    assert.equal(tagged.revision, '2');
    assert.equal(tagged.name, 'versions two');
    assert.deepEqual(tagged.fragment?.toJson(), motorConfig('v2'));

    await expectCode(getFragment(f.id, '9'), Code.NotFound);
    await expectCode(getFragment(f.id, 'no-such-tag'), Code.NotFound);
    await expectCode(admin.getFragment(randomUUID()), Code.NotFound);

    // Private: invisible to org B, at any version.
    await expectCode(bClient.getFragment(f.id), Code.NotFound);
    await expectCode(getFragment(f.id, '1', bClient), Code.NotFound);
    await expectCode(getFragment(f.id, 'prod', bClient), Code.NotFound);

    // Public and public-unlisted: readable by org B, as the owner reads them.
    const pub = await createFragment('shared', motorConfig('pub'), FragmentVisibility.PUBLIC);
    const unl = await createFragment(
      'shared unlisted',
      motorConfig('unl'),
      FragmentVisibility.PUBLIC_UNLISTED,
    );
    for (const shared of [pub, unl]) {
      const seen = defined(await bClient.getFragment(shared.id), 'a shared fragment for B');
      assert.equal(seen.id, shared.id);
      assert.equal(seen.name, shared.name);
      assert.equal(seen.organizationOwner, orgA);
      assert.equal(seen.visibility, shared.visibility);
      assert.deepEqual(seen.fragment?.toJson(), shared.fragment?.toJson());
      assert.equal((await getFragment(shared.id, '1', bClient)).revision, '1');
    }
  });

  it('UpdateFragment: a new revision per save; last_known_update, namespace and role refusals change nothing', async () => {
    const f = await createFragment('updatable', motorConfig('u1'));
    const r2 = await saveConfig(f, motorConfig('u2'));
    assert.equal(r2.revision, '2');
    assert.deepEqual(r2.fragment?.toJson(), motorConfig('u2'));
    assert.equal(r2.visibility, FragmentVisibility.PRIVATE, 'visibility unchanged when not passed');
    assert.ok(msOf(r2.lastUpdated) > msOf(f.lastUpdated));
    assert.equal(msOf(r2.createdOn), msOf(f.createdOn), 'created_on stays');
    // An identical save is still a new revision.
    const r3 = await saveConfig(r2, motorConfig('u2'));
    assert.equal(r3.revision, '3');
    const renamed = defined(
      await admin.updateFragment(f.id, 'renamed', structFromObject(motorConfig('u4'))),
      'a renamed fragment',
    );
    assert.equal(renamed.revision, '4');
    assert.equal(renamed.name, 'renamed');
    const read = await getFragment(f.id);
    assert.equal(read.revision, '4');
    assert.equal(read.name, 'renamed');
    assert.deepEqual(read.fragment?.toJson(), motorConfig('u4'));

    // last_known_update: a stale one is refused, the current one accepted.
    await refusedUnchanged(
      f.id,
      () =>
        rawAppClient(admin).updateFragment({
          id: f.id,
          name: 'stale',
          config: structFromObject(motorConfig('stale')),
          lastKnownUpdate: defined(r3.lastUpdated, 'r3 time'),
        }),
      Code.FailedPrecondition,
    );
    const guarded = defined(
      (
        await rawAppClient(admin).updateFragment({
          id: f.id,
          name: 'guarded',
          config: structFromObject(motorConfig('u5')),
          lastKnownUpdate: defined(read.lastUpdated, 'current time'),
        })
      ).fragment,
      'a guarded update',
    );
    assert.equal(guarded.revision, '5');
    assert.equal(guarded.name, 'guarded');

    // Other refusals.
    await refusedUnchanged(
      f.id,
      () => admin.updateFragment(f.id, '', structFromObject(motorConfig('x'))),
      Code.InvalidArgument,
    );
    await refusedUnchanged(
      f.id,
      () => admin.updateFragment(f.id, 'bad', structFromObject({ services: { not: 'a list' } })),
      Code.InvalidArgument,
    );
    await refusedUnchanged(
      f.id,
      () => operator.updateFragment(f.id, 'by operator', structFromObject(motorConfig('op'))),
      Code.PermissionDenied,
    );
    await refusedUnchanged(
      f.id,
      () => bClient.updateFragment(f.id, 'by b', structFromObject(motorConfig('b'))),
      Code.NotFound,
    );
    await expectCode(admin.updateFragment(randomUUID(), 'missing', structFromObject({})), Code.NotFound);

    // Visibility: PUBLIC needs the organization's namespace (org C has none), by either field.
    const c = await createFragment('in C', motorConfig('c'), undefined, orgC);
    await refusedUnchanged(
      c.id,
      () => admin.updateFragment(c.id, c.name, structFromObject(motorConfig('c')), true),
      Code.FailedPrecondition,
    );
    await refusedUnchanged(
      c.id,
      () =>
        admin.updateFragment(
          c.id,
          c.name,
          structFromObject(motorConfig('c')),
          undefined,
          FragmentVisibility.PUBLIC,
        ),
      Code.FailedPrecondition,
    );
    const cUnlisted = defined(
      await admin.updateFragment(
        c.id,
        c.name,
        structFromObject(motorConfig('c')),
        undefined,
        FragmentVisibility.PUBLIC_UNLISTED,
      ),
      'an unlisted fragment in C',
    );
    assert.equal(cUnlisted.visibility, FragmentVisibility.PUBLIC_UNLISTED);

    // In org A (namespace set): private -> public -> unlisted -> private.
    const madePublic = defined(
      await admin.updateFragment(f.id, 'guarded', structFromObject(motorConfig('u5')), true),
      'a public fragment',
    );
    assert.equal(madePublic.visibility, FragmentVisibility.PUBLIC);
    assert.equal(madePublic.public, true);
    assert.equal(madePublic.revision, '6');
    assert.equal((await bClient.getFragment(f.id))?.revision, '6', 'org B now sees it');
    const unlisted = defined(
      await admin.updateFragment(
        f.id,
        'guarded',
        structFromObject(motorConfig('u5')),
        undefined,
        FragmentVisibility.PUBLIC_UNLISTED,
      ),
      'an unlisted fragment',
    );
    assert.equal(unlisted.visibility, FragmentVisibility.PUBLIC_UNLISTED);
    assert.equal(unlisted.public, false);
    const privateAgain = defined(
      await admin.updateFragment(f.id, 'guarded', structFromObject(motorConfig('u5')), false),
      'a private fragment',
    );
    assert.equal(privateAgain.visibility, FragmentVisibility.PRIVATE);
    assert.equal(privateAgain.revision, '8');
    await expectCode(bClient.getFragment(f.id), Code.NotFound);
  });

  it('UpdateFragment refuses a fragment including itself, directly or through others', async () => {
    const f = await createFragment('loop f', motorConfig('f'));
    const g = await createFragment('loop g', { ...motorConfig('g'), fragments: [f.id] });
    const h = await createFragment('loop h', { ...motorConfig('h'), fragments: [{ id: g.id }] });

    // Directly.
    await refusedUnchanged(
      f.id,
      () => admin.updateFragment(f.id, f.name, structFromObject({ ...motorConfig('f'), fragments: [f.id] })),
      Code.InvalidArgument,
    );
    // f -> g -> f.
    await refusedUnchanged(
      f.id,
      () => admin.updateFragment(f.id, f.name, structFromObject({ ...motorConfig('f'), fragments: [g.id] })),
      Code.InvalidArgument,
    );
    // f -> h -> g -> f, asked by version as well.
    await refusedUnchanged(
      f.id,
      () =>
        admin.updateFragment(
          f.id,
          f.name,
          structFromObject({ ...motorConfig('f'), fragments: [{ id: h.id, version: '1' }] }),
        ),
      Code.InvalidArgument,
    );
    const gState = await fragmentState(g.id);
    assert.equal(gState.revision, '1', 'the fragments it went through are untouched');
    assert.equal(gState.history, 0);
    // A fragment that does not exist, or a private one of org B, is refused too.
    const bPrivate = await createFragment('b private', motorConfig('bp'), undefined, orgB, bClient);
    for (const ref of [randomUUID(), bPrivate.id]) {
      await refusedUnchanged(
        f.id,
        () => admin.updateFragment(f.id, f.name, structFromObject({ ...motorConfig('f'), fragments: [ref] })),
        Code.InvalidArgument,
      );
      await expectCode(
        admin.createFragment(orgA, 'refers', structFromObject({ fragments: [ref] })),
        Code.InvalidArgument,
      );
    }
    // Not a cycle: f may include a fragment that g also includes.
    const leaf = await createFragment('loop leaf', motorConfig('leaf'));
    await saveConfig(g, { ...motorConfig('g'), fragments: [f.id, leaf.id] });
    const ok = await saveConfig(f, { ...motorConfig('f'), fragments: [leaf.id] });
    assert.equal(ok.revision, '2');
  });

  it('CreateFragment and UpdateFragment both count the saved fragment as level 1 of at most 5', async () => {
    // d1 <- d2 <- d3 <- d4: d4 is a tree 4 levels deep.
    const d1 = await createFragment('depth 1', motorConfig('d1'));
    const d2 = await createFragment('depth 2', { fragments: [d1.id] });
    const d3 = await createFragment('depth 3', { fragments: [d2.id] });
    const d4 = await createFragment('depth 4', { fragments: [d3.id] });
    // Including d4 makes 5 levels: accepted on create and on update.
    const five = await createFragment('depth 5', { fragments: [d4.id] });
    assert.equal(five.revision, '1');
    const other = await createFragment('depth other', {});
    assert.equal((await saveConfig(other, { fragments: [d4.id] })).revision, '2');
    // Including `five` makes 6 levels: refused on update...
    const plain = await createFragment('depth plain', {});
    await refusedUnchanged(
      plain.id,
      () => admin.updateFragment(plain.id, plain.name, structFromObject({ fragments: [five.id] })),
      Code.InvalidArgument,
    );
    // ...and the same config must be refused on create, or the fragment could never be saved again.
    const listed = await orgFragments(orgA);
    await expectCode(
      admin.createFragment(orgA, 'depth six', structFromObject({ fragments: [five.id] })),
      Code.InvalidArgument,
    );
    assert.deepEqual(await orgFragments(orgA), listed, 'a refused create added a fragment');
  });

  it('DeleteFragment: FAILED_PRECONDITION while a part or another fragment uses it; ok after', async () => {
    const f = await createFragment('deletable', motorConfig('del'));
    const user = await createFragment('delete user', { fragments: [f.id] });
    const { partId, partName } = await newMachine('delete-bot');
    await setPartConfig(partId, partName, { fragments: [{ id: f.id, version: '1' }] });
    assert.equal((await getFragment(f.id)).robotPartCount, 1);

    await refusedUnchanged(f.id, () => admin.deleteFragment(f.id), Code.FailedPrecondition);
    await refusedUnchanged(f.id, () => operator.deleteFragment(f.id), Code.PermissionDenied);
    await refusedUnchanged(f.id, () => bClient.deleteFragment(f.id), Code.NotFound);

    // The part lets go; the other fragment still uses it.
    await setPartConfig(partId, partName, {});
    assert.equal((await getFragment(f.id)).robotPartCount, 0);
    await refusedUnchanged(f.id, () => admin.deleteFragment(f.id), Code.FailedPrecondition);
    // The other fragment lets go too.
    await saveConfig(user, {});
    await refusedUnchanged(f.id, () => operator.deleteFragment(f.id), Code.PermissionDenied);
    await admin.deleteFragment(f.id);
    await expectCode(admin.getFragment(f.id), Code.NotFound);
    await expectCode(getFragment(f.id, '1'), Code.NotFound);
    await expectCode(admin.deleteFragment(f.id), Code.NotFound);
    assert.ok(!(await orgFragments(orgA)).includes(f.id));
    // Deleting a fragment that uses others is fine (nothing uses it); the others stay.
    const leaf = await createFragment('delete leaf', {});
    const top = await createFragment('delete top', { fragments: [leaf.id] });
    await admin.deleteFragment(top.id);
    await expectCode(admin.getFragment(top.id), Code.NotFound);
    // ...and what it used can then be deleted.
    await admin.deleteFragment(leaf.id);
    await expectCode(admin.getFragment(leaf.id), Code.NotFound);
  });

  it('DeleteFragment: FAILED_PRECONDITION while a part pins an older revision of a fragment that included it', async () => {
    const inner = await createFragment('pinned inner', motorConfig('inner'));
    const outer = await createFragment('pinned outer', { fragments: [inner.id] });
    // Revision 2 of outer no longer includes inner, but a part pins revision 1, which does.
    await saveConfig(outer, {});
    const { partId, partName } = await newMachine('pin-bot');
    await setPartConfig(partId, partName, { fragments: [{ id: outer.id, version: '1' }] });
    await refusedUnchanged(inner.id, () => admin.deleteFragment(inner.id), Code.FailedPrecondition);
    // The part's config still resolves: it can be saved again as it is.
    await setPartConfig(partId, partName, { fragments: [{ id: outer.id, version: '1' }] });
  });

  it('ListFragments: the organization’s fragments by visibility; what the SDK sends by default', async () => {
    const orgD = defined(await admin.createOrganization('Org D'), 'org D').id;
    await admin.updateOrganization(orgD, undefined, 'org-d-fleet');
    const priv = await createFragment('d private', {}, undefined, orgD);
    const pub = await createFragment('d public', {}, FragmentVisibility.PUBLIC, orgD);
    const unl = await createFragment('d unlisted', {}, FragmentVisibility.PUBLIC_UNLISTED, orgD);
    const ids = (...fs: Fragment[]) => sortedIds(fs);

    // The SDK's listFragments(org) sends show_public=true with no visibilities: the public ones
    // (public-unlisted fragments are not listed unless asked for by visibility).
    assert.deepEqual(sortedIds(await admin.listFragments(orgD)), ids(pub));
    assert.deepEqual(
      sortedIds(
        (
          await rawAppClient(admin).listFragments({
            organizationId: orgD,
            showPublic: true,
            fragmentVisibility: [],
          })
        ).fragments,
      ),
      ids(pub),
    );
    assert.deepEqual(sortedIds(await admin.listFragments(orgD, false)), ids(priv));
    assert.deepEqual(
      sortedIds(
        (
          await rawAppClient(admin).listFragments({
            organizationId: orgD,
            showPublic: false,
            fragmentVisibility: [],
          })
        ).fragments,
      ),
      ids(priv),
    );
    // Listed visibilities win over show_public.
    for (const showPublic of [true, false]) {
      const by = async (vs: appApi.FragmentVisibility[]) =>
        sortedIds(await admin.listFragments(orgD, showPublic, vs));
      assert.deepEqual(await by([FragmentVisibility.PRIVATE]), ids(priv));
      assert.deepEqual(await by([FragmentVisibility.PUBLIC]), ids(pub));
      assert.deepEqual(await by([FragmentVisibility.PUBLIC_UNLISTED]), ids(unl));
      assert.deepEqual(
        await by([FragmentVisibility.PRIVATE, FragmentVisibility.PUBLIC_UNLISTED]),
        ids(priv, unl),
      );
      assert.deepEqual(await by(ALL_VISIBILITIES), ids(priv, pub, unl));
    }
    // The listed fragments are complete.
    const [listedPub] = await admin.listFragments(orgD, false, [FragmentVisibility.PUBLIC]);
    assert.equal(listedPub?.name, 'd public');
    assert.equal(listedPub?.organizationOwner, orgD);
    assert.equal(listedPub?.revision, '1');
    assert.equal(listedPub?.public, true);

    // Only the organization's own fragments: org B's list never holds org D's public ones.
    const bOwn = await createFragment('b own', {}, undefined, orgB, bClient);
    assert.ok(sortedIds(await bClient.listFragments(orgB, false, ALL_VISIBILITIES)).includes(bOwn.id));
    for (const f of await bClient.listFragments(orgB, false, ALL_VISIBILITIES)) {
      assert.equal(f.organizationOwner, orgB);
    }
    // Another organization's list is not found for B; a deleted one disappears from lists.
    await expectCode(bClient.listFragments(orgD), Code.NotFound);
    await expectCode(bClient.listFragments(orgA, false, ALL_VISIBILITIES), Code.NotFound);
    await admin.deleteFragment(unl.id);
    assert.deepEqual(sortedIds(await admin.listFragments(orgD, true, ALL_VISIBILITIES)), ids(priv, pub));
    // The operator of org A lists org A's private fragments like the owner.
    assert.deepEqual(
      sortedIds(await operator.listFragments(orgA, false)),
      sortedIds(await admin.listFragments(orgA, false)),
    );
    assert.ok((await admin.listFragments(orgA, false)).length > 0);
  });

  it('ListMachineFragments and ListNestedFragments include nested fragments', async () => {
    const leaf = await createFragment('nest leaf', motorConfig('leaf'));
    const mid = await createFragment('nest mid', { fragments: [leaf.id] });
    const top = await createFragment('nest top', { fragments: [{ id: mid.id }] });
    const solo = await createFragment('nest solo', {});
    const extra = await createFragment('nest extra', {});
    const bPrivate = await createFragment('nest b private', {}, undefined, orgB, bClient);
    const { machineId, partId, partName } = await newMachine('nest-bot');
    assert.deepEqual(await admin.listMachineFragments(machineId), []);
    await setPartConfig(partId, partName, { fragments: [top.id] });
    const second = await admin.newRobotPart(machineId, 'nest-bot-arm');
    await setPartConfig(second, 'nest-bot-arm', { fragments: [solo.id] });

    const listed = await admin.listMachineFragments(machineId);
    assert.deepEqual(sortedIds(listed), sortedIds([top, mid, leaf, solo]));
    assert.deepEqual(
      listed.find((f) => f.id === leaf.id)?.fragment?.toJson(),
      motorConfig('leaf'),
      'listed with their configs',
    );
    assert.deepEqual(
      sortedIds(await admin.listMachineFragments(machineId, [extra.id])),
      sortedIds([top, mid, leaf, solo, extra]),
    );
    // Another organization's private fragment is never returned, even when asked for (the admin key
    // created org B, so it owns B too; org A's operator holds no role in B).
    assert.deepEqual(
      sortedIds(await operator.listMachineFragments(machineId)),
      sortedIds([top, mid, leaf, solo]),
    );
    try {
      const withB = await operator.listMachineFragments(machineId, [bPrivate.id]);
      assert.ok(!withB.some((f) => f.id === bPrivate.id), 'leaked a private fragment of org B');
    } catch (error) {
      assert.ok(
        [Code.NotFound, Code.InvalidArgument].includes((error as { code: Code }).code),
        String(error),
      );
    }
    await expectCode(bClient.listMachineFragments(machineId), Code.NotFound);
    await expectCode(admin.listMachineFragments(randomUUID()), Code.NotFound);

    const nested = async (fragmentId: string, client = admin) =>
      sortedIds((await rawAppClient(client).listNestedFragments({ fragmentId })).fragments);
    assert.deepEqual(await nested(top.id), sortedIds([mid, leaf]));
    assert.deepEqual(await nested(mid.id), sortedIds([leaf]));
    assert.deepEqual(await nested(leaf.id), []);
    assert.deepEqual(
      sortedIds(
        (
          await rawAppClient(admin).listNestedFragments({
            fragmentId: mid.id,
            additionalFragments: [{ fragmentId: solo.id }],
          })
        ).fragments,
      ),
      sortedIds([leaf, solo]),
    );
    await expectCode(nested(top.id, bClient), Code.NotFound);
    await expectCode(nested(randomUUID()), Code.NotFound);
    // A public top fragment's nested private ones stay hidden from org B.
    await admin.updateFragment(top.id, top.name, structFromObject({ fragments: [mid.id] }), true);
    assert.deepEqual(await nested(top.id, bClient), []);
  });

  it('GetFragmentHistory: one entry per update, newest first, paged two at a time', async () => {
    const configs = ['h1', 'h2', 'h3', 'h4'].map((tag) => motorConfig(tag));
    const created = await createFragment('history 1', configs[0]);
    assert.deepEqual((await rawAppClient(admin).getFragmentHistory({ id: created.id })).history, []);
    const revisions: Fragment[] = [created];
    for (const n of [2, 3, 4]) {
      revisions.push(
        defined(
          await admin.updateFragment(created.id, `history ${n}`, structFromObject(configs[n - 1]!)),
          'an update',
        ),
      );
    }
    assert.deepEqual(
      revisions.map((r) => r.revision),
      ['1', '2', '3', '4'],
    );

    const page1 = await rawAppClient(admin).getFragmentHistory({ id: created.id, pageLimit: 2n });
    assert.equal(page1.history.length, 2);
    assert.notEqual(page1.nextPageToken, '');
    const page2 = await rawAppClient(admin).getFragmentHistory({
      id: created.id,
      pageLimit: 2n,
      pageToken: page1.nextPageToken,
    });
    assert.equal(page2.history.length, 1);
    assert.equal(page2.nextPageToken, '');
    const entries = [...page1.history, ...page2.history];
    // Entry i: the fragment as it was before edit 4 - i, made at that edit's time by the admin key.
    entries.forEach((entry, i) => {
      const old = revisions[2 - i]!;
      const edit = revisions[3 - i]!;
      assert.equal(entry.fragment, created.id);
      assert.equal(entry.revision, old.revision);
      assert.deepEqual(entry.config?.toJson(), configs[2 - i]);
      assert.equal(entry.old?.id, created.id);
      assert.equal(entry.old?.revision, old.revision);
      assert.equal(entry.old?.name, old.name);
      assert.deepEqual(entry.old?.fragment?.toJson(), configs[2 - i]);
      assert.equal(entry.editedBy?.type, appApi.AuthenticationType.API_KEY);
      assert.equal(entry.editedBy?.value, t.admin.apiKeyId);
      assert.equal(msOf(entry.editedOn), msOf(edit.lastUpdated));
    });
    assert.deepEqual(
      entries.map((e) => e.revision),
      ['3', '2', '1'],
    );
    const times = entries.map((e) => msOf(e.editedOn));
    assert.ok(times[0]! > times[1]! && times[1]! > times[2]!, 'newest first');

    // Without a limit: all three (default page of 10), no token.
    const all = await rawAppClient(admin).getFragmentHistory({ id: created.id });
    assert.deepEqual(
      all.history.map((e) => e.revision),
      ['3', '2', '1'],
    );
    assert.equal(all.nextPageToken, '');
    const exact = await rawAppClient(admin).getFragmentHistory({ id: created.id, pageLimit: 3n });
    assert.equal(exact.history.length, 3);
    assert.equal(exact.nextPageToken, '', 'no token when nothing is left');

    // Refusals change nothing.
    await refusedUnchanged(
      created.id,
      () => rawAppClient(admin).getFragmentHistory({ id: created.id, pageToken: 'not a token!' }),
      Code.InvalidArgument,
    );
    await expectCode(rawAppClient(bClient).getFragmentHistory({ id: created.id }), Code.NotFound);
    await expectCode(rawAppClient(admin).getFragmentHistory({ id: randomUUID() }), Code.NotFound);
    // An edit by another key names that key.
    await admin.updateFragment(created.id, 'history 5', structFromObject(configs[3]!), true);
    const newest = (await rawAppClient(bClient).getFragmentHistory({ id: created.id, pageLimit: 1n }))
      .history[0];
    assert.equal(newest?.revision, '4', 'org B reads the history of a public fragment');
  });

  it('SetFragmentTag / DeleteFragmentTag: names, revisions, moving; pinning a tag', async () => {
    const f = await createFragment('tagged', motorConfig('t1'));
    await saveConfig(f, motorConfig('t2'));
    await saveConfig(f, motorConfig('t3'));
    const set = (tag: string, revision: string, client = admin) =>
      rawAppClient(client).setFragmentTag({ fragmentId: f.id, tag, revision });

    assert.deepEqual(tagList((await set('stable', '2')).tags), [['stable', '2']]);
    const stable = await getFragment(f.id, 'stable');
    assert.equal(stable.revision, '2');
    assert.deepEqual(stable.fragment?.toJson(), motorConfig('t2'));
    assert.deepEqual(tagList((await set('beta', '3')).tags), [
      ['beta', '3'],
      ['stable', '2'],
    ]);
    // Moving a tag.
    assert.deepEqual(tagList((await set('stable', '1')).tags), [
      ['beta', '3'],
      ['stable', '1'],
    ]);
    assert.deepEqual((await getFragment(f.id, 'stable')).fragment?.toJson(), motorConfig('t1'));
    assert.equal((await getFragment(f.id, 'beta')).revision, '3');
    assert.equal((await set('v1.2_rc-3', '3')).tags.length, 3);
    assert.equal((await set(`a${'b'.repeat(63)}`, '1')).tags.length, 4, 'a 64-character tag is fine');
    await rawAppClient(admin).deleteFragmentTag({ fragmentId: f.id, tag: `a${'b'.repeat(63)}` });
    // Tags do not make revisions or history.
    assert.equal((await getFragment(f.id)).revision, '3');

    // Refusals change nothing (tags, revision, history).
    for (const bad of ['Stable', '1st', '', '-x', '.x', 'has space', 'ünicode', `a${'b'.repeat(64)}`]) {
      await refusedUnchanged(f.id, () => set(bad, '2'), Code.InvalidArgument);
    }
    for (const revision of ['99', '4', '0', '-1', 'abc', '', '1.0']) {
      await refusedUnchanged(f.id, () => set('stable', revision), Code.InvalidArgument);
      await refusedUnchanged(f.id, () => set('prod', revision), Code.InvalidArgument);
    }
    await refusedUnchanged(f.id, () => set('prod', '2', operator), Code.PermissionDenied);
    await refusedUnchanged(f.id, () => set('prod', '2', bClient), Code.NotFound);
    await expectCode(
      rawAppClient(admin).setFragmentTag({ fragmentId: randomUUID(), tag: 'prod', revision: '1' }),
      Code.NotFound,
    );

    // DeleteFragmentTag.
    const del = (tag: string, client = admin) =>
      rawAppClient(client).deleteFragmentTag({ fragmentId: f.id, tag });
    await refusedUnchanged(f.id, () => del('prod'), Code.NotFound);
    await refusedUnchanged(f.id, () => del('beta', operator), Code.PermissionDenied);
    await refusedUnchanged(f.id, () => del('beta', bClient), Code.NotFound);
    assert.deepEqual(tagList((await del('beta')).tags), [
      ['stable', '1'],
      ['v1.2_rc-3', '3'],
    ]);
    await expectCode(getFragment(f.id, 'beta'), Code.NotFound);
    await refusedUnchanged(f.id, () => del('beta'), Code.NotFound);

    // Tag the second revision and pin it in a part; an unknown tag cannot be pinned.
    await set('stable', '2');
    assert.deepEqual((await getFragment(f.id, 'stable')).fragment?.toJson(), motorConfig('t2'));
    const { machineId, partId, partName } = await newMachine('tag-bot');
    await setPartConfig(partId, partName, { fragments: [{ id: f.id, version: 'stable' }] });
    assert.deepEqual(JSON.parse((await admin.getRobotPart(partId)).configJson), {
      fragments: [{ id: f.id, version: 'stable' }],
    });
    assert.deepEqual(sortedIds(await admin.listMachineFragments(machineId)), [f.id]);
    const before = await partState(partId);
    for (const version of ['nope', '99']) {
      await expectCode(
        admin.updateRobotPart(partId, partName, structFromObject({ fragments: [{ id: f.id, version }] })),
        Code.InvalidArgument,
      );
    }
    assert.deepEqual(await partState(partId), before, 'a refused part update changed the part');
    // A tag a part pins can still be moved.
    assert.deepEqual(tagList((await set('stable', '3')).tags), [
      ['stable', '3'],
      ['v1.2_rc-3', '3'],
    ]);
  });

  it('GetFragmentUsage: counts per version in use, across organizations', async () => {
    const f = await createFragment('usage', motorConfig('use1'), FragmentVisibility.PUBLIC);
    await saveConfig(f, motorConfig('use2'));
    assert.deepEqual((await rawAppClient(admin).getFragmentUsage({ fragmentId: f.id })).versionUsages, []);

    // Org A: machine one uses the latest from two parts; machine two pins revision 1.
    const one = await newMachine('usage-one');
    await setPartConfig(one.partId, one.partName, { fragments: [f.id] });
    const oneArm = await admin.newRobotPart(one.machineId, 'usage-one-arm');
    await setPartConfig(oneArm, 'usage-one-arm', { fragments: [{ id: f.id }] });
    const two = await newMachine('usage-two');
    await setPartConfig(two.partId, two.partName, { fragments: [{ id: f.id, version: '1' }] });
    // Org B: one machine uses the latest.
    const b = await newMachine('usage-b', locB, bClient);
    await setPartConfig(b.partId, b.partName, { fragments: [f.id] }, bClient);

    const usage = async () =>
      (await rawAppClient(admin).getFragmentUsage({ fragmentId: f.id })).versionUsages
        .map((u) => ({
          fragmentId: u.fragmentId,
          version: u.version,
          organizations: u.organizations,
          machines: u.machines,
          machinesInCurrentOrg: u.machinesInCurrentOrg,
        }))
        .sort((x, y) => String(x.version).localeCompare(String(y.version)));
    assert.deepEqual(await usage(), [
      { fragmentId: f.id, version: '1', organizations: 1, machines: 1, machinesInCurrentOrg: 1 },
      { fragmentId: f.id, version: '2', organizations: 2, machines: 2, machinesInCurrentOrg: 1 },
    ]);
    const read = await getFragment(f.id);
    assert.equal(read.robotPartCount, 4);
    assert.equal(read.organizationCount, 2);
    assert.equal(read.onlyUsedByOwner, false);

    // A new revision: the unpinned uses follow it.
    await saveConfig(f, motorConfig('use3'));
    assert.deepEqual(await usage(), [
      { fragmentId: f.id, version: '1', organizations: 1, machines: 1, machinesInCurrentOrg: 1 },
      { fragmentId: f.id, version: '3', organizations: 2, machines: 2, machinesInCurrentOrg: 1 },
    ]);
    // Org B's part lets go.
    await setPartConfig(b.partId, b.partName, {}, bClient);
    assert.deepEqual(await usage(), [
      { fragmentId: f.id, version: '1', organizations: 1, machines: 1, machinesInCurrentOrg: 1 },
      { fragmentId: f.id, version: '3', organizations: 1, machines: 1, machinesInCurrentOrg: 1 },
    ]);
    assert.equal((await getFragment(f.id)).onlyUsedByOwner, true);

    // Refusals.
    await refusedUnchanged(
      f.id,
      () => rawAppClient(operator).getFragmentUsage({ fragmentId: f.id }),
      Code.PermissionDenied,
    );
    const priv = await createFragment('usage private', {});
    await expectCode(rawAppClient(bClient).getFragmentUsage({ fragmentId: priv.id }), Code.NotFound);
    await expectCode(rawAppClient(admin).getFragmentUsage({ fragmentId: randomUUID() }), Code.NotFound);
  });

  it('Other organizations: writes to a visible public fragment are PERMISSION_DENIED and change nothing', async () => {
    const f = await createFragment('public writes', motorConfig('pw'), FragmentVisibility.PUBLIC);
    await rawAppClient(admin).setFragmentTag({ fragmentId: f.id, tag: 'stable', revision: '1' });
    assert.equal((await bClient.getFragment(f.id))?.id, f.id, 'org B sees it');
    await refusedUnchanged(
      f.id,
      () => bClient.updateFragment(f.id, 'b', structFromObject({})),
      Code.PermissionDenied,
    );
    await refusedUnchanged(f.id, () => bClient.deleteFragment(f.id), Code.PermissionDenied);
    await refusedUnchanged(
      f.id,
      () => rawAppClient(bClient).setFragmentTag({ fragmentId: f.id, tag: 'prod', revision: '1' }),
      Code.PermissionDenied,
    );
    await refusedUnchanged(
      f.id,
      () => rawAppClient(bClient).deleteFragmentTag({ fragmentId: f.id, tag: 'stable' }),
      Code.PermissionDenied,
    );
    await refusedUnchanged(
      f.id,
      () => rawAppClient(bClient).getFragmentUsage({ fragmentId: f.id }),
      Code.PermissionDenied,
    );
  });

  it('UpdateRobotPart refuses unknown, foreign private and too deeply nested fragments, storing nothing', async () => {
    const used = await createFragment('part used', motorConfig('pu'));
    const { machineId, partId, partName } = await newMachine('refuse-bot');
    await setPartConfig(partId, partName, { ...motorConfig('part'), fragments: [used.id] });

    const refusedPart = async (fragments: unknown[]) => {
      const before = await partState(partId);
      const usedBefore = await fragmentState(used.id);
      const machineFragments = sortedIds(await admin.listMachineFragments(machineId));
      await expectCode(
        admin.updateRobotPart(partId, partName, structFromObject({ ...motorConfig('new'), fragments })),
        Code.InvalidArgument,
      );
      assert.deepEqual(await partState(partId), before, 'a refused part update changed the part');
      assert.deepEqual(await fragmentState(used.id), usedBefore, 'a refused part update changed a fragment');
      assert.deepEqual(sortedIds(await admin.listMachineFragments(machineId)), machineFragments);
    };

    await refusedPart([randomUUID()]);
    await refusedPart([used.id, { id: randomUUID(), version: '1' }]);
    const bPrivate = await createFragment('b secret', motorConfig('bs'), undefined, orgB, bClient);
    await refusedPart([bPrivate.id]);
    await refusedPart([{ id: bPrivate.id }]);
    // Org B's public-unlisted fragment, by contrast, may be used.
    const bUnlisted = await createFragment(
      'b unlisted',
      motorConfig('bu'),
      FragmentVisibility.PUBLIC_UNLISTED,
      orgB,
      bClient,
    );
    const other = await newMachine('refuse-other');
    await setPartConfig(other.partId, other.partName, { fragments: [bUnlisted.id] });
    assert.deepEqual(JSON.parse((await admin.getRobotPart(other.partId)).configJson), {
      fragments: [bUnlisted.id],
    });

    // A chain c4 -> c3 -> c2 -> c1, and x whose revision 1 includes c4: five levels from a part.
    const chain: Fragment[] = [await createFragment('chain 1', motorConfig('c1'))];
    for (let n = 2; n <= 4; n++) {
      chain.push(await createFragment(`chain ${n}`, { fragments: [chain[n - 2]!.id] }));
    }
    const x = await createFragment('chain x', { fragments: [chain[3]!.id] });
    await setPartConfig(other.partId, other.partName, { fragments: [{ id: x.id, version: '1' }] });
    await setPartConfig(other.partId, other.partName, {});
    // x's revision 2 lets go of c4; then c1 gains a fragment of its own. Nothing in use reaches
    // six levels, so both saves are fine; but x at revision 1 is now six levels deep.
    await saveConfig(x, {});
    const bottom = await createFragment('chain bottom', motorConfig('cb'));
    await saveConfig(chain[0]!, { fragments: [bottom.id] });
    await refusedPart([{ id: x.id, version: '1' }]);
    await refusedPart([used.id, { id: x.id, version: '1' }]);
    // Five levels (c4 -> ... -> bottom) and x's latest revision are fine.
    await setPartConfig(other.partId, other.partName, { fragments: [chain[3]!.id, x.id] });
    assert.deepEqual(
      sortedIds(await admin.listMachineFragments(other.machineId)),
      sortedIds([x, chain[3]!, chain[2]!, chain[1]!, chain[0]!, bottom]),
    );
  });
});
