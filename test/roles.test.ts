import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Code, createPromiseClient } from '@connectrpc/connect';
import { appApi, createViamClient, type AppClient } from '@viamrobotics/sdk';
import { ALL_PERMISSIONS } from '../src/authz/permissions.js';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { connectTransport } from './support/clients.js';
import { forEachDialect } from './support/databases.js';
import { expectCode } from './support/expect.js';
import { type ResourceType, roleAuthorization } from './support/roles.js';
import { startTestServer, type TestServer } from './support/server.js';

const OPERATOR = ['read_organization', 'read_location', 'read_robot', 'control_robot'];

forEachDialect(
  'roles: AddRole, RemoveRole, ChangeRole, ListAuthorizations, CheckPermissions',
  (newDatabase) => {
    let t: TestServer;
    let admin: AppClient;
    let user: AppClient;
    let orgA: string;
    let orgB: string;
    let loc1: string;
    let loc2: string;
    let robot1: string;
    let robot2: string;
    let locB: string;
    let granteeId: string;
    let grantee: AppClient;
    let bKeyId: string;
    let bKey: AppClient;
    let operatorKey: AppClient;
    let locOwnerKey: AppClient;
    let locOperatorKey: AppClient;
    let robotOperatorKey: AppClient;
    let robotOwnerKey: AppClient;

    /** All grants of an organization, as "identity|type|authorization_id|resource". */
    const grants = async (org = orgA, ids?: string[]) =>
      (await admin.listAuthorizations(org, ids))
        .map((a) => `${a.identityId}|${a.identityType}|${a.authorizationId}|${a.resourceId}`)
        .sort();
    /** Asserts the call is refused with `code` and the organization's grants are unchanged. */
    const refused = async (call: () => Promise<unknown>, code: Code, org = orgA) => {
      const before = await grants(org);
      await expectCode(call(), code);
      assert.deepEqual(await grants(org), before);
    };
    const key = async (org: string, type: ResourceType, id: string, role: string, name: string) => {
      const k = await admin.createKey([roleAuthorization(org, type, id, role, '')], name);
      return { id: k.id, client: (await t.clientForKey(k.id, k.key)).appClient };
    };

    before(async () => {
      t = await startTestServer(await newDatabase());
      admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
      orgA = t.admin.organizationId;
      const auth = createPromiseClient(AuthService, connectTransport(t.url));
      const { accessToken } = await auth.authenticate({
        entity: t.admin.email,
        credentials: { type: 'password', payload: t.admin.password },
      });
      user = (
        await createViamClient({
          serviceHost: t.url,
          credentials: { type: 'access-token', payload: accessToken },
        })
      ).appClient;
      loc1 = (await admin.createLocation(orgA, 'loc1'))!.id;
      loc2 = (await admin.createLocation(orgA, 'loc2'))!.id;
      robot1 = await admin.newRobot(loc1, 'r1');
      robot2 = await admin.newRobot(loc2, 'r2');
      orgB = (await admin.createOrganization('Org B'))!.id;
      locB = (await admin.createLocation(orgB, 'locB'))!.id;
      ({ id: granteeId, client: grantee } = await key(orgA, 'organization', orgA, 'operator', 'grantee'));
      ({ id: bKeyId, client: bKey } = await key(orgB, 'organization', orgB, 'owner', 'b-owner'));
      operatorKey = (await key(orgA, 'organization', orgA, 'operator', 'op')).client;
      locOwnerKey = (await key(orgA, 'location', loc1, 'owner', 'loc-owner')).client;
      locOperatorKey = (await key(orgA, 'location', loc1, 'operator', 'loc-op')).client;
      robotOwnerKey = (await key(orgA, 'robot', robot1, 'owner', 'robot-owner')).client;
      robotOperatorKey = (await key(orgA, 'robot', robot1, 'operator', 'robot-op')).client;
    });
    after(() => t.stop());

    describe('AddRole and RemoveRole', () => {
      it('grants a key a role (identity_type "" resolved to api-key), which then takes effect; removes it', async () => {
        await expectCode(grantee.getLocationMetadata(loc1), Code.PermissionDenied);
        await admin.addRole(orgA, granteeId, 'owner', 'location', loc1);
        assert.deepEqual(
          (await grants(orgA, [loc1])).filter((g) => g.startsWith(granteeId)),
          [`${granteeId}|api-key|location_owner|${loc1}`],
        );
        assert.ok((await grants()).includes(`${granteeId}|api-key|location_owner|${loc1}`));
        assert.deepEqual(await grantee.getLocationMetadata(loc1), {});
        await admin.removeRole(orgA, granteeId, 'owner', 'location', loc1);
        assert.ok(!(await grants()).includes(`${granteeId}|api-key|location_owner|${loc1}`));
        await expectCode(grantee.getLocationMetadata(loc1), Code.PermissionDenied);
      });

      it('grants a user a role, listed with identity_type ""; the user (password login) grants and removes too', async () => {
        const line = `${t.admin.userId}||robot_operator|${robot2}`;
        await admin.addRole(orgA, t.admin.userId, 'operator', 'robot', robot2);
        assert.ok((await grants()).includes(line));
        await admin.removeRole(orgA, t.admin.userId, 'operator', 'robot', robot2);
        assert.ok(!(await grants()).includes(line));
        // The user is an owner of A (init): they grant a key a role through their own token.
        await user.addRole(orgA, granteeId, 'owner', 'robot', robot2);
        assert.ok((await grants()).includes(`${granteeId}|api-key|robot_owner|${robot2}`));
        await user.removeRole(orgA, granteeId, 'owner', 'robot', robot2);
        assert.ok(!(await grants()).includes(`${granteeId}|api-key|robot_owner|${robot2}`));
      });

      it('refuses a duplicate grant (ALREADY_EXISTS) and removing a missing one (NOT_FOUND)', async () => {
        await admin.addRole(orgA, granteeId, 'operator', 'location', loc2);
        await refused(() => admin.addRole(orgA, granteeId, 'operator', 'location', loc2), Code.AlreadyExists);
        await admin.removeRole(orgA, granteeId, 'operator', 'location', loc2);
        await refused(() => admin.removeRole(orgA, granteeId, 'operator', 'location', loc2), Code.NotFound);
        await refused(
          () => user.removeRole(orgA, t.admin.userId, 'operator', 'robot', robot1),
          Code.NotFound,
        );
      });

      it('needs owner on the resource granted (PERMISSION_DENIED), for keys and for the user', async () => {
        await refused(
          () => operatorKey.addRole(orgA, granteeId, 'operator', 'robot', robot1),
          Code.PermissionDenied,
        );
        await refused(
          () => locOwnerKey.addRole(orgA, granteeId, 'operator', 'location', loc2),
          Code.PermissionDenied,
        );
        await refused(
          () => locOwnerKey.addRole(orgA, granteeId, 'operator', 'organization', orgA),
          Code.PermissionDenied,
        );
        await refused(
          () => robotOperatorKey.addRole(orgA, granteeId, 'operator', 'robot', robot1),
          Code.PermissionDenied,
        );
        // The location owner may grant inside its location.
        await locOwnerKey.addRole(orgA, granteeId, 'operator', 'robot', robot1);
        assert.ok((await grants()).includes(`${granteeId}|api-key|robot_operator|${robot1}`));
        await refused(
          () => locOperatorKey.removeRole(orgA, granteeId, 'operator', 'robot', robot1),
          Code.PermissionDenied,
        );
        await locOwnerKey.removeRole(orgA, granteeId, 'operator', 'robot', robot1);
        assert.ok(!(await grants()).includes(`${granteeId}|api-key|robot_operator|${robot1}`));
        // The user is operator nowhere and owner of A: a grant in org B (invisible to them) is NOT_FOUND.
        await refused(() => user.addRole(orgB, bKeyId, 'operator', 'location', locB), Code.NotFound, orgB);
        // Another organization's key cannot see A at all.
        await refused(() => bKey.addRole(orgA, granteeId, 'operator', 'location', loc1), Code.NotFound);
      });

      it('refuses a resource of the wrong type or of another organization, and a key of another organization (INVALID_ARGUMENT)', async () => {
        await refused(
          () => admin.addRole(orgA, granteeId, 'operator', 'location', robot1),
          Code.InvalidArgument,
        );
        await refused(() => admin.addRole(orgA, granteeId, 'operator', 'robot', loc1), Code.InvalidArgument);
        await refused(
          () => admin.addRole(orgA, granteeId, 'operator', 'organization', orgB),
          Code.InvalidArgument,
        );
        await refused(
          () => admin.addRole(orgA, granteeId, 'operator', 'location', locB),
          Code.InvalidArgument,
        );
        await refused(() => admin.addRole(orgA, bKeyId, 'operator', 'location', loc1), Code.InvalidArgument);
        await refused(() => admin.addRole(orgA, granteeId, 'admin', 'location', loc1), Code.InvalidArgument);
        await refused(
          () => admin.removeRole(orgA, granteeId, 'operator', 'location', locB),
          Code.InvalidArgument,
        );
      });

      it('refuses an unknown identity (NOT_FOUND)', async () => {
        await refused(
          () => admin.addRole(orgA, '00000000-0000-4000-8000-000000000000', 'operator', 'location', loc1),
          Code.NotFound,
        );
      });
    });

    describe('the last organization owner', () => {
      it('cannot be removed or changed away (FAILED_PRECONDITION); can once another owner exists', async () => {
        const orgD = (await admin.createOrganization('Org D'))!.id;
        const lastOwner = `${t.admin.apiKeyId}|api-key|organization_owner|${orgD}`;
        assert.deepEqual(await grants(orgD), [lastOwner]);
        await refused(
          () => admin.removeRole(orgD, t.admin.apiKeyId, 'owner', 'organization', orgD),
          Code.FailedPrecondition,
          orgD,
        );
        // A location owner (the user, here) is not an organization owner.
        const locD = (await admin.createLocation(orgD, 'locD'))!.id;
        await admin.addRole(orgD, t.admin.userId, 'owner', 'location', locD);
        await refused(
          () => admin.removeRole(orgD, t.admin.apiKeyId, 'owner', 'organization', orgD),
          Code.FailedPrecondition,
          orgD,
        );
        // With the user as a second owner, the key's ownership may go.
        await admin.addRole(orgD, t.admin.userId, 'owner', 'organization', orgD);
        await admin.removeRole(orgD, t.admin.userId, 'owner', 'location', locD);
        await admin.removeRole(orgD, t.admin.apiKeyId, 'owner', 'organization', orgD);
        assert.deepEqual(await user.listAuthorizations(orgD).then((l) => l.map((a) => a.identityId)), [
          t.admin.userId,
        ]);
        await expectCode(admin.getOrganizationMetadata(orgD), Code.NotFound);
        // The user is now the last owner of D.
        const before = await user.listAuthorizations(orgD);
        await expectCode(
          user.removeRole(orgD, t.admin.userId, 'owner', 'organization', orgD),
          Code.FailedPrecondition,
        );
        assert.deepEqual(await user.listAuthorizations(orgD), before);
        await expectCode(
          user.changeRole(
            roleAuthorization(orgD, 'organization', orgD, 'owner', t.admin.userId),
            roleAuthorization(orgD, 'organization', orgD, 'operator', t.admin.userId),
          ),
          Code.FailedPrecondition,
        );
        await expectCode(
          user.changeRole(
            roleAuthorization(orgD, 'organization', orgD, 'owner', t.admin.userId),
            roleAuthorization(orgD, 'location', locD, 'owner', t.admin.userId),
          ),
          Code.FailedPrecondition,
        );
        assert.deepEqual(await user.listAuthorizations(orgD), before);
      });
    });

    describe('ChangeRole', () => {
      it('replaces one grant by another atomically', async () => {
        await admin.addRole(orgA, granteeId, 'operator', 'location', loc1);
        await admin.changeRole(
          roleAuthorization(orgA, 'location', loc1, 'operator', granteeId),
          roleAuthorization(orgA, 'robot', robot1, 'owner', granteeId),
        );
        const after = await grants();
        assert.ok(after.includes(`${granteeId}|api-key|robot_owner|${robot1}`));
        assert.ok(!after.includes(`${granteeId}|api-key|location_operator|${loc1}`));
        // A change onto a grant already held is refused as a whole: the old grant stays.
        await admin.addRole(orgA, granteeId, 'operator', 'location', loc2);
        await refused(
          () =>
            admin.changeRole(
              roleAuthorization(orgA, 'location', loc2, 'operator', granteeId),
              roleAuthorization(orgA, 'robot', robot1, 'owner', granteeId),
            ),
          Code.AlreadyExists,
        );
        // Missing old grant, new resource in another org, caller not owner of the new resource.
        await refused(
          () =>
            admin.changeRole(
              roleAuthorization(orgA, 'location', loc1, 'operator', granteeId),
              roleAuthorization(orgA, 'location', loc1, 'owner', granteeId),
            ),
          Code.NotFound,
        );
        await refused(
          () =>
            admin.changeRole(
              roleAuthorization(orgA, 'location', loc2, 'operator', granteeId),
              roleAuthorization(orgA, 'location', locB, 'operator', granteeId),
            ),
          Code.InvalidArgument,
        );
        await refused(
          () =>
            locOwnerKey.changeRole(
              roleAuthorization(orgA, 'robot', robot1, 'owner', granteeId),
              roleAuthorization(orgA, 'location', loc2, 'owner', granteeId),
            ),
          Code.PermissionDenied,
        );
        await refused(
          () =>
            operatorKey.changeRole(
              roleAuthorization(orgA, 'robot', robot1, 'owner', granteeId),
              roleAuthorization(orgA, 'robot', robot1, 'operator', granteeId),
            ),
          Code.PermissionDenied,
        );
        await admin.removeRole(orgA, granteeId, 'owner', 'robot', robot1);
        await admin.removeRole(orgA, granteeId, 'operator', 'location', loc2);
      });
    });

    describe('ListAuthorizations', () => {
      it('lists the organization, or the given resources; owner only; a resource outside the org is INVALID_ARGUMENT', async () => {
        const all = await grants();
        assert.ok(all.includes(`${t.admin.userId}||organization_owner|${orgA}`));
        assert.ok(all.includes(`${t.admin.apiKeyId}|api-key|organization_owner|${orgA}`));
        assert.ok(all.includes(`${granteeId}|api-key|organization_operator|${orgA}`));
        const onRobot1 = await grants(orgA, [robot1]);
        assert.equal(onRobot1.length, 2);
        assert.ok(onRobot1.every((g) => g.endsWith(`|${robot1}`)));
        assert.deepEqual(
          (await user.listAuthorizations(orgA))
            .map((a) => `${a.identityId}|${a.identityType}|${a.authorizationId}|${a.resourceId}`)
            .sort(),
          all,
        );
        await expectCode(operatorKey.listAuthorizations(orgA), Code.PermissionDenied);
        await expectCode(locOwnerKey.listAuthorizations(orgA, [loc1]), Code.PermissionDenied);
        await expectCode(bKey.listAuthorizations(orgA), Code.NotFound);
        await expectCode(admin.listAuthorizations(orgA, [locB]), Code.InvalidArgument);
        await expectCode(admin.listAuthorizations(orgA, ['no-such-resource']), Code.InvalidArgument);
      });
    });

    describe('CheckPermissions', () => {
      const ask = (c: AppClient, entries: [ResourceType, string, string[]][]) =>
        c.checkPermissions(
          entries.map(
            ([type, id, permissions]) =>
              new appApi.AuthorizedPermissions({ resourceType: type, resourceId: id, permissions }),
          ),
        );
      const heldBy = async (c: AppClient) => {
        const places: [ResourceType, string][] = [
          ['organization', orgA],
          ['location', loc1],
          ['location', loc2],
          ['robot', robot1],
          ['robot', robot2],
          ['organization', orgB],
        ];
        const answer = await ask(
          c,
          places.map(([type, id]) => [type, id, [...ALL_PERMISSIONS]]),
        );
        assert.deepEqual(
          answer.map((a) => [a.resourceType, a.resourceId]),
          places,
        );
        return answer.map((a) => [...a.permissions].sort());
      };
      const all = [...ALL_PERMISSIONS].sort();
      const op = [...OPERATOR].sort();

      it('answers owner and operator at organization, location and robot scope', async () => {
        // [orgA, loc1, loc2, robot1, robot2, orgB]
        assert.deepEqual(await heldBy(admin), [all, all, all, all, all, all]);
        assert.deepEqual(await heldBy(user), [all, all, all, all, all, []]);
        assert.deepEqual(await heldBy(operatorKey), [op, op, op, op, op, []]);
        assert.deepEqual(await heldBy(locOwnerKey), [['read_organization'], all, [], all, [], []]);
        assert.deepEqual(await heldBy(locOperatorKey), [['read_organization'], op, [], op, [], []]);
        assert.deepEqual(await heldBy(robotOwnerKey), [['read_organization'], [], [], all, [], []]);
        assert.deepEqual(await heldBy(robotOperatorKey), [['read_organization'], [], [], op, [], []]);
        assert.deepEqual(await heldBy(bKey), [[], [], [], [], [], all]);
      });

      it('answers one entry per entry asked, with the subset held, and an unknown resource as empty', async () => {
        const answer = await ask(operatorKey, [
          ['robot', robot1, ['control_robot', 'write_robot', 'read_robot']],
          ['robot', robot1, []],
          ['location', 'nosuchloc0', ['read_location']],
        ]);
        assert.deepEqual(
          answer.map((a) => [a.resourceId, [...a.permissions]]),
          [
            [robot1, ['control_robot', 'read_robot']],
            [robot1, []],
            ['nosuchloc0', []],
          ],
        );
      });

      it('refuses an empty request and an unknown permission (INVALID_ARGUMENT)', async () => {
        await expectCode(admin.checkPermissions([]), Code.InvalidArgument);
        await expectCode(ask(admin, [['robot', robot1, ['read_robot', 'fly_robot']]]), Code.InvalidArgument);
      });
    });
  },
);
