import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Code } from '@connectrpc/connect';
import { createViamClient, type ViamClient } from '@viamrobotics/sdk';
import { main } from '../src/cli/main.js';
import { forEachDialect, type TestDatabase } from './support/databases.js';
import { expectCode } from './support/expect.js';
import { roleAuthorization } from './support/roles.js';
import { startTestServer, type TestServer } from './support/server.js';
import { startSmtp, type CapturedMail } from './support/smtp.js';

type App = ViamClient['appClient'];

/** An SDK client logged in with Authenticate{type: "password"} (the SDK passes the type through). */
const userClient = async (url: string, email: string, password: string): Promise<App> =>
  (
    await createViamClient({
      serviceHost: url,
      credentials: { type: 'password', authEntity: email, payload: password } as unknown as {
        type: 'api-key';
        authEntity: string;
        payload: string;
      },
    })
  ).appClient;

/** The accept link in a captured mail (quoted-printable soft breaks undone). */
function linkIn(mail: CapturedMail): string {
  const body = mail.raw.replace(/=\r?\n/g, '');
  const match = /https?:\/\/[^\s"<>]+\/invite\/[A-Za-z0-9_-]+/.exec(body);
  assert.ok(match, `no invite link in the mail:\n${mail.raw}`);
  return match[0];
}

const postForm = (link: string, fields: Record<string, string>) =>
  fetch(link, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });

async function runCli(args: string[], env: Record<string, string | undefined>) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => (out += s), err: (s) => (err += s) }, env);
  return { code, out, err };
}

forEachDialect('members and invites', (newDatabase) => {
  let t: TestServer;
  let db: TestDatabase;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let admin: App;
  let operator: App;
  let bKey: App;
  let orgA: string;
  let orgB: string;
  let locA: string;
  let locB: string;

  /** Org A's members and invites, reduced to comparable strings. */
  const snapshot = async (orgId = orgA) => {
    const res = await admin.listOrganizationMembers(orgId);
    return {
      members: res.members.map((m) => `${m.userId}|${m.emails.join(',')}`).sort(),
      invites: res.invites
        .map(
          (i) =>
            `${i.email}|${i.authorizations
              .map((a) => `${a.authorizationId}:${a.resourceId}:${a.organizationId}`)
              .sort()
              .join(',')}`,
        )
        .sort(),
    };
  };

  before(async () => {
    smtp = await startSmtp();
    db = await newDatabase();
    t = await startTestServer(db, { FLOTILLA_SMTP_URL: smtp.url });
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    orgA = t.admin.organizationId;
    orgB = (await admin.createOrganization('Org B'))!.id;
    locA = (await admin.createLocation(orgA, 'Yard A'))!.id;
    locB = (await admin.createLocation(orgB, 'Yard B'))!.id;
    const op = await admin.createKey(
      [roleAuthorization(orgA, 'organization', orgA, 'operator')],
      'a-operator',
    );
    operator = (await t.clientForKey(op.id, op.key)).appClient;
    const b = await admin.createKey([roleAuthorization(orgB, 'organization', orgB, 'owner')], 'b-owner');
    bKey = (await t.clientForKey(b.id, b.key)).appClient;
  });
  after(async () => {
    await t.stop();
    await smtp.close();
  });

  it('lists the init user as a member; operators may list, other organizations may not', async () => {
    const res = await admin.listOrganizationMembers(orgA);
    assert.deepEqual(
      res.members.map((m) => [m.userId, m.emails]),
      [[t.admin.userId, [t.admin.email]]],
    );
    assert.ok(res.members[0]?.dateAdded);
    assert.deepEqual(res.invites, []);
    assert.deepEqual(
      (await operator.listOrganizationMembers(orgA)).members.map((m) => m.userId),
      [t.admin.userId],
    );
    await expectCode(bKey.listOrganizationMembers(orgA), Code.NotFound);
    await expectCode(admin.listOrganizationMembers('no-such-org'), Code.NotFound);
  });

  it('creates an invite granting organization owner when no authorization is given (no mail when asked)', async () => {
    const sent = smtp.mails.length;
    const invite = await admin.createOrganizationInvite(orgA, 'Owner@Example.com', [], false);
    assert.equal(invite?.email, 'owner@example.com');
    assert.equal(invite?.organizationId, orgA);
    assert.ok(invite?.createdOn);
    assert.deepEqual(
      invite?.authorizations.map((a) => [
        a.authorizationType,
        a.authorizationId,
        a.resourceType,
        a.resourceId,
        a.organizationId,
      ]),
      [['role', 'organization_owner', 'organization', orgA, orgA]],
    );
    assert.deepEqual((await snapshot()).invites, [`owner@example.com|organization_owner:${orgA}:${orgA}`]);
    assert.equal(smtp.mails.length, sent, 'send_email_invite false sends no mail');
    await admin.deleteOrganizationInvite(orgA, 'owner@example.com');
    assert.deepEqual((await snapshot()).invites, []);
  });

  it('refuses bad invites, changing nothing', async () => {
    await admin.createOrganizationInvite(
      orgA,
      'pending@example.com',
      [roleAuthorization(orgA, 'location', locA, 'operator')],
      false,
    );
    const before = await snapshot();
    const sent = smtp.mails.length;
    const cases: [string, () => Promise<unknown>, Code][] = [
      [
        'a bad email',
        () => admin.createOrganizationInvite(orgA, 'not-an-email', [], false),
        Code.InvalidArgument,
      ],
      [
        'a resource of another organization',
        () =>
          admin.createOrganizationInvite(
            orgA,
            'x@example.com',
            [roleAuthorization(orgA, 'location', locB, 'owner')],
            false,
          ),
        Code.InvalidArgument,
      ],
      [
        'an authorization naming another organization',
        () =>
          admin.createOrganizationInvite(
            orgA,
            'x@example.com',
            [roleAuthorization(orgB, 'organization', orgB, 'owner')],
            false,
          ),
        Code.InvalidArgument,
      ],
      [
        'two authorizations on one resource',
        () =>
          admin.createOrganizationInvite(
            orgA,
            'x@example.com',
            [
              roleAuthorization(orgA, 'location', locA, 'owner'),
              roleAuthorization(orgA, 'location', locA, 'operator'),
            ],
            false,
          ),
        Code.InvalidArgument,
      ],
      [
        'a bad authorization id',
        () =>
          admin.createOrganizationInvite(
            orgA,
            'x@example.com',
            [roleAuthorization(orgA, 'location', locA, 'admin')],
            false,
          ),
        Code.InvalidArgument,
      ],
      [
        'a second invite for a pending email',
        () => admin.createOrganizationInvite(orgA, 'Pending@example.com', [], false),
        Code.AlreadyExists,
      ],
      [
        'an existing member',
        () => admin.createOrganizationInvite(orgA, t.admin.email, [], false),
        Code.AlreadyExists,
      ],
      [
        'an operator',
        () => operator.createOrganizationInvite(orgA, 'x@example.com', [], false),
        Code.PermissionDenied,
      ],
      [
        'another organization',
        () => bKey.createOrganizationInvite(orgA, 'x@example.com', [], false),
        Code.NotFound,
      ],
    ];
    for (const [name, call, code] of cases) {
      await expectCode(call(), code).catch((e: Error) => assert.fail(`${name}: ${e.message}`));
    }
    assert.deepEqual(await snapshot(), before);
    assert.equal(smtp.mails.length, sent);
  });

  it('updates an invite’s authorizations, and refuses bad updates changing nothing', async () => {
    const email = 'pending@example.com';
    const updated = await admin.updateOrganizationInviteAuthorizations(
      orgA,
      email,
      [roleAuthorization(orgA, 'organization', orgA, 'operator')],
      [roleAuthorization(orgA, 'location', locA, 'operator')],
    );
    assert.deepEqual(
      updated?.authorizations.map((a) => [a.authorizationId, a.resourceId]),
      [['organization_operator', orgA]],
    );
    const before = await snapshot();
    assert.deepEqual(before.invites, [`${email}|organization_operator:${orgA}:${orgA}`]);
    const cases: [string, () => Promise<unknown>, Code][] = [
      [
        'removing the last authorization',
        () =>
          admin.updateOrganizationInviteAuthorizations(
            orgA,
            email,
            [],
            [roleAuthorization(orgA, 'organization', orgA, 'operator')],
          ),
        Code.InvalidArgument,
      ],
      [
        'removing one the invite does not hold',
        () =>
          admin.updateOrganizationInviteAuthorizations(
            orgA,
            email,
            [],
            [roleAuthorization(orgA, 'location', locA, 'owner')],
          ),
        Code.NotFound,
      ],
      [
        'adding a resource of another organization',
        () =>
          admin.updateOrganizationInviteAuthorizations(
            orgA,
            email,
            [roleAuthorization(orgA, 'location', locB, 'owner')],
            [],
          ),
        Code.InvalidArgument,
      ],
      [
        'adding a second role on a resource',
        () =>
          admin.updateOrganizationInviteAuthorizations(
            orgA,
            email,
            [roleAuthorization(orgA, 'organization', orgA, 'owner')],
            [],
          ),
        Code.InvalidArgument,
      ],
      [
        'an email without an invite',
        () =>
          admin.updateOrganizationInviteAuthorizations(
            orgA,
            'nobody@example.com',
            [roleAuthorization(orgA, 'location', locA, 'owner')],
            [],
          ),
        Code.NotFound,
      ],
      [
        'an operator',
        () =>
          operator.updateOrganizationInviteAuthorizations(
            orgA,
            email,
            [roleAuthorization(orgA, 'location', locA, 'owner')],
            [],
          ),
        Code.PermissionDenied,
      ],
      [
        'another organization',
        () =>
          bKey.updateOrganizationInviteAuthorizations(
            orgA,
            email,
            [roleAuthorization(orgA, 'location', locA, 'owner')],
            [],
          ),
        Code.NotFound,
      ],
    ];
    for (const [name, call, code] of cases) {
      await expectCode(call(), code).catch((e: Error) => assert.fail(`${name}: ${e.message}`));
    }
    assert.deepEqual(await snapshot(), before);
  });

  it('resends a pending invite by mail; NOT_FOUND when none is pending', async () => {
    const sent = smtp.mails.length;
    const invite = await admin.resendOrganizationInvite(orgA, 'pending@example.com');
    assert.equal(invite?.email, 'pending@example.com');
    assert.equal(smtp.mails.length, sent + 1);
    assert.deepEqual(smtp.mails.at(-1)?.to, ['pending@example.com']);
    const link = linkIn(smtp.mails.at(-1)!);
    assert.ok(link.startsWith(`${t.url}/invite/`), link);

    const before = await snapshot();
    await expectCode(admin.resendOrganizationInvite(orgA, 'nobody@example.com'), Code.NotFound);
    await expectCode(operator.resendOrganizationInvite(orgA, 'pending@example.com'), Code.PermissionDenied);
    await expectCode(bKey.resendOrganizationInvite(orgA, 'pending@example.com'), Code.NotFound);
    assert.equal(smtp.mails.length, sent + 1);
    assert.deepEqual(await snapshot(), before);
  });

  it('prints the link with `flotilla invite-link`', async () => {
    const env = { FLOTILLA_DATABASE_URL: db.databaseUrl, FLOTILLA_PUBLIC_URL: t.url };
    const ok = await runCli(
      ['invite-link', '--org-id', orgA, '--email', 'pending@example.com', '--data-dir', t.dataDir],
      env,
    );
    assert.equal(ok.code, 0, ok.err);
    const link = ok.out.trim();
    assert.match(link, new RegExp(`^${t.url}/invite/[A-Za-z0-9_-]+$`));
    // The same link as the one mailed.
    assert.equal(link, linkIn(smtp.mails.at(-1)!));
    const page = await fetch(link);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /pending@example\.com/);

    const missing = await runCli(
      ['invite-link', '--org-id', orgA, '--email', 'nobody@example.com', '--data-dir', t.dataDir],
      env,
    );
    assert.equal(missing.code, 1);
    assert.match(missing.err, /no invite is pending/);
    assert.equal((await runCli(['invite-link', '--org-id', orgA, '--data-dir', t.dataDir], env)).code, 2);
  });

  it('deletes an invite; refusals change nothing', async () => {
    const before = await snapshot();
    await expectCode(admin.deleteOrganizationInvite(orgA, 'nobody@example.com'), Code.NotFound);
    await expectCode(operator.deleteOrganizationInvite(orgA, 'pending@example.com'), Code.PermissionDenied);
    await expectCode(bKey.deleteOrganizationInvite(orgA, 'pending@example.com'), Code.NotFound);
    assert.deepEqual(await snapshot(), before);
    const link = linkIn(smtp.mails.at(-1)!);
    await admin.deleteOrganizationInvite(orgA, 'pending@example.com');
    assert.deepEqual((await snapshot()).invites, []);
    assert.equal((await fetch(link)).status, 404, 'a deleted invite’s link is dead');
  });

  const inviteeEmail = 'invitee@example.com';
  const inviteePassword = 'a long enough password';

  it('end to end: invite by mail, accept on the page with a password, log in, act with the role', async () => {
    const sent = smtp.mails.length;
    await admin.createOrganizationInvite(
      orgA,
      inviteeEmail,
      [roleAuthorization(orgA, 'location', locA, 'owner')],
      true,
    );
    assert.equal(smtp.mails.length, sent + 1);
    const mail = smtp.mails.at(-1)!;
    assert.deepEqual(mail.to, [inviteeEmail]);
    assert.match(mail.raw, /Org A/);
    const link = linkIn(mail);

    const page = await fetch(link);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /name="password"/);
    assert.match(html, /Org A/);

    // Before accepting, the email cannot log in.
    await assert.rejects(userClient(t.url, inviteeEmail, inviteePassword).then((c) => c.listOrganizations()));

    // A too-short password is refused and the invite stays pending.
    const short = await postForm(link, { password: 'short' });
    assert.equal(short.status, 400);
    assert.deepEqual((await snapshot()).invites, [`${inviteeEmail}|location_owner:${locA}:${orgA}`]);

    const accepted = await postForm(link, { password: inviteePassword });
    assert.equal(accepted.status, 200, await accepted.clone().text());
    assert.match(await accepted.text(), /accepted/i);
    assert.equal((await postForm(link, { password: inviteePassword })).status, 404, 'a link works once');

    const state = await snapshot();
    assert.deepEqual(state.invites, []);
    const member = (await admin.listOrganizationMembers(orgA)).members.find(
      (m) => m.emails[0] === inviteeEmail,
    );
    assert.ok(member, 'the invitee is a member');

    const user = await userClient(t.url, inviteeEmail, inviteePassword);
    assert.deepEqual(
      (await user.listOrganizations()).map((o) => o.id),
      [orgA],
    );
    // Location owner: reads the location with its secrets and creates a machine in it...
    const loc = await user.getLocation(locA);
    assert.ok((loc?.auth?.secrets.length ?? 0) > 0);
    const robotId = await user.newRobot(locA, 'invited-bot');
    assert.deepEqual(
      (await admin.listRobots(locA)).map((r) => r.id),
      [robotId],
    );
    // ...but holds nothing on the organization itself, nor on org B.
    await expectCode(user.listKeys(orgA), Code.PermissionDenied);
    await expectCode(user.createOrganizationInvite(orgA, 'y@example.com', [], false), Code.PermissionDenied);
    await expectCode(user.getLocation(locB), Code.NotFound);
  });

  it('with send_email_invite false, an existing user receives the roles at the next login', async () => {
    const sent = smtp.mails.length;
    await admin.createOrganizationInvite(
      orgB,
      inviteeEmail,
      [roleAuthorization(orgB, 'organization', orgB, 'operator')],
      false,
    );
    assert.equal(smtp.mails.length, sent, 'no mail');
    const before = await userClient(t.url, inviteeEmail, inviteePassword);
    // The login above claimed the invite: the user now sees B as operator.
    assert.deepEqual((await before.listOrganizations()).map((o) => o.id).sort(), [orgA, orgB].sort());
    assert.deepEqual((await snapshot(orgB)).invites, []);
    const members = (await admin.listOrganizationMembers(orgB)).members.map((m) => m.emails[0]);
    assert.ok(members.includes(inviteeEmail));
    assert.equal((await before.getLocation(locB))?.id, locB);
    await expectCode(before.createLocation(orgB, 'nope'), Code.PermissionDenied);
  });

  it('deletes a member; refuses unknown members, operators, other organizations and the last owner', async () => {
    const users = (await admin.listOrganizationMembers(orgA)).members;
    const invitee = users.find((m) => m.emails[0] === inviteeEmail)!;
    const before = await snapshot();
    await expectCode(admin.deleteOrganizationMember(orgA, 'no-such-user'), Code.NotFound);
    await expectCode(operator.deleteOrganizationMember(orgA, invitee.userId), Code.PermissionDenied);
    await expectCode(bKey.deleteOrganizationMember(orgA, invitee.userId), Code.NotFound);
    assert.deepEqual(await snapshot(), before);

    // The invitee, sole owner of an organization of their own, cannot leave it ownerless.
    const user = await userClient(t.url, inviteeEmail, inviteePassword);
    const own = (await user.createOrganization('Invitee Org'))!.id;
    const ownBefore = await user.listOrganizationMembers(own);
    assert.deepEqual(
      ownBefore.members.map((m) => m.userId),
      [invitee.userId],
    );
    await expectCode(user.deleteOrganizationMember(own, invitee.userId), Code.FailedPrecondition);
    assert.deepEqual(
      (await user.listOrganizationMembers(own)).members.map((m) => m.userId),
      [invitee.userId],
    );
    assert.equal((await user.getOrganization(own))?.id, own);

    // Removing the invitee from A takes away their roles there, at once.
    await admin.deleteOrganizationMember(orgA, invitee.userId);
    assert.deepEqual(
      (await admin.listOrganizationMembers(orgA)).members.map((m) => m.userId),
      [t.admin.userId],
    );
    await expectCode(user.getLocation(locA), Code.NotFound);
    assert.equal((await user.getLocation(locB))?.id, locB, 'roles in other organizations stay');
  });
});
