import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { Code, createPromiseClient } from '@connectrpc/connect';
import type { AppClient } from '@viamrobotics/sdk';
import { inviteLink } from '../src/cli/invite-link-command.js';
import { loadServerKeys } from '../src/crypto/server-keys.js';
import { composeServices, fleetSettings } from '../src/server/composition-root.js';
import { databaseTarget, openDatabase } from '../src/store/database.js';
import { AppService } from '../src/rpc/service-descriptors.generated.js';
import { structFromObject } from '../src/rpc/wire-values.js';
import { allAuditEvents, auditPage, type AuditEvent } from './support/audit.js';
import { bearer, grpcTransport } from './support/clients.js';
import { runCli } from './support/cli.js';
import { forEachDialect, type TestDatabase } from './support/databases.js';
import { expectCode } from './support/expect.js';
import { clientForOrgRole, organizationRole } from './support/roles.js';
import { startTestServer, type TestServer } from './support/server.js';

forEachDialect('audit log: every accepted change, once, by whom', (newDatabase) => {
  let database: TestDatabase;
  let t: TestServer;
  let admin: AppClient;
  let ownerToken: string;
  let orgId: string;

  /** GET /api/audit for the organization with `params`, as `token`; the status and the parsed body. */
  const audit = (params: Record<string, string>, token = ownerToken) =>
    auditPage(t.url, token, { organization_id: orgId, ...params });
  /** Every event of the organization, newest first. */
  const allEvents = () => allAuditEvents(t.url, ownerToken, orgId);
  /** Runs `change` and returns the events it added (oldest first). */
  async function eventsOf(change: () => Promise<unknown>): Promise<AuditEvent[]> {
    const before = new Set((await allEvents()).map((e) => e.id));
    await change();
    return (await allEvents()).filter((e) => !before.has(e.id)).reverse();
  }
  const hasResource = (event: AuditEvent, type: string, id: string) =>
    event.resources.some((r) => r.type === type && r.id === id);

  before(async () => {
    database = await newDatabase();
    t = await startTestServer(database);
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    ownerToken = await t.adminToken();
    orgId = t.admin.organizationId;
  });
  after(async () => {
    await t.stop();
  });

  it('flotilla init recorded the organization it made, by the system', async () => {
    const events = await allEvents();
    const init = events.at(-1);
    assert.equal(init?.method, 'Init');
    assert.equal(init?.service, 'cli');
    assert.equal(init?.principal.kind, 'system');
    assert.ok(init && hasResource(init, 'organization', orgId));
  });

  it('a write through the SDK (gRPC-web) records one event: principal, method, resources, time', async () => {
    const started = Date.now();
    let locationId = '';
    const events = await eventsOf(async () => {
      locationId = (await admin.createLocation(orgId, 'Audit yard'))!.id;
    });
    assert.equal(events.length, 1);
    const [event] = events;
    assert.equal(event?.method, 'CreateLocation');
    assert.equal(event?.service, 'viam.app.v1.AppService');
    assert.equal(event?.organization_id, orgId);
    assert.deepEqual(event?.principal, { kind: 'api-key', id: t.admin.apiKeyId, name: 'flotilla init' });
    assert.ok(event && hasResource(event, 'location', locationId), JSON.stringify(event?.resources));
    const at = Date.parse(event?.time ?? '');
    assert.ok(at >= started - 1000 && at <= Date.now() + 1000);
  });

  it('reads record nothing, and refused writes record nothing', async () => {
    const operator = await clientForOrgRole(t, admin, orgId, 'operator', 'audit operator');
    const location = (await admin.listLocations(orgId))[0]!;
    const events = await eventsOf(async () => {
      await admin.listLocations(orgId);
      await admin.getLocation(location.id);
      await admin.listKeys(orgId);
      await expectCode(operator.updateLocation(location.id, 'renamed by operator'), Code.PermissionDenied);
      await expectCode(admin.createLocation(orgId, ''), Code.InvalidArgument);
      await expectCode(admin.createLocation('no-such-org', 'x'), Code.NotFound);
    });
    assert.deepEqual(events, []);
  });

  it('a write over Connect JSON (curl) and one over native gRPC each record one event; secrets never appear', async () => {
    const location = (await admin.listLocations(orgId))[0]!;
    const renamed = await eventsOf(() =>
      fetch(`${t.url}/viam.app.v1.AppService/UpdateLocation`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ownerToken}` },
        body: JSON.stringify({ locationId: location.id, name: 'Renamed yard' }),
      }).then((r) => assert.equal(r.status, 200)),
    );
    assert.deepEqual(
      renamed.map((e) => [e.method, hasResource(e, 'location', location.id)]),
      [['UpdateLocation', true]],
    );

    const app = createPromiseClient(AppService, grpcTransport(t.url));
    let key = { id: '', key: '' };
    const created = await eventsOf(async () => {
      key = await app.createKey(
        { authorizations: [organizationRole('owner', orgId)], name: 'audited key' },
        bearer(ownerToken),
      );
    });
    assert.equal(created.length, 1);
    assert.equal(created[0]?.method, 'CreateKey');
    assert.ok(
      created[0] && hasResource(created[0], 'api-key', key.id),
      JSON.stringify(created[0]?.resources),
    );

    const rotated = await eventsOf(() => app.rotateKey({ id: key.id }, bearer(ownerToken)));
    assert.deepEqual(
      rotated.map((e) => e.method),
      ['RotateKey'],
    );
    const machineId = await admin.newRobot(location.id, 'audited rover');
    const part = (await admin.getRobotParts(machineId))[0]!;
    await admin.createRobotPartSecret(part.id);
    const secrets = (await admin.getRobotPart(part.id)).part?.secrets.map((s) => s.secret) ?? [];
    const everything = JSON.stringify(await allEvents());
    for (const secret of [key.key, t.admin.apiKey, ...secrets]) {
      assert.ok(secret.length > 0);
      assert.equal(everything.includes(secret), false, 'a secret value is in the audit log');
    }
  });

  it('a config change records a compact before/after', async () => {
    const location = (await admin.listLocations(orgId))[0]!;
    const machineId = await admin.newRobot(location.id, 'configured rover');
    const part = (await admin.getRobotParts(machineId))[0]!;
    const config = (pin: number) => ({
      components: [{ name: 'm', api: 'rdk:component:motor', model: 'rdk:builtin:fake', attributes: { pin } }],
    });
    await admin.updateRobotPart(part.id, part.name, structFromObject(config(1)));
    const [event] = await eventsOf(() =>
      admin.updateRobotPart(part.id, part.name, structFromObject(config(2))),
    );
    assert.equal(event?.method, 'UpdateRobotPart');
    assert.ok(event && hasResource(event, 'part', part.id));
    assert.deepEqual(event?.changes, {
      config: { changes: { 'components[0].attributes.pin': { before: 1, after: 2 } }, more: 0 },
    });
  });

  it('accepting an invite on the invite page records one event by the new member', async () => {
    await admin.createOrganizationInvite(
      orgId,
      'invitee@example.com',
      [organizationRole('operator', orgId)],
      false,
    );
    const link = await inviteLink(t.dataDir, orgId, 'invitee@example.com', {
      FLOTILLA_PUBLIC_URL: t.url,
      ...(database.databaseUrl && { FLOTILLA_DATABASE_URL: database.databaseUrl }),
    });
    const events = await eventsOf(async () => {
      const res = await fetch(link, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'password=a-long-enough-password',
      });
      assert.equal(res.status, 200, await res.text());
    });
    assert.equal(events.length, 1);
    assert.equal(events[0]?.method, 'AcceptInvite');
    assert.equal(events[0]?.service, 'invite-page');
    assert.equal(events[0]?.principal.kind, 'user');
    assert.equal(events[0]?.principal.name, 'invitee@example.com');
    assert.ok(events[0] && hasResource(events[0], 'invite', 'invitee@example.com'));
  });

  it('a write through the command line records one event with the key it logged in with', async () => {
    const home = mkdtempSync(join(tmpdir(), 'flotilla-audit-cli-'));
    const env = { FLOTILLA_HOME: home };
    const login = await runCli(
      ['login', 'api-key', '--server', t.url, '--key-id', t.admin.apiKeyId, '--key', t.admin.apiKey],
      env,
    );
    assert.equal(login.code, 0, login.stderr);
    const events = await eventsOf(async () => {
      const r = await runCli(
        ['locations', 'create', '--organization', orgId, '--name', 'CLI yard', '--json'],
        env,
      );
      assert.equal(r.code, 0, r.stderr);
    });
    assert.deepEqual(
      events.map((e) => [e.method, e.principal.id]),
      [['CreateLocation', t.admin.apiKeyId]],
    );
  });

  it('pages newest first and filters by resource, principal, method and time', async () => {
    const all = await allEvents();
    assert.ok(all.length >= 8, `${all.length} events`);
    const times = all.map((e) => Date.parse(e.time));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
      'newest first',
    );

    const first = await audit({ limit: '3' });
    assert.deepEqual(
      first.body.events.map((e) => e.id),
      all.slice(0, 3).map((e) => e.id),
    );
    const second = await audit({ limit: '3', page_token: first.body.next_page_token });
    assert.deepEqual(
      second.body.events.map((e) => e.id),
      all.slice(3, 6).map((e) => e.id),
    );

    const location = (await admin.listLocations(orgId))[0]!;
    const byResource = (await audit({ resource_id: location.id })).body.events;
    assert.ok(byResource.length >= 2);
    assert.ok(byResource.every((e) => hasResource(e, 'location', location.id)));
    assert.deepEqual(
      byResource.map((e) => e.id),
      all.filter((e) => hasResource(e, 'location', location.id)).map((e) => e.id),
    );

    const byMethod = (await audit({ method: 'UpdateLocation' })).body.events;
    assert.deepEqual(
      byMethod.map((e) => e.id),
      all.filter((e) => e.method === 'UpdateLocation').map((e) => e.id),
    );
    const byPrincipal = (await audit({ principal_id: 'flotilla init' })).body.events;
    assert.deepEqual(
      byPrincipal.map((e) => e.method),
      ['Init'],
    );
    const future = new Date(Date.now() + 60_000).toISOString();
    assert.deepEqual((await audit({ start: future })).body.events, []);
    assert.equal((await audit({ end: future })).body.events.length, Math.min(all.length, 50));
  });

  it('only owners read it: operator 403, another organization 404, no token 401, bad input 400', async () => {
    const operator = await admin.createKey([organizationRole('operator', orgId)], 'audit reader?');
    const operatorToken = await tokenFor(operator.id, operator.key);
    const refused = await audit({}, operatorToken);
    assert.equal(refused.status, 403);
    assert.match(refused.body.error ?? '', /permission/i);
    const other = await admin.createOrganization('Elsewhere');
    assert.equal((await audit({ organization_id: 'no-such-org' })).status, 404);
    const otherOwner = await admin.createKey([organizationRole('owner', other!.id)], 'other owner');
    assert.equal((await audit({}, await tokenFor(otherOwner.id, otherOwner.key))).status, 404);
    const anonymous = await fetch(`${t.url}/api/audit?organization_id=${orgId}`);
    assert.equal(anonymous.status, 401);
    for (const bad of <Record<string, string>[]>[
      { limit: '0' },
      { limit: '101' },
      { start: 'yesterday' },
      { page_token: 'nope' },
      { colour: 'red' },
    ]) {
      assert.equal((await audit(bad)).status, 400, JSON.stringify(bad));
    }
  });

  it('retention deletes events older than the maximum age, and only those', async () => {
    const before = await allEvents();
    assert.ok(before.length > 0);
    const open = openDatabase(databaseTarget(t.dataDir, database.databaseUrl));
    try {
      const { services } = composeServices({
        db: open.db,
        dataDir: t.dataDir,
        keys: loadServerKeys(t.dataDir),
        settings: fleetSettings(undefined),
        tokenTtlSeconds: 60,
      });
      const newest = Date.parse(before[0]!.time);
      const oldest = Date.parse(before.at(-1)!.time);
      // A day's age, seen from a day after the oldest event and a day before the newest...
      assert.equal(await services.audit.deleteOlderThan(86_400, oldest - 1000 + 86_400_000), 0);
      // ...and from a day after the newest: all of them go (other organizations' too).
      assert.ok((await services.audit.deleteOlderThan(86_400, newest + 1000 + 86_400_000)) >= before.length);
    } finally {
      await open.close();
    }
    assert.deepEqual(await allEvents(), []);
  });

  async function tokenFor(id: string, key: string): Promise<string> {
    const res = await fetch(`${t.url}/proto.rpc.v1.AuthService/Authenticate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ entity: id, credentials: { type: 'api-key', payload: key } }),
    });
    return ((await res.json()) as { accessToken: string }).accessToken;
  }
});
