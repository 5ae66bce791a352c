import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import type { PartialMessage } from '@bufbuild/protobuf';
import { Code, createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import { createAsyncIterable } from '@connectrpc/connect/protocol';
import { appApi, type AppClient } from '@viamrobotics/sdk';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { AppService } from '../src/rpc/service-descriptors.generated.js';
import { grpcTransport, rawAppClient } from './support/clients.js';
import { forEachDialect } from './support/databases.js';
import { clientForOrgRole } from './support/roles.js';
import { defined, expectCode } from './support/expect.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * Registry items and modules (issue 7) through the SDK's AppClient, plus the raw generated client
 * for what its wrapper lacks (RenameRegistryItem, TransferRegistryItem, UpdateOrganizationNamespace).
 * A few small UploadModuleFile calls (client streaming, which the SDK's fetch-based gRPC-web
 * transport can't send) go over native gRPC, only so that items can be published.
 */

type RegistryItem = appApi.RegistryItem;
const { Visibility, RegistryItemStatus } = appApi;

/** viam.app.packages.v1.PackageType: the SDK takes it but does not export it. */
type PackageType = Parameters<AppClient['createRegistryItem']>[2];
const ARCHIVE = 1 as PackageType;
const ML_MODEL = 2 as PackageType;
const MODULE = 3 as PackageType;
const SLAM_MAP = 4 as PackageType;
const ML_TRAINING = 5 as PackageType;
const UNSPECIFIED_TYPE = 0 as PackageType;

/** Milliseconds of a wire timestamp. */
const msOf = (ts: { seconds: bigint; nanos: number } | undefined): number => {
  assert.ok(ts, 'expected a timestamp');
  return Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1_000_000);
};

const model = (api: string, name: string) => new appApi.Model({ api, model: name });

/** A call that must be refused: what it is, the call, and the code it must end with. */
type Refusal = [what: string, call: () => Promise<unknown>, code: Code];

/** What a listing filters by; every field is optional, as an empty list is no filter. */
interface Filter {
  types?: PackageType[];
  visibilities?: appApi.Visibility[];
  platforms?: string[];
  statuses?: appApi.RegistryItemStatus[];
  searchTerm?: string;
}

forEachDialect('registry items and modules', (newDatabase) => {
  let t: TestServer;
  let admin: AppClient;
  /** An operator key of org A: sees org A, may change nothing in it. */
  let operator: AppClient;
  /** An owner key of org X only: a stranger to every other organization. */
  let stranger: AppClient;
  /** The admin's organization, namespace `alpha`. */
  let orgA: string;
  /** Owned by the admin key, namespace `bravo` (a transfer target). */
  let orgB: string;
  /** Owned by the admin key, no namespace. */
  let orgC: string;
  /** Owned by the admin key and the stranger, namespace `xray`. */
  let orgX: string;
  /** Native gRPC AppService, for uploads. */
  let grpcApp: PromiseClient<typeof AppService>;
  /** The admin key's access token, for native gRPC calls. */
  let adminToken: string;

  async function newOrg(name: string, namespace?: string): Promise<string> {
    const id = defined(await admin.createOrganization(name), `organization ${name}`).id;
    if (namespace !== undefined) await setNamespace(id, namespace);
    return id;
  }

  async function setNamespace(organizationId: string, namespace: string) {
    const res = await rawAppClient(admin).updateOrganizationNamespace({
      organizationId,
      newPublicNamespace: namespace,
    });
    assert.equal(res.organization?.publicNamespace, namespace);
  }

  async function getItem(itemId: string, client = admin): Promise<RegistryItem> {
    return defined(await client.getRegistryItem(itemId), `registry item ${itemId}`);
  }

  async function getModule(moduleId: string, client = admin): Promise<appApi.Module> {
    return defined(await client.getModule(moduleId), `module ${moduleId}`);
  }

  /** A module with an entrypoint (so files can be uploaded), with this visibility and description. */
  async function createModule(
    organizationId: string,
    name: string,
    visibility = Visibility.PRIVATE,
    description = '',
  ): Promise<string> {
    const { moduleId } = await admin.createModule(organizationId, name);
    await admin.updateModule(moduleId, visibility, '', description, [], 'bin/run');
    return moduleId;
  }

  /** One small file for a module version and platform, over native gRPC as the admin key. */
  async function upload(moduleId: string, version: string, platform: string) {
    const messages: PartialMessage<appApi.UploadModuleFileRequest>[] = [
      {
        moduleFile: {
          case: 'moduleFileInfo',
          value: new appApi.ModuleFileInfo({ moduleId, version, platform }),
        },
      },
      { moduleFile: { case: 'file', value: new TextEncoder().encode(`${moduleId} ${version} ${platform}`) } },
    ];
    return grpcApp.uploadModuleFile(createAsyncIterable(messages), {
      headers: { authorization: `Bearer ${adminToken}` },
    });
  }

  function list(org: string, f: Filter = {}, client = admin): Promise<RegistryItem[]> {
    return client.listRegistryItems(
      org,
      f.types ?? [],
      f.visibilities ?? [],
      f.platforms ?? [],
      f.statuses ?? [],
      f.searchTerm,
    );
  }

  /**
   * Every item of the shared organizations (every refusal targets one of them) and every public
   * item, as the admin reads them, by id.
   */
  async function registryState(): Promise<Record<string, unknown>> {
    const state: Record<string, unknown> = {};
    const lists = await Promise.all([orgA, orgB, orgC, orgX].map((org) => list(org)));
    for (const item of lists.flat()) state[item.itemId] = item.toJson();
    return state;
  }

  /**
   * Asserts that each call is refused with its code and that, after all of them, no item changed,
   * appeared or went away (one state read before and after the batch keeps the suite fast).
   */
  async function allRefusedUnchanged(refusals: Refusal[]) {
    const before = await registryState();
    for (const [what, call, code] of refusals) {
      try {
        await expectCode(call(), code);
      } catch (error) {
        assert.fail(`${what}: ${(error as Error).message}`);
      }
    }
    const whats = refusals.map(([what]) => what).join('; ');
    assert.deepEqual(await registryState(), before, `a refused call changed the registry: ${whats}`);
  }

  /** Asserts that the call is refused with `code` and that no item changed, appeared or went away. */
  const refusedUnchanged = (call: () => Promise<unknown>, code: Code, what: string) =>
    allRefusedUnchanged([[what, call, code]]);

  before(async () => {
    t = await startTestServer(await newDatabase());
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    orgA = t.admin.organizationId;
    await setNamespace(orgA, 'alpha');
    orgB = await newOrg('Org B', 'bravo');
    orgC = await newOrg('Org C');
    orgX = await newOrg('Org X', 'xray');
    operator = await clientForOrgRole(t, admin, orgA, 'operator', 'a-operator');
    stranger = await clientForOrgRole(t, admin, orgX, 'owner', 'x-owner');
    const transport = grpcTransport(t.url);
    grpcApp = createPromiseClient(AppService, transport);
    const auth = createPromiseClient(AuthService, transport);
    adminToken = (
      await auth.authenticate({
        entity: t.admin.apiKeyId,
        credentials: { type: 'api-key', payload: t.admin.apiKey },
      })
    ).accessToken;
    assert.notEqual(adminToken, '');
  });
  after(() => t.stop());

  it('CreateRegistryItem / GetRegistryItem: every field; <org id>:<name>, then <namespace>:<name> once the org has one', async () => {
    const org = await newOrg('Round Trip');
    const started = Date.now();
    await admin.createRegistryItem(org, 'widget', ARCHIVE);
    const item = await getItem(`${org}:widget`);
    assert.equal(item.itemId, `${org}:widget`);
    assert.equal(item.organizationId, org);
    assert.equal(item.publicNamespace, '');
    assert.equal(item.name, 'widget');
    assert.equal(item.type, ARCHIVE);
    assert.equal(item.visibility, Visibility.PRIVATE, 'new items are private');
    assert.equal(item.url, '');
    assert.equal(item.description, '');
    assert.equal(item.metadata.case, undefined);
    const created = msOf(item.createdAt);
    assert.ok(Math.abs(created - started) < 60_000, 'created just now');
    assert.equal(msOf(item.updatedAt), created);

    // Each type, with the metadata its type carries.
    const cases: [string, PackageType, RegistryItem['metadata']['case']][] = [
      ['an-archive', ARCHIVE, undefined],
      ['a-model', ML_MODEL, 'mlModelMetadata'],
      ['a-module', MODULE, 'moduleMetadata'],
      ['a-map', SLAM_MAP, undefined],
      ['a-trainer', ML_TRAINING, 'mlTrainingMetadata'],
    ];
    for (const [name, type, metadata] of cases) {
      await admin.createRegistryItem(org, name, type);
      const read = await getItem(`${org}:${name}`);
      assert.equal(read.type, type, name);
      assert.equal(read.visibility, Visibility.PRIVATE, name);
      assert.equal(read.metadata.case, metadata, name);
    }
    const mod = await getItem(`${org}:a-module`);
    assert.equal(mod.metadata.case, 'moduleMetadata');
    assert.deepEqual(mod.metadata.value.versions, []);
    assert.equal(mod.metadata.value.entrypoint, '');
    assert.deepEqual(mod.metadata.value.models, []);

    // UpdateRegistryItem: type (no files yet), description and visibility, as read back.
    const mapCreated = msOf((await getItem(`${org}:a-map`)).createdAt);
    await admin.updateRegistryItem(`${org}:a-map`, ML_MODEL, 'now a model', Visibility.PUBLIC_UNLISTED);
    const changed = await getItem(`${org}:a-map`);
    assert.equal(changed.type, ML_MODEL);
    assert.equal(changed.metadata.case, 'mlModelMetadata');
    assert.equal(changed.description, 'now a model');
    assert.equal(changed.visibility, Visibility.PUBLIC_UNLISTED);
    assert.equal(msOf(changed.createdAt), mapCreated);
    assert.ok(msOf(changed.updatedAt) >= msOf(changed.createdAt));

    // Unknown prefixes and names are not found.
    await expectCode(admin.getRegistryItem(`${org}:nothing-here`), Code.NotFound);
    await expectCode(admin.getRegistryItem(`${randomUUID()}:widget`), Code.NotFound);
    await expectCode(admin.getRegistryItem('no-such-namespace:widget'), Code.NotFound);
    await expectCode(admin.getRegistryItem('rt-space:widget'), Code.NotFound);

    // With a namespace, both forms resolve, and the id reads <namespace>:<name>.
    await setNamespace(org, 'rt-space');
    for (const id of ['rt-space:widget', `${org}:widget`]) {
      const read = await getItem(id);
      assert.equal(read.itemId, 'rt-space:widget', id);
      assert.equal(read.publicNamespace, 'rt-space', id);
      assert.equal(read.organizationId, org, id);
      assert.equal(read.name, 'widget', id);
      assert.equal(msOf(read.createdAt), created, id);
    }
    const listed = await list(org);
    assert.deepEqual(
      listed
        .filter((i) => i.organizationId === org)
        .map((i) => i.itemId)
        .sort(),
      ['a-map', 'a-model', 'a-module', 'a-trainer', 'an-archive', 'widget'].map((n) => `rt-space:${n}`),
    );
  });

  it('CreateModule / UpdateModule / GetModule: id and url; UpdateModule replaces every field', async () => {
    const created = await admin.createModule(orgA, 'mover');
    assert.equal(created.moduleId, 'alpha:mover');
    assert.ok(created.url.endsWith(`/modules/${created.moduleId}`), created.url);
    assert.match(created.url, /^https?:\/\//);

    const fresh = await getModule('alpha:mover');
    assert.equal(fresh.moduleId, 'alpha:mover');
    assert.equal(fresh.name, 'mover');
    assert.equal(fresh.organizationId, orgA);
    assert.equal(fresh.publicNamespace, 'alpha');
    assert.equal(fresh.visibility, Visibility.PRIVATE);
    assert.equal(fresh.entrypoint, '');
    assert.deepEqual(fresh.models, []);
    assert.deepEqual(fresh.versions, []);
    // The org id form names the same module.
    assert.equal((await getModule(`${orgA}:mover`)).moduleId, 'alpha:mover');

    const first = [
      model('rdk:component:motor', 'acme:motors:mover'),
      model('rdk:service:navigation', 'acme:nav:walker-2'),
      model('rdk:component:sensor', 'acme:sensors:temp_probe'),
    ];
    const url1 = await admin.updateModule(
      'alpha:mover',
      Visibility.PUBLIC,
      'https://example.com/mover',
      'Moves things',
      first,
      'bin/mover',
    );
    assert.equal(url1, created.url);
    const m1 = await getModule('alpha:mover');
    assert.equal(m1.visibility, Visibility.PUBLIC);
    assert.equal(m1.url, 'https://example.com/mover');
    assert.equal(m1.description, 'Moves things');
    assert.equal(m1.entrypoint, 'bin/mover');
    assert.deepEqual(
      m1.models.map((m) => [m.api, m.model]),
      first.map((m) => [m.api, m.model]),
    );
    // GetRegistryItem shows the same module through its module metadata.
    const asItem = await getItem('alpha:mover');
    assert.equal(asItem.type, MODULE);
    assert.equal(asItem.url, 'https://example.com/mover');
    assert.equal(asItem.description, 'Moves things');
    assert.equal(asItem.metadata.case, 'moduleMetadata');
    assert.equal(asItem.metadata.value.entrypoint, 'bin/mover');
    assert.equal(asItem.metadata.value.models.length, 3);

    // Full replacement: fewer models, a new description, no url; nothing of the first call stays.
    const url2 = await admin.updateModule(
      'alpha:mover',
      Visibility.PUBLIC_UNLISTED,
      '',
      'Moves other things',
      [model('rdk:component:base', 'acme:bases:roller')],
      'bin/roller',
    );
    assert.equal(url2, created.url);
    const m2 = await getModule('alpha:mover');
    assert.equal(m2.visibility, Visibility.PUBLIC_UNLISTED);
    assert.equal(m2.url, '');
    assert.equal(m2.description, 'Moves other things');
    assert.equal(m2.entrypoint, 'bin/roller');
    assert.deepEqual(
      m2.models.map((m) => [m.api, m.model]),
      [['rdk:component:base', 'acme:bases:roller']],
    );
    assert.equal(m2.name, 'mover');
    assert.equal(m2.organizationId, orgA);

    // UpdateRegistryItem through the SDK (type, description, visibility) keeps url, models, entrypoint.
    await admin.updateModule(
      'alpha:mover',
      Visibility.PRIVATE,
      'https://docs.example.com/mover',
      'd',
      [model('rdk:component:base', 'acme:bases:roller')],
      'bin/roller',
    );
    await admin.updateRegistryItem('alpha:mover', MODULE, 'described again', Visibility.PUBLIC_UNLISTED);
    const m3 = await getModule('alpha:mover');
    assert.equal(m3.description, 'described again');
    assert.equal(m3.visibility, Visibility.PUBLIC_UNLISTED);
    assert.equal(m3.url, 'https://docs.example.com/mover');
    assert.equal(m3.entrypoint, 'bin/roller');
    assert.deepEqual(
      m3.models.map((m) => m.model),
      ['acme:bases:roller'],
    );

    // A module without a namespace: id and url use the organization id; PUBLIC_UNLISTED needs none.
    const inC = await admin.createModule(orgC, 'mover');
    assert.equal(inC.moduleId, `${orgC}:mover`);
    assert.ok(inC.url.endsWith(`/modules/${orgC}:mover`), inC.url);
    await admin.updateModule(inC.moduleId, Visibility.PUBLIC_UNLISTED, '', 'unlisted in C', [], 'run');
    assert.equal((await getModule(inC.moduleId)).visibility, Visibility.PUBLIC_UNLISTED);

    // GetModule of an item that is not a module is not found; GetRegistryItem still finds it.
    await admin.createRegistryItem(orgA, 'not-a-module', ARCHIVE);
    await expectCode(admin.getModule('alpha:not-a-module'), Code.NotFound);
    await expectCode(admin.getModule('alpha:no-such-module'), Code.NotFound);
    assert.equal((await getItem('alpha:not-a-module')).type, ARCHIVE);
  });

  it("ListModules: the organization's modules of any visibility and public modules of others", async () => {
    const org = await newOrg('Module Shelf', 'shelf');
    const other = await newOrg('Module Neighbour', 'neighbour');
    await createModule(org, 'shelf-private');
    await createModule(org, 'shelf-unlisted', Visibility.PUBLIC_UNLISTED);
    await createModule(org, 'shelf-public', Visibility.PUBLIC);
    await admin.createRegistryItem(org, 'shelf-archive', ARCHIVE);
    await admin.updateRegistryItem('shelf:shelf-archive', ARCHIVE, '', Visibility.PUBLIC);
    await createModule(other, 'next-private');
    await createModule(other, 'next-unlisted', Visibility.PUBLIC_UNLISTED);
    await createModule(other, 'next-public', Visibility.PUBLIC);
    await admin.createRegistryItem(other, 'next-model', ML_MODEL);
    await admin.updateRegistryItem('neighbour:next-model', ML_MODEL, '', Visibility.PUBLIC);

    const ours = (modules: appApi.Module[]) =>
      modules
        .filter((m) => m.organizationId === org || m.organizationId === other)
        .map((m) => m.moduleId)
        .sort();
    const listed = await admin.listModules(org);
    assert.deepEqual(ours(listed), [
      'neighbour:next-public',
      'shelf:shelf-private',
      'shelf:shelf-public',
      'shelf:shelf-unlisted',
    ]);
    for (const m of listed) {
      assert.ok(m.organizationId === org || m.visibility === Visibility.PUBLIC, `${m.moduleId} listed`);
    }
    assert.equal(new Set(listed.map((m) => m.moduleId)).size, listed.length, 'no module listed twice');
    const shelfPublic = defined(
      listed.find((m) => m.moduleId === 'shelf:shelf-public'),
      'shelf-public',
    );
    assert.equal(shelfPublic.name, 'shelf-public');
    assert.equal(shelfPublic.entrypoint, 'bin/run');
    assert.equal(shelfPublic.publicNamespace, 'shelf');
    assert.equal(shelfPublic.organizationId, org);

    assert.deepEqual(ours(await admin.listModules(other)), [
      'neighbour:next-private',
      'neighbour:next-public',
      'neighbour:next-unlisted',
      'shelf:shelf-public',
    ]);
    // The stranger sees the public ones through its own organization, and can't list the others.
    assert.deepEqual(ours(await stranger.listModules(orgX)), ['neighbour:next-public', 'shelf:shelf-public']);
    await expectCode(stranger.listModules(org), Code.NotFound);
    await expectCode(admin.listModules(randomUUID()), Code.NotFound);
  });

  it('ListRegistryItems: each filter; public items of other organizations, never their private or unlisted ones', async () => {
    const org = await newOrg('Lister', 'lister');
    const other = await newOrg('Other Lister', 'other');
    // org: two published modules (one file each), three items in development.
    await createModule(org, 'alpha-mod', Visibility.PRIVATE, 'Drives a stepper');
    await createModule(org, 'beta-mod', Visibility.PUBLIC, 'Works with the ALPHA board');
    await admin.createRegistryItem(org, 'gamma-net', ML_MODEL);
    await admin.updateRegistryItem(
      'lister:gamma-net',
      ML_MODEL,
      'A Vision network',
      Visibility.PUBLIC_UNLISTED,
    );
    await admin.createRegistryItem(org, 'delta-box', ARCHIVE);
    await admin.createRegistryItem(org, 'epsilon-train', ML_TRAINING);
    await admin.updateRegistryItem(
      'lister:epsilon-train',
      ML_TRAINING,
      'training script',
      Visibility.PRIVATE,
    );
    const up1 = await upload('lister:alpha-mod', '1.0.0', 'linux/amd64');
    assert.ok(up1.url.endsWith('/modules/lister:alpha-mod'), up1.url);
    await upload('lister:beta-mod', '0.1.0', 'any');
    // other: one item of each visibility, all mentioning alpha.
    await createModule(other, 'other-pub', Visibility.PUBLIC, 'Alpha helper');
    await createModule(other, 'other-priv', Visibility.PRIVATE, 'alpha');
    await admin.createRegistryItem(other, 'other-unl', SLAM_MAP);
    await admin.updateRegistryItem('other:other-unl', SLAM_MAP, 'alpha', Visibility.PUBLIC_UNLISTED);

    // The uploaded file shows in GetModule.
    const alphaMod = await getModule('lister:alpha-mod');
    assert.deepEqual(
      alphaMod.versions.map((v) => [v.version, v.files.map((f) => f.platform)]),
      [['1.0.0', ['linux/amd64']]],
    );

    /** Lists `org` with the filter; checks what every answer must hold; returns our two orgs' names. */
    const names = async (f: Filter, client = admin, from = org) => {
      const items = await list(from, f, client);
      assert.equal(new Set(items.map((i) => i.itemId)).size, items.length, 'no item listed twice');
      for (const i of items) {
        const where = `${i.itemId} listed for ${JSON.stringify(f)}`;
        assert.ok(i.organizationId === from || i.visibility === Visibility.PUBLIC, where);
        if (f.types?.length) assert.ok(f.types.includes(i.type), where);
        if (f.visibilities?.length) assert.ok(f.visibilities.includes(i.visibility), where);
        if (f.searchTerm) {
          const term = f.searchTerm.toLowerCase();
          assert.ok(i.name.includes(term) || i.description.toLowerCase().includes(term), where);
        }
      }
      return items
        .filter((i) => i.organizationId === org || i.organizationId === other)
        .map((i) => i.name)
        .sort();
    };

    const everything = ['alpha-mod', 'beta-mod', 'delta-box', 'epsilon-train', 'gamma-net', 'other-pub'];
    assert.deepEqual(await names({}), everything);
    const full = await list(org);
    const beta = defined(
      full.find((i) => i.itemId === 'lister:beta-mod'),
      'beta-mod',
    );
    assert.equal(beta.organizationId, org);
    assert.equal(beta.publicNamespace, 'lister');
    assert.equal(beta.description, 'Works with the ALPHA board');
    assert.equal(beta.metadata.case, 'moduleMetadata');
    assert.deepEqual(
      beta.metadata.value.versions.map((v) => v.version),
      ['0.1.0'],
    );

    // types
    assert.deepEqual(await names({ types: [MODULE] }), ['alpha-mod', 'beta-mod', 'other-pub']);
    assert.deepEqual(await names({ types: [ML_MODEL, ARCHIVE] }), ['delta-box', 'gamma-net']);
    assert.deepEqual(await names({ types: [ML_TRAINING] }), ['epsilon-train']);
    assert.deepEqual(await names({ types: [SLAM_MAP] }), []);
    // visibilities
    assert.deepEqual(await names({ visibilities: [Visibility.PRIVATE] }), [
      'alpha-mod',
      'delta-box',
      'epsilon-train',
    ]);
    assert.deepEqual(await names({ visibilities: [Visibility.PUBLIC] }), ['beta-mod', 'other-pub']);
    assert.deepEqual(await names({ visibilities: [Visibility.PUBLIC_UNLISTED] }), ['gamma-net']);
    assert.deepEqual(await names({ visibilities: [Visibility.PRIVATE, Visibility.PUBLIC_UNLISTED] }), [
      'alpha-mod',
      'delta-box',
      'epsilon-train',
      'gamma-net',
    ]);
    // statuses
    assert.deepEqual(await names({ statuses: [RegistryItemStatus.PUBLISHED] }), ['alpha-mod', 'beta-mod']);
    assert.deepEqual(await names({ statuses: [RegistryItemStatus.IN_DEVELOPMENT] }), [
      'delta-box',
      'epsilon-train',
      'gamma-net',
      'other-pub',
    ]);
    assert.deepEqual(
      await names({ statuses: [RegistryItemStatus.PUBLISHED, RegistryItemStatus.IN_DEVELOPMENT] }),
      everything,
    );
    // platforms: a file for one of them, or for `any`
    assert.deepEqual(await names({ platforms: ['linux/amd64'] }), ['alpha-mod', 'beta-mod']);
    assert.deepEqual(await names({ platforms: ['linux/arm64'] }), ['beta-mod']);
    assert.deepEqual(await names({ platforms: ['darwin/arm64', 'linux/amd64'] }), ['alpha-mod', 'beta-mod']);
    // searchTerm: name or description, either case
    assert.deepEqual(await names({ searchTerm: 'alpha' }), ['alpha-mod', 'beta-mod', 'other-pub']);
    assert.deepEqual(await names({ searchTerm: 'ALPHA' }), ['alpha-mod', 'beta-mod', 'other-pub']);
    assert.deepEqual(await names({ searchTerm: 'vision' }), ['gamma-net']);
    assert.deepEqual(await names({ searchTerm: 'MOD' }), ['alpha-mod', 'beta-mod']);
    assert.deepEqual(await names({ searchTerm: 'Stepper' }), ['alpha-mod']);
    assert.deepEqual(await names({ searchTerm: 'nothing-matches-this' }), []);
    assert.deepEqual(await names({ searchTerm: '' }), everything);
    // together
    assert.deepEqual(
      await names({
        types: [MODULE],
        visibilities: [Visibility.PRIVATE],
        statuses: [RegistryItemStatus.PUBLISHED],
        platforms: ['linux/amd64'],
        searchTerm: 'alpha',
      }),
      ['alpha-mod'],
    );
    assert.deepEqual(
      await names({ types: [MODULE], searchTerm: 'alpha', visibilities: [Visibility.PUBLIC] }),
      ['beta-mod', 'other-pub'],
    );

    // From the other organization: its own items of any visibility, the lister's public one only.
    assert.deepEqual(await names({}, admin, other), ['beta-mod', 'other-priv', 'other-pub', 'other-unl']);
    // The stranger, through its own organization, sees only the public items of both.
    assert.deepEqual(await names({}, stranger, orgX), ['beta-mod', 'other-pub']);
    // An organization the caller can't see, or that does not exist, is not found.
    await expectCode(list(org, {}, stranger), Code.NotFound);
    await expectCode(list(org, { types: [MODULE] }, operator), Code.NotFound);
    await expectCode(list(randomUUID()), Code.NotFound);
    // A filter value the API does not define is refused.
    await expectCode(list(org, { types: [99 as PackageType] }), Code.InvalidArgument);
  });

  it('RenameRegistryItem: the old id stops resolving, the new one does; a taken name is ALREADY_EXISTS', async () => {
    await admin.createRegistryItem(orgA, 'old-name', ML_MODEL);
    await admin.updateRegistryItem('alpha:old-name', ML_MODEL, 'renamed soon', Visibility.PUBLIC);
    const before = await getItem('alpha:old-name');
    await admin.createRegistryItem(orgA, 'taken-name', ARCHIVE);

    const res = await rawAppClient(admin).renameRegistryItem({
      itemId: 'alpha:old-name',
      newName: 'new-name',
    });
    const renamed = defined(res.item, 'the renamed item');
    assert.equal(renamed.itemId, 'alpha:new-name');
    assert.equal(renamed.name, 'new-name');
    assert.equal(renamed.organizationId, orgA);
    assert.equal(renamed.description, 'renamed soon');
    assert.equal(renamed.visibility, Visibility.PUBLIC);
    assert.equal(renamed.type, ML_MODEL);
    await expectCode(admin.getRegistryItem('alpha:old-name'), Code.NotFound);
    await expectCode(admin.getRegistryItem(`${orgA}:old-name`), Code.NotFound);
    for (const id of ['alpha:new-name', `${orgA}:new-name`]) {
      const read = await getItem(id);
      assert.equal(read.itemId, 'alpha:new-name');
      assert.equal(read.description, 'renamed soon');
      assert.equal(msOf(read.createdAt), msOf(before.createdAt));
    }
    const listed = (await list(orgA)).map((i) => i.itemId);
    assert.ok(listed.includes('alpha:new-name'));
    assert.ok(!listed.includes('alpha:old-name'));
    // The old name is free again.
    await admin.createRegistryItem(orgA, 'old-name', ARCHIVE);
    assert.equal((await getItem('alpha:old-name')).type, ARCHIVE);

    await refusedUnchanged(
      () => rawAppClient(admin).renameRegistryItem({ itemId: 'alpha:new-name', newName: 'taken-name' }),
      Code.AlreadyExists,
      'rename onto a taken name',
    );
    await allRefusedUnchanged(
      ['', 'New-Name', '-lead', 'has space', 'a:b', 'x'.repeat(129)].map((newName) => [
        `rename to "${newName}"`,
        () => rawAppClient(admin).renameRegistryItem({ itemId: 'alpha:new-name', newName }),
        Code.InvalidArgument,
      ]),
    );
    await refusedUnchanged(
      () => rawAppClient(admin).renameRegistryItem({ itemId: 'alpha:never-was', newName: 'fresh-name' }),
      Code.NotFound,
      'rename a missing item',
    );
  });

  it('TransferRegistryItem: to an owned organization by namespace; NOT_FOUND, INVALID_ARGUMENT, PERMISSION_DENIED, ALREADY_EXISTS', async () => {
    const mod = await createModule(orgA, 'moving-mod', Visibility.PRIVATE, 'moves house');
    const before = await getItem(mod);
    await rawAppClient(admin).transferRegistryItem({ itemId: mod, newPublicNamespace: 'bravo' });
    const moved = await getItem('bravo:moving-mod');
    assert.equal(moved.itemId, 'bravo:moving-mod');
    assert.equal(moved.organizationId, orgB);
    assert.equal(moved.publicNamespace, 'bravo');
    assert.equal(moved.description, 'moves house');
    assert.equal(moved.visibility, Visibility.PRIVATE);
    assert.equal(msOf(moved.createdAt), msOf(before.createdAt));
    assert.equal((await getItem(`${orgB}:moving-mod`)).itemId, 'bravo:moving-mod');
    await expectCode(admin.getRegistryItem('alpha:moving-mod'), Code.NotFound);
    await expectCode(admin.getRegistryItem(`${orgA}:moving-mod`), Code.NotFound);
    assert.equal((await getModule('bravo:moving-mod')).organizationId, orgB);
    assert.ok((await list(orgB)).some((i) => i.itemId === 'bravo:moving-mod'));
    assert.ok(!(await list(orgA)).some((i) => i.name === 'moving-mod'));
    // The operator of org A no longer sees it (it is private to org B now).
    await expectCode(operator.getRegistryItem('bravo:moving-mod'), Code.NotFound);

    // From an organization without a namespace too.
    await admin.createRegistryItem(orgC, 'from-c', ARCHIVE);
    await rawAppClient(admin).transferRegistryItem({ itemId: `${orgC}:from-c`, newPublicNamespace: 'alpha' });
    assert.equal((await getItem('alpha:from-c')).organizationId, orgA);
    await expectCode(admin.getRegistryItem(`${orgC}:from-c`), Code.NotFound);

    // Refusals.
    await refusedUnchanged(
      () =>
        rawAppClient(admin).transferRegistryItem({
          itemId: 'bravo:moving-mod',
          newPublicNamespace: 'nobody-has-this',
        }),
      Code.NotFound,
      'unknown namespace',
    );
    await refusedUnchanged(
      () =>
        rawAppClient(admin).transferRegistryItem({ itemId: 'bravo:moving-mod', newPublicNamespace: 'bravo' }),
      Code.InvalidArgument,
      'same organization',
    );
    await refusedUnchanged(
      () =>
        rawAppClient(admin).transferRegistryItem({
          itemId: `${orgB}:moving-mod`,
          newPublicNamespace: 'bravo',
        }),
      Code.InvalidArgument,
      'same organization, by org id',
    );
    await allRefusedUnchanged(
      ['', 'Not Valid', '-dash'].map((ns) => [
        `namespace "${ns}"`,
        () =>
          rawAppClient(admin).transferRegistryItem({ itemId: 'bravo:moving-mod', newPublicNamespace: ns }),
        Code.InvalidArgument,
      ]),
    );
    // The stranger owns org X but not org A (whose namespace is public knowledge).
    await stranger.createRegistryItem(orgX, 'x-thing', ARCHIVE);
    await refusedUnchanged(
      () =>
        rawAppClient(stranger).transferRegistryItem({ itemId: 'xray:x-thing', newPublicNamespace: 'alpha' }),
      Code.PermissionDenied,
      'target not owned',
    );
    // A name already taken in the target.
    await admin.createRegistryItem(orgA, 'clash', ARCHIVE);
    await admin.createRegistryItem(orgB, 'clash', ML_MODEL);
    await refusedUnchanged(
      () => rawAppClient(admin).transferRegistryItem({ itemId: 'alpha:clash', newPublicNamespace: 'bravo' }),
      Code.AlreadyExists,
      'name taken in the target',
    );
    assert.equal((await getItem('alpha:clash')).type, ARCHIVE);
    assert.equal((await getItem('bravo:clash')).type, ML_MODEL);
    await refusedUnchanged(
      () =>
        rawAppClient(admin).transferRegistryItem({ itemId: 'alpha:never-was', newPublicNamespace: 'bravo' }),
      Code.NotFound,
      'missing item',
    );
  });

  it('DeleteRegistryItem: gone from get and list; the name can be used again', async () => {
    await admin.createRegistryItem(orgA, 'short-lived', ML_MODEL);
    const mod = await createModule(orgA, 'short-mod', Visibility.PUBLIC, 'soon gone');
    assert.ok((await list(orgA)).some((i) => i.itemId === 'alpha:short-lived'));
    assert.ok((await admin.listModules(orgA)).some((m) => m.moduleId === mod));

    await admin.deleteRegistryItem('alpha:short-lived');
    await expectCode(admin.getRegistryItem('alpha:short-lived'), Code.NotFound);
    await expectCode(admin.getRegistryItem(`${orgA}:short-lived`), Code.NotFound);
    assert.ok(!(await list(orgA)).some((i) => i.name === 'short-lived'));
    // By the organization id form too; modules disappear from ListModules and every other org's lists.
    await admin.deleteRegistryItem(`${orgA}:short-mod`);
    await expectCode(admin.getModule(mod), Code.NotFound);
    await expectCode(admin.getRegistryItem(mod), Code.NotFound);
    assert.ok(!(await admin.listModules(orgA)).some((m) => m.moduleId === mod));
    assert.ok(!(await list(orgB)).some((i) => i.itemId === mod));
    // Deleting again: not found, nothing else touched.
    await refusedUnchanged(
      () => admin.deleteRegistryItem('alpha:short-lived'),
      Code.NotFound,
      'delete twice',
    );
    // The name is free again, for a new item with nothing of the old one.
    await admin.createRegistryItem(orgA, 'short-mod', MODULE);
    const again = await getModule('alpha:short-mod');
    assert.equal(again.description, '');
    assert.equal(again.visibility, Visibility.PRIVATE);
  });

  it('refuses bad names, duplicates, UNSPECIFIED type and visibility, changing nothing', async () => {
    const badNames = ['', 'Upper', '-lead', '_lead', 'has space', 'a:b', 'dot.ted', 'x'.repeat(129), 'émoji'];
    await allRefusedUnchanged(
      badNames.flatMap((name): Refusal[] => [
        [`item "${name}"`, () => admin.createRegistryItem(orgA, name, ARCHIVE), Code.InvalidArgument],
        [`module "${name}"`, () => admin.createModule(orgA, name), Code.InvalidArgument],
      ]),
    );
    // The longest name and every allowed character are fine.
    const longest = `a${'b'.repeat(127)}`;
    await admin.createRegistryItem(orgA, longest, ARCHIVE);
    assert.equal((await getItem(`alpha:${longest}`)).name, longest);
    await admin.createRegistryItem(orgA, '0-digit_first-9', ARCHIVE);
    assert.equal((await getItem('alpha:0-digit_first-9')).name, '0-digit_first-9');

    // Duplicates, whatever the type; the same name in another organization is fine.
    await admin.createRegistryItem(orgA, 'dup', ARCHIVE);
    await refusedUnchanged(() => admin.createRegistryItem(orgA, 'dup', ARCHIVE), Code.AlreadyExists, 'dup');
    await refusedUnchanged(
      () => admin.createRegistryItem(orgA, 'dup', ML_MODEL),
      Code.AlreadyExists,
      'dup type',
    );
    await refusedUnchanged(() => admin.createModule(orgA, 'dup'), Code.AlreadyExists, 'dup module');
    await createModule(orgA, 'dup-mod');
    await refusedUnchanged(() => admin.createModule(orgA, 'dup-mod'), Code.AlreadyExists, 'dup module 2');
    await refusedUnchanged(
      () => admin.createRegistryItem(orgA, 'dup-mod', MODULE),
      Code.AlreadyExists,
      'dup module as item',
    );
    await admin.createRegistryItem(orgC, 'dup', ARCHIVE);
    assert.equal((await getItem(`${orgC}:dup`)).organizationId, orgC);

    // Type UNSPECIFIED (or undefined) on create and update.
    await refusedUnchanged(
      () => admin.createRegistryItem(orgA, 'no-type', UNSPECIFIED_TYPE),
      Code.InvalidArgument,
      'create type 0',
    );
    await refusedUnchanged(
      () => admin.createRegistryItem(orgA, 'bad-type', 42 as PackageType),
      Code.InvalidArgument,
      'create type 42',
    );
    await refusedUnchanged(
      () => admin.updateRegistryItem('alpha:dup', UNSPECIFIED_TYPE, 'x', Visibility.PRIVATE),
      Code.InvalidArgument,
      'update type 0',
    );
    // Visibility UNSPECIFIED on both updates.
    await refusedUnchanged(
      () => admin.updateRegistryItem('alpha:dup', ARCHIVE, 'x', Visibility.UNSPECIFIED),
      Code.InvalidArgument,
      'update visibility 0',
    );
    await refusedUnchanged(
      () => admin.updateModule('alpha:dup-mod', Visibility.UNSPECIFIED, '', 'x', [], 'bin/run'),
      Code.InvalidArgument,
      'module visibility 0',
    );
    // Creating in an organization that does not exist.
    await refusedUnchanged(
      () => admin.createRegistryItem(randomUUID(), 'nowhere', ARCHIVE),
      Code.NotFound,
      'unknown organization',
    );
    await refusedUnchanged(
      () => admin.createModule(randomUUID(), 'nowhere'),
      Code.NotFound,
      'unknown org module',
    );
  });

  it('PUBLIC needs a namespace (FAILED_PRECONDITION); models must be triplets and url http(s) (INVALID_ARGUMENT)', async () => {
    await admin.createRegistryItem(orgC, 'c-item', ARCHIVE);
    const cMod = await createModule(orgC, 'c-mod');
    await refusedUnchanged(
      () => admin.updateRegistryItem(`${orgC}:c-item`, ARCHIVE, 'public?', Visibility.PUBLIC),
      Code.FailedPrecondition,
      'public item without namespace',
    );
    await refusedUnchanged(
      () => admin.updateModule(cMod, Visibility.PUBLIC, '', 'public?', [], 'bin/run'),
      Code.FailedPrecondition,
      'public module without namespace',
    );
    // In org A (with a namespace) the same works.
    await admin.createRegistryItem(orgA, 'a-public', ARCHIVE);
    await admin.updateRegistryItem('alpha:a-public', ARCHIVE, 'public!', Visibility.PUBLIC);
    assert.equal((await getItem('alpha:a-public')).visibility, Visibility.PUBLIC);

    const mod = await createModule(orgA, 'checked-mod', Visibility.PRIVATE, 'checked');
    const good = model('rdk:component:motor', 'acme:motors:mover');
    const badModels: [string, string][] = [
      ['rdk:component', 'acme:motors:mover'],
      ['rdk:component:motor', 'acme:mover'],
      ['rdk:component:motor:extra', 'acme:motors:mover'],
      ['rdk:component:motor', 'acme:motors:mover:extra'],
      ['rdk:comp onent:motor', 'acme:motors:mover'],
      ['rdk:component:motor', 'acme:motors:mo.ver'],
      ['', 'acme:motors:mover'],
      ['rdk:component:motor', ''],
      ['rdk::motor', 'acme:motors:mover'],
    ];
    await allRefusedUnchanged(
      badModels.map(([api, name]) => [
        `model ${api} / ${name}`,
        () => admin.updateModule(mod, Visibility.PRIVATE, '', 'changed', [good, model(api, name)], 'bin/x'),
        Code.InvalidArgument,
      ]),
    );
    const badUrls = [
      'ftp://example.com/x',
      'not a url',
      'javascript:alert(1)',
      'example.com/x',
      'file:///etc',
    ];
    await allRefusedUnchanged(
      badUrls.map((url) => [
        `url ${url}`,
        () => admin.updateModule(mod, Visibility.PRIVATE, url, 'changed', [good], 'bin/x'),
        Code.InvalidArgument,
      ]),
    );
    // Valid triplets with - and _, and http urls, are accepted.
    await admin.updateModule(
      mod,
      Visibility.PRIVATE,
      'http://example.com/docs',
      'ok',
      [good, model('Acme_Co:some-api:X1', 'acme-co:my_models:V2')],
      'bin/x',
    );
    const m = await getModule(mod);
    assert.equal(m.url, 'http://example.com/docs');
    assert.deepEqual(
      m.models.map((x) => x.model),
      ['acme:motors:mover', 'acme-co:my_models:V2'],
    );
  });

  it('changing the type of an item with uploaded files is FAILED_PRECONDITION', async () => {
    const mod = await createModule(orgA, 'shipped', Visibility.PRIVATE, 'has a file');
    // Before any upload the type may change (and back).
    await admin.updateRegistryItem(mod, ARCHIVE, 'has a file', Visibility.PRIVATE);
    assert.equal((await getItem(mod)).type, ARCHIVE);
    await admin.updateRegistryItem(mod, MODULE, 'has a file', Visibility.PRIVATE);
    await admin.updateModule(mod, Visibility.PRIVATE, '', 'has a file', [], 'bin/run');
    await upload(mod, '0.0.1', 'linux/arm64');
    await allRefusedUnchanged(
      [ARCHIVE, ML_MODEL, SLAM_MAP, ML_TRAINING].map((type) => [
        `type ${type} after upload`,
        () => admin.updateRegistryItem(mod, type, 'has a file', Visibility.PRIVATE),
        Code.FailedPrecondition,
      ]),
    );
    // Keeping the type is fine.
    await admin.updateRegistryItem(mod, MODULE, 'still a module', Visibility.PUBLIC_UNLISTED);
    const read = await getItem(mod);
    assert.equal(read.type, MODULE);
    assert.equal(read.description, 'still a module');
  });

  it('malformed ids are INVALID_ARGUMENT for every method that takes one', async () => {
    const malformed = [
      '',
      'no-colon',
      ':name',
      `${orgA}:`,
      'alpha:b:c',
      'alpha:Upper',
      'alpha:has space',
      `${'p'.repeat(129)}:name`,
    ];
    await allRefusedUnchanged(
      malformed.flatMap((id): Refusal[] => [
        [`get("${id}")`, () => admin.getRegistryItem(id), Code.InvalidArgument],
        [
          `update("${id}")`,
          () => admin.updateRegistryItem(id, ARCHIVE, 'x', Visibility.PRIVATE),
          Code.InvalidArgument,
        ],
        [`delete("${id}")`, () => admin.deleteRegistryItem(id), Code.InvalidArgument],
        [`getModule("${id}")`, () => admin.getModule(id), Code.InvalidArgument],
        [
          `updateModule("${id}")`,
          () => admin.updateModule(id, Visibility.PRIVATE, '', 'x', [], 'bin/run'),
          Code.InvalidArgument,
        ],
        [
          `rename("${id}")`,
          () => rawAppClient(admin).renameRegistryItem({ itemId: id, newName: 'fine-name' }),
          Code.InvalidArgument,
        ],
        [
          `transfer("${id}")`,
          () => rawAppClient(admin).transferRegistryItem({ itemId: id, newPublicNamespace: 'bravo' }),
          Code.InvalidArgument,
        ],
      ]),
    );
  });

  it('an operator reads private items but every write is PERMISSION_DENIED', async () => {
    await createModule(orgA, 'op-private', Visibility.PRIVATE, 'for operators to read');
    await admin.updateModule(
      'alpha:op-private',
      Visibility.PRIVATE,
      'https://example.com/op',
      'for operators to read',
      [model('rdk:component:motor', 'acme:motors:op')],
      'bin/op',
    );
    await createModule(orgA, 'op-public', Visibility.PUBLIC, 'public one');

    const asAdmin = await getItem('alpha:op-private');
    assert.deepEqual((await getItem('alpha:op-private', operator)).toJson(), asAdmin.toJson());
    assert.deepEqual(
      (await getModule('alpha:op-private', operator)).toJson(),
      (await getModule('alpha:op-private')).toJson(),
    );
    assert.ok((await list(orgA, {}, operator)).some((i) => i.itemId === 'alpha:op-private'));
    assert.ok((await operator.listModules(orgA)).some((m) => m.moduleId === 'alpha:op-private'));

    const denied = Code.PermissionDenied;
    await allRefusedUnchanged([
      ...['alpha:op-private', 'alpha:op-public'].flatMap((id): Refusal[] => [
        [
          `operator update ${id}`,
          () => operator.updateRegistryItem(id, MODULE, 'by operator', Visibility.PRIVATE),
          denied,
        ],
        [
          `operator updateModule ${id}`,
          () => operator.updateModule(id, Visibility.PRIVATE, '', 'by operator', [], 'bin/x'),
          denied,
        ],
        [`operator delete ${id}`, () => operator.deleteRegistryItem(id), denied],
        [
          `operator rename ${id}`,
          () => rawAppClient(operator).renameRegistryItem({ itemId: id, newName: 'by-operator' }),
          denied,
        ],
        [
          `operator transfer ${id}`,
          () => rawAppClient(operator).transferRegistryItem({ itemId: id, newPublicNamespace: 'bravo' }),
          denied,
        ],
      ]),
      ['operator create', () => operator.createRegistryItem(orgA, 'by-operator', ARCHIVE), denied],
      ['operator createModule', () => operator.createModule(orgA, 'by-operator'), denied],
    ]);
  });

  it('another organization: NOT_FOUND for private items, reads public ones, PERMISSION_DENIED writing them', async () => {
    await createModule(orgA, 'hidden-mod', Visibility.PRIVATE, 'private to A');
    await admin.createRegistryItem(orgA, 'hidden-item', ML_MODEL);
    await createModule(orgA, 'shown-mod', Visibility.PUBLIC, 'public in A');
    await createModule(orgA, 'link-mod', Visibility.PUBLIC_UNLISTED, 'unlisted in A');

    // Private: not found, for reads and writes alike, by either id form; same as a missing item.
    const hidden = ['alpha:hidden-mod', `${orgA}:hidden-mod`, 'alpha:hidden-item', 'alpha:never-existed'];
    const writesBy = (id: string, visibility: appApi.Visibility, code: Code): Refusal[] => [
      [
        `stranger update ${id}`,
        () => stranger.updateRegistryItem(id, MODULE, 'by stranger', visibility),
        code,
      ],
      [
        `stranger updateModule ${id}`,
        () => stranger.updateModule(id, visibility, '', 'by stranger', [], 'bin/x'),
        code,
      ],
      [`stranger delete ${id}`, () => stranger.deleteRegistryItem(id), code],
      [
        `stranger rename ${id}`,
        () => rawAppClient(stranger).renameRegistryItem({ itemId: id, newName: 'by-stranger' }),
        code,
      ],
      [
        `stranger transfer ${id}`,
        () => rawAppClient(stranger).transferRegistryItem({ itemId: id, newPublicNamespace: 'xray' }),
        code,
      ],
    ];
    await allRefusedUnchanged(
      hidden.flatMap((id): Refusal[] => [
        [`stranger get ${id}`, () => stranger.getRegistryItem(id), Code.NotFound],
        [`stranger getModule ${id}`, () => stranger.getModule(id), Code.NotFound],
        ...writesBy(id, Visibility.PRIVATE, Code.NotFound),
      ]),
    );

    // Public and unlisted: readable, as the owner reads them; writes are PERMISSION_DENIED.
    for (const id of ['alpha:shown-mod', 'alpha:link-mod']) {
      assert.deepEqual((await getItem(id, stranger)).toJson(), (await getItem(id)).toJson(), id);
      assert.deepEqual((await getModule(id, stranger)).toJson(), (await getModule(id)).toJson(), id);
      await allRefusedUnchanged(writesBy(id, Visibility.PUBLIC_UNLISTED, Code.PermissionDenied));
    }
    // The public one is listed for the stranger's own organization; the unlisted and private are not.
    const seen = (await list(orgX, {}, stranger)).map((i) => i.itemId);
    assert.ok(seen.includes('alpha:shown-mod'));
    assert.ok(!seen.includes('alpha:link-mod'));
    assert.ok(!seen.includes('alpha:hidden-mod'));
    const modules = (await stranger.listModules(orgX)).map((m) => m.moduleId);
    assert.ok(modules.includes('alpha:shown-mod'));
    assert.ok(!modules.includes('alpha:hidden-mod'));
    // Creating in, or listing, an organization it can't see.
    await allRefusedUnchanged([
      ['stranger create', () => stranger.createRegistryItem(orgA, 'by-stranger', ARCHIVE), Code.NotFound],
      ['stranger createModule', () => stranger.createModule(orgA, 'by-stranger'), Code.NotFound],
    ]);
    await expectCode(list(orgA, {}, stranger), Code.NotFound);
    await expectCode(stranger.listModules(orgA), Code.NotFound);
  });
});
