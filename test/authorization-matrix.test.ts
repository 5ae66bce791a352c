import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { after, before, it } from 'node:test';
import { Struct } from '@bufbuild/protobuf';
import { Code, createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import { createAsyncIterable } from '@connectrpc/connect/protocol';
import { appApi, createViamClient, type AppClient } from '@viamrobotics/sdk';
import { main } from '../src/cli/main.js';
import { ALL_PERMISSIONS, ROLE_PERMISSIONS, type Permission } from '../src/authz/permissions.js';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { PackageService, PackageType } from '../src/rpc/package-service.generated.js';
import { AppService, RobotService } from '../src/rpc/service-descriptors.generated.js';
import { bearer, connectTransport, grpcTransport, rawAppClient } from './support/clients.js';
import { forEachDialect } from './support/databases.js';
import { roleAuthorization, type ResourceType } from './support/roles.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * The generated authorization matrix (issue 5): principals x every implemented AppService method x
 * objects {inside the principal's scope, in a sibling location, in another organization}. The
 * expected code of each cell is computed from ROLE_PERMISSIONS and scope inheritance, cross-checked
 * against CheckPermissions, and every refusal is checked to have changed nothing.
 */

type Role = 'owner' | 'operator';
type Place = 'inside' | 'sibling' | 'other-org';
const PLACES: readonly Place[] = ['inside', 'sibling', 'other-org'];

interface Machine {
  id: string;
  name: string;
  locationId: string;
  partId: string;
  partName: string;
}
/** One organization of the world: two root locations with one machine each, a fragment, a key. */
interface OrgWorld {
  id: string;
  name: string;
  loc1: { id: string; name: string };
  loc2: { id: string; name: string };
  robot1: Machine;
  robot2: Machine;
  fragmentId: string;
  /** A private module with an entrypoint, ready for uploads. */
  moduleId: string;
  /** A key of this organization that grants in the matrix name (addRole's identity). */
  granteeKeyId: string;
  /** A user who is a member of this organization only. */
  member: { id: string; email: string };
  /** The stored file of the module's version 0.0.1 for linux/amd64 (`/packages/<id>`). */
  packageFileId: string;
}

/** What a call acts on: a resource, where it sits (nearest first), and the ids a call needs. */
interface Target {
  type: ResourceType;
  id: string;
  chain: string[];
  org: OrgWorld;
  locationId: string;
  machine: Machine;
  extra?: string;
}

interface Grant {
  org: string;
  resourceId: string;
  role: Role;
}

interface Principal {
  name: string;
  client: AppClient;
  /** The access token behind `client`, for calls the SDK can't make (client streams). */
  token: string;
  grants: Grant[];
  part: boolean;
  home: () => OrgWorld;
  other: () => OrgWorld;
}

/**
 * 'perm': needs `perm` on the target. 'grant': the target's organization must be visible, then
 * owner on the target. 'any': open to every user and key (no resource), never to a part token.
 */
interface MethodSpec {
  name: string;
  target: ResourceType;
  kind: 'perm' | 'grant' | 'any' | 'inside';
  perm: Permission;
  /** Builds a fresh object for this cell (destructive methods). */
  fresh?: (t: Target) => Promise<Target>;
  call: (c: AppClient, t: Target, p: Principal) => Promise<unknown>;
  snapshot: (admin: AppClient, t: Target) => Promise<unknown>;
  /** The answer when the caller is allowed, if not OK (a rule past authorization refuses the call). */
  allowed?: Code;
  /** Restores state after an allowed call (admin). */
  undo?: (admin: AppClient, t: Target) => Promise<unknown>;
}

type Outcome = 'OK' | Code;
const outcomeName = (o: Outcome) => (o === 'OK' ? 'OK' : Code[o]);

const uniq = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** The generated client inside the SDK's AppClient, for methods the SDK does not wrap. */
type RawCall = (request: Record<string, unknown>) => Promise<unknown>;
const raw = (c: AppClient, method: string): RawCall => {
  const client = rawAppClient(c) as unknown as Record<string, RawCall>;
  const fn = client[method];
  assert.ok(fn, `the SDK's client has no ${method}`);
  return fn.bind(client);
};
const codeOf = (e: { code?: Code }) => e.code;

/** Runs a call: OK, or the error's code and message (the message as the server sent it). */
async function attempt(call: () => Promise<unknown>): Promise<{ outcome: Outcome; message: string }> {
  try {
    await call();
    return { outcome: 'OK', message: '' };
  } catch (error) {
    const { code, rawMessage } = error as { code?: unknown; rawMessage?: unknown };
    return {
      outcome: typeof code === 'number' ? code : Code.Unknown,
      message: typeof rawMessage === 'string' ? rawMessage : String(error),
    };
  }
}

/** Refuses a list that does not show the object, so a listing reads as "not found" in the matrix. */
const mustShow = (shown: boolean) => {
  if (!shown) throw Object.assign(new Error('not listed'), { code: Code.NotFound });
};

const UUID_IN_TEXT = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const LOCATION_ID = /^[a-z0-9]{10}$/;
const randomLocationId = () =>
  randomBytes(16)
    .toString('hex')
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 10);

/**
 * The same target with every id in it (UUIDs anywhere in a string, location ids) replaced by a
 * random id of the same shape, the same replacement wherever an id appears: objects nobody has,
 * named the same way. `back` turns the phantom ids in a reply back into the real ones, so that
 * the answers for a hidden object and for a made-up one can be compared word for word.
 */
function phantomOf<T>(target: T): { target: T; back: (text: string) => string } {
  const forward = new Map<string, string>();
  const swap = (id: string, fresh: () => string) => {
    let replacement = forward.get(id);
    if (replacement === undefined) {
      replacement = fresh();
      forward.set(id, replacement);
    }
    return replacement;
  };
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') {
      return LOCATION_ID.test(value)
        ? swap(value, randomLocationId)
        : value.replace(UUID_IN_TEXT, (id) => swap(id, randomUUID));
    }
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    }
    return value;
  };
  const phantom = walk(target) as T;
  const back = (text: string) => {
    let out = text;
    for (const [real, fake] of forward) out = out.split(fake).join(real);
    return out;
  };
  return { target: phantom, back };
}

forEachDialect('authorization matrix', (newDatabase) => {
  let t: TestServer;
  let databaseUrl: string | undefined;
  let admin: AppClient;
  let A: OrgWorld;
  let B: OrgWorld;
  let C: OrgWorld;
  const principals: Principal[] = [];

  const clientForToken = async (token: string) =>
    (await createViamClient({ serviceHost: t.url, credentials: { type: 'access-token', payload: token } }))
      .appClient;
  let grpcClient: PromiseClient<typeof AppService> | undefined;
  /** One native gRPC client (HTTP/2) for the whole matrix. */
  const grpcApp = () => (grpcClient ??= createPromiseClient(AppService, grpcTransport(t.url)));
  const authClient = () => createPromiseClient(AuthService, connectTransport(t.url));

  async function newMachine(locationId: string, name = uniq('m')): Promise<Machine> {
    const id = await admin.newRobot(locationId, name);
    const [main] = await admin.getRobotParts(id);
    assert.ok(main);
    return { id, name, locationId, partId: main.id, partName: main.name };
  }

  async function buildOrg(orgId: string, name: string): Promise<OrgWorld> {
    const l1 = await admin.createLocation(orgId, uniq('loc1'));
    const l2 = await admin.createLocation(orgId, uniq('loc2'));
    assert.ok(l1 && l2);
    const fragment = await admin.createFragment(orgId, uniq('frag'), Struct.fromJson({ components: [] }));
    assert.ok(fragment);
    const key = await admin.createKey(
      [roleAuthorization(orgId, 'organization', orgId, 'operator')],
      uniq('grantee'),
    );
    const { moduleId } = await admin.createModule(orgId, uniq('mod'));
    await admin.updateModule(moduleId, appApi.Visibility.PRIVATE, '', '', [], 'bin/run');
    await admin.updateOrganizationMetadata(orgId, { tag: 'org' });
    await admin.updateLocationMetadata(l1.id, { tag: 'loc' });
    await admin.updateLocationMetadata(l2.id, { tag: 'loc' });
    const robot1 = await newMachine(l1.id);
    const robot2 = await newMachine(l2.id);
    for (const r of [robot1, robot2]) {
      await admin.updateRobotMetadata(r.id, { tag: 'robot' });
      await admin.updateRobotPartMetadata(r.partId, { tag: 'part' });
    }
    return {
      id: orgId,
      name,
      loc1: { id: l1.id, name: l1.name },
      loc2: { id: l2.id, name: l2.name },
      robot1,
      robot2,
      fragmentId: fragment.id,
      moduleId,
      granteeKeyId: key.id,
      member: await newMember(orgId),
      packageFileId: await uploadModuleFile(moduleId),
    };
  }

  /** A new user who joins the organization (as owner) through an invite and its accept page. */
  /** The link of an invite already accepted (the page must answer as for a made-up token). */
  let usedInviteLink = '';

  /**
   * Uploads version 0.0.1 of a module for linux/amd64 as the admin, and returns the id of the
   * stored file, from the URL GetPackage hands out (`/packages/<file id>?expires=…`).
   */
  async function uploadModuleFile(moduleId: string, version = '0.0.1'): Promise<string> {
    const { headers } = bearer(await t.adminToken());
    await grpcApp().uploadModuleFile(
      createAsyncIterable([
        new appApi.UploadModuleFileRequest({
          moduleFile: {
            case: 'moduleFileInfo',
            value: new appApi.ModuleFileInfo({ moduleId, version, platform: 'linux/amd64' }),
          },
        }),
        new appApi.UploadModuleFileRequest({
          moduleFile: { case: 'file', value: new Uint8Array([1, 2, 3]) },
        }),
      ]),
      { headers },
    );
    const packages = createPromiseClient(PackageService, grpcTransport(t.url));
    const got = await packages.getPackage(
      { id: moduleId.replace(':', '/'), version, platform: 'linux/amd64', includeUrl: true },
      { headers },
    );
    const fileId = /\/packages\/([^?]+)/.exec(got.package?.url ?? '')?.[1];
    assert.ok(fileId, `no package URL for ${moduleId}`);
    return fileId;
  }

  async function newMember(orgId: string): Promise<{ id: string; email: string }> {
    const email = `${uniq('member')}@example.com`;
    await admin.createOrganizationInvite(orgId, email, [], false);
    let link = '';
    const env = { FLOTILLA_DATABASE_URL: databaseUrl, FLOTILLA_PUBLIC_URL: t.url };
    const args = ['invite-link', '--org-id', orgId, '--email', email, '--data-dir', t.dataDir];
    assert.equal(await main(args, { out: (x) => (link += x), err: () => {} }, env), 0);
    const accepted = await fetch(link.trim(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ password: 'member password' }).toString(),
    });
    assert.equal(accepted.status, 200);
    usedInviteLink = link.trim();
    return { id: await admin.getUserIDByEmail(email), email };
  }

  async function keyPrincipal(name: string, org: OrgWorld, grant: Grant, other: () => OrgWorld) {
    const type: ResourceType =
      grant.resourceId === org.id ? 'organization' : grant.resourceId === org.loc1.id ? 'location' : 'robot';
    const key = await admin.createKey(
      [roleAuthorization(org.id, type, grant.resourceId, grant.role)],
      uniq(name),
    );
    const client = (await t.clientForKey(key.id, key.key)).appClient;
    const { accessToken: token } = await authClient().authenticate({
      entity: key.id,
      credentials: { type: 'api-key', payload: key.key },
    });
    const p: Principal = { name, client, token, grants: [grant], part: false, home: () => org, other };
    principals.push(p);
  }

  before(async () => {
    const database = await newDatabase();
    databaseUrl = database.databaseUrl;
    t = await startTestServer(database);
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    const orgA = await admin.getOrganization(t.admin.organizationId);
    assert.ok(orgA);
    A = await buildOrg(orgA.id, orgA.name);
    const orgB = await admin.createOrganization('Org B');
    const orgC = await admin.createOrganization('Org C');
    assert.ok(orgB && orgC);
    B = await buildOrg(orgB.id, orgB.name);
    C = await buildOrg(orgC.id, orgC.name);
    // The admin user: owner of A (init), made operator of C.
    await admin.addRole(C.id, t.admin.userId, 'operator', 'organization', C.id);

    const toB = () => B;
    for (const role of ['owner', 'operator'] as const) {
      await keyPrincipal(`org ${role} key`, A, { org: A.id, resourceId: A.id, role }, toB);
      await keyPrincipal(`location ${role} key`, A, { org: A.id, resourceId: A.loc1.id, role }, toB);
      await keyPrincipal(`machine ${role} key`, A, { org: A.id, resourceId: A.robot1.id, role }, toB);
    }
    await keyPrincipal('other org owner key', B, { org: B.id, resourceId: B.id, role: 'owner' }, () => A);

    const { accessToken: userToken } = await authClient().authenticate({
      entity: t.admin.email,
      credentials: { type: 'password', payload: t.admin.password },
    });
    const userClient = await clientForToken(userToken);
    const userGrants: Grant[] = [
      { org: A.id, resourceId: A.id, role: 'owner' },
      { org: C.id, resourceId: C.id, role: 'operator' },
    ];
    principals.push(
      {
        name: 'user (org owner)',
        client: userClient,
        token: userToken,
        grants: userGrants,
        part: false,
        home: () => A,
        other: toB,
      },
      {
        name: 'user (org operator)',
        client: userClient,
        token: userToken,
        grants: userGrants,
        part: false,
        home: () => C,
        other: toB,
      },
    );

    const part = await admin.getRobotPart(A.robot1.partId);
    const secret = part.part?.secret ?? '';
    assert.notEqual(secret, '');
    const { accessToken: partToken } = await authClient().authenticate({
      entity: A.robot1.partId,
      credentials: { type: 'robot-secret', payload: secret },
    });
    principals.push({
      name: 'part token',
      client: await clientForToken(partToken),
      token: partToken,
      grants: [],
      part: true,
      home: () => A,
      other: toB,
    });
  });
  after(() => t.stop());

  /** The object of `type` at `place` for the principal. */
  function targetFor(p: Principal, place: Place, type: ResourceType): Target {
    const org = place === 'other-org' ? p.other() : p.home();
    const loc = place === 'sibling' ? org.loc2 : org.loc1;
    const machine = place === 'sibling' ? org.robot2 : org.robot1;
    switch (type) {
      case 'organization':
        return { type, id: org.id, chain: [org.id], org, locationId: loc.id, machine };
      case 'location':
        return { type, id: loc.id, chain: [loc.id, org.id], org, locationId: loc.id, machine };
      case 'robot':
        return {
          type,
          id: machine.id,
          chain: [machine.id, loc.id, org.id],
          org,
          locationId: loc.id,
          machine,
        };
    }
  }

  // Fresh objects at the same place, for methods that destroy or use up what they act on.
  const freshRobot = async (tg: Target): Promise<Target> => {
    const machine = await newMachine(tg.locationId);
    return { ...tg, id: machine.id, chain: [machine.id, ...tg.chain.slice(-2)], machine };
  };
  const freshRobotWithPart = async (tg: Target): Promise<Target> => {
    const fresh = await freshRobot(tg);
    return { ...fresh, extra: await admin.newRobotPart(fresh.id, uniq('extra')) };
  };
  const freshChildLocation = async (tg: Target): Promise<Target> => {
    const loc = await admin.createLocation(tg.org.id, uniq('child'), tg.locationId);
    assert.ok(loc);
    return { ...tg, id: loc.id, chain: [loc.id, ...tg.chain], locationId: loc.id };
  };
  const freshFragment = async (tg: Target): Promise<Target> => {
    const f = await admin.createFragment(tg.org.id, uniq('frag'), Struct.fromJson({}));
    assert.ok(f);
    return { ...tg, extra: f.id };
  };
  const freshMember = async (tg: Target): Promise<Target> => ({
    ...tg,
    extra: (await newMember(tg.org.id)).id,
  });
  const freshInvite = async (tg: Target): Promise<Target> => {
    const email = `${uniq('invitee')}@example.com`;
    await admin.createOrganizationInvite(tg.org.id, email, [], false);
    return { ...tg, extra: email };
  };
  const freshKey = async (tg: Target): Promise<Target> => {
    const k = await admin.createKey(
      [roleAuthorization(tg.org.id, 'organization', tg.org.id, 'operator')],
      uniq('doomed'),
    );
    return { ...tg, extra: k.id };
  };

  // Cheap snapshots of what a refused call could have changed.
  const snapOrg = async (a: AppClient, tg: Target) => {
    const o = await a.getOrganization(tg.org.id);
    return [o?.name, o?.publicNamespace, await a.getOrganizationMetadata(tg.org.id)];
  };
  const snapLocations = async (a: AppClient, tg: Target) =>
    (await a.listLocations(tg.org.id))
      .map((l) => [l.id, l.name, l.parentLocationId, l.auth?.secrets.length])
      .sort();
  const snapLocation = async (a: AppClient, tg: Target) => {
    const l = await a.getLocation(tg.locationId).catch((e: { code?: Code }) => e.code);
    return [
      typeof l === 'object' ? [l.name, l.parentLocationId, l.auth?.secrets.map((s) => s.id)] : l,
      await a.getLocationMetadata(tg.locationId).catch((e: { code?: Code }) => e.code),
    ];
  };
  const snapRobots = async (a: AppClient, tg: Target) =>
    (await a.listRobots(tg.locationId)).map((r) => [r.id, r.name]).sort();
  const snapRobot = async (a: AppClient, tg: Target) => {
    const r = await a.getRobot(tg.id).catch((e: { code?: Code }) => e.code);
    const parts = await a.getRobotParts(tg.id).catch((e: { code?: Code }) => e.code);
    return [
      typeof r === 'object' ? r.name : r,
      Array.isArray(parts)
        ? parts.map((p) => [
            p.id,
            p.name,
            p.mainPart,
            p.secrets.map((s) => s.id),
            p.robotConfig?.toJsonString(),
          ])
        : parts,
      await a.getRobotMetadata(tg.id).catch((e: { code?: Code }) => e.code),
      await a.getRobotPartMetadata(tg.machine.partId).catch((e: { code?: Code }) => e.code),
    ];
  };
  const snapFragments = async (a: AppClient, tg: Target) =>
    (await a.listFragments(tg.org.id)).map((f) => [f.id, f.name, f.revision]).sort();
  const snapKeys = async (a: AppClient, tg: Target) =>
    (await a.listKeys(tg.org.id)).map((k) => k.apiKey?.id).sort();
  const snapGrants = async (a: AppClient, tg: Target) =>
    (await a.listAuthorizations(tg.org.id))
      .map((g) => `${g.identityId}/${g.authorizationId}/${g.resourceId}`)
      .sort();
  const snapMembers = async (a: AppClient, tg: Target) => {
    const m = await a.listOrganizationMembers(tg.org.id);
    return [m.members.map((x) => x.userId).sort(), m.invites.map((i) => i.email).sort()];
  };
  const nothing = () => Promise.resolve(null);
  const snapItems = async (a: AppClient, tg: Target) =>
    (await a.listRegistryItems(tg.org.id, [], [], [], []))
      .filter((i) => i.organizationId === tg.org.id)
      .map((i) => [i.itemId, i.type, i.visibility, i.description])
      .sort();
  const snapModule = async (a: AppClient, tg: Target) => {
    const m = await a.getModule(tg.extra ?? tg.org.moduleId).catch((e: { code?: Code }) => e.code);
    return typeof m === 'object'
      ? [m.moduleId, m.description, m.entrypoint, m.versions.map((v) => [v.version, v.files.length])]
      : m;
  };
  const freshItem = async (tg: Target): Promise<Target> => {
    const name = uniq('item');
    await admin.createRegistryItem(tg.org.id, name, 2 /* ML model */);
    return { ...tg, extra: `${tg.org.id}:${name}` };
  };
  const freshModule = async (tg: Target): Promise<Target> => ({
    ...tg,
    extra: (await admin.createModule(tg.org.id, uniq('mod'))).moduleId,
  });
  let uploads = 0;
  /** One small module file for a new version, sent over native gRPC with the principal's token. */
  const upload = (p: Principal, moduleId: string) => {
    uploads += 1;
    const messages = createAsyncIterable([
      new appApi.UploadModuleFileRequest({
        moduleFile: {
          case: 'moduleFileInfo',
          value: new appApi.ModuleFileInfo({ moduleId, version: `1.0.${uploads}`, platform: 'linux/amd64' }),
        },
      }),
      new appApi.UploadModuleFileRequest({ moduleFile: { case: 'file', value: new Uint8Array([1, 2, 3]) } }),
    ]);
    return grpcApp().uploadModuleFile(messages, bearer(p.token));
  };

  let packagesClient: PromiseClient<typeof PackageService> | undefined;
  /** PackageService over native gRPC, as viam-server calls it. */
  const packages = () => (packagesClient ??= createPromiseClient(PackageService, grpcTransport(t.url)));
  const packageIdOf = (tg: Target) => tg.org.moduleId.replace(':', '/');
  const snapVersions = async (a: AppClient, tg: Target) =>
    (await a.getModule(tg.org.moduleId))?.versions.map((v) => v.version).sort();
  let packageVersions = 0;

  const METHODS: MethodSpec[] = [
    // Organizations
    {
      name: 'getOrganization',
      target: 'organization',
      kind: 'perm',
      perm: 'read_organization',
      snapshot: nothing,
      call: (c, tg) => c.getOrganization(tg.org.id),
    },
    {
      name: 'updateOrganization',
      target: 'organization',
      kind: 'perm',
      perm: 'write_organization',
      snapshot: snapOrg,
      call: (c, tg) => c.updateOrganization(tg.org.id, tg.org.name),
    },
    {
      name: 'listOrganizationMembers',
      target: 'organization',
      kind: 'perm',
      perm: 'read_organization',
      snapshot: nothing,
      call: (c, tg) => c.listOrganizationMembers(tg.org.id),
    },
    {
      name: 'createOrganizationInvite',
      target: 'organization',
      kind: 'perm',
      perm: 'write_organization',
      snapshot: snapMembers,
      call: (c, tg) => c.createOrganizationInvite(tg.org.id, `${uniq('inv')}@example.com`, [], false),
    },
    {
      name: 'getOrganizationMetadata',
      target: 'organization',
      kind: 'perm',
      perm: 'write_organization',
      snapshot: nothing,
      call: (c, tg) => c.getOrganizationMetadata(tg.org.id),
    },
    {
      name: 'updateOrganizationMetadata',
      target: 'organization',
      kind: 'perm',
      perm: 'write_organization',
      snapshot: snapOrg,
      call: (c, tg) => c.updateOrganizationMetadata(tg.org.id, { tag: 'org' }),
    },
    {
      name: 'listLocations',
      target: 'organization',
      kind: 'perm',
      perm: 'read_organization',
      snapshot: nothing,
      call: (c, tg) => c.listLocations(tg.org.id),
    },
    {
      name: 'createLocation',
      target: 'organization',
      kind: 'perm',
      perm: 'write_location',
      snapshot: snapLocations,
      call: (c, tg) => c.createLocation(tg.org.id, uniq('new')),
    },
    {
      name: 'getRoverRentalRobots',
      target: 'organization',
      kind: 'perm',
      perm: 'read_organization',
      snapshot: nothing,
      call: (c, tg) => c.getRoverRentalRobots(tg.org.id),
    },
    {
      name: 'listMachineSummaries',
      target: 'organization',
      kind: 'perm',
      perm: 'read_organization',
      snapshot: nothing,
      call: (c, tg) => c.listMachineSummaries(tg.org.id),
    },
    {
      name: 'listKeys',
      target: 'organization',
      kind: 'perm',
      perm: 'write_organization',
      snapshot: nothing,
      call: (c, tg) => c.listKeys(tg.org.id),
    },
    {
      name: 'deleteKey',
      target: 'organization',
      kind: 'perm',
      perm: 'write_organization',
      fresh: freshKey,
      snapshot: snapKeys,
      call: (c, tg) => c.deleteKey(tg.extra ?? ''),
    },
    {
      name: 'listAuthorizations',
      target: 'organization',
      kind: 'perm',
      perm: 'write_organization',
      snapshot: nothing,
      call: (c, tg) => c.listAuthorizations(tg.org.id),
    },
    // Fragments (a private fragment of the organization)
    {
      name: 'listFragments',
      target: 'organization',
      kind: 'perm',
      perm: 'read_organization',
      snapshot: nothing,
      call: (c, tg) => c.listFragments(tg.org.id),
    },
    {
      name: 'createFragment',
      target: 'organization',
      kind: 'perm',
      perm: 'write_fragment',
      snapshot: snapFragments,
      call: (c, tg) => c.createFragment(tg.org.id, uniq('f'), Struct.fromJson({})),
    },
    {
      name: 'getFragment',
      target: 'organization',
      kind: 'perm',
      perm: 'read_organization',
      snapshot: nothing,
      call: (c, tg) => c.getFragment(tg.org.fragmentId),
    },
    {
      name: 'updateFragment',
      target: 'organization',
      kind: 'perm',
      perm: 'write_fragment',
      fresh: freshFragment,
      snapshot: snapFragments,
      call: (c, tg) => c.updateFragment(tg.extra ?? '', uniq('renamed'), Struct.fromJson({ a: 1 })),
    },
    {
      name: 'deleteFragment',
      target: 'organization',
      kind: 'perm',
      perm: 'write_fragment',
      fresh: freshFragment,
      snapshot: snapFragments,
      call: (c, tg) => c.deleteFragment(tg.extra ?? ''),
    },
    {
      name: 'getFragmentHistory',
      target: 'organization',
      kind: 'perm',
      perm: 'read_organization',
      snapshot: nothing,
      call: (c, tg) => raw(c, 'getFragmentHistory')({ id: tg.org.fragmentId }),
    },
    {
      name: 'listNestedFragments',
      target: 'organization',
      kind: 'perm',
      perm: 'read_organization',
      snapshot: nothing,
      call: (c, tg) =>
        raw(c, 'listNestedFragments')({ fragmentId: tg.org.fragmentId, additionalFragments: [] }),
    },
    {
      name: 'getFragmentUsage',
      target: 'organization',
      kind: 'perm',
      perm: 'write_fragment',
      snapshot: nothing,
      call: (c, tg) => raw(c, 'getFragmentUsage')({ fragmentId: tg.org.fragmentId }),
    },
    {
      name: 'setFragmentTag',
      target: 'organization',
      kind: 'perm',
      perm: 'write_fragment',
      fresh: freshFragment,
      snapshot: (a, tg) =>
        raw(a, 'getFragment')({ id: tg.extra ?? '', version: 'matrix-tag' }).then(() => 'tagged', codeOf),
      call: (c, tg) =>
        raw(c, 'setFragmentTag')({ fragmentId: tg.extra ?? '', tag: 'matrix-tag', revision: '1' }),
    },
    // Registry items and modules (a private module of the organization)
    {
      name: 'getRegistryItem',
      target: 'organization',
      kind: 'perm',
      perm: 'read_organization',
      snapshot: nothing,
      call: (c, tg) => c.getRegistryItem(tg.org.moduleId),
    },
    {
      name: 'listRegistryItems',
      target: 'organization',
      kind: 'perm',
      perm: 'read_organization',
      snapshot: nothing,
      call: async (c, tg) => {
        const name = tg.org.moduleId.split(':')[1];
        const items = await c.listRegistryItems(tg.org.id, [], [], [], []);
        mustShow(items.some((i) => i.organizationId === tg.org.id && i.name === name));
      },
    },
    {
      name: 'createRegistryItem',
      target: 'organization',
      kind: 'perm',
      perm: 'write_private_registry_item',
      snapshot: snapItems,
      call: (c, tg) => c.createRegistryItem(tg.org.id, uniq('item'), 1 /* archive */),
    },
    {
      name: 'updateRegistryItem',
      target: 'organization',
      kind: 'perm',
      perm: 'write_private_registry_item',
      fresh: freshItem,
      snapshot: snapItems,
      call: (c, tg) => c.updateRegistryItem(tg.extra ?? '', 2, uniq('described'), appApi.Visibility.PRIVATE),
    },
    {
      name: 'deleteRegistryItem',
      target: 'organization',
      kind: 'perm',
      perm: 'write_private_registry_item',
      fresh: freshItem,
      snapshot: snapItems,
      call: (c, tg) => c.deleteRegistryItem(tg.extra ?? ''),
    },
    {
      name: 'renameRegistryItem',
      target: 'organization',
      kind: 'perm',
      perm: 'write_private_registry_item',
      fresh: freshItem,
      snapshot: snapItems,
      call: (c, tg) => raw(c, 'renameRegistryItem')({ itemId: tg.extra ?? '', newName: uniq('renamed') }),
    },
    {
      // No organization holds the namespace: an allowed caller meets that instead.
      name: 'transferRegistryItem',
      target: 'organization',
      kind: 'perm',
      perm: 'write_private_registry_item',
      allowed: Code.NotFound,
      fresh: freshItem,
      snapshot: snapItems,
      call: (c, tg) =>
        raw(c, 'transferRegistryItem')({ itemId: tg.extra ?? '', newPublicNamespace: 'nobody-holds-this' }),
    },
    {
      name: 'createModule',
      target: 'organization',
      kind: 'perm',
      perm: 'write_private_registry_item',
      snapshot: snapItems,
      call: (c, tg) => c.createModule(tg.org.id, uniq('mod')),
    },
    {
      name: 'updateModule',
      target: 'organization',
      kind: 'perm',
      perm: 'write_private_registry_item',
      fresh: freshModule,
      snapshot: snapModule,
      call: (c, tg) =>
        c.updateModule(tg.extra ?? '', appApi.Visibility.PRIVATE, '', uniq('described'), [], 'bin/run'),
    },
    {
      name: 'getModule',
      target: 'organization',
      kind: 'perm',
      perm: 'read_organization',
      snapshot: nothing,
      call: (c, tg) => c.getModule(tg.org.moduleId),
    },
    {
      name: 'listModules',
      target: 'organization',
      kind: 'perm',
      perm: 'read_organization',
      snapshot: nothing,
      call: async (c, tg) =>
        mustShow((await c.listModules(tg.org.id)).some((m) => m.organizationId === tg.org.id)),
    },
    {
      name: 'uploadModuleFile',
      target: 'organization',
      kind: 'perm',
      perm: 'write_private_registry_item',
      snapshot: snapModule,
      call: (_c, tg, p) => upload(p, tg.org.moduleId),
    },
    // PackageService: a module's files as packages. Reads are open inside the organization, to its
    // members and its machines; changes need owner on the organization.
    {
      name: 'PackageService.getPackage',
      target: 'organization',
      kind: 'inside',
      perm: 'read_packages',
      snapshot: nothing,
      call: (_c, tg, p) =>
        packages().getPackage(
          { id: packageIdOf(tg), version: '0.0.1', platform: 'linux/amd64' },
          bearer(p.token),
        ),
    },
    {
      name: 'PackageService.listPackages',
      target: 'organization',
      kind: 'inside',
      perm: 'read_packages',
      snapshot: nothing,
      call: async (_c, tg, p) =>
        mustShow(
          (await packages().listPackages({ organizationId: tg.org.id }, bearer(p.token))).packages.length > 0,
        ),
    },
    {
      name: 'PackageService.deletePackage',
      target: 'organization',
      kind: 'perm',
      perm: 'write_private_registry_item',
      fresh: async (tg) => {
        const version = `9.${++packageVersions}.0`;
        await uploadModuleFile(tg.org.moduleId, version);
        return { ...tg, extra: version };
      },
      snapshot: snapVersions,
      call: (_c, tg, p) =>
        packages().deletePackage({ id: packageIdOf(tg), version: tg.extra ?? '' }, bearer(p.token)),
    },
    {
      name: 'PackageService.createPackage',
      target: 'organization',
      kind: 'perm',
      perm: 'write_packages',
      snapshot: snapItems,
      call: (_c, tg, p) =>
        packages().createPackage(
          createAsyncIterable([
            {
              package: {
                case: 'info' as const,
                value: {
                  organizationId: tg.org.id,
                  name: uniq('model'),
                  version: '1',
                  type: PackageType.ML_MODEL,
                },
              },
            },
            { package: { case: 'contents' as const, value: new Uint8Array(gzipSync('weights')) } },
          ]),
          bearer(p.token),
        ),
    },
    {
      name: 'rotateKey',
      target: 'organization',
      kind: 'perm',
      perm: 'write_organization',
      fresh: freshKey,
      snapshot: snapKeys,
      call: (c, tg) => c.rotateKey(tg.extra ?? ''),
    },
    {
      name: 'createKeyFromExistingKeyAuthorizations',
      target: 'organization',
      kind: 'perm',
      perm: 'write_organization',
      fresh: freshKey,
      snapshot: snapKeys,
      call: (c, tg) => c.createKeyFromExistingKeyAuthorizations(tg.extra ?? ''),
    },
    {
      name: 'deleteLocationSecret',
      target: 'location',
      kind: 'perm',
      perm: 'write_location',
      fresh: async (tg) => {
        const child = await freshChildLocation(tg);
        const secrets = (await admin.createLocationSecret(child.id))?.secrets ?? [];
        return { ...child, extra: secrets[secrets.length - 1]?.id };
      },
      snapshot: snapLocation,
      call: (c, tg) => c.deleteLocationSecret(tg.id, tg.extra ?? ''),
    },
    {
      name: 'deleteRobotPartSecret',
      target: 'robot',
      kind: 'perm',
      perm: 'write_robot',
      fresh: async (tg) => {
        const robot = await freshRobot(tg);
        const secrets = (await admin.createRobotPartSecret(robot.machine.partId))?.secrets ?? [];
        return { ...robot, extra: secrets[secrets.length - 1]?.id };
      },
      snapshot: snapRobot,
      call: (c, tg) => c.deleteRobotPartSecret(tg.machine.partId, tg.extra ?? ''),
    },
    {
      name: 'deleteFragmentTag',
      target: 'organization',
      kind: 'perm',
      perm: 'write_fragment',
      fresh: async (tg) => {
        const fresh = await freshFragment(tg);
        await raw(admin, 'setFragmentTag')({ fragmentId: fresh.extra ?? '', tag: 'doomed', revision: '1' });
        return fresh;
      },
      snapshot: (a, tg) =>
        raw(a, 'getFragment')({ id: tg.extra ?? '', version: 'doomed' }).then(() => 'tagged', codeOf),
      call: (c, tg) => raw(c, 'deleteFragmentTag')({ fragmentId: tg.extra ?? '', tag: 'doomed' }),
    },
    {
      name: 'listRobotsForOrg',
      target: 'organization',
      kind: 'perm',
      perm: 'read_organization',
      snapshot: nothing,
      call: (c, tg) => raw(c, 'listRobotsForOrg')({ orgId: tg.org.id }),
    },
    {
      name: 'updateOrganizationInviteAuthorizations',
      target: 'organization',
      kind: 'perm',
      perm: 'write_organization',
      fresh: freshInvite,
      snapshot: snapMembers,
      call: (c, tg) =>
        c.updateOrganizationInviteAuthorizations(
          tg.org.id,
          tg.extra ?? '',
          [roleAuthorization(tg.org.id, 'location', tg.locationId, 'operator')],
          [],
        ),
    },
    {
      name: 'resendOrganizationInvite',
      target: 'organization',
      kind: 'perm',
      perm: 'write_organization',
      fresh: freshInvite,
      snapshot: snapMembers,
      call: (c, tg) => c.resendOrganizationInvite(tg.org.id, tg.extra ?? ''),
    },
    {
      name: 'deleteOrganizationInvite',
      target: 'organization',
      kind: 'perm',
      perm: 'write_organization',
      fresh: freshInvite,
      snapshot: snapMembers,
      call: (c, tg) => c.deleteOrganizationInvite(tg.org.id, tg.extra ?? ''),
    },
    {
      name: 'listRobotsForLocations',
      target: 'location',
      kind: 'perm',
      perm: 'read_location',
      snapshot: nothing,
      call: (c, tg) => raw(c, 'listRobotsForLocations')({ locationIds: [tg.locationId] }),
    },
    {
      // The organization still holds locations: an allowed caller meets that rule instead.
      name: 'deleteOrganization',
      target: 'organization',
      kind: 'perm',
      perm: 'write_organization',
      allowed: Code.FailedPrecondition,
      snapshot: snapOrg,
      call: (c, tg) => c.deleteOrganization(tg.org.id),
    },
    {
      // Sharing with its own organization: allowed callers get INVALID_ARGUMENT.
      name: 'shareLocation',
      target: 'location',
      kind: 'perm',
      perm: 'write_location',
      allowed: Code.InvalidArgument,
      snapshot: snapLocation,
      call: (c, tg) => c.shareLocation(tg.org.id, tg.locationId),
    },
    {
      // Unsharing the primary organization: allowed callers get FAILED_PRECONDITION.
      name: 'unshareLocation',
      target: 'location',
      kind: 'perm',
      perm: 'write_location',
      allowed: Code.FailedPrecondition,
      snapshot: snapLocation,
      call: (c, tg) => c.unshareLocation(tg.org.id, tg.locationId),
    },
    // Lists and look-ups: a listing that leaves the object out reads as NOT_FOUND.
    {
      name: 'listOrganizations',
      target: 'organization',
      kind: 'perm',
      perm: 'read_organization',
      snapshot: nothing,
      call: async (c, tg) => mustShow((await c.listOrganizations()).some((o) => o.id === tg.org.id)),
    },
    {
      name: 'getUserIDByEmail',
      target: 'organization',
      kind: 'perm',
      perm: 'read_organization',
      snapshot: nothing,
      call: async (c, tg) => assert.equal(await c.getUserIDByEmail(tg.org.member.email), tg.org.member.id),
    },
    {
      name: 'listOrganizationsByUser',
      target: 'organization',
      kind: 'perm',
      perm: 'read_organization',
      snapshot: nothing,
      call: async (c, tg) =>
        mustShow((await c.listOrganizationsByUser(tg.org.member.id)).some((o) => o.orgId === tg.org.id)),
    },
    {
      name: 'checkPermissions',
      target: 'organization',
      kind: 'perm',
      perm: 'read_organization',
      snapshot: nothing,
      call: async (c, tg) => {
        const [answer] = await c.checkPermissions([
          new appApi.AuthorizedPermissions({
            resourceType: 'organization',
            resourceId: tg.org.id,
            permissions: ['read_organization'],
          }),
        ]);
        mustShow((answer?.permissions.length ?? 0) > 0);
      },
    },
    {
      name: 'deleteOrganizationMember',
      target: 'organization',
      kind: 'perm',
      perm: 'write_organization',
      fresh: freshMember,
      snapshot: snapMembers,
      call: (c, tg) => c.deleteOrganizationMember(tg.org.id, tg.extra ?? ''),
    },
    {
      name: 'createOrganization',
      target: 'organization',
      kind: 'any',
      perm: 'read_organization',
      snapshot: nothing,
      call: (c) => c.createOrganization(uniq('made by')),
    },
    {
      name: 'getOrganizationNamespaceAvailability',
      target: 'organization',
      kind: 'any',
      perm: 'read_organization',
      snapshot: nothing,
      call: (c) => c.getOrganizationNamespaceAvailability(uniq('ns')),
    },
    {
      name: 'updateOrganizationNamespace',
      target: 'organization',
      kind: 'perm',
      perm: 'write_organization',
      snapshot: snapOrg,
      call: (c, tg) =>
        raw(c, 'updateOrganizationNamespace')({ organizationId: tg.org.id, newPublicNamespace: uniq('ns') }),
    },
    {
      name: 'renameKey',
      target: 'organization',
      kind: 'perm',
      perm: 'write_organization',
      fresh: freshKey,
      snapshot: (a, tg) =>
        a.listKeys(tg.org.id).then((keys) => keys.map((k) => [k.apiKey?.id, k.apiKey?.name]).sort()),
      call: (c, tg) => raw(c, 'renameKey')({ id: tg.extra ?? '', name: uniq('renamed') }),
    },
    // Locations
    {
      name: 'getLocation',
      target: 'location',
      kind: 'perm',
      perm: 'read_location',
      snapshot: nothing,
      call: (c, tg) => c.getLocation(tg.id),
    },
    {
      name: 'updateLocation',
      target: 'location',
      kind: 'perm',
      perm: 'write_location',
      fresh: freshChildLocation,
      snapshot: snapLocation,
      call: (c, tg) => c.updateLocation(tg.id, uniq('renamed')),
    },
    {
      name: 'deleteLocation',
      target: 'location',
      kind: 'perm',
      perm: 'write_location',
      fresh: freshChildLocation,
      snapshot: snapLocations,
      call: (c, tg) => c.deleteLocation(tg.id),
    },
    {
      name: 'locationAuth',
      target: 'location',
      kind: 'perm',
      perm: 'read_location_secret',
      snapshot: nothing,
      call: (c, tg) => c.locationAuth(tg.id),
    },
    {
      name: 'createLocationSecret',
      target: 'location',
      kind: 'perm',
      perm: 'read_location_secret',
      fresh: freshChildLocation,
      snapshot: snapLocation,
      call: (c, tg) => c.createLocationSecret(tg.id),
    },
    {
      name: 'getOrganizationsWithAccessToLocation',
      target: 'location',
      kind: 'perm',
      perm: 'read_location',
      snapshot: nothing,
      call: (c, tg) => c.getOrganizationsWithAccessToLocation(tg.id),
    },
    {
      name: 'getLocationMetadata',
      target: 'location',
      kind: 'perm',
      perm: 'write_location',
      snapshot: nothing,
      call: (c, tg) => c.getLocationMetadata(tg.id),
    },
    {
      name: 'updateLocationMetadata',
      target: 'location',
      kind: 'perm',
      perm: 'write_location',
      snapshot: snapLocation,
      call: (c, tg) => c.updateLocationMetadata(tg.id, { tag: 'loc' }),
    },
    {
      name: 'listRobots',
      target: 'location',
      kind: 'perm',
      perm: 'read_location',
      snapshot: nothing,
      call: (c, tg) => c.listRobots(tg.id),
    },
    {
      name: 'newRobot',
      target: 'location',
      kind: 'perm',
      perm: 'write_robot',
      snapshot: snapRobots,
      call: (c, tg) => c.newRobot(tg.id, uniq('new')),
    },
    {
      name: 'getRobotPartByNameAndLocation',
      target: 'location',
      kind: 'perm',
      perm: 'read_location',
      snapshot: nothing,
      call: (c, tg) => c.getRobotPartByNameAndLocation(tg.machine.partName, tg.id),
    },
    // Machines and parts (the machine's main part)
    {
      name: 'getRobot',
      target: 'robot',
      kind: 'perm',
      perm: 'read_robot',
      snapshot: nothing,
      call: (c, tg) => c.getRobot(tg.id),
    },
    {
      name: 'updateRobot',
      target: 'robot',
      kind: 'perm',
      perm: 'write_robot',
      fresh: freshRobot,
      snapshot: snapRobot,
      call: (c, tg) => c.updateRobot(tg.id, tg.locationId, uniq('renamed')),
    },
    {
      name: 'deleteRobot',
      target: 'robot',
      kind: 'perm',
      perm: 'write_robot',
      fresh: freshRobot,
      snapshot: snapRobots,
      call: (c, tg) => c.deleteRobot(tg.id),
    },
    {
      name: 'getRobotParts',
      target: 'robot',
      kind: 'perm',
      perm: 'read_robot',
      snapshot: nothing,
      call: (c, tg) => c.getRobotParts(tg.id),
    },
    {
      name: 'getRobotAPIKeys',
      target: 'robot',
      kind: 'perm',
      perm: 'write_robot',
      snapshot: nothing,
      call: (c, tg) => c.getRobotAPIKeys(tg.id),
    },
    {
      name: 'getRobotMetadata',
      target: 'robot',
      kind: 'perm',
      perm: 'write_robot',
      snapshot: nothing,
      call: (c, tg) => c.getRobotMetadata(tg.id),
    },
    {
      name: 'updateRobotMetadata',
      target: 'robot',
      kind: 'perm',
      perm: 'write_robot',
      snapshot: snapRobot,
      call: (c, tg) => c.updateRobotMetadata(tg.id, { tag: 'robot' }),
    },
    {
      name: 'listMachineFragments',
      target: 'robot',
      kind: 'perm',
      perm: 'read_robot',
      snapshot: nothing,
      call: (c, tg) => c.listMachineFragments(tg.id),
    },
    {
      name: 'newRobotPart',
      target: 'robot',
      kind: 'perm',
      perm: 'write_robot',
      fresh: freshRobot,
      snapshot: snapRobot,
      call: (c, tg) => c.newRobotPart(tg.id, uniq('p')),
    },
    {
      name: 'getRobotPart',
      target: 'robot',
      kind: 'perm',
      perm: 'read_robot',
      snapshot: nothing,
      call: (c, tg) => c.getRobotPart(tg.machine.partId),
    },
    {
      name: 'updateRobotPart',
      target: 'robot',
      kind: 'perm',
      perm: 'write_robot',
      fresh: freshRobot,
      snapshot: snapRobot,
      call: (c, tg) =>
        c.updateRobotPart(tg.machine.partId, tg.machine.partName, Struct.fromJson({ components: [] })),
    },
    {
      name: 'deleteRobotPart',
      target: 'robot',
      kind: 'perm',
      perm: 'write_robot',
      fresh: freshRobotWithPart,
      snapshot: snapRobot,
      call: (c, tg) => c.deleteRobotPart(tg.extra ?? ''),
    },
    {
      name: 'markPartAsMain',
      target: 'robot',
      kind: 'perm',
      perm: 'write_robot',
      fresh: freshRobotWithPart,
      snapshot: snapRobot,
      call: (c, tg) => c.markPartAsMain(tg.extra ?? ''),
    },
    {
      name: 'markPartForRestart',
      target: 'robot',
      kind: 'perm',
      perm: 'write_robot',
      snapshot: snapRobot,
      call: (c, tg) => c.markPartForRestart(tg.machine.partId),
    },
    {
      name: 'createRobotPartSecret',
      target: 'robot',
      kind: 'perm',
      perm: 'read_robot_secret',
      fresh: freshRobot,
      snapshot: snapRobot,
      call: (c, tg) => c.createRobotPartSecret(tg.machine.partId),
    },
    {
      name: 'getRobotPartHistory',
      target: 'robot',
      kind: 'perm',
      perm: 'read_robot_history',
      snapshot: nothing,
      call: (c, tg) => c.getRobotPartHistory(tg.machine.partId),
    },
    {
      name: 'getRobotPartLogs',
      target: 'robot',
      kind: 'perm',
      perm: 'read_robot_logs',
      snapshot: nothing,
      call: (c, tg) => c.getRobotPartLogs(tg.machine.partId),
    },
    {
      name: 'tailRobotPartLogs',
      target: 'robot',
      kind: 'perm',
      perm: 'read_robot_logs',
      snapshot: nothing,
      // An allowed tail's first message is the empty batch that says it is in place; stop there.
      call: async (c, tg) => {
        const client = (c as unknown as { client: Record<string, (r: object) => AsyncIterable<unknown>> })
          .client;
        const stream = client.tailRobotPartLogs?.call(client, { id: tg.machine.partId, errorsOnly: false });
        assert.ok(stream, "the SDK's client has no tailRobotPartLogs");
        for await (const first of stream) return first;
        throw new Error('the tail ended without its first message');
      },
    },
    {
      name: 'getRobotPartMetadata',
      target: 'robot',
      kind: 'perm',
      perm: 'write_robot',
      snapshot: nothing,
      call: (c, tg) => c.getRobotPartMetadata(tg.machine.partId),
    },
    {
      name: 'updateRobotPartMetadata',
      target: 'robot',
      kind: 'perm',
      perm: 'write_robot',
      snapshot: snapRobot,
      call: (c, tg) => c.updateRobotPartMetadata(tg.machine.partId, { tag: 'part' }),
    },
  ];
  // Role grants and keys: the organization must be visible, then owner on the resource granted.
  for (const target of ['organization', 'location', 'robot'] as const) {
    const grantee = (tg: Target) => tg.org.granteeKeyId;
    METHODS.push(
      {
        name: `addRole(${target})`,
        target,
        kind: 'grant',
        perm: 'write_organization',
        snapshot: snapGrants,
        call: (c, tg) => c.addRole(tg.org.id, grantee(tg), 'owner', target, tg.id),
        undo: (a, tg) => a.removeRole(tg.org.id, grantee(tg), 'owner', target, tg.id),
      },
      {
        name: `changeRole(${target})`,
        target,
        kind: 'grant',
        perm: 'write_organization',
        fresh: async (tg) => {
          await admin
            .addRole(tg.org.id, grantee(tg), 'operator', target, tg.id)
            .catch((e: { code?: Code }) => assert.equal(e.code, Code.AlreadyExists));
          return tg;
        },
        snapshot: snapGrants,
        call: (c, tg) =>
          c.changeRole(
            roleAuthorization(tg.org.id, target, tg.id, 'operator', grantee(tg)),
            roleAuthorization(tg.org.id, target, tg.id, 'owner', grantee(tg)),
          ),
        undo: (a, tg) => a.removeRole(tg.org.id, grantee(tg), 'owner', target, tg.id),
      },
      {
        name: `removeRole(${target})`,
        target,
        kind: 'grant',
        perm: 'write_organization',
        fresh: async (tg) => {
          await admin.addRole(tg.org.id, grantee(tg), 'owner', target, tg.id);
          return tg;
        },
        snapshot: snapGrants,
        call: (c, tg) => c.removeRole(tg.org.id, grantee(tg), 'owner', target, tg.id),
      },
      {
        name: `createKey(${target})`,
        target,
        kind: 'grant',
        perm: 'write_organization',
        snapshot: snapKeys,
        call: (c, tg) => c.createKey([roleAuthorization(tg.org.id, target, tg.id, 'operator')], uniq('k')),
      },
    );
  }

  /** The expected outcome from the permission table and scope inheritance alone. */
  function expected(p: Principal, m: MethodSpec, tg: Target): Outcome {
    if (m.kind === 'inside') {
      const inside = p.part ? tg.org.id === p.home().id : p.grants.some((g) => g.org === tg.org.id);
      return inside ? (m.allowed ?? 'OK') : Code.NotFound;
    }
    if (p.part) return Code.PermissionDenied;
    if (m.kind === 'any') return 'OK';
    const roles = new Set(p.grants.filter((g) => tg.chain.includes(g.resourceId)).map((g) => g.role));
    const seesOrg = p.grants.some((g) => g.org === tg.org.id);
    if (m.kind === 'grant') {
      if (!seesOrg) return Code.NotFound;
      return roles.has('owner') ? (m.allowed ?? 'OK') : Code.PermissionDenied;
    }
    const perms = new Set<Permission>();
    for (const r of roles) for (const x of ROLE_PERMISSIONS[r]) perms.add(x);
    if (tg.type === 'organization' && seesOrg) perms.add('read_organization');
    if (perms.size === 0) return Code.NotFound;
    return perms.has(m.perm) ? (m.allowed ?? 'OK') : Code.PermissionDenied;
  }

  const held = new Map<string, Set<string>>();
  /** What CheckPermissions says the principal holds on a resource (all permissions asked). */
  async function checked(p: Principal, type: ResourceType, id: string): Promise<Set<string>> {
    const key = `${p.name}|${id}`;
    const cachedValue = held.get(key);
    if (cachedValue) return cachedValue;
    const [answer, ...rest] = await p.client.checkPermissions([
      new appApi.AuthorizedPermissions({
        resourceType: type,
        resourceId: id,
        permissions: [...ALL_PERMISSIONS],
      }),
    ]);
    assert.equal(rest.length, 0);
    assert.ok(answer);
    assert.equal(answer.resourceId, id);
    const set = new Set(answer.permissions);
    held.set(key, set);
    return set;
  }

  /** The expected outcome according to CheckPermissions: must agree with the table. */
  async function expectedByCheck(p: Principal, m: MethodSpec, tg: Target): Promise<Outcome> {
    if (m.kind === 'any') return 'OK';
    if (m.kind === 'inside') {
      return (await checked(p, 'organization', tg.org.id)).size > 0 ? (m.allowed ?? 'OK') : Code.NotFound;
    }
    if (m.kind === 'grant') {
      if ((await checked(p, 'organization', tg.org.id)).size === 0) return Code.NotFound;
      // Owner is the only role holding write permissions: owner on the resource <=> write_<type> held there.
      const write = tg.type === 'robot' ? 'write_robot' : `write_${tg.type}`;
      return (await checked(p, tg.type, tg.id)).has(write) ? (m.allowed ?? 'OK') : Code.PermissionDenied;
    }
    const set = await checked(p, tg.type, tg.id);
    if (set.size === 0) return Code.NotFound;
    return set.has(m.perm) ? (m.allowed ?? 'OK') : Code.PermissionDenied;
  }

  it('runs every principal x method x place cell as the permission table says', async () => {
    const failures: string[] = [];
    let cells = 0;
    let hiddenChecked = 0;
    const tally: Record<string, number> = {};
    const started = Date.now();
    for (const p of principals) {
      if (p.part) {
        // A part token may not ask CheckPermissions either.
        await assert.rejects(
          p.client.checkPermissions([
            new appApi.AuthorizedPermissions({
              resourceType: 'organization',
              resourceId: A.id,
              permissions: ['read_organization'],
            }),
          ]),
          (e: { code?: Code }) => e.code === Code.PermissionDenied,
        );
      }
      for (const m of METHODS) {
        for (const place of PLACES) {
          cells += 1;
          const label = `${p.name} / ${m.name} / ${place}`;
          let tg = targetFor(p, place, m.target);
          if (m.fresh) tg = await m.fresh(tg);
          const want = expected(p, m, tg);
          if (!p.part) {
            const byCheck = await expectedByCheck(p, m, tg);
            if (byCheck !== want) {
              failures.push(
                `${label}: table says ${outcomeName(want)}, CheckPermissions says ${outcomeName(byCheck)}`,
              );
            }
          }
          const before = want === 'OK' ? null : await m.snapshot(admin, tg);
          const { outcome: got, message } = await attempt(() => m.call(p.client, tg, p));
          if (got === Code.Unknown) failures.push(`${label}: ${message}`);
          // Hidden must answer exactly like missing: the same call on made-up ids, same code and message.
          if (want === Code.NotFound && got === Code.NotFound && m.allowed !== Code.NotFound) {
            const phantom = phantomOf(tg);
            const ghost = await attempt(() => m.call(p.client, phantom.target, p));
            hiddenChecked += 1;
            if (ghost.outcome !== got || phantom.back(ghost.message) !== message) {
              failures.push(
                `${label}: hidden answers ${outcomeName(got)} "${message}", made-up ids ${outcomeName(ghost.outcome)} "${phantom.back(ghost.message)}"`,
              );
            }
          }
          tally[outcomeName(want)] = (tally[outcomeName(want)] ?? 0) + 1;
          if (got !== want) failures.push(`${label}: expected ${outcomeName(want)}, got ${outcomeName(got)}`);
          if (want !== 'OK') {
            assert.deepEqual(await m.snapshot(admin, tg), before, `${label}: a refused call changed state`);
            if (m.name.startsWith('removeRole')) {
              await admin.removeRole(tg.org.id, tg.org.granteeKeyId, 'owner', m.target, tg.id);
            }
          } else if (got === 'OK' && m.undo) {
            await m.undo(admin, tg);
          }
        }
      }
    }
    console.log(
      `authorization matrix: ${cells} cells (${principals.length} principals x ${METHODS.length} methods x ${PLACES.length} places) in ${Date.now() - started} ms; expected ${JSON.stringify(tally)}; ${hiddenChecked} hidden cells compared with made-up ids`,
    );
    assert.deepEqual(failures, []);
    assert.ok(hiddenChecked > 100, `only ${hiddenChecked} hidden cells were compared with made-up ids`);
  });
  /**
   * The plain-HTTP routes, by the same table: what a principal's bearer token gets from each, at
   * each place. 'perm' needs the permission on the target (fleet callers only); 'read' is a private
   * registry module: readable inside its organization, by its members and its machines.
   */
  interface RouteSpec {
    name: string;
    target: ResourceType;
    kind: 'perm' | 'read';
    perm: Permission;
    path: (tg: Target) => string;
  }
  const ROUTES: RouteSpec[] = [
    {
      name: 'GET /machines/<part>/viam.json',
      target: 'robot',
      kind: 'perm',
      perm: 'read_robot_secret',
      path: (tg) => `/machines/${tg.machine.partId}/viam.json`,
    },
    {
      name: 'GET /api/parts/<part>/merged-config',
      target: 'robot',
      kind: 'perm',
      perm: 'read_robot_config',
      path: (tg) => `/api/parts/${tg.machine.partId}/merged-config`,
    },
    {
      name: 'GET /api/parts/<part>/alerts',
      target: 'robot',
      kind: 'perm',
      perm: 'read_robot_config',
      path: (tg) => `/api/parts/${tg.machine.partId}/alerts`,
    },
    {
      name: 'GET /api/organizations/<organization>/webhook-secret',
      target: 'organization',
      kind: 'perm',
      perm: 'write_organization',
      path: (tg) => `/api/organizations/${tg.org.id}/webhook-secret`,
    },
    {
      name: 'GET /api/audit?organization_id=<organization>',
      target: 'organization',
      kind: 'perm',
      perm: 'write_organization',
      path: (tg) => `/api/audit?organization_id=${tg.org.id}`,
    },
    {
      name: 'GET /modules/<module>',
      target: 'organization',
      kind: 'read',
      perm: 'read_packages',
      path: (tg) => `/modules/${tg.org.moduleId}`,
    },
    {
      name: 'GET /modules/<module>/<version>/<platform>',
      target: 'organization',
      kind: 'read',
      perm: 'read_packages',
      path: (tg) => `/modules/${tg.org.moduleId}/0.0.1/linux/amd64`,
    },
    {
      name: 'GET /packages/<file>',
      target: 'organization',
      kind: 'read',
      perm: 'read_packages',
      path: (tg) => `/packages/${tg.org.packageFileId}`,
    },
  ];
  const STATUS: Record<string, number> = {
    OK: 200,
    [Code.NotFound]: 404,
    [Code.PermissionDenied]: 403,
  };
  function expectedStatus(p: Principal, r: RouteSpec, tg: Target): number {
    const spec: MethodSpec = {
      ...r,
      kind: r.kind === 'read' ? 'inside' : 'perm',
      call: nothing,
      snapshot: nothing,
    };
    const outcome = expected(p, spec, tg);
    return STATUS[String(outcome)] ?? 0;
  }
  const get = async (path: string, token: string) => {
    const res = await fetch(`${t.url}${path}`, bearer(token));
    return { status: res.status, body: await res.text() };
  };

  it('answers every plain-HTTP route as the table says, and hidden objects like made-up ones', async () => {
    const failures: string[] = [];
    let hiddenChecked = 0;
    for (const p of principals) {
      for (const r of ROUTES) {
        for (const place of PLACES) {
          const label = `${p.name} / ${r.name} / ${place}`;
          const tg = targetFor(p, place, r.target);
          const want = expectedStatus(p, r, tg);
          const got = await get(r.path(tg), p.token);
          if (got.status !== want) failures.push(`${label}: expected ${want}, got ${got.status} ${got.body}`);
          if (want === 404 && got.status === 404) {
            const phantom = phantomOf(tg);
            const ghost = await get(r.path(phantom.target), p.token);
            hiddenChecked += 1;
            if (ghost.status !== got.status || phantom.back(ghost.body) !== got.body) {
              failures.push(
                `${label}: hidden answers ${got.status} ${got.body}, made-up ids ${ghost.status} ${phantom.back(ghost.body)}`,
              );
            }
          }
        }
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(hiddenChecked >= 20, `only ${hiddenChecked} hidden route cells were compared`);
  });

  it('shows an invite link already used exactly like one never issued', async () => {
    assert.notEqual(usedInviteLink, '');
    const used = await fetch(usedInviteLink);
    const madeUp = await fetch(
      usedInviteLink.replace(/\/invite\/[^/?]+/, `/invite/${randomBytes(32).toString('base64url')}`),
    );
    assert.equal(used.status, 404);
    assert.equal(madeUp.status, used.status);
    assert.equal(await madeUp.text(), await used.text());
  });
  it('answers a part token asking RobotService about another part the same, whether it exists or not', async () => {
    const partToken = principals.find((p) => p.part);
    assert.ok(partToken);
    const robot = createPromiseClient(RobotService, grpcTransport(t.url));
    const calls: [string, (id: string) => Promise<unknown>][] = [
      ['config', (id) => robot.config({ id }, bearer(partToken.token))],
      ['needsRestart', (id) => robot.needsRestart({ id }, bearer(partToken.token))],
      ['certificate', (id) => robot.certificate({ id }, bearer(partToken.token))],
      ['log', (id) => robot.log({ id, logs: [] }, bearer(partToken.token))],
    ];
    for (const [name, call] of calls) {
      for (const existing of [A.robot2.partId, B.robot1.partId]) {
        const real = await attempt(() => call(existing));
        const madeUp = await attempt(() => call(randomUUID()));
        assert.equal(real.outcome, Code.PermissionDenied, `${name} on another part`);
        assert.deepEqual(madeUp, real, `${name}: another part and a made-up id answer alike`);
      }
    }
  });
});
