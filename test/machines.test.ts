import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { Code } from '@connectrpc/connect';
import { appApi, type AppClient } from '@viamrobotics/sdk';
import { structFromObject } from '../src/rpc/wire-values.js';
import { rawAppClient, type RawAppClient } from './support/clients.js';
import { forEachDialect } from './support/databases.js';
import { expectCode } from './support/expect.js';
import { type ResourceType, roleAuthorization } from './support/roles.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * Machines (robots) through the SDK: NewRobot, GetRobot, UpdateRobot, DeleteRobot, the three
 * listings, machine and part metadata, GetRobotAPIKeys, ListMachineSummaries,
 * GetRoverRentalRobots, Location.robot_count and DeleteLocation with machines. Callers: the admin
 * key (owner of A, and of B since it created B), an operator of A, an owner of one location of A,
 * and a key that owns only B. Every refusal is checked for its code and for nothing having changed.
 */

/** A value the call must have returned. */
function present<T>(value: T | undefined, what: string): T {
  assert.ok(value, `expected a ${what} in the reply`);
  return value;
}

const sorted = (ids: readonly string[]) => [...ids].sort();
const idsOf = (items: readonly { id: string }[]) => sorted(items.map((i) => i.id));
const randomLocationId = () => randomUUID().replaceAll('-', '').slice(0, 10);

/** Every machine id in a ListMachineSummaries reply. */
const summaryMachineIds = (summaries: readonly appApi.LocationSummary[]) =>
  sorted(summaries.flatMap((l) => l.machineSummaries.map((m) => m.machineId)));

interface Refusal {
  code: unknown;
  /** The message with the call's ids replaced by placeholders. */
  message: string;
}

/** The call's error, its message with `ids` masked; fails the test if the call succeeds. */
async function refusalOf(call: Promise<unknown>, ids: Record<string, string>): Promise<Refusal> {
  let result: unknown;
  try {
    result = await call;
  } catch (error) {
    const e = error as { code?: unknown; rawMessage?: unknown; message?: unknown };
    let message = String(e.rawMessage ?? e.message);
    for (const [field, value] of Object.entries(ids)) message = message.replaceAll(value, `<${field}>`);
    return { code: e.code, message };
  }
  assert.fail(
    `the call succeeded: ${JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`,
  );
}

forEachDialect('machines through the SDK', (newDatabase) => {
  let t: TestServer;
  let admin: AppClient;
  let adminRaw: RawAppClient;
  let operator: AppClient;
  let operatorRaw: RawAppClient;
  let locOwner: AppClient;
  let locOwnerRaw: RawAppClient;
  let bClient: AppClient;
  let bRaw: RawAppClient;
  let orgA: string;
  let orgB: string;
  /** A's locations: the location owner holds owner on loc1 only. */
  let loc1: string;
  let loc2: string;
  /** B's location, with one machine of B's. */
  let locB: string;
  let robotB: string;

  /** A client for a new key holding one role, made by the admin key. */
  async function clientWithRole(
    organizationId: string,
    resourceType: ResourceType,
    resourceId: string,
    role: 'owner' | 'operator',
  ): Promise<{ app: AppClient; keyId: string }> {
    const issued = await admin.createKey(
      [roleAuthorization(organizationId, resourceType, resourceId, role)],
      `${resourceType}_${role}-${resourceId}`,
    );
    return { app: (await t.clientForKey(issued.id, issued.key)).appClient, keyId: issued.id };
  }

  /**
   * Everything a refused machine call could have touched, in both organizations, read with the
   * admin key (owner of A and B): locations with their machine counts, machines with name,
   * location, metadata, parts (name, main flag, config, secrets, metadata) and keys, and all keys.
   */
  async function snapshot() {
    return Promise.all(
      [orgA, orgB].map(async (org) => {
        const [locations, robots, keys] = await Promise.all([
          admin.listLocations(org),
          adminRaw.listRobotsForOrg({ orgId: org }),
          admin.listKeys(org),
        ]);
        const machines = await Promise.all(
          robots.robots.map(async (r) => {
            const [parts, metadata, robotKeys] = await Promise.all([
              admin.getRobotParts(r.id),
              admin.getRobotMetadata(r.id),
              admin.getRobotAPIKeys(r.id),
            ]);
            return {
              id: r.id,
              name: r.name,
              location: r.location,
              metadata,
              parts: await Promise.all(
                parts.map(async (p) => ({
                  id: p.id,
                  name: p.name,
                  dnsName: p.dnsName,
                  main: p.mainPart,
                  config: p.robotConfig?.toJsonString() ?? null,
                  lastUpdated: p.lastUpdated?.toDate().getTime(),
                  secrets: p.secrets.map((s) => `${s.id}:${s.secret}`),
                  metadata: await admin.getRobotPartMetadata(p.id),
                })),
              ),
              keys: robotKeys
                .map((k) => `${k.apiKey?.id}:${k.authorizations.map((a) => a.authorizationId).join(',')}`)
                .sort(),
            };
          }),
        );
        return {
          org,
          locations: locations
            .map((l) => ({ id: l.id, name: l.name, robotCount: l.robotCount }))
            .sort((a, b) => a.id.localeCompare(b.id)),
          machines: machines.sort((a, b) => a.id.localeCompare(b.id)),
          keys: sorted(keys.map((k) => k.apiKey?.id ?? '')),
        };
      }),
    );
  }

  /** The main part of a machine, as the admin sees it. */
  async function mainPartOf(robotId: string): Promise<appApi.RobotPart> {
    return present(
      (await admin.getRobotParts(robotId)).find((p) => p.mainPart),
      'main part',
    );
  }

  const robotCountOf = async (locationId: string) =>
    present(await admin.getLocation(locationId), 'location').robotCount;

  before(async () => {
    t = await startTestServer(await newDatabase());
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    adminRaw = rawAppClient(admin);
    orgA = t.admin.organizationId;
    loc1 = present(await admin.createLocation(orgA, 'Loc 1'), 'location').id;
    loc2 = present(await admin.createLocation(orgA, 'Loc 2'), 'location').id;
    operator = (await clientWithRole(orgA, 'organization', orgA, 'operator')).app;
    operatorRaw = rawAppClient(operator);
    locOwner = (await clientWithRole(orgA, 'location', loc1, 'owner')).app;
    locOwnerRaw = rawAppClient(locOwner);

    orgB = present(await admin.createOrganization('Org B'), 'organization').id;
    const bKey = await clientWithRole(orgB, 'organization', orgB, 'owner');
    bClient = bKey.app;
    bRaw = rawAppClient(bClient);
    locB = present(await bClient.createLocation(orgB, 'B Home'), 'location').id;
    robotB = await bClient.newRobot(locB, 'b-rover');
  });
  after(() => t?.stop());

  it('NewRobot creates the machine and its main part named <name>-main; GetRobot reads it back', async () => {
    const countBefore = await robotCountOf(loc1);
    const startedAt = Date.now();
    const id = await admin.newRobot(loc1, 'rover');
    const endedAt = Date.now();
    assert.match(id, /^[0-9a-f-]{36}$/);

    const robot = present(await admin.getRobot(id), 'robot');
    assert.equal(robot.id, id);
    assert.equal(robot.name, 'rover');
    assert.equal(robot.location, loc1);
    const created = present(robot.createdOn, 'createdOn').toDate().getTime();
    assert.ok(
      created >= startedAt - 1000 && created <= endedAt + 1000,
      `createdOn ${created} not within [${startedAt}, ${endedAt}]`,
    );
    // No RobotService call yet: awaiting setup, never seen.
    assert.equal(robot.onlineState, appApi.OnlineState.AWAITING_SETUP);
    assert.equal(robot.lastAccess, undefined);
    assert.equal(robot.secondsSinceOnline, 0n);

    const parts = await admin.getRobotParts(id);
    assert.deepEqual(
      parts.map((p) => [p.name, p.mainPart, p.robot, p.locationId, p.dnsName]),
      [['rover-main', true, id, loc1, 'rover-main']],
    );
    assert.equal(parts[0]?.onlineState, appApi.OnlineState.AWAITING_SETUP);

    assert.ok(idsOf(await admin.listRobots(loc1)).includes(id));
    assert.equal(await robotCountOf(loc1), countBefore + 1);

    // An operator of the organization may read it.
    const seen = present(await operator.getRobot(id), 'robot');
    assert.deepEqual([seen.id, seen.name, seen.location], [id, 'rover', loc1]);
  });

  it('NewRobot refuses a duplicate name in the same location, allows it in another', async () => {
    const before_ = await snapshot();
    await expectCode(admin.newRobot(loc1, 'rover'), Code.AlreadyExists);
    assert.deepEqual(await snapshot(), before_);
    assert.deepEqual(
      (await admin.listRobots(loc1)).filter((r) => r.name === 'rover').length,
      1,
      'one machine named rover in loc1',
    );

    const other = await admin.newRobot(loc2, 'rover');
    const robot = present(await admin.getRobot(other), 'robot');
    assert.deepEqual([robot.name, robot.location], ['rover', loc2]);
    assert.deepEqual(
      (await admin.getRobotParts(other)).map((p) => [p.name, p.locationId, p.mainPart]),
      [['rover-main', loc2, true]],
    );
  });

  it('NewRobot refuses an empty name, an unknown location, an operator and a foreign location', async () => {
    const before_ = await snapshot();
    await expectCode(admin.newRobot(loc1, ''), Code.InvalidArgument);
    await expectCode(admin.newRobot(loc1, '   '), Code.InvalidArgument);
    await expectCode(admin.newRobot('', 'no-location'), Code.InvalidArgument);
    await expectCode(admin.newRobot(randomLocationId(), 'ghost'), Code.NotFound);
    await expectCode(operator.newRobot(loc1, 'op-bot'), Code.PermissionDenied);
    // The location owner holds no role on loc2: it does not exist for them.
    await expectCode(locOwner.newRobot(loc2, 'lo-bot'), Code.NotFound);
    await expectCode(bClient.newRobot(loc1, 'b-bot'), Code.NotFound);
    assert.deepEqual(await snapshot(), before_);

    // The location owner may create machines in its own location.
    const id = await locOwner.newRobot(loc1, 'lo-bot');
    const robot = present(await admin.getRobot(id), 'robot');
    assert.deepEqual([robot.name, robot.location], ['lo-bot', loc1]);
    assert.deepEqual(
      (await admin.getRobotParts(id)).map((p) => p.name),
      ['lo-bot-main'],
    );
  });

  it('GetRobot answers NOT_FOUND for unknown and invisible machines', async () => {
    const inLoc2 = await admin.newRobot(loc2, 'hidden-from-loc-owner');
    await expectCode(admin.getRobot(randomUUID()), Code.NotFound);
    await expectCode(admin.getRobot(''), Code.InvalidArgument);
    await expectCode(locOwner.getRobot(inLoc2), Code.NotFound);
    await expectCode(bClient.getRobot(inLoc2), Code.NotFound);
    // B's machine does not exist for A's operator or location owner.
    await expectCode(operator.getRobot(robotB), Code.NotFound);
    await expectCode(locOwner.getRobot(robotB), Code.NotFound);
  });

  it('UpdateRobot renames only; another location, a duplicate or empty name are refused', async () => {
    const id = await admin.newRobot(loc1, 'to-rename');
    const partsBefore = await admin.getRobotParts(id);

    const renamed = present(await admin.updateRobot(id, loc1, 'renamed'), 'robot');
    assert.deepEqual([renamed.id, renamed.name, renamed.location], [id, 'renamed', loc1]);
    const read = present(await admin.getRobot(id), 'robot');
    assert.deepEqual([read.id, read.name, read.location], [id, 'renamed', loc1]);
    // Renaming a machine does not rename its parts.
    assert.deepEqual(
      (await admin.getRobotParts(id)).map((p) => [p.id, p.name, p.dnsName]),
      partsBefore.map((p) => [p.id, 'to-rename-main', 'to-rename-main']),
    );

    // A name taken only in another location is free here.
    await admin.newRobot(loc2, 'only-in-loc2');
    assert.equal(present(await admin.updateRobot(id, loc1, 'only-in-loc2'), 'robot').name, 'only-in-loc2');

    const before_ = await snapshot();
    await expectCode(admin.updateRobot(id, loc2, 'moved'), Code.InvalidArgument);
    await expectCode(admin.updateRobot(id, locB, 'moved'), Code.InvalidArgument);
    await expectCode(admin.updateRobot(id, loc1, 'rover'), Code.AlreadyExists);
    await expectCode(admin.updateRobot(id, loc1, ''), Code.InvalidArgument);
    await expectCode(admin.updateRobot(randomUUID(), loc1, 'ghost'), Code.NotFound);
    await expectCode(operator.updateRobot(id, loc1, 'by-operator'), Code.PermissionDenied);
    await expectCode(bClient.updateRobot(id, loc1, 'by-b'), Code.NotFound);
    assert.deepEqual(await snapshot(), before_);
    const after_ = present(await admin.getRobot(id), 'robot');
    assert.deepEqual([after_.name, after_.location], ['only-in-loc2', loc1]);

    // The location owner may rename machines of its location.
    assert.equal(present(await locOwner.updateRobot(id, loc1, 'by-loc-owner'), 'robot').name, 'by-loc-owner');
  });

  it('DeleteRobot removes the machine and its parts; Location.robotCount follows', async () => {
    const countBefore = await robotCountOf(loc2);
    const id = await admin.newRobot(loc2, 'doomed');
    const main = await mainPartOf(id);
    const arm = await admin.newRobotPart(id, 'doomed-arm');
    await admin.updateRobotMetadata(id, { note: 'bye' });
    await admin.updateRobotPartMetadata(arm, { serial: 'A-1' });
    assert.equal(await robotCountOf(loc2), countBefore + 1);
    const listed = (await admin.listLocations(orgA)).find((l) => l.id === loc2);
    assert.equal(present(listed, 'location').robotCount, countBefore + 1);

    const before_ = await snapshot();
    await expectCode(operator.deleteRobot(id), Code.PermissionDenied);
    await expectCode(locOwner.deleteRobot(id), Code.NotFound);
    await expectCode(bClient.deleteRobot(id), Code.NotFound);
    await expectCode(admin.deleteRobot(randomUUID()), Code.NotFound);
    assert.deepEqual(await snapshot(), before_);

    await admin.deleteRobot(id);
    await expectCode(admin.getRobot(id), Code.NotFound);
    await expectCode(admin.getRobotParts(id), Code.NotFound);
    await expectCode(admin.getRobotPart(main.id), Code.NotFound);
    await expectCode(admin.getRobotPart(arm), Code.NotFound);
    await expectCode(admin.getRobotPartHistory(arm), Code.NotFound);
    await expectCode(admin.getRobotPartMetadata(arm), Code.NotFound);
    await expectCode(admin.getRobotMetadata(id), Code.NotFound);
    await expectCode(admin.getRobotPartByNameAndLocation('doomed-main', loc2), Code.NotFound);
    assert.ok(!idsOf(await admin.listRobots(loc2)).includes(id));
    assert.equal(await robotCountOf(loc2), countBefore);
    await expectCode(admin.deleteRobot(id), Code.NotFound);

    // The machine's and its parts' names are free again in the location.
    const again = await admin.newRobot(loc2, 'doomed');
    await admin.newRobotPart(again, 'doomed-arm');
    assert.deepEqual((await admin.getRobotParts(again)).map((p) => p.name).sort(), [
      'doomed-arm',
      'doomed-main',
    ]);
    // Metadata does not come back with the name.
    assert.deepEqual(await admin.getRobotMetadata(again), {});
    assert.equal(await robotCountOf(loc2), countBefore + 1);
  });

  it('ListRobots lists the machines of a location to whoever can see it', async () => {
    const loc3 = present(await admin.createLocation(orgA, 'Listing'), 'location').id;
    assert.deepEqual(await admin.listRobots(loc3), []);
    const m1 = await admin.newRobot(loc3, 'list-one');
    const m2 = await admin.newRobot(loc3, 'list-two');

    const robots = await admin.listRobots(loc3);
    assert.deepEqual(
      robots.map((r) => [r.id, r.name, r.location]).sort(),
      [
        [m1, 'list-one', loc3],
        [m2, 'list-two', loc3],
      ].sort(),
    );
    assert.deepEqual(idsOf(await operator.listRobots(loc3)), sorted([m1, m2]));
    // The location owner sees its own location's machines, and nothing of loc3.
    assert.deepEqual(idsOf(await locOwner.listRobots(loc1)), idsOf(await admin.listRobots(loc1)));
    await expectCode(locOwner.listRobots(loc3), Code.NotFound);
    await expectCode(bClient.listRobots(loc3), Code.NotFound);
    await expectCode(admin.listRobots(randomLocationId()), Code.NotFound);
    // A's admin key, owner of B too, sees B's machine in B's location, and only it.
    assert.deepEqual(idsOf(await admin.listRobots(locB)), [robotB]);
  });

  it('ListRobotsForLocations returns the machines of each location named', async () => {
    const in1 = idsOf(await admin.listRobots(loc1));
    const in2 = idsOf(await admin.listRobots(loc2));
    assert.ok(in1.length >= 2 && in2.length >= 2, 'the earlier tests left machines in both locations');

    const both = (await adminRaw.listRobotsForLocations({ locationIds: [loc1, loc2] })).robots;
    assert.deepEqual(idsOf(both), sorted([...in1, ...in2]));
    assert.deepEqual(idsOf((await adminRaw.listRobotsForLocations({ locationIds: [loc2] })).robots), in2);
    assert.deepEqual(
      idsOf((await adminRaw.listRobotsForLocations({ locationIds: [loc1, loc1] })).robots),
      in1,
      'a location named twice lists its machines once',
    );
    assert.deepEqual(
      idsOf((await operatorRaw.listRobotsForLocations({ locationIds: [loc1, loc2] })).robots),
      sorted([...in1, ...in2]),
    );
    assert.deepEqual(idsOf((await locOwnerRaw.listRobotsForLocations({ locationIds: [loc1] })).robots), in1);
    await expectCode(locOwnerRaw.listRobotsForLocations({ locationIds: [loc1, loc2] }), Code.NotFound);
    await expectCode(
      adminRaw.listRobotsForLocations({ locationIds: [loc1, randomLocationId()] }),
      Code.NotFound,
    );
    await expectCode(bRaw.listRobotsForLocations({ locationIds: [loc1] }), Code.NotFound);
    await expectCode(bRaw.listRobotsForLocations({ locationIds: [locB, loc1] }), Code.NotFound);
    assert.deepEqual(idsOf((await bRaw.listRobotsForLocations({ locationIds: [locB] })).robots), [robotB]);
  });

  it("ListRobotsForOrg returns the organization's machines the caller can see", async () => {
    const expected: string[] = [];
    for (const l of await admin.listLocations(orgA)) expected.push(...idsOf(await admin.listRobots(l.id)));
    assert.ok(expected.length >= 5);

    const all = (await adminRaw.listRobotsForOrg({ orgId: orgA })).robots;
    assert.deepEqual(idsOf(all), sorted(expected));
    assert.ok(!idsOf(all).includes(robotB), "B's machine is not A's");
    const rover = present(
      all.find((r) => r.name === 'rover' && r.location === loc1),
      'rover',
    );
    assert.equal(rover.onlineState, appApi.OnlineState.AWAITING_SETUP);

    assert.deepEqual(idsOf((await operatorRaw.listRobotsForOrg({ orgId: orgA })).robots), sorted(expected));
    // A location owner sees the organization, but only its location's machines.
    assert.deepEqual(
      idsOf((await locOwnerRaw.listRobotsForOrg({ orgId: orgA })).robots),
      idsOf(await admin.listRobots(loc1)),
    );
    await expectCode(bRaw.listRobotsForOrg({ orgId: orgA }), Code.NotFound);
    await expectCode(adminRaw.listRobotsForOrg({ orgId: randomUUID() }), Code.NotFound);
    assert.deepEqual(idsOf((await bRaw.listRobotsForOrg({ orgId: orgB })).robots), [robotB]);
  });

  it('robot and part metadata: owners read and replace it, operators are denied', async () => {
    const id = await admin.newRobot(loc1, 'meta-bot');
    const part = (await mainPartOf(id)).id;
    assert.deepEqual(await admin.getRobotMetadata(id), {});
    assert.deepEqual(await admin.getRobotPartMetadata(part), {});

    await admin.updateRobotMetadata(id, { site: 'north', tags: ['a', 'b'], depth: { n: 1, ok: true } });
    await admin.updateRobotPartMetadata(part, { serial: 'X1' });
    assert.deepEqual(await admin.getRobotMetadata(id), {
      site: 'north',
      tags: ['a', 'b'],
      depth: { n: 1, ok: true },
    });
    assert.deepEqual(await admin.getRobotPartMetadata(part), { serial: 'X1' });
    // An update replaces the whole document.
    await admin.updateRobotMetadata(id, { site: 'south' });
    assert.deepEqual(await admin.getRobotMetadata(id), { site: 'south' });
    assert.deepEqual(await admin.getRobotPartMetadata(part), { serial: 'X1' });

    // The owner of the machine's location may read and write it too.
    await locOwner.updateRobotPartMetadata(part, { serial: 'X2' });
    assert.deepEqual(await locOwner.getRobotPartMetadata(part), { serial: 'X2' });
    assert.deepEqual(await locOwner.getRobotMetadata(id), { site: 'south' });

    const before_ = await snapshot();
    await expectCode(operator.getRobotMetadata(id), Code.PermissionDenied);
    await expectCode(operator.updateRobotMetadata(id, { site: 'operator' }), Code.PermissionDenied);
    await expectCode(operator.getRobotPartMetadata(part), Code.PermissionDenied);
    await expectCode(operator.updateRobotPartMetadata(part, { serial: 'operator' }), Code.PermissionDenied);
    await expectCode(bClient.getRobotMetadata(id), Code.NotFound);
    await expectCode(bClient.updateRobotMetadata(id, { site: 'b' }), Code.NotFound);
    await expectCode(bClient.getRobotPartMetadata(part), Code.NotFound);
    await expectCode(bClient.updateRobotPartMetadata(part, { serial: 'b' }), Code.NotFound);
    await expectCode(admin.getRobotMetadata(randomUUID()), Code.NotFound);
    await expectCode(admin.updateRobotMetadata(randomUUID(), { x: 1 }), Code.NotFound);
    await expectCode(admin.getRobotPartMetadata(randomUUID()), Code.NotFound);
    await expectCode(admin.updateRobotPartMetadata(randomUUID(), { x: 1 }), Code.NotFound);
    assert.deepEqual(await snapshot(), before_);
    assert.deepEqual(await admin.getRobotMetadata(id), { site: 'south' });
    assert.deepEqual(await admin.getRobotPartMetadata(part), { serial: 'X2' });
  });

  it('GetRobotAPIKeys lists the keys holding a role on the machine, and only those', async () => {
    const id = await admin.newRobot(loc1, 'keyed');
    const other = await admin.newRobot(loc1, 'keyed-other');
    // The admin key holds a role on the organization, not on the machine.
    assert.deepEqual(await admin.getRobotAPIKeys(id), []);

    const robotKey = await admin.createKey([roleAuthorization(orgA, 'robot', id, 'operator')], 'robot-op');
    await admin.createKey([roleAuthorization(orgA, 'robot', other, 'owner')], 'other-owner');

    const keys = await admin.getRobotAPIKeys(id);
    assert.deepEqual(
      keys.map((k) => [k.apiKey?.id, k.apiKey?.name]),
      [[robotKey.id, 'robot-op']],
    );
    assert.deepEqual(
      keys[0]?.authorizations.map((a) => [
        a.authorizationType,
        a.authorizationId,
        a.resourceType,
        a.resourceId,
        a.orgId,
      ]),
      [['role', 'robot_operator', 'robot', id, orgA]],
    );
    assert.ok(!keys.some((k) => k.apiKey?.id === t.admin.apiKeyId), 'the admin org key is not listed');
    assert.deepEqual(
      (await admin.getRobotAPIKeys(other)).map((k) => k.apiKey?.name),
      ['other-owner'],
    );
    // The location owner (owner above the machine) may read them.
    assert.deepEqual(
      (await locOwner.getRobotAPIKeys(id)).map((k) => k.apiKey?.id),
      [robotKey.id],
    );

    const robotOperator = (await t.clientForKey(robotKey.id, robotKey.key)).appClient;
    assert.equal(present(await robotOperator.getRobot(id), 'robot').name, 'keyed');
    const before_ = await snapshot();
    await expectCode(robotOperator.getRobotAPIKeys(id), Code.PermissionDenied);
    await expectCode(robotOperator.getRobotAPIKeys(other), Code.NotFound);
    await expectCode(operator.getRobotAPIKeys(id), Code.PermissionDenied);
    await expectCode(bClient.getRobotAPIKeys(id), Code.NotFound);
    await expectCode(admin.getRobotAPIKeys(randomUUID()), Code.NotFound);
    assert.deepEqual(await snapshot(), before_);
  });

  it('ListMachineSummaries groups machines by location, filters by location, fragment and limit', async () => {
    const locS = present(await admin.createLocation(orgA, 'Summaries'), 'location').id;
    const s1 = await admin.newRobot(locS, 's-one');
    const s2 = await admin.newRobot(locS, 's-two');
    const s3 = await admin.newRobot(locS, 's-three');
    const s2Arm = await admin.newRobotPart(s2, 's-two-arm');
    // Real fragments: a part config may list only fragments its organization can use.
    const fragOne = present(
      await admin.createFragment(orgA, 'summary one', structFromObject({})),
      'fragment',
    ).id;
    const fragTwo = present(
      await admin.createFragment(orgA, 'summary two', structFromObject({})),
      'fragment',
    ).id;
    const s1Main = await mainPartOf(s1);
    await admin.updateRobotPart(s1Main.id, s1Main.name, structFromObject({ fragments: [fragOne] }));
    await admin.updateRobotPart(s2Arm, 's-two-arm', structFromObject({ fragments: [fragTwo] }));

    const all = await admin.listMachineSummaries(orgA);
    const orgMachines = idsOf((await adminRaw.listRobotsForOrg({ orgId: orgA })).robots);
    assert.deepEqual(summaryMachineIds(all), orgMachines);
    assert.ok(!summaryMachineIds(all).includes(robotB));
    // One summary per location, each machine under its own location.
    assert.equal(new Set(all.map((l) => l.locationId)).size, all.length);
    for (const l of all) {
      assert.deepEqual(
        sorted(l.machineSummaries.map((m) => m.machineId)),
        idsOf(await admin.listRobots(l.locationId)),
        `machines of ${l.locationName}`,
      );
    }
    const summary = present(
      all.find((l) => l.locationId === locS),
      'summary of locS',
    );
    assert.equal(summary.locationName, 'Summaries');
    const machines = [...summary.machineSummaries].sort((a, b) => a.machineName.localeCompare(b.machineName));
    assert.deepEqual(
      machines.map((m) => [
        m.machineId,
        m.machineName,
        m.partSummaries
          .map((p) => [p.partName, p.isMainPart, p.onlineState, p.dnsName])
          .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      ]),
      [
        [s1, 's-one', [['s-one-main', true, appApi.OnlineState.AWAITING_SETUP, 's-one-main']]],
        [s3, 's-three', [['s-three-main', true, appApi.OnlineState.AWAITING_SETUP, 's-three-main']]],
        [
          s2,
          's-two',
          [
            ['s-two-arm', false, appApi.OnlineState.AWAITING_SETUP, 's-two-arm'],
            ['s-two-main', true, appApi.OnlineState.AWAITING_SETUP, 's-two-main'],
          ],
        ],
      ],
    );
    assert.deepEqual(
      machines.flatMap((m) => m.partSummaries.map((p) => p.partId)).sort(),
      sorted([s1Main.id, (await mainPartOf(s2)).id, s2Arm, (await mainPartOf(s3)).id]),
    );

    // Location filter.
    const onlyS = await admin.listMachineSummaries(orgA, [], [locS]);
    assert.deepEqual(
      onlyS.map((l) => l.locationId),
      [locS],
    );
    assert.deepEqual(summaryMachineIds(onlyS), sorted([s1, s2, s3]));
    const sAnd1 = await admin.listMachineSummaries(orgA, [], [locS, loc1]);
    assert.deepEqual(sorted(sAnd1.map((l) => l.locationId)), sorted([locS, loc1]));
    assert.deepEqual(summaryMachineIds(sAnd1), sorted([s1, s2, s3, ...idsOf(await admin.listRobots(loc1))]));

    // Fragment filter: a machine matches when one of its parts lists the fragment.
    assert.deepEqual(summaryMachineIds(await admin.listMachineSummaries(orgA, [fragOne])), [s1]);
    assert.deepEqual(summaryMachineIds(await admin.listMachineSummaries(orgA, [fragTwo])), [s2]);
    assert.deepEqual(
      summaryMachineIds(await admin.listMachineSummaries(orgA, [fragOne, fragTwo])),
      sorted([s1, s2]),
    );
    assert.deepEqual(summaryMachineIds(await admin.listMachineSummaries(orgA, [randomUUID()])), []);
    assert.deepEqual(summaryMachineIds(await admin.listMachineSummaries(orgA, [fragOne], [loc1])), []);

    // Limit.
    assert.equal(summaryMachineIds(await admin.listMachineSummaries(orgA, [], [locS], 2)).length, 2);
    assert.equal(summaryMachineIds(await admin.listMachineSummaries(orgA, [], [locS], 1)).length, 1);
    assert.equal(summaryMachineIds(await admin.listMachineSummaries(orgA, [], [], 1)).length, 1);

    // Other callers: an operator sees the organization; a location owner its location only.
    assert.deepEqual(summaryMachineIds(await operator.listMachineSummaries(orgA)), orgMachines);
    const ownerView = await locOwner.listMachineSummaries(orgA);
    assert.deepEqual(
      ownerView.map((l) => l.locationId),
      [loc1],
    );
    assert.deepEqual(summaryMachineIds(ownerView), idsOf(await admin.listRobots(loc1)));

    const before_ = await snapshot();
    await expectCode(bClient.listMachineSummaries(orgA), Code.NotFound);
    await expectCode(bClient.listMachineSummaries(orgA, [], [locS]), Code.NotFound);
    await expectCode(admin.listMachineSummaries(randomUUID()), Code.NotFound);
    // B asking about A's location under its own organization gets nothing of A's.
    const bView = await bClient.listMachineSummaries(orgB, [], [locS]);
    assert.deepEqual(summaryMachineIds(bView), []);
    assert.ok(!bView.some((l) => l.locationId === locS));
    assert.deepEqual(summaryMachineIds(await bClient.listMachineSummaries(orgB)), [robotB]);
    assert.deepEqual(await snapshot(), before_);
  });

  it('GetRoverRentalRobots returns an empty list', async () => {
    assert.deepEqual(await admin.getRoverRentalRobots(orgA), []);
    assert.deepEqual(await operator.getRoverRentalRobots(orgA), []);
    assert.deepEqual(await bClient.getRoverRentalRobots(orgB), []);
    await expectCode(bClient.getRoverRentalRobots(orgA), Code.NotFound);
    await expectCode(admin.getRoverRentalRobots(randomUUID()), Code.NotFound);
  });

  it('DeleteLocation is refused while the location holds a machine', async () => {
    const locD = present(await admin.createLocation(orgA, 'Doomed'), 'location').id;
    assert.equal(await robotCountOf(locD), 0);
    const m = await admin.newRobot(locD, 'tenant');
    assert.equal(await robotCountOf(locD), 1);

    const before_ = await snapshot();
    await expectCode(admin.deleteLocation(locD), Code.FailedPrecondition);
    assert.deepEqual(await snapshot(), before_);
    assert.equal(present(await admin.getLocation(locD), 'location').name, 'Doomed');
    assert.equal(present(await admin.getRobot(m), 'robot').location, locD);
    assert.equal(await robotCountOf(locD), 1);

    await admin.deleteRobot(m);
    assert.equal(await robotCountOf(locD), 0);
    await admin.deleteLocation(locD);
    await expectCode(admin.getLocation(locD), Code.NotFound);
  });

  it("org B's key is refused on every machine method with A's ids, as for unknown ids, changing nothing", async () => {
    const robot = await admin.newRobot(loc1, 'isolated');
    const part = (await mainPartOf(robot)).id;
    await admin.updateRobotMetadata(robot, { owner: 'A' });
    await admin.updateRobotPartMetadata(part, { owner: 'A' });
    const target = { robot, part, location: loc1, org: orgA };
    const ghost = {
      robot: randomUUID(),
      part: randomUUID(),
      location: randomLocationId(),
      org: randomUUID(),
    };
    type Ids = typeof target;

    const cases: { name: string; code: Code; call: (a: Ids) => Promise<unknown> }[] = [
      { name: 'newRobot', code: Code.NotFound, call: (a) => bClient.newRobot(a.location, 'b-made') },
      { name: 'getRobot', code: Code.NotFound, call: (a) => bClient.getRobot(a.robot) },
      {
        name: 'updateRobot (own location)',
        code: Code.NotFound,
        call: (a) => bClient.updateRobot(a.robot, a.location, 'b-renamed'),
      },
      {
        name: "updateRobot (to B's location)",
        code: Code.NotFound,
        call: (a) => bClient.updateRobot(a.robot, locB, 'b-renamed'),
      },
      { name: 'deleteRobot', code: Code.NotFound, call: (a) => bClient.deleteRobot(a.robot) },
      { name: 'listRobots', code: Code.NotFound, call: (a) => bClient.listRobots(a.location) },
      {
        name: 'listRobotsForLocations',
        code: Code.NotFound,
        call: (a) => bRaw.listRobotsForLocations({ locationIds: [a.location] }),
      },
      {
        name: "listRobotsForLocations (with B's own)",
        code: Code.NotFound,
        call: (a) => bRaw.listRobotsForLocations({ locationIds: [locB, a.location] }),
      },
      { name: 'listRobotsForOrg', code: Code.NotFound, call: (a) => bRaw.listRobotsForOrg({ orgId: a.org }) },
      { name: 'getRobotMetadata', code: Code.NotFound, call: (a) => bClient.getRobotMetadata(a.robot) },
      {
        name: 'updateRobotMetadata',
        code: Code.NotFound,
        call: (a) => bClient.updateRobotMetadata(a.robot, { owner: 'B' }),
      },
      {
        name: 'getRobotPartMetadata',
        code: Code.NotFound,
        call: (a) => bClient.getRobotPartMetadata(a.part),
      },
      {
        name: 'updateRobotPartMetadata',
        code: Code.NotFound,
        call: (a) => bClient.updateRobotPartMetadata(a.part, { owner: 'B' }),
      },
      { name: 'getRobotAPIKeys', code: Code.NotFound, call: (a) => bClient.getRobotAPIKeys(a.robot) },
      { name: 'listMachineSummaries', code: Code.NotFound, call: (a) => bClient.listMachineSummaries(a.org) },
      {
        name: 'listMachineSummaries (location filter)',
        code: Code.NotFound,
        call: (a) => bClient.listMachineSummaries(a.org, [], [a.location]),
      },
      { name: 'getRoverRentalRobots', code: Code.NotFound, call: (a) => bClient.getRoverRentalRobots(a.org) },
      { name: 'deleteLocation', code: Code.NotFound, call: (a) => bClient.deleteLocation(a.location) },
      // Naming A's machine in B's own organization is a request about a foreign resource.
      {
        name: "createKey (role on A's machine)",
        code: Code.InvalidArgument,
        call: (a) => bClient.createKey([roleAuthorization(orgB, 'robot', a.robot, 'operator')], 'b-steal'),
      },
    ];

    const before_ = await snapshot();
    const failures: string[] = [];
    for (const c of cases) {
      const refusal = await refusalOf(c.call(target), target);
      const ghostRefusal = await refusalOf(c.call(ghost), ghost);
      if (refusal.code !== c.code) {
        failures.push(
          `${c.name}: expected ${Code[c.code]}, got ${String(refusal.code)} (${refusal.message})`,
        );
      } else if (JSON.stringify(ghostRefusal) !== JSON.stringify(refusal)) {
        failures.push(
          `${c.name}: A's ids answer ${JSON.stringify(refusal)}, unknown ids ${JSON.stringify(ghostRefusal)}`,
        );
      }
    }
    assert.deepEqual(failures, []);
    assert.deepEqual(await snapshot(), before_);
    assert.deepEqual(await admin.getRobotMetadata(robot), { owner: 'A' });
    assert.deepEqual(await admin.getRobotPartMetadata(part), { owner: 'A' });
    assert.equal(present(await admin.getRobot(robot), 'robot').name, 'isolated');
    assert.deepEqual(await admin.getRobotAPIKeys(robot), []);
    // B's own view holds only B's machine.
    assert.deepEqual(idsOf((await bRaw.listRobotsForOrg({ orgId: orgB })).robots), [robotB]);
  });
});
