import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createPromiseClient } from '@connectrpc/connect';
import type { AppClient } from '@viamrobotics/sdk';
import { tokenExpiry } from '../src/cli/client/connection.js';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { RobotService } from '../src/rpc/service-descriptors.generated.js';
import { runCli, spawnCli } from './support/cli.js';
import { bearer, connectTransport, grpcTransport } from './support/clients.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * The client command line (issue 17), run as the built `flotilla` bin in a subprocess against a
 * real server, logged in through `flotilla login api-key` with its own FLOTILLA_HOME.
 */
describe('flotilla command line, as a client of a real server', () => {
  let t: TestServer;
  let admin: AppClient;
  let home: string;
  let work: string;
  const env = () => ({ FLOTILLA_HOME: home });
  /** Runs a command; fails the test with its output when it does not exit 0. */
  const ok = async (args: string[]) => {
    const r = await runCli(args, env());
    assert.equal(
      r.code,
      0,
      `flotilla ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
    );
    return r;
  };
  /** Runs a command with --json and parses its stdout: exactly one JSON document. */
  const json = async <T>(args: string[]): Promise<T> =>
    JSON.parse((await ok([...args, '--json'])).stdout) as T;

  before(async () => {
    t = await startTestServer({ dialect: 'sqlite', databaseUrl: undefined, drop: () => Promise.resolve() });
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    home = mkdtempSync(join(tmpdir(), 'flotilla-cli-home-'));
    work = mkdtempSync(join(tmpdir(), 'flotilla-cli-work-'));
  });
  after(async () => {
    await t.stop();
    rmSync(home, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('logs in with an API key and keeps the login readable by its owner only', async () => {
    const r = await ok([
      'login',
      'api-key',
      '--server',
      t.url,
      '--key-id',
      t.admin.apiKeyId,
      '--key',
      t.admin.apiKey,
    ]);
    assert.match(r.stdout, /logged in/);
    assert.equal(statSync(home).mode & 0o777, 0o700);
    assert.equal(statSync(join(home, 'cached_cli_config.json')).mode & 0o777, 0o600);
    const who = await json<{ server: string; identity: { keyId: string } }>(['whoami']);
    assert.equal(who.server, t.url);
    assert.equal(who.identity.keyId, t.admin.apiKeyId);
  });

  let locationId = '';
  let machineId = '';
  let partId = '';

  it('creates a location and a machine, and lists them as JSON and as a table', async () => {
    const orgId = t.admin.organizationId;
    const location = await json<{ id: string; name: string }>([
      'locations',
      'create',
      '--name',
      'Warehouse',
      '--org-id',
      orgId,
    ]);
    assert.equal(location.name, 'Warehouse');
    locationId = location.id;
    const machine = await json<{ id: string; name: string; mainPartId: string }>([
      'machines',
      'create',
      '--name',
      'rover-1',
      '--location',
      locationId,
    ]);
    assert.equal(machine.name, 'rover-1');
    machineId = machine.id;
    partId = machine.mainPartId;
    assert.equal((await admin.getRobot(machineId))?.location, locationId);

    const locations = await json<{ id: string; name: string }[]>([
      'locations',
      'list',
      '--organization',
      orgId,
    ]);
    assert.ok(locations.some((l) => l.id === locationId && l.name === 'Warehouse'));
    const machines = await json<{ id: string; name: string; status: string }[]>([
      'machines',
      'list',
      '--location',
      locationId,
    ]);
    assert.deepEqual(
      machines.map((m) => [m.id, m.name]),
      [[machineId, 'rover-1']],
    );

    // Without --json: a table with a heading row and the machine on a row of its own.
    const table = (await ok(['machines', 'list', '--location-id', locationId])).stdout.trimEnd().split('\n');
    assert.match(table[0] ?? '', /^NAME\s+ID/);
    assert.ok(
      table.slice(1).some((row) => row.startsWith('rover-1') && row.includes(machineId)),
      table.join('\n'),
    );
    // A machine may be named by its name.
    const status = await json<{ id: string; parts: { id: string }[] }>([
      'machines',
      'status',
      '--machine',
      'rover-1',
    ]);
    assert.equal(status.id, machineId);
    assert.deepEqual(
      status.parts.map((p) => p.id),
      [partId],
    );
  });

  it('sets a part config from a file and gets it back', async () => {
    const config = { components: [{ name: 'base', api: 'rdk:component:base', model: 'rdk:builtin:fake' }] };
    const file = join(work, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    const set = await ok(['machines', 'part', 'config', 'set', '--part', partId, '--file', file]);
    assert.match(set.stdout, /components/);
    const got = JSON.parse(
      (await ok(['machines', 'part', 'config', 'get', '--part-id', partId])).stdout,
    ) as unknown;
    assert.deepEqual(got, config);
    const part = (await admin.getRobotPart(partId)).part;
    assert.deepEqual(part?.robotConfig?.toJson(), config);
  });

  /** The machine's part, logged in with its secret, pushing logs over native gRPC. */
  const pushLogs = async (messages: { message: string; level: string }[]) => {
    const secret = (await admin.getRobotPart(partId)).part?.secrets[0]?.secret ?? '';
    const auth = createPromiseClient(AuthService, connectTransport(t.url));
    const { accessToken } = await auth.authenticate({
      entity: partId,
      credentials: { type: 'robot-secret', payload: secret },
    });
    const robot = createPromiseClient(RobotService, grpcTransport(t.url));
    await robot.log(
      {
        id: partId,
        logs: messages.map((m, i) => ({
          host: 'rover.lan',
          level: m.level,
          time: { seconds: BigInt(Math.floor(Date.now() / 1000)), nanos: i * 1000 },
          loggerName: 'rdk.test',
          message: m.message,
          stack: '',
          fields: [],
        })),
      },
      bearer(accessToken),
    );
  };

  it('reads logs a part pushed, as JSON, with level and keyword filters', async () => {
    await pushLogs([
      { message: 'motor started', level: 'info' },
      { message: 'motor stalled', level: 'error' },
      { message: 'battery ok', level: 'info' },
    ]);
    const all = await json<{ message: string; level: string; time: string }[]>([
      'machines',
      'part',
      'logs',
      '--part',
      partId,
    ]);
    assert.deepEqual(
      all.map((e) => e.message),
      ['motor started', 'motor stalled', 'battery ok'],
    );
    const r = await ok([
      'machines',
      'part',
      'logs',
      '--part',
      partId,
      '--format',
      'json',
      '--levels',
      'error',
    ]);
    const errors = JSON.parse(r.stdout) as { message: string; level: string }[];
    assert.deepEqual(
      errors.map((e) => [e.message, e.level]),
      [['motor stalled', 'error']],
    );
    const motor = await json<{ message: string }[]>([
      'machines',
      'part',
      'logs',
      '--part',
      partId,
      '--keyword',
      'motor',
    ]);
    assert.deepEqual(
      motor.map((e) => e.message),
      ['motor started', 'motor stalled'],
    );
    // As text: one line per entry, oldest first.
    const text = (await ok(['machines', 'part', 'logs', '--part', partId])).stdout.trimEnd().split('\n');
    assert.equal(text.length, 3);
    assert.match(text[1] ?? '', /ERROR.*motor stalled/i);
  });

  it('follows logs with --tail, shows a new entry, and exits 0 on SIGINT', async () => {
    const tail = spawnCli(['machines', 'part', 'logs', '--part', partId, '--tail'], env());
    // The tail prints the recent entries first: once they are there, the stream is open.
    await tail.waitFor(/battery ok/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await pushLogs([{ message: 'a new entry while tailing', level: 'warn' }]);
    await tail.waitFor(/a new entry while tailing/);
    tail.child.kill('SIGINT');
    const exit = await tail.exited;
    assert.equal(exit.code, 0, `stderr: ${tail.stderr()}`);
  });

  it('uploads a module file, and GetModule lists its version', async () => {
    const created = await json<{ moduleId: string }>([
      'module',
      'create',
      '--name',
      'mover',
      '--org-id',
      t.admin.organizationId,
    ]);
    const meta = join(work, 'meta.json');
    writeFileSync(
      meta,
      JSON.stringify({
        module_id: created.moduleId,
        visibility: 'private',
        url: '',
        description: 'moves things',
        models: [{ api: 'rdk:component:base', model: 'acme:demo:mover' }],
        entrypoint: 'bin/mover',
      }),
    );
    await ok(['module', 'update', '--module', meta]);
    const archive = join(work, 'module.tar.gz');
    writeFileSync(archive, Buffer.alloc(200_000, 7));
    await ok([
      'module',
      'upload',
      '--version',
      '1.2.3',
      '--platform',
      'linux/arm64',
      '--module-id',
      created.moduleId,
      archive,
    ]);
    const module = await admin.getModule(created.moduleId);
    assert.deepEqual(
      module?.versions.map((v) => [v.version, v.files.map((f) => f.platform)]),
      [['1.2.3', ['linux/arm64']]],
    );
    assert.equal(module?.description, 'moves things');
  });

  it("uses the default organization, and manages fragments, a part's fragment list and keys", async () => {
    await ok(['defaults', 'set-org', '--org-id', t.admin.organizationId]);
    const locations = (await ok(['locations', 'list'])).stdout;
    assert.match(locations, /^NAME\s+ID/);
    assert.match(locations, /Warehouse/);

    const file = join(work, 'fragment.json');
    writeFileSync(
      file,
      JSON.stringify({
        services: [{ name: 'nav', api: 'rdk:service:navigation', model: 'rdk:builtin:builtin' }],
      }),
    );
    const fragment = await json<{ id: string; name: string }>([
      'fragments',
      'create',
      '--name',
      'navigation',
      '--file',
      file,
    ]);
    const got = await json<{ id: string; config: unknown; revision: string }>([
      'fragments',
      'get',
      '--fragment',
      fragment.id,
    ]);
    assert.deepEqual(got.config, JSON.parse(readFileSync(file, 'utf8')));
    assert.equal(got.revision, '1');
    const listed = await json<{ id: string }[]>(['fragments', 'list']);
    assert.ok(listed.some((f) => f.id === fragment.id));

    const added = await json<{ fragments: string[] }>([
      'machines',
      'part',
      'fragments',
      'add',
      '--part',
      partId,
      '--fragment',
      fragment.id,
    ]);
    assert.deepEqual(added.fragments, [fragment.id]);
    const config = JSON.parse((await ok(['machines', 'part', 'config', 'get', '--part', partId])).stdout) as {
      fragments?: unknown[];
    };
    assert.deepEqual(config.fragments, [{ id: fragment.id }]);

    const keys = await json<{ id: string }[]>(['keys', 'list']);
    assert.ok(keys.some((k) => k.id === t.admin.apiKeyId));
    const issued = await json<{ id: string; key: string }>([
      'locations',
      'api-key',
      'create',
      '--location',
      locationId,
    ]);
    assert.match(issued.key, /^[a-z0-9]{32}$/);
    await ok(['keys', 'delete', '--key-id', issued.id]);
    assert.ok(!(await json<{ id: string }[]>(['keys', 'list'])).some((k) => k.id === issued.id));
  });

  it('logs a person in with the password from stdin, and refuses a wrong one', async () => {
    const personHome = mkdtempSync(join(tmpdir(), 'flotilla-cli-person-'));
    try {
      const login = (password: string) =>
        runCli(
          ['login', '--server', t.url, '--email', t.admin.email],
          { FLOTILLA_HOME: personHome },
          30_000,
          `${password}\n`,
        );
      const wrong = await login('not the password');
      assert.equal(wrong.code, 1);
      assert.equal(wrong.stderr, 'flotilla: UNAUTHENTICATED: invalid credentials\n');
      assert.equal((await login(t.admin.password)).code, 0);
      const r = await runCli(['organizations', 'list', '--json'], { FLOTILLA_HOME: personHome });
      assert.equal(r.code, 0, r.stderr);
      assert.ok((JSON.parse(r.stdout) as { id: string }[]).some((o) => o.id === t.admin.organizationId));
    } finally {
      rmSync(personHome, { recursive: true, force: true });
    }
  });

  it('accepts --base-url for --server, as viam names it', async () => {
    const r = await runCli(['organizations', 'list', '--json', '--base-url', t.url], env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as unknown[]).length, 1);
  });

  it('exits 1 with the code on stderr when the server refuses, and 2 on a usage error', async () => {
    const refused = await runCli(
      ['machines', 'status', '--machine', '00000000-0000-4000-8000-000000000000'],
      env(),
    );
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, /^flotilla: NOT_FOUND: machine not found\n$/);

    const missing = await runCli(['locations', 'create'], env());
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--name/);
    const unknown = await runCli(['machines', 'fly'], env());
    assert.equal(unknown.code, 2);
    assert.doesNotMatch(unknown.stderr + refused.stderr, /\n\s+at /, 'never a stack trace');
  });

  it('takes an API key from the environment for scripts, and logs out', async () => {
    await ok(['logout']);
    const anonymous = await runCli(['organizations', 'list'], env());
    assert.equal(anonymous.code, 2);
    assert.match(anonymous.stderr, /not logged in/);
    const r = await runCli(['organizations', 'list', '--json', '--server', t.url], {
      ...env(),
      FLOTILLA_API_KEY_ID: t.admin.apiKeyId,
      FLOTILLA_API_KEY: t.admin.apiKey,
    });
    assert.equal(r.code, 0, r.stderr);
    const orgs = JSON.parse(r.stdout) as { id: string }[];
    assert.deepEqual(
      orgs.map((o) => o.id),
      [t.admin.organizationId],
    );
  });
});

describe('flotilla command line: an API key login renews its token by itself', () => {
  let t: TestServer;
  let home: string;
  before(async () => {
    // Tokens that live 30 s are always within the minute before expiry the CLI renews in.
    t = await startTestServer(
      { dialect: 'sqlite', databaseUrl: undefined, drop: () => Promise.resolve() },
      { FLOTILLA_TOKEN_TTL: '30s' },
    );
    home = mkdtempSync(join(tmpdir(), 'flotilla-cli-renew-'));
  });
  after(async () => {
    await t.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('logs in again with the saved key and saves the new token', async () => {
    const env = { FLOTILLA_HOME: home };
    const login = await runCli(
      ['login', 'api-key', '--server', t.url, '--key-id', t.admin.apiKeyId, '--key', t.admin.apiKey],
      env,
    );
    assert.equal(login.code, 0, login.stderr);
    const saved = () =>
      JSON.parse(readFileSync(join(home, 'cached_cli_config.json'), 'utf8')) as { accessToken: string };
    const first = saved();
    const expiresAt = tokenExpiry(first.accessToken);
    assert.ok(expiresAt > Date.now() / 1000 && expiresAt <= Date.now() / 1000 + 31);
    // JWTs are minted per second: wait for a new second so the renewed token differs.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const r = await runCli(['organizations', 'list', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.notEqual(saved().accessToken, first.accessToken);
  });
});
