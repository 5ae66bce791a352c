import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { Code, createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import { appApi, type AppClient } from '@viamrobotics/sdk';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { RobotService } from '../src/rpc/service-descriptors.generated.js';
import { structFromObject } from '../src/rpc/wire-values.js';
import { bearer, grpcTransport, rawAppClient } from './support/clients.js';
import { forEachDialect } from './support/databases.js';
import { expectCode } from './support/expect.js';
import { organizationRole } from './support/roles.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * Fragments as a machine sees them: part configs that include fragments (nested, pinned to a tag,
 * with $set / $unset mods) and the merged config RobotService.Config serves to a native gRPC client
 * (HTTP/2 cleartext, authenticated with the part secret, as viam-server does). Then the save-time
 * refusals of UpdateRobotPart and UpdateFragment (cycle, depth, another organization's private
 * fragment), each checked for its code and for the stored config being unchanged.
 */

type Json = Record<string, unknown>;

const motor = (name: string, attributes?: Json): Json => ({
  name,
  api: 'rdk:component:motor',
  model: 'rdk:builtin:fake',
  ...(attributes && { attributes }),
});
const camera = (name: string, attributes?: Json): Json => ({
  name,
  api: 'rdk:component:camera',
  model: 'rdk:builtin:fake',
  ...(attributes && { attributes }),
});
const service = (name: string, subtype: string, attributes?: Json): Json => ({
  name,
  api: `rdk:service:${subtype}`,
  model: 'builtin',
  ...(attributes && { attributes }),
});

/** What a machine gets from Config, in comparable form. */
interface Served {
  components: Map<string, unknown>;
  services: Map<string, unknown>;
  statuses: string[];
  revision: string;
}

/** A machine's main part, with the token it authenticates with. */
interface TestPart {
  id: string;
  name: string;
  token: string;
}

const sorted = (names: Iterable<string>) => [...names].sort();

forEachDialect('fragments merged into RobotService.Config, and refused on save', (newDatabase) => {
  let t: TestServer;
  let admin: AppClient;
  let robot: PromiseClient<typeof RobotService>;
  let auth: PromiseClient<typeof AuthService>;
  let orgA: string;
  let locationId: string;
  let machineCount = 0;

  /** A new fragment of org A (or of `org` with `app`); its id. */
  const newFragment = async (name: string, config: Json, app = admin, org = orgA) => {
    const fragment = await app.createFragment(org, name, structFromObject(config));
    assert.ok(fragment?.id, `createFragment(${name}) returned no fragment`);
    assert.equal(fragment.revision, '1');
    return fragment.id;
  };

  /** A fragment as stored (latest revision): revision, config, uses. */
  const fragmentState = async (id: string, app = admin) => {
    const fragment = await app.getFragment(id);
    assert.ok(fragment, `fragment ${id} missing`);
    return {
      name: fragment.name,
      revision: fragment.revision,
      config: fragment.fragment?.toJson() as Json,
      robotPartCount: fragment.robotPartCount,
    };
  };

  /** Saves a new revision of a fragment (same name); the new revision. */
  const editFragment = (id: string, config: Json, app = admin) =>
    fragmentState(id, app).then(async ({ name }) => {
      const updated = await app.updateFragment(id, name, structFromObject(config));
      assert.ok(updated, `updateFragment(${id}) returned no fragment`);
      return updated.revision;
    });

  const setTag = async (fragmentId: string, tag: string, revision: string) =>
    (await rawAppClient(admin).setFragmentTag({ fragmentId, tag, revision })).tags.map((x) => [
      x.tag,
      x.revision,
    ]);

  /** A new machine in A; its main part, signed in with its secret over the raw AuthService. */
  const newPart = async (): Promise<TestPart> => {
    machineCount += 1;
    const machineId = await admin.newRobot(locationId, `Machine ${machineCount}`);
    const main = (await admin.getRobotParts(machineId)).find((p) => p.mainPart);
    assert.ok(main);
    const secret = (await admin.getRobotPart(main.id)).part?.secrets[0]?.secret ?? '';
    assert.notEqual(secret, '');
    const { accessToken } = await auth.authenticate({
      entity: main.id,
      credentials: { type: 'robot-secret', payload: secret },
    });
    return { id: main.id, name: main.name, token: accessToken };
  };

  const savePart = (part: TestPart, config: Json) =>
    admin.updateRobotPart(part.id, part.name, structFromObject(config));

  /** The part as stored: its own config and how many edits its history holds. */
  const partState = async (part: TestPart) => ({
    config: JSON.parse((await admin.getRobotPart(part.id)).configJson) as Json,
    history: (await admin.getRobotPartHistory(part.id)).length,
  });

  /** Config as the machine fetches it. */
  const served = async (part: TestPart): Promise<Served> => {
    const { config } = await robot.config({ id: part.id }, bearer(part.token));
    assert.ok(config, 'Config returned no config');
    assert.notEqual(config.revision, '', 'Config revision is empty');
    const components = new Map<string, unknown>();
    for (const c of config.components) {
      assert.ok(!components.has(c.name), `component ${c.name} served twice`);
      components.set(c.name, c.attributes?.toJson() ?? {});
    }
    const services = new Map<string, unknown>();
    for (const s of config.services) {
      assert.ok(!services.has(s.name), `service ${s.name} served twice`);
      services.set(s.name, s.attributes?.toJson() ?? {});
    }
    return {
      components,
      services,
      statuses: config.overwriteFragmentStatus.map((s) => s.error),
      revision: config.revision,
    };
  };

  before(async () => {
    t = await startTestServer(await newDatabase());
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    orgA = t.admin.organizationId;
    const transport = grpcTransport(t.url);
    robot = createPromiseClient(RobotService, transport);
    auth = createPromiseClient(AuthService, transport);
    const location = await admin.createLocation(orgA, 'Fragment Yard');
    assert.ok(location);
    locationId = location.id;
  });
  after(() => t.stop());

  // ---------------------------------------------------------------------------------------------
  // The acceptance scenario: F1, F2 (including F3), F4 pinned to the tag `stable`, mods on F1.

  let f1: string;
  let f2: string;
  let f3: string;
  let f4: string;
  let main: TestPart;
  let mainConfig: Json;
  let lastRevision: string;

  const F1_V1 = {
    components: [motor('motorA', { max_rpm: 100, pins: { a: 1 } })],
    services: [service('nav', 'navigation', { store: 'memory' })],
  };
  const f4Config = (generation: number) => ({ components: [motor('gripperD', { generation })] });

  it('Config serves the part, its fragments, the nested one, the tag-pinned revision and the mods', async () => {
    f1 = await newFragment('F1', F1_V1);
    f3 = await newFragment('F3', {
      components: [camera('sensorC', { fps: 5 })],
      services: [service('slam', 'slam')],
    });
    f2 = await newFragment('F2', { components: [camera('cameraB', { fps: 30 })], fragments: [f3] });
    f4 = await newFragment('F4', f4Config(1));
    assert.equal(await editFragment(f4, f4Config(2)), '2');
    assert.deepEqual(await setTag(f4, 'stable', '1'), [['stable', '1']]);

    main = await newPart();
    mainConfig = {
      components: [motor('arm', { own: true })],
      fragments: [f1, { id: f2 }, { id: f4, version: 'stable' }],
      fragment_mods: [
        {
          fragment_id: f1,
          mods: [
            { $set: { 'components.motorA.attributes.max_rpm': 200 } },
            { $unset: { 'components.motorA.attributes.pins': '' } },
          ],
        },
      ],
    };
    await savePart(main, mainConfig);
    // The part stores its own config; merging happens when it is served.
    assert.deepEqual((await partState(main)).config, mainConfig);

    const got = await served(main);
    assert.deepEqual(sorted(got.components.keys()), ['arm', 'cameraB', 'gripperD', 'motorA', 'sensorC']);
    assert.deepEqual(sorted(got.services.keys()), ['nav', 'slam']);
    assert.deepEqual(got.components.get('arm'), { own: true });
    assert.deepEqual(got.components.get('motorA'), { max_rpm: 200 }, '$set applied and pins $unset');
    assert.deepEqual(got.components.get('cameraB'), { fps: 30 });
    assert.deepEqual(got.components.get('sensorC'), { fps: 5 });
    assert.deepEqual(got.components.get('gripperD'), { generation: 1 }, 'F4 at the tag, revision 1');
    assert.deepEqual(got.services.get('nav'), { store: 'memory' });
    assert.deepEqual(got.statuses, []);
    // The mods change what is served, never the fragment itself.
    assert.deepEqual((await fragmentState(f1)).config, F1_V1);

    // Nothing changed: the same revision again.
    lastRevision = got.revision;
    assert.equal((await served(main)).revision, lastRevision);
  });

  it('an edit to a fragment reaches the next Config, with a new revision', async () => {
    assert.equal(
      await editFragment(f1, {
        ...F1_V1,
        components: [motor('motorA', { max_rpm: 100, pins: { a: 1 }, reversed: true })],
      }),
      '2',
    );
    const got = await served(main);
    assert.deepEqual(got.components.get('motorA'), { max_rpm: 200, reversed: true });
    assert.notEqual(got.revision, lastRevision);
    lastRevision = got.revision;

    // A nested fragment's edit reaches the machine too.
    assert.equal(
      await editFragment(f3, {
        components: [camera('sensorC', { fps: 10 })],
        services: [service('slam', 'slam')],
      }),
      '2',
    );
    const nested = await served(main);
    assert.deepEqual(nested.components.get('sensorC'), { fps: 10 });
    assert.notEqual(nested.revision, lastRevision);
    lastRevision = nested.revision;
  });

  it('a tag-pinned fragment stays at its tag until the tag moves', async () => {
    assert.equal(await editFragment(f4, f4Config(3)), '3');
    const pinned = await served(main);
    assert.deepEqual(pinned.components.get('gripperD'), { generation: 1 });
    assert.equal(pinned.revision, lastRevision, 'nothing the part uses changed');

    assert.deepEqual(await setTag(f4, 'stable', '3'), [['stable', '3']]);
    const moved = await served(main);
    assert.deepEqual(moved.components.get('gripperD'), { generation: 3 });
    assert.notEqual(moved.revision, lastRevision);
    assert.deepEqual(sorted(moved.components.keys()), ['arm', 'cameraB', 'gripperD', 'motorA', 'sensorC']);
    assert.deepEqual(moved.statuses, []);

    // Pinned by revision number instead: exactly that revision.
    await savePart(main, { ...mainConfig, fragments: [f1, { id: f2 }, { id: f4, version: '2' }] });
    assert.deepEqual((await served(main)).components.get('gripperD'), { generation: 2 });
  });

  // ---------------------------------------------------------------------------------------------
  // Duplicates and mods that cannot apply: reported, the rest served.

  it("a part's resource beats a fragment's, the first listed fragment beats a later one; neither is a failure", async () => {
    const later = await newFragment('F-later', {
      components: [camera('cameraX')],
      services: [service('nav', 'navigation', { store: 'later' })],
    });
    const part = await newPart();
    await savePart(part, { components: [motor('motorA', { own: 'part' })], fragments: [f1, later] });

    const got = await served(part);
    assert.deepEqual(sorted(got.components.keys()), ['cameraX', 'motorA']);
    assert.deepEqual(sorted(got.services.keys()), ['nav']);
    assert.deepEqual(got.components.get('motorA'), { own: 'part' }, "the part's motorA wins");
    assert.deepEqual(got.services.get('nav'), { store: 'memory' }, "F1's nav (listed first) wins");
    // viam-server logs each overwrite_fragment_status entry at error level on every poll, so an
    // ordinary overlap is not reported there: only mods that failed are.
    assert.deepEqual(got.statuses, []);
  });

  it('a mod that cannot apply is reported; the other mods and every resource are served', async () => {
    const part = await newPart();
    await savePart(part, {
      components: [motor('arm')],
      fragments: [f1, f2],
      fragment_mods: [
        {
          fragment_id: f1,
          mods: [
            { $set: { 'components.ghost.attributes.max_rpm': 1 } },
            { $set: { 'components.motorA.attributes.max_rpm': 5 } },
          ],
        },
      ],
    });
    const got = await served(part);
    assert.deepEqual(sorted(got.components.keys()), ['arm', 'cameraB', 'motorA', 'sensorC']);
    assert.deepEqual(sorted(got.services.keys()), ['nav', 'slam']);
    assert.deepEqual(got.components.get('motorA'), { max_rpm: 5, pins: { a: 1 }, reversed: true });
    assert.equal(got.statuses.length, 1, got.statuses.join('\n'));
    assert.ok(got.statuses[0]?.startsWith(`fragment ${f1}: `), got.statuses[0]);
    assert.match(got.statuses[0] ?? '', /ghost/);
  });

  // ---------------------------------------------------------------------------------------------
  // Refusals on save. After each one, what is stored is what was stored before.

  it('cycle: a fragment including itself, directly or through others, is INVALID_ARGUMENT', async () => {
    const f5 = await newFragment('F5', { components: [motor('m-f5')] });
    const f6 = await newFragment('F6', { components: [motor('m-f6')], fragments: [f5] });
    const f7 = await newFragment('F7', { components: [motor('m-f7')], fragments: [f6] });
    const before5 = await fragmentState(f5);

    for (const fragments of [[f6], [{ id: f6, version: '1' }], [f5], [f7]]) {
      await expectCode(
        admin.updateFragment(f5, 'F5', structFromObject({ components: [motor('m-f5')], fragments })),
        Code.InvalidArgument,
      );
      assert.deepEqual(await fragmentState(f5), before5, `F5 changed after ${JSON.stringify(fragments)}`);
    }

    // The chain itself is fine for a part.
    const part = await newPart();
    await savePart(part, { fragments: [f7] });
    assert.deepEqual(sorted((await served(part)).components.keys()), ['m-f5', 'm-f6', 'm-f7']);
  });

  it('moving a tag that would break an including fragment is INVALID_ARGUMENT; deleting one in use FAILED_PRECONDITION', async () => {
    // Q revision 1 includes X; Q revision 2 includes nothing and is tagged t; then X includes Q@t.
    const x = await newFragment('X', { components: [motor('m-x')] });
    const q = await newFragment('Q', { components: [motor('m-q1')], fragments: [x] });
    await editFragment(q, { components: [motor('m-q2')] });
    assert.deepEqual(await setTag(q, 't', '2'), [['t', '2']]);
    await editFragment(x, { components: [motor('m-x')], fragments: [{ id: q, version: 't' }] });
    // Moving t to revision 1 would close the loop X -> Q@t -> X.
    await expectCode(
      rawAppClient(admin).setFragmentTag({ fragmentId: q, tag: 't', revision: '1' }),
      Code.InvalidArgument,
    );
    assert.deepEqual(
      await setTag(q, 'other', '2'),
      [
        ['other', '2'],
        ['t', '2'],
      ],
      'the refused move changed nothing',
    );
    // A part using X gets Q at t, and the tag it uses cannot be deleted from under it.
    const part = await newPart();
    await savePart(part, { fragments: [x] });
    assert.deepEqual(sorted((await served(part)).components.keys()), ['m-q2', 'm-x']);
    await expectCode(
      rawAppClient(admin).deleteFragmentTag({ fragmentId: q, tag: 't' }),
      Code.FailedPrecondition,
    );
    assert.deepEqual(sorted((await served(part)).components.keys()), ['m-q2', 'm-x']);
  });

  /** L2 -> L3 -> L4 -> L5 -> L6: five levels, the most a part may include. */
  let chain: string[];
  let depthPart: TestPart;

  it('depth: five levels are served; UpdateFragment putting a sixth on top is INVALID_ARGUMENT', async () => {
    chain = [];
    let below: string | undefined;
    for (const level of [6, 5, 4, 3, 2]) {
      below = await newFragment(`L${level}`, {
        components: [motor(`m-l${level}`)],
        ...(below && { fragments: [below] }),
      });
      chain.unshift(below);
    }
    depthPart = await newPart();
    await savePart(depthPart, { fragments: [chain[0]] });
    assert.deepEqual(sorted((await served(depthPart)).components.keys()), [
      'm-l2',
      'm-l3',
      'm-l4',
      'm-l5',
      'm-l6',
    ]);

    // UpdateFragment: L1 on top of the chain would be a sixth level.
    const l1 = await newFragment('L1', { components: [motor('m-l1')] });
    const beforeL1 = await fragmentState(l1);
    await expectCode(
      admin.updateFragment(
        l1,
        'L1',
        structFromObject({ components: [motor('m-l1')], fragments: [chain[0]] }),
      ),
      Code.InvalidArgument,
    );
    assert.deepEqual(await fragmentState(l1), beforeL1);
  });

  it('depth: CreateFragment putting a sixth on top is INVALID_ARGUMENT too, and creates nothing', async () => {
    // The same config UpdateFragment refuses above; a new fragment is level 1 of its own tree too.
    const names = async () =>
      sorted(
        (await admin.listFragments(orgA, false, [appApi.FragmentVisibility.PRIVATE])).map((f) => f.name),
      );
    const before_ = await names();
    await expectCode(
      admin.createFragment(orgA, 'L0', structFromObject({ fragments: [chain[0]] })),
      Code.InvalidArgument,
    );
    assert.deepEqual(await names(), before_);
  });

  it('depth: extending the bottom of a five-level chain is INVALID_ARGUMENT; a part cannot include six', async () => {
    const l6 = chain[4];
    assert.ok(l6);
    const extra = await newFragment('L-extra', { components: [motor('m-extra')] });
    const beforeL6 = await fragmentState(l6);
    const extension = await admin
      .updateFragment(l6, 'L6', structFromObject({ components: [motor('m-l6')], fragments: [extra] }))
      .then(
        () => undefined,
        (error: unknown) => error as { code?: unknown; message?: unknown },
      );

    // If the extension was stored (it should not be), L2 now heads six levels, and UpdateRobotPart
    // must refuse a part that includes it, storing nothing.
    if (extension === undefined) {
      const beforePart = await partState(depthPart);
      await expectCode(
        savePart(depthPart, { components: [motor('new-arm')], fragments: [chain[0]] }),
        Code.InvalidArgument,
      );
      assert.deepEqual(await partState(depthPart), beforePart);
    }

    assert.ok(extension, 'UpdateFragment stored a sixth level under a chain of five');
    assert.equal(extension.code, Code.InvalidArgument, String(extension.message));
    assert.deepEqual(await fragmentState(l6), beforeL6);
  });

  it("another organization's private fragment is INVALID_ARGUMENT; its public ones are accepted", async () => {
    const orgB = (await admin.createOrganization('Org B'))?.id;
    assert.ok(orgB);
    const bKey = await admin.createKey([organizationRole('owner', orgB)], 'b-key');
    const bApp = (await t.clientForKey(bKey.id, bKey.key)).appClient;
    await bApp.updateOrganization(orgB, undefined, 'org-b-fleet');
    const bPrivate = await newFragment('B private', { components: [motor('b-private')] }, bApp, orgB);
    const bPublic = await newFragment('B public', { components: [motor('b-public')] }, bApp, orgB);
    const bUnlisted = await newFragment('B unlisted', { components: [motor('b-unlisted')] }, bApp, orgB);
    await bApp.updateFragment(
      bPublic,
      'B public',
      structFromObject({ components: [motor('b-public')] }),
      undefined,
      appApi.FragmentVisibility.PUBLIC,
    );
    await bApp.updateFragment(
      bUnlisted,
      'B unlisted',
      structFromObject({ components: [motor('b-unlisted')] }),
      undefined,
      appApi.FragmentVisibility.PUBLIC_UNLISTED,
    );

    // UpdateRobotPart (an unknown id likewise). The admin key owns B too: what counts is the
    // part's organization, not the caller.
    const part = await newPart();
    await savePart(part, { components: [motor('arm')] });
    const beforePart = await partState(part);
    for (const fragments of [
      [bPrivate],
      [f1, { id: bPrivate, version: '1' }],
      [f2, bUnlisted, bPrivate],
      [randomUUID()],
    ]) {
      await expectCode(savePart(part, { components: [motor('arm')], fragments }), Code.InvalidArgument);
      assert.deepEqual(await partState(part), beforePart, `part changed after ${JSON.stringify(fragments)}`);
    }
    assert.equal((await fragmentState(bPrivate, bApp)).robotPartCount, 0, 'a refused save records no use');

    // UpdateFragment (and CreateFragment) in A.
    const aFragment = await newFragment('A includes B', { components: [motor('a-own')] });
    const beforeA = await fragmentState(aFragment);
    await expectCode(
      admin.updateFragment(
        aFragment,
        'A includes B',
        structFromObject({ components: [motor('a-own')], fragments: [bPrivate] }),
      ),
      Code.InvalidArgument,
    );
    assert.deepEqual(await fragmentState(aFragment), beforeA);
    await expectCode(
      admin.createFragment(orgA, 'A direct B', structFromObject({ fragments: [bPrivate] })),
      Code.InvalidArgument,
    );

    // B's public and public-unlisted fragments are accepted, directly and nested, and served.
    assert.equal(await editFragment(aFragment, { components: [motor('a-own')], fragments: [bPublic] }), '2');
    await savePart(part, { components: [motor('arm')], fragments: [aFragment, { id: bUnlisted }] });
    const got = await served(part);
    assert.deepEqual(sorted(got.components.keys()), ['a-own', 'arm', 'b-public', 'b-unlisted']);
    assert.deepEqual(got.statuses, []);
    assert.equal((await fragmentState(bUnlisted, bApp)).robotPartCount, 1);
  });
});
