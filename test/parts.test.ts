import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { Code, createPromiseClient } from '@connectrpc/connect';
import { appApi, createViamClient, type AppClient } from '@viamrobotics/sdk';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { RobotService } from '../src/rpc/service-descriptors.generated.js';
import { structFromObject, timestamp } from '../src/rpc/wire-values.js';
import { bearer, grpcTransport, rawAppClient } from './support/clients.js';
import { forEachDialect } from './support/databases.js';
import { defined, expectCode } from './support/expect.js';
import { organizationRole } from './support/roles.js';
import { startTestServer, type TestServer } from './support/server.js';

type RobotPart = appApi.RobotPart;

/** Timestamps as the wire carries them. */
type WireTime = { seconds: bigint; nanos: number };

const msOf = (ts: WireTime | undefined): number => {
  assert.ok(ts, 'expected a timestamp');
  return Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1_000_000);
};

/** Everything about a part that a refused call must leave as it was, as the owner sees it. */
interface PartState {
  id: string;
  name: string;
  dnsName: string;
  mainPart: boolean;
  fqdn: string;
  localFqdn: string;
  lastUpdated: number;
  config: unknown;
  secrets: string[];
  history: number;
  metadata: unknown;
}

async function authenticate(url: string, entity: string, type: string, payload: string): Promise<string> {
  const auth = createPromiseClient(AuthService, grpcTransport(url));
  return (await auth.authenticate({ entity, credentials: { type, payload } })).accessToken;
}

/** A config viam-server would accept, with a component and a service. */
const configNamed = (tag: string) => ({
  components: [
    {
      name: `arm-${tag}`,
      api: 'rdk:component:arm',
      model: 'rdk:builtin:fake',
      attributes: { tag, speed: 2.5, flags: [true, false] },
    },
  ],
  services: [{ name: 'nav', api: 'rdk:service:navigation', model: 'builtin' }],
  network: { bind_address: ':8080' },
});

forEachDialect('machine parts through the SDK', (newDatabase) => {
  let t: TestServer;
  let admin: AppClient;
  let operator: AppClient;
  let operatorKey: { id: string; key: string };
  let bClient: AppClient;
  let bKey: { id: string; key: string };
  let orgA: string;
  let loc: string;
  let otherLoc: string;
  let bLoc: string;

  /** A new machine in `location`; resolves to its id and its main part. */
  async function newMachine(name: string, location = loc): Promise<{ machineId: string; main: RobotPart }> {
    const machineId = await admin.newRobot(location, name);
    const parts = await admin.getRobotParts(machineId);
    assert.equal(parts.length, 1);
    return { machineId, main: parts[0]! };
  }

  async function partState(part: RobotPart): Promise<PartState> {
    const [history, metadata] = await Promise.all([
      admin.getRobotPartHistory(part.id),
      admin.getRobotPartMetadata(part.id),
    ]);
    return {
      id: part.id,
      name: part.name,
      dnsName: part.dnsName,
      mainPart: part.mainPart,
      fqdn: part.fqdn,
      localFqdn: part.localFqdn,
      lastUpdated: msOf(part.lastUpdated),
      config: part.robotConfig?.toJson(),
      secrets: part.secrets.map((s) => `${s.id}:${s.secret}`),
      history: history.length,
      metadata,
    };
  }

  /** The owner's view of every part of a machine, main part first. */
  async function machineState(machineId: string): Promise<PartState[]> {
    const parts = await admin.getRobotParts(machineId);
    return Promise.all(parts.map(partState));
  }

  /** The owner's view of every part in org A (both locations). */
  async function orgAState(): Promise<Record<string, PartState[]>> {
    const robots = (await Promise.all([loc, otherLoc].map((l) => admin.listRobots(l)))).flat();
    const states = await Promise.all(robots.map((r) => machineState(r.id)));
    return Object.fromEntries(robots.map((r, i) => [r.id, states[i]!]));
  }

  /** Asserts the call is refused with `code` and that the machine's parts are exactly as they were. */
  async function refusedUnchanged(machineId: string, call: () => Promise<unknown>, code: Code) {
    const before = await machineState(machineId);
    await expectCode(call(), code);
    assert.deepEqual(await machineState(machineId), before, 'a refused call changed the parts');
  }

  async function clientForRole(organizationId: string, role: 'owner' | 'operator', name: string) {
    const issued = await admin.createKey([organizationRole(role, organizationId)], name);
    return { issued, client: (await t.clientForKey(issued.id, issued.key)).appClient };
  }

  before(async () => {
    t = await startTestServer(await newDatabase());
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    orgA = t.admin.organizationId;
    loc = defined(await admin.createLocation(orgA, 'Parts Lab'), 'a location').id;
    otherLoc = defined(await admin.createLocation(orgA, 'Annex'), 'a location').id;
    const op = await clientForRole(orgA, 'operator', 'operator');
    operator = op.client;
    operatorKey = op.issued;
    const orgB = defined(await admin.createOrganization('Org B'), 'org B').id;
    const b = await clientForRole(orgB, 'owner', 'b-key');
    bClient = b.client;
    bKey = b.issued;
    bLoc = defined(await bClient.createLocation(orgB, 'B Yard'), 'a location in B').id;
  });
  after(() => t.stop());

  it('NewRobot gives the machine one main part; GetRobotParts lists the main part first', async () => {
    const { machineId, main } = await newMachine('rover');
    assert.equal(main.name, 'rover-main');
    assert.equal(main.mainPart, true);
    assert.equal(main.robot, machineId);
    assert.equal(main.locationId, loc);
    const a = await admin.newRobotPart(machineId, 'a-part');
    const b = await admin.newRobotPart(machineId, 'b-part');
    const parts = await admin.getRobotParts(machineId);
    assert.equal(parts.length, 3);
    assert.equal(parts[0]!.id, main.id, 'the main part comes first');
    assert.deepEqual(parts.map((p) => p.mainPart).sort(), [false, false, true]);
    assert.deepEqual(new Set(parts.map((p) => p.id)), new Set([main.id, a, b]));
    // After MarkPartAsMain the new main part is listed first.
    await admin.markPartAsMain(b);
    const after = await admin.getRobotParts(machineId);
    assert.equal(after[0]!.id, b);
    assert.deepEqual(
      after.filter((p) => p.mainPart).map((p) => p.id),
      [b],
    );
    // The operator sees the same parts in the same order.
    assert.deepEqual(
      (await operator.getRobotParts(machineId)).map((p) => [p.id, p.mainPart]),
      after.map((p) => [p.id, p.mainPart]),
    );
  });

  it('GetRobotPart returns the part, its addresses, secrets and config_json', async () => {
    const { machineId, main } = await newMachine('Scout One');
    const res = await admin.getRobotPart(main.id);
    const part = defined(res.part, 'a part');
    assert.equal(part.id, main.id);
    assert.equal(part.name, 'Scout One-main');
    assert.equal(part.dnsName, 'scout-one-main');
    assert.equal(part.robot, machineId);
    assert.equal(part.locationId, loc);
    assert.equal(part.mainPart, true);
    assert.equal(part.fqdn, `scout-one-main.${loc}.flotilla.local`);
    assert.equal(part.localFqdn, `scout-one-main.${loc}.local.flotilla.local`);
    const now = Date.now();
    assert.ok(Math.abs(msOf(part.createdOn) - now) < 60_000, 'created just now');
    assert.ok(msOf(part.lastUpdated) >= msOf(part.createdOn));
    assert.equal(part.secrets.length, 1);
    assert.ok(part.secrets[0]!.id.length > 0);
    assert.ok(part.secrets[0]!.secret.length >= 32, 'a real secret');
    assert.equal(part.secrets[0]!.state, appApi.SharedSecret_State.ENABLED);
    assert.equal(part.secret, part.secrets[0]!.secret);
    assert.deepEqual(JSON.parse(res.configJson), {});
    assert.deepEqual(part.robotConfig?.toJson(), {});

    const config = configNamed('read-back');
    await admin.updateRobotPart(main.id, part.name, structFromObject(config));
    const again = await admin.getRobotPart(main.id);
    assert.deepEqual(JSON.parse(again.configJson), config, 'config_json is the stored config');
    assert.deepEqual(again.part?.robotConfig?.toJson(), config);
    assert.deepEqual(
      again.part?.secrets.map((s) => s.secret),
      [part.secret],
      'the secret stays',
    );

    // An operator sees the part without its config or secrets.
    const seen = await operator.getRobotPart(main.id);
    const opPart = defined(seen.part, 'a part for the operator');
    assert.equal(opPart.id, main.id);
    assert.equal(opPart.name, part.name);
    assert.equal(opPart.fqdn, part.fqdn);
    assert.equal(opPart.localFqdn, part.localFqdn);
    assert.equal(opPart.mainPart, true);
    assert.equal(seen.configJson, '');
    assert.equal(opPart.robotConfig, undefined);
    assert.equal(opPart.secret, '');
    assert.deepEqual(opPart.secrets, []);
    for (const p of await operator.getRobotParts(machineId)) {
      assert.equal(p.robotConfig, undefined);
      assert.equal(p.secret, '');
      assert.deepEqual(p.secrets, []);
    }
    const byName = defined(
      (await operator.getRobotPartByNameAndLocation(part.name, loc)).part,
      'a part by name for the operator',
    );
    assert.equal(byName.id, main.id);
    assert.equal(byName.robotConfig, undefined);
    assert.equal(byName.secret, '');
    assert.deepEqual(byName.secrets, []);

    await expectCode(admin.getRobotPart(randomUUID()), Code.NotFound);
    await expectCode(admin.getRobotPart(''), Code.InvalidArgument);
  });

  it('GetRobotPartByNameAndLocation finds a part by its name in its location only', async () => {
    const { main } = await newMachine('finder');
    const found = defined((await admin.getRobotPartByNameAndLocation('finder-main', loc)).part, 'a part');
    assert.equal(found.id, main.id);
    assert.equal(found.secret, main.secret);
    assert.ok(found.secret.length > 0);
    await expectCode(admin.getRobotPartByNameAndLocation('finder-main', otherLoc), Code.NotFound);
    await expectCode(admin.getRobotPartByNameAndLocation('no-such-part', loc), Code.NotFound);
    await expectCode(admin.getRobotPartByNameAndLocation('finder-main', 'nosuchloc1'), Code.NotFound);
  });

  it('NewRobotPart derives the dns name from the name and keeps names and dns names unique per location', async () => {
    const { machineId, main } = await newMachine('namer');
    const cases: [string, string][] = [
      ['Arm #2 (left)', 'arm-2-left'],
      ['  Camera__Front  ', 'camera-front'],
      ['ÜBER base', 'ber-base'],
      ['x'.repeat(70), 'x'.repeat(63)],
      ['a'.repeat(62) + ' -b', 'a'.repeat(62)],
    ];
    for (const [name, dns] of cases) {
      const id = await admin.newRobotPart(machineId, name);
      const part = defined((await admin.getRobotPart(id)).part, 'a new part');
      assert.equal(part.name, name.trim());
      assert.equal(part.dnsName, dns, `dns name of ${JSON.stringify(name)}`);
      assert.equal(part.fqdn, `${dns}.${loc}.flotilla.local`);
      assert.equal(part.localFqdn, `${dns}.${loc}.local.flotilla.local`);
      assert.equal(part.mainPart, false);
      assert.equal(part.robot, machineId);
      assert.equal(part.secrets.length, 1, 'a new part has one secret');
      assert.deepEqual(JSON.parse((await admin.getRobotPart(id)).configJson), {});
    }
    assert.equal((await admin.getRobotParts(machineId))[0]!.id, main.id);

    // Another machine in the same location: same name or same dns name is taken.
    const { machineId: sibling } = await newMachine('namer-sibling');
    const before = { namer: await machineState(machineId), sibling: await machineState(sibling) };
    for (const name of ['Arm #2 (left)', 'arm 2 left', 'ARM-2-LEFT', 'namer-main', 'Namer Main']) {
      await expectCode(admin.newRobotPart(sibling, name), Code.AlreadyExists);
      await expectCode(admin.newRobotPart(machineId, name), Code.AlreadyExists);
    }
    // A name with no letter or digit, or an empty one, is not a name.
    for (const name of ['', '   ', '#!?', '---', '(_)']) {
      await expectCode(admin.newRobotPart(machineId, name), Code.InvalidArgument);
    }
    assert.deepEqual(
      { namer: await machineState(machineId), sibling: await machineState(sibling) },
      before,
      'refused NewRobotPart calls added nothing',
    );
    // The same name in another location is fine.
    const { machineId: elsewhere } = await newMachine('namer-annex', otherLoc);
    const annexPart = defined(
      (await admin.getRobotPart(await admin.newRobotPart(elsewhere, 'Arm #2 (left)'))).part,
      'a part in the annex',
    );
    assert.equal(annexPart.dnsName, 'arm-2-left');
    assert.equal(annexPart.fqdn, `arm-2-left.${otherLoc}.flotilla.local`);
    // Unknown machine: NOT_FOUND.
    await expectCode(admin.newRobotPart(randomUUID(), 'ghost'), Code.NotFound);
    // The operator may not add parts.
    await refusedUnchanged(
      machineId,
      () => operator.newRobotPart(machineId, 'op-part'),
      Code.PermissionDenied,
    );
  });

  it('UpdateRobotPart renames (fqdn in step) and saves the config', async () => {
    const { machineId } = await newMachine('updater');
    const id = await admin.newRobotPart(machineId, 'Old Name');
    const config = configNamed('u1');
    const updated = defined(
      await admin.updateRobotPart(id, 'New Name 7', structFromObject(config)),
      'the updated part',
    );
    assert.equal(updated.name, 'New Name 7');
    assert.equal(updated.dnsName, 'new-name-7');
    assert.equal(updated.fqdn, `new-name-7.${loc}.flotilla.local`);
    assert.equal(updated.localFqdn, `new-name-7.${loc}.local.flotilla.local`);
    assert.deepEqual(updated.robotConfig?.toJson(), config);
    const read = await admin.getRobotPart(id);
    assert.equal(read.part?.name, 'New Name 7');
    assert.equal(read.part?.dnsName, 'new-name-7');
    assert.equal(read.part?.fqdn, `new-name-7.${loc}.flotilla.local`);
    assert.deepEqual(JSON.parse(read.configJson), config);
    assert.deepEqual(read.part?.robotConfig?.toJson(), config);
    // The old name is free again, the new one is found by name.
    assert.equal((await admin.getRobotPartByNameAndLocation('New Name 7', loc)).part?.id, id);
    await expectCode(admin.getRobotPartByNameAndLocation('Old Name', loc), Code.NotFound);
    const reuse = await admin.newRobotPart(machineId, 'Old Name');
    assert.equal((await admin.getRobotPart(reuse)).part?.dnsName, 'old-name');

    // Renaming onto another part's name or dns name in the location is refused.
    for (const name of ['Old Name', 'old-name', 'updater-main', 'UPDATER main']) {
      await refusedUnchanged(
        machineId,
        () => admin.updateRobotPart(id, name, structFromObject(config)),
        Code.AlreadyExists,
      );
    }
    for (const name of ['', '***']) {
      await refusedUnchanged(
        machineId,
        () => admin.updateRobotPart(id, name, structFromObject(config)),
        Code.InvalidArgument,
      );
    }
    // Keeping its own name is fine (its own dns name is not a conflict).
    const same = await admin.updateRobotPart(id, 'New Name 7', structFromObject(configNamed('u2')));
    assert.equal(same?.dnsName, 'new-name-7');
    assert.deepEqual(same?.robotConfig?.toJson(), configNamed('u2'));

    // Unknown part NOT_FOUND; the operator may not write.
    await expectCode(admin.updateRobotPart(randomUUID(), 'x', structFromObject({})), Code.NotFound);
    await refusedUnchanged(
      machineId,
      () => operator.updateRobotPart(id, 'Op Name', structFromObject({})),
      Code.PermissionDenied,
    );
  });

  it('UpdateRobotPart honours last_known_update', async () => {
    const { machineId } = await newMachine('optimist');
    const id = await admin.newRobotPart(machineId, 'lk');
    const raw = rawAppClient(admin);
    const first = defined((await admin.getRobotPart(id)).part, 'the part');
    const stamp = first.lastUpdated!;

    // The part's own last_updated is fresh: accepted.
    const c1 = configNamed('lk1');
    const res = await raw.updateRobotPart({
      id,
      name: 'lk',
      robotConfig: structFromObject(c1),
      lastKnownUpdate: stamp,
    });
    assert.deepEqual(res.part?.robotConfig?.toJson(), c1);
    assert.ok(msOf(res.part?.lastUpdated) > msOf(stamp), 'last_updated moves forward');
    assert.deepEqual(JSON.parse((await admin.getRobotPart(id)).configJson), c1);

    // The timestamp read before that update is stale now; so is one long ago.
    for (const old of [stamp, timestamp(new Date('2020-01-01T00:00:00Z'))]) {
      await refusedUnchanged(
        machineId,
        () =>
          raw.updateRobotPart({
            id,
            name: 'lk-renamed',
            robotConfig: structFromObject(configNamed('stale')),
            lastKnownUpdate: old,
          }),
        Code.FailedPrecondition,
      );
    }
    const current = defined((await admin.getRobotPart(id)).part, 'the part');
    assert.equal(current.name, 'lk');
    assert.deepEqual(current.robotConfig?.toJson(), c1);
    assert.equal((await admin.getRobotPartHistory(id)).length, 1, 'only the accepted update is in history');

    // The current last_updated is accepted.
    const c2 = configNamed('lk2');
    const res2 = await raw.updateRobotPart({
      id,
      name: 'lk-2',
      robotConfig: structFromObject(c2),
      lastKnownUpdate: current.lastUpdated!,
    });
    assert.equal(res2.part?.name, 'lk-2');
    assert.deepEqual(JSON.parse((await admin.getRobotPart(id)).configJson), c2);
    assert.equal((await admin.getRobotPartHistory(id)).length, 2);
  });

  it('UpdateRobotPart refuses configs that do not convert, naming the key, and stores nothing', async () => {
    const { machineId } = await newMachine('validator');
    const id = await admin.newRobotPart(machineId, 'cfg');
    const good = configNamed('good');
    await admin.updateRobotPart(id, 'cfg', structFromObject(good));
    const historyBefore = (await admin.getRobotPartHistory(id)).length;
    assert.equal(historyBefore, 1);

    const bad: [Record<string, unknown>, string][] = [
      [{ components: { name: 'arm' } }, 'components'],
      [{ components: 'arm' }, 'components'],
      [{ components: [{ model: 'rdk:builtin:fake', api: 'rdk:component:arm' }] }, 'components[0].name'],
      [
        { components: [{ name: 'ok', api: 'rdk:component:arm', model: 'fake' }, { name: '' }] },
        'components[1].name',
      ],
      [{ components: [42] }, 'components[0]'],
      [{ services: { nav: {} } }, 'services'],
      [{ modules: 'all' }, 'modules'],
      [{ debug: 'yes' }, 'debug'],
    ];
    for (const [config, key] of bad) {
      const before = await machineState(machineId);
      await assert.rejects(
        admin.updateRobotPart(id, 'cfg-renamed', structFromObject(config)),
        (e: Error & { code?: unknown }) => {
          assert.equal(e.code, Code.InvalidArgument, `${JSON.stringify(config)}: ${e.message}`);
          assert.ok(e.message.includes(key), `the message names ${key}: ${e.message}`);
          return true;
        },
      );
      assert.deepEqual(await machineState(machineId), before, `nothing stored for ${JSON.stringify(config)}`);
    }
    const read = await admin.getRobotPart(id);
    assert.equal(read.part?.name, 'cfg');
    assert.deepEqual(JSON.parse(read.configJson), good);
    assert.equal((await admin.getRobotPartHistory(id)).length, historyBefore, 'no history entry added');
  });

  it('GetRobotPartHistory returns each old version, newest first, with who edited it', async () => {
    const { machineId } = await newMachine('historian');
    const id = await admin.newRobotPart(machineId, 'hist');
    assert.deepEqual(await admin.getRobotPartHistory(id), []);
    const original = defined((await admin.getRobotPart(id)).part, 'the part');

    const c1 = configNamed('h1');
    const c2 = configNamed('h2');
    await admin.updateRobotPart(id, 'hist-1', structFromObject(c1));
    const v1 = defined((await admin.getRobotPart(id)).part, 'the part');
    await admin.updateRobotPart(id, 'hist-2', structFromObject(c2));

    const history = await admin.getRobotPartHistory(id);
    assert.equal(history.length, 2);
    const [newest, oldest] = history as [appApi.RobotPartHistoryEntry, appApi.RobotPartHistoryEntry];
    // Newest first: the entry for the second update holds version 1.
    assert.equal(newest.old?.name, 'hist-1');
    assert.deepEqual(newest.old?.robotConfig?.toJson(), c1);
    assert.equal(newest.old?.dnsName, 'hist-1');
    assert.equal(newest.old?.fqdn, `hist-1.${loc}.flotilla.local`);
    assert.equal(msOf(newest.old?.lastUpdated), msOf(v1.lastUpdated));
    assert.equal(oldest.old?.name, 'hist');
    assert.deepEqual(oldest.old?.robotConfig?.toJson(), {});
    assert.equal(msOf(oldest.old?.lastUpdated), msOf(original.lastUpdated));
    assert.ok(msOf(newest.when) >= msOf(oldest.when), 'newest first');
    for (const entry of history) {
      assert.equal(entry.part, id);
      assert.equal(entry.robot, machineId);
      assert.equal(entry.old?.id, id);
      assert.equal(entry.editedBy?.type, appApi.AuthenticationType.API_KEY);
      assert.equal(entry.editedBy?.value, t.admin.apiKeyId);
      assert.ok(Math.abs(msOf(entry.when) - Date.now()) < 60_000);
    }

    // A user logged in with a password is named by email.
    const token = await authenticate(t.url, t.admin.email, 'password', t.admin.password);
    const user = (
      await createViamClient({ serviceHost: t.url, credentials: { type: 'access-token', payload: token } })
    ).appClient;
    await user.updateRobotPart(id, 'hist-3', structFromObject(configNamed('h3')));
    const byUser = await admin.getRobotPartHistory(id);
    assert.equal(byUser.length, 3);
    assert.equal(byUser[0]!.old?.name, 'hist-2');
    assert.deepEqual(byUser[0]!.old?.robotConfig?.toJson(), c2);
    assert.equal(byUser[0]!.editedBy?.type, appApi.AuthenticationType.WEB_OAUTH);
    assert.equal(byUser[0]!.editedBy?.value, t.admin.email);
    assert.equal(byUser[1]!.editedBy?.value, t.admin.apiKeyId);
    assert.deepEqual(
      (await user.getRobotPartHistory(id)).map((h) => h.old?.name),
      ['hist-2', 'hist-1', 'hist'],
    );

    // History needs owner; an unknown part is NOT_FOUND.
    await expectCode(operator.getRobotPartHistory(id), Code.PermissionDenied);
    await expectCode(admin.getRobotPartHistory(randomUUID()), Code.NotFound);
  });

  it('DeleteRobotPart deletes other parts; the main part stays', async () => {
    const { machineId, main } = await newMachine('deleter');
    // A lone main part cannot be deleted.
    await refusedUnchanged(machineId, () => admin.deleteRobotPart(main.id), Code.FailedPrecondition);
    const extra = await admin.newRobotPart(machineId, 'extra');
    const keep = await admin.newRobotPart(machineId, 'keep');
    // Nor while the machine has other parts.
    await refusedUnchanged(machineId, () => admin.deleteRobotPart(main.id), Code.FailedPrecondition);
    // The operator may not delete.
    await refusedUnchanged(machineId, () => operator.deleteRobotPart(extra), Code.PermissionDenied);

    await admin.updateRobotPart(extra, 'extra', structFromObject(configNamed('gone')));
    await admin.deleteRobotPart(extra);
    assert.deepEqual(
      (await admin.getRobotParts(machineId)).map((p) => p.id),
      [main.id, keep],
    );
    await expectCode(admin.getRobotPart(extra), Code.NotFound);
    await expectCode(admin.getRobotPartHistory(extra), Code.NotFound);
    await expectCode(admin.getRobotPartByNameAndLocation('extra', loc), Code.NotFound);
    await expectCode(admin.deleteRobotPart(extra), Code.NotFound);
    // Its name is free again.
    const again = await admin.newRobotPart(machineId, 'extra');
    assert.notEqual(again, extra);
  });

  it('MarkPartAsMain leaves exactly one main part', async () => {
    const { machineId, main } = await newMachine('crowned');
    const p1 = await admin.newRobotPart(machineId, 'p1');
    const p2 = await admin.newRobotPart(machineId, 'p2');
    const mains = async () =>
      (await admin.getRobotParts(machineId)).filter((p) => p.mainPart).map((p) => p.id);

    await admin.markPartAsMain(p1);
    assert.deepEqual(await mains(), [p1]);
    assert.equal((await admin.getRobotParts(machineId))[0]!.id, p1);
    assert.equal((await admin.getRobotPart(main.id)).part?.mainPart, false);
    await admin.markPartAsMain(p1);
    assert.deepEqual(await mains(), [p1], 'marking the main part again changes nothing');
    await admin.markPartAsMain(p2);
    assert.deepEqual(await mains(), [p2]);

    // The former main part can now be deleted; the new one cannot.
    await admin.deleteRobotPart(main.id);
    await refusedUnchanged(machineId, () => admin.deleteRobotPart(p2), Code.FailedPrecondition);

    await refusedUnchanged(machineId, () => operator.markPartAsMain(p1), Code.PermissionDenied);
    assert.deepEqual(await mains(), [p2]);
    await expectCode(admin.markPartAsMain(randomUUID()), Code.NotFound);
    assert.deepEqual(await mains(), [p2]);
  });

  it('MarkPartForRestart: the owner may, the operator may not (the part is told exactly once)', async () => {
    const { machineId, main } = await newMachine('restarter');
    const partToken = await authenticate(t.url, main.id, 'robot-secret', main.secret);
    const robot = createPromiseClient(RobotService, grpcTransport(t.url));
    const needsRestart = async () =>
      (await robot.needsRestart({ id: main.id }, bearer(partToken))).mustRestart;

    assert.equal(await needsRestart(), false);
    await refusedUnchanged(machineId, () => operator.markPartForRestart(main.id), Code.PermissionDenied);
    assert.equal(await needsRestart(), false, 'the refused restart was not recorded');
    await expectCode(admin.markPartForRestart(randomUUID()), Code.NotFound);

    await admin.markPartForRestart(main.id);
    assert.equal(await needsRestart(), true);
    assert.equal(await needsRestart(), false, 'told once');
  });

  it('CreateRobotPartSecret / DeleteRobotPartSecret keep one or two secrets', async () => {
    const { machineId } = await newMachine('keeper');
    const id = await admin.newRobotPart(machineId, 'secretive');
    const secretsOf = async () => defined((await admin.getRobotPart(id)).part, 'the part').secrets;
    const [first] = await secretsOf();
    assert.ok(first);

    const created = defined(await admin.createRobotPartSecret(id), 'the part with a new secret');
    assert.equal(created.id, id);
    assert.equal(created.secrets.length, 2);
    const second = created.secrets.find((s) => s.id !== first.id)!;
    assert.ok(second.secret.length >= 32);
    assert.notEqual(second.secret, first.secret);
    assert.deepEqual((await secretsOf()).map((s) => s.id).sort(), [first.id, second.id].sort());

    // A third is refused; so are the operator and unknown ids.
    await refusedUnchanged(machineId, () => admin.createRobotPartSecret(id), Code.FailedPrecondition);
    await refusedUnchanged(machineId, () => operator.createRobotPartSecret(id), Code.PermissionDenied);
    await refusedUnchanged(
      machineId,
      () => operator.deleteRobotPartSecret(id, first.id),
      Code.PermissionDenied,
    );
    await refusedUnchanged(machineId, () => admin.deleteRobotPartSecret(id, randomUUID()), Code.NotFound);
    await expectCode(admin.createRobotPartSecret(randomUUID()), Code.NotFound);

    await admin.deleteRobotPartSecret(id, first.id);
    const left = await secretsOf();
    assert.deepEqual(
      left.map((s) => s.id),
      [second.id],
    );
    assert.equal((await admin.getRobotPart(id)).part?.secret, second.secret);
    // The old secret no longer authenticates; the new one does.
    await expectCode(authenticate(t.url, id, 'robot-secret', first.secret), Code.Unauthenticated);
    assert.ok((await authenticate(t.url, id, 'robot-secret', second.secret)).length > 0);

    // The last secret stays.
    await refusedUnchanged(
      machineId,
      () => admin.deleteRobotPartSecret(id, second.id),
      Code.FailedPrecondition,
    );
    await refusedUnchanged(machineId, () => admin.deleteRobotPartSecret(id, first.id), Code.NotFound);
    // A secret of another part is not this part's.
    const other = (await admin.getRobotParts(machineId)).find((p) => p.id !== id)!;
    await refusedUnchanged(
      machineId,
      () => admin.deleteRobotPartSecret(id, other.secrets[0]!.id),
      Code.NotFound,
    );
  });

  it('GET /machines/<part id>/viam.json gives an owner the machine its cloud file', async () => {
    const { main } = await newMachine('provisioned');
    const url = `${t.url}/machines/${main.id}/viam.json`;
    const get = (token?: string) => fetch(url, token ? bearer(token) : {});

    const ownerToken = await authenticate(t.url, t.admin.apiKeyId, 'api-key', t.admin.apiKey);
    const ok = await get(ownerToken);
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(await ok.json(), {
      cloud: { app_address: t.url, id: main.id, secret: main.secret },
    });
    assert.ok(main.secret.length >= 32);

    const operatorToken = await authenticate(t.url, operatorKey.id, 'api-key', operatorKey.key);
    assert.equal((await get(operatorToken)).status, 403);
    const bToken = await authenticate(t.url, bKey.id, 'api-key', bKey.key);
    assert.equal((await get(bToken)).status, 404);
    assert.equal((await get()).status, 401);
    assert.equal((await get('not-a-token')).status, 401);
    const partToken = await authenticate(t.url, main.id, 'robot-secret', main.secret);
    assert.equal((await get(partToken)).status, 403);
    assert.equal(
      (await fetch(`${t.url}/machines/${randomUUID()}/viam.json`, bearer(ownerToken))).status,
      404,
    );
  });

  it("another organization's key gets NOT_FOUND on every part method with org A's ids and changes nothing", async () => {
    const { machineId, main } = await newMachine('isolated');
    const other = await admin.newRobotPart(machineId, 'isolated-2');
    await admin.updateRobotPart(other, 'isolated-2', structFromObject(configNamed('iso')));
    const secretId = main.secrets[0]!.id;
    // B's key works in B.
    const bMachine = await bClient.newRobot(bLoc, 'b-bot');
    assert.equal((await bClient.getRobotParts(bMachine)).length, 1);

    const before = await orgAState();
    const calls: [string, () => Promise<unknown>][] = [
      ['GetRobotParts', () => bClient.getRobotParts(machineId)],
      ['GetRobotPart', () => bClient.getRobotPart(main.id)],
      ['GetRobotPartByNameAndLocation', () => bClient.getRobotPartByNameAndLocation('isolated-main', loc)],
      ['NewRobotPart', () => bClient.newRobotPart(machineId, 'intruder')],
      ['UpdateRobotPart', () => bClient.updateRobotPart(other, 'hijacked', structFromObject({}))],
      [
        'UpdateRobotPart (raw)',
        () => rawAppClient(bClient).updateRobotPart({ id: main.id, name: 'hijacked' }),
      ],
      ['DeleteRobotPart', () => bClient.deleteRobotPart(other)],
      ['DeleteRobotPart (main)', () => bClient.deleteRobotPart(main.id)],
      ['MarkPartAsMain', () => bClient.markPartAsMain(other)],
      ['MarkPartForRestart', () => bClient.markPartForRestart(main.id)],
      ['CreateRobotPartSecret', () => bClient.createRobotPartSecret(main.id)],
      ['DeleteRobotPartSecret', () => bClient.deleteRobotPartSecret(main.id, secretId)],
      ['GetRobotPartHistory', () => bClient.getRobotPartHistory(other)],
      ['GetRobotPartLogs', () => bClient.getRobotPartLogs(main.id)],
      ['GetRobotPartMetadata', () => bClient.getRobotPartMetadata(main.id)],
      ['UpdateRobotPartMetadata', () => bClient.updateRobotPartMetadata(main.id, { owner: 'b' })],
      // A's part moved into B's machine, or looked up in B's location, is not found either.
      [
        'GetRobotPartByNameAndLocation (B location)',
        () => bClient.getRobotPartByNameAndLocation('isolated-main', bLoc),
      ],
    ];
    for (const [name, call] of calls) {
      await assert.rejects(call(), (e: Error & { code?: unknown }) => {
        assert.equal(e.code, Code.NotFound, `${name}: ${e.message}`);
        return true;
      });
    }
    assert.deepEqual(await orgAState(), before, "org A's parts are unchanged");
    // No restart was recorded for A's part either.
    const partToken = await authenticate(t.url, main.id, 'robot-secret', main.secret);
    const robot = createPromiseClient(RobotService, grpcTransport(t.url));
    assert.equal((await robot.needsRestart({ id: main.id }, bearer(partToken))).mustRestart, false);
    // B's own machine still has only its own main part.
    assert.deepEqual(
      (await bClient.getRobotParts(bMachine)).map((p) => p.name),
      ['b-bot-main'],
    );
  });

  /** Runs calls at once; how many succeeded and the codes of the others. */
  async function settled(calls: Promise<unknown>[]) {
    const results = await Promise.allSettled(calls);
    return {
      ok: results.filter((r) => r.status === 'fulfilled').length,
      codes: results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as { code?: unknown }).code] : [])),
    };
  }

  // Races: each scenario is played a few times on fresh parts, since a lost race shows only sometimes.
  const ROUNDS = 5;

  it('concurrent UpdateRobotPart calls holding the same last_known_update: exactly one wins', async () => {
    const { machineId } = await newMachine('race-update');
    const raw = rawAppClient(admin);
    for (let round = 0; round < ROUNDS; round++) {
      const id = await admin.newRobotPart(machineId, `race-update-${round}`);
      const stamp = defined((await admin.getRobotPart(id)).part, 'the part').lastUpdated!;
      const updates = await settled(
        [1, 2, 3, 4].map((n) =>
          raw.updateRobotPart({
            id,
            name: `race-update-${round}-${n}`,
            robotConfig: structFromObject(configNamed(`r${n}`)),
            lastKnownUpdate: stamp,
          }),
        ),
      );
      assert.deepEqual(
        updates,
        { ok: 1, codes: [Code.FailedPrecondition, Code.FailedPrecondition, Code.FailedPrecondition] },
        `round ${round}: one update wins, the others are stale`,
      );
      assert.equal((await admin.getRobotPartHistory(id)).length, 1, `round ${round}: one history entry`);
    }
  });

  it('concurrent CreateRobotPartSecret calls never make a third secret', async () => {
    const { machineId } = await newMachine('race-create');
    for (let round = 0; round < ROUNDS; round++) {
      const id = await admin.newRobotPart(machineId, `race-create-${round}`);
      const creates = await settled([1, 2, 3, 4].map(() => admin.createRobotPartSecret(id)));
      const count = defined((await admin.getRobotPart(id)).part, 'the part').secrets.length;
      assert.equal(count, 2, `round ${round}: two secrets`);
      assert.deepEqual(creates, {
        ok: 1,
        codes: [Code.FailedPrecondition, Code.FailedPrecondition, Code.FailedPrecondition],
      });
    }
  });

  it('concurrent DeleteRobotPartSecret calls never leave a part without a secret', async () => {
    const { machineId } = await newMachine('race-delete');
    for (let round = 0; round < ROUNDS; round++) {
      const id = await admin.newRobotPart(machineId, `race-delete-${round}`);
      const secrets = defined(await admin.createRobotPartSecret(id), 'the part').secrets;
      assert.equal(secrets.length, 2);
      const deletes = await settled(secrets.map((s) => admin.deleteRobotPartSecret(id, s.id)));
      const count = defined((await admin.getRobotPart(id)).part, 'the part').secrets.length;
      assert.equal(count, 1, `round ${round}: one secret left`);
      assert.deepEqual(deletes, { ok: 1, codes: [Code.FailedPrecondition] });
    }
  });

  it('concurrent MarkPartAsMain calls leave exactly one main part', async () => {
    const { machineId, main } = await newMachine('race-main');
    const others = await Promise.all([1, 2, 3].map((n) => admin.newRobotPart(machineId, `race-main-${n}`)));
    for (let round = 0; round < ROUNDS; round++) {
      const marks = await settled([main.id, ...others].map((p) => admin.markPartAsMain(p)));
      const mains = (await admin.getRobotParts(machineId)).filter((p) => p.mainPart);
      assert.equal(mains.length, 1, `round ${round}: exactly one main part`);
      assert.equal(marks.ok, 4, `round ${round}: every mark succeeds: ${String(marks.codes)}`);
    }
  });

  it('FLOTILLA_DOMAIN sets the domain of fqdn and local_fqdn', async () => {
    const other = await startTestServer(await newDatabase(), { FLOTILLA_DOMAIN: 'robots.example' });
    try {
      const client = (await other.clientForKey(other.admin.apiKeyId, other.admin.apiKey)).appClient;
      const location = defined(
        await client.createLocation(other.admin.organizationId, 'Dock'),
        'a location',
      ).id;
      const machine = await client.newRobot(location, 'Dock Bot');
      const [main] = await client.getRobotParts(machine);
      assert.equal(main?.fqdn, `dock-bot-main.${location}.robots.example`);
      assert.equal(main?.localFqdn, `dock-bot-main.${location}.local.robots.example`);
      const id = await client.newRobotPart(machine, 'Wheel L');
      const part = defined((await client.getRobotPart(id)).part, 'a part');
      assert.equal(part.fqdn, `wheel-l.${location}.robots.example`);
      assert.equal(part.localFqdn, `wheel-l.${location}.local.robots.example`);
      const renamed = await client.updateRobotPart(id, 'Wheel R', structFromObject({}));
      assert.equal(renamed?.fqdn, `wheel-r.${location}.robots.example`);
      assert.equal(renamed?.localFqdn, `wheel-r.${location}.local.robots.example`);
    } finally {
      await other.stop();
    }
    // The first server keeps the default domain.
    const { main } = await newMachine('default-domain');
    assert.equal(main.fqdn, `default-domain-main.${loc}.flotilla.local`);
  });
});
