import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { allAuditEvents, type AuditEvent } from './support/audit.js';
import { runCli } from './support/cli.js';
import { rawAppClient, type RawAppClient } from './support/clients.js';
import { organizationRole } from './support/roles.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * `flotilla audit list`, run as the built bin against a real server: a client of `GET /api/audit`
 * with the saved login's token, as a table and as JSON, filtered, paged with --all, and refused
 * for an operator.
 */
describe('flotilla audit list', () => {
  let t: TestServer;
  let api: RawAppClient;
  let home: string;
  let otherHome: string;
  let orgId: string;
  let dockId: string;
  let operator: { id: string; key: string };
  const env = () => ({ FLOTILLA_HOME: home });
  const ok = async (args: string[]) => {
    const r = await runCli(args, env());
    assert.equal(
      r.code,
      0,
      `flotilla ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
    );
    return r;
  };
  const json = async (args: string[]): Promise<AuditEvent[]> =>
    JSON.parse((await ok([...args, '--json'])).stdout) as AuditEvent[];

  /** Every event the route holds for the organization, newest first. */
  const allEvents = async () => allAuditEvents(t.url, await t.adminToken(), orgId);

  before(async () => {
    t = await startTestServer({ dialect: 'sqlite', databaseUrl: undefined, drop: () => Promise.resolve() });
    api = rawAppClient((await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient);
    orgId = t.admin.organizationId;
    home = mkdtempSync(join(tmpdir(), 'flotilla-cli-audit-'));
    otherHome = mkdtempSync(join(tmpdir(), 'flotilla-cli-audit-op-'));
    dockId = (await api.createLocation({ organizationId: orgId, name: 'Dock' })).location!.id;
    await api.updateLocation({ locationId: dockId, name: 'Dock 2' });
    const issued = await api.createKey({
      name: 'an operator',
      authorizations: [organizationRole('operator', orgId)],
    });
    operator = { id: issued.id, key: issued.key };
    await ok(['login', 'api-key', '--server', t.url, '--key-id', t.admin.apiKeyId, '--key', t.admin.apiKey]);
  });
  after(async () => {
    await t.stop();
    rmSync(home, { recursive: true, force: true });
    rmSync(otherHome, { recursive: true, force: true });
  });

  it('prints the events newest first, as JSON and as a table', async () => {
    const events = await json(['audit', 'list', '--org', orgId]);
    assert.deepEqual(
      events.slice(0, 3).map((e) => e.method),
      ['CreateKey', 'UpdateLocation', 'CreateLocation'],
    );
    const all = await allEvents();
    assert.deepEqual(events, all.slice(0, events.length), 'the events as the route answers them');
    assert.ok(events[1]?.resources.some((r) => r.id === dockId));
    assert.equal(events[0]?.principal.id, t.admin.apiKeyId);

    // The table: a heading, then a line per event with who, the method and its resources.
    const lines = (await ok(['audit', 'list', '--organization', orgId])).stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^TIME\s+WHO\s+METHOD\s+RESOURCES$/);
    assert.equal(lines.length, events.length + 1);
    const rename = lines[2] ?? '';
    assert.ok(rename.startsWith(events[1]!.time), rename);
    assert.match(rename, /\(api-key\)\s+UpdateLocation\s+/);
    assert.ok(rename.includes(`:${dockId}`), rename);
  });

  it('filters by resource, method and time', async () => {
    assert.deepEqual(
      (await json(['audit', 'list', '--org', orgId, '--resource', dockId])).map((e) => e.method),
      ['UpdateLocation', 'CreateLocation'],
    );
    const updates = await json(['audit', 'list', '--org', orgId, '--method', 'UpdateLocation']);
    assert.deepEqual(
      updates.map((e) => e.method),
      ['UpdateLocation'],
    );
    const mine = await json([
      'audit',
      'list',
      '--org',
      orgId,
      '--principal',
      t.admin.apiKeyId,
      '--since',
      '1h',
    ]);
    assert.ok(mine.length >= 3 && mine.every((e) => e.principal.id === t.admin.apiKeyId));
    assert.deepEqual(await json(['audit', 'list', '--org', orgId, '--until', '2001-01-01T00:00:00Z']), []);
    assert.deepEqual(await json(['audit', 'list', '--org', orgId, '--since', '2999-01-01T00:00:00Z']), []);

    const bad = await runCli(['audit', 'list', '--org', orgId, '--since', 'yesterday-ish'], env());
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--since must be a duration/);
    const badLimit = await runCli(['audit', 'list', '--org', orgId, '--limit', '101'], env());
    assert.equal(badLimit.code, 2);
  });

  it('shows one page, or follows the page tokens with --all', async () => {
    const all = await allEvents();
    assert.ok(all.length > 2, 'more events than one page of two');
    const first = await runCli(['audit', 'list', '--org', orgId, '--limit', '2', '--json'], env());
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(
      (JSON.parse(first.stdout) as AuditEvent[]).map((e) => e.id),
      all.slice(0, 2).map((e) => e.id),
    );
    assert.match(first.stderr, /--all/, 'says that older events follow');

    const everything = await json(['audit', 'list', '--org', orgId, '--limit', '2', '--all']);
    assert.deepEqual(
      everything.map((e) => e.id),
      all.map((e) => e.id),
    );
    const lines = (await ok(['audit', 'list', '--org', orgId, '--all'])).stdout.trimEnd().split('\n');
    assert.equal(lines.length, all.length + 1);
  });

  it('exits 1 with the refusal when an operator asks', async () => {
    const refused = await runCli(['audit', 'list', '--org', orgId], {
      FLOTILLA_HOME: otherHome,
      FLOTILLA_SERVER: t.url,
      FLOTILLA_API_KEY_ID: operator.id,
      FLOTILLA_API_KEY: operator.key,
    });
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, /^flotilla: PERMISSION_DENIED: \S.*\n$/);
    assert.doesNotMatch(refused.stderr, /\n\s+at /, 'never a stack trace');

    const unknown = await runCli(['audit', 'list', '--org', randomUUID(), '--json'], env());
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /^flotilla: NOT_FOUND: \S.*\n$/);
  });
});
