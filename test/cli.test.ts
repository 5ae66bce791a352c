import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createViamClient } from '@viamrobotics/sdk';
import { runCli, spawnCli } from './support/cli.js';
import { forEachDialect } from './support/databases.js';

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-cli-'));
  tempDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

interface InitJson {
  user_id: string;
  organization_id: string;
  api_key_id: string;
  api_key: string;
}

const LISTENING = /^flotilla listening on (https?):\/\/127\.0\.0\.1:(\d+)$/m;

async function orgNames(url: string, keyId: string, key: string): Promise<string[]> {
  const client = await createViamClient({
    serviceHost: url,
    credentials: { type: 'api-key', authEntity: keyId, payload: key },
  });
  return (await client.appClient.listOrganizations()).map((o) => o.name);
}

describe('flotilla init', () => {
  it('creates the data directory and prints exactly one JSON object with --json', async () => {
    const dataDir = join(tempDir(), 'data');
    const r = await runCli([
      'init',
      '--data-dir',
      dataDir,
      '--email',
      'ops@example.com',
      '--org',
      'Acme',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const json = JSON.parse(lines[0]!) as InitJson;
    assert.deepEqual(Object.keys(json).sort(), ['api_key', 'api_key_id', 'organization_id', 'user_id']);
    assert.match(json.api_key, /^[a-z0-9]{32}$/);
    assert.ok(existsSync(join(dataDir, 'flotilla.sqlite')));
    assert.equal(
      statSync(join(dataDir, 'server-keys.json')).mode & 0o077,
      0,
      'server keys readable by the owner only',
    );
  });

  it('takes the data directory from FLOTILLA_DATA_DIR', async () => {
    const dataDir = join(tempDir(), 'from-env');
    const r = await runCli(['init', '--email', 'ops@example.com', '--org', 'Acme', '--json'], {
      FLOTILLA_DATA_DIR: dataDir,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(dataDir, 'server-keys.json')));
  });

  it('refuses an initialized directory: exit 1, nothing on stdout, nothing changed', async () => {
    const dataDir = join(tempDir(), 'data');
    const first = await runCli([
      'init',
      '--data-dir',
      dataDir,
      '--email',
      'a@example.com',
      '--org',
      'First',
      '--json',
    ]);
    assert.equal(first.code, 0, first.stderr);
    const keysBefore = readFileSync(join(dataDir, 'server-keys.json'), 'utf8');
    const dbBefore = readFileSync(join(dataDir, 'flotilla.sqlite'));
    const again = await runCli([
      'init',
      '--data-dir',
      dataDir,
      '--email',
      'b@example.com',
      '--org',
      'Second',
      '--json',
    ]);
    assert.equal(again.code, 1);
    assert.equal(again.stdout, '');
    assert.match(again.stderr, /already initialized/);
    assert.equal(readFileSync(join(dataDir, 'server-keys.json'), 'utf8'), keysBefore);
    assert.ok(readFileSync(join(dataDir, 'flotilla.sqlite')).equals(dbBefore));
  });

  for (const [name, args] of [
    ['without --email', ['--org', 'Acme']],
    ['without --org', ['--email', 'a@example.com']],
    ['with an unknown flag', ['--email', 'a@example.com', '--org', 'Acme', '--colour', 'blue']],
    ['with a malformed email', ['--email', 'not-an-email', '--org', 'Acme']],
    ['with an empty org name', ['--email', 'a@example.com', '--org', '  ']],
  ] as const) {
    it(`exits 2 and creates nothing ${name}`, async () => {
      const dataDir = join(tempDir(), 'data');
      const r = await runCli(['init', '--data-dir', dataDir, ...args, '--json']);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.ok(!existsSync(dataDir), 'the data directory must not be created');
    });
  }

  it('creates a user who can log in with the given --password', async () => {
    const dataDir = join(tempDir(), 'data');
    const r = await runCli([
      'init',
      '--data-dir',
      dataDir,
      '--email',
      'pw@example.com',
      '--org',
      'Acme',
      '--password',
      's3cret-pass',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const server = spawnCli(['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0']);
    try {
      const [, scheme, port] = await server.waitFor(LISTENING);
      const res = await fetch(`${scheme}://127.0.0.1:${port}/proto.rpc.v1.AuthService/Authenticate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          entity: 'pw@example.com',
          credentials: { type: 'password', payload: 's3cret-pass' },
        }),
      });
      assert.equal(res.status, 200);
      assert.ok(((await res.json()) as { accessToken: string }).accessToken.length > 20);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});

forEachDialect('flotilla serve', (newDatabase) => {
  let dataDir: string;
  let init: InitJson;
  let databaseUrl: string | undefined;
  let drop: () => Promise<void>;

  before(async () => {
    const database = await newDatabase();
    databaseUrl = database.databaseUrl;
    drop = () => database.drop();
    dataDir = join(tempDir(), 'data');
    const r = await runCli(
      ['init', '--data-dir', dataDir, '--email', 'ops@example.com', '--org', 'Served Org', '--json'],
      {
        FLOTILLA_DATABASE_URL: databaseUrl,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    init = JSON.parse(r.stdout) as InitJson;
  });
  after(() => drop());

  const serveArgs = () => [
    'serve',
    '--data-dir',
    dataDir,
    '--listen',
    '127.0.0.1:0',
    ...(databaseUrl ? ['--database-url', databaseUrl] : []),
  ];

  it('prints the listening line with the real port, serves the init key, and exits 0 on SIGTERM', async () => {
    const server = spawnCli(serveArgs());
    const [line, scheme, port] = await server.waitFor(LISTENING);
    assert.equal(scheme, 'http');
    assert.notEqual(Number(port), 0);
    assert.equal(server.stdout().trim(), line.trim(), 'nothing else on stdout');
    assert.deepEqual(await orgNames(`http://127.0.0.1:${port}`, init.api_key_id, init.api_key), [
      'Served Org',
    ]);
    server.child.kill('SIGTERM');
    assert.deepEqual(await server.exited, { code: 0, signal: null });
  });

  it('exits 0 on SIGINT too', async () => {
    const server = spawnCli(serveArgs());
    await server.waitFor(LISTENING);
    server.child.kill('SIGINT');
    assert.deepEqual(await server.exited, { code: 0, signal: null });
  });

  it('finishes a call in flight when told to stop', async () => {
    const server = spawnCli(serveArgs());
    const [, , port] = await server.waitFor(LISTENING);
    const body = JSON.stringify({
      entity: init.api_key_id,
      credentials: { type: 'api-key', payload: init.api_key },
    });
    // Send the request head and half the body, stop the server, then send the rest.
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: Number(port),
          method: 'POST',
          path: '/proto.rpc.v1.AuthService/Authenticate',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 10));
      setTimeout(() => {
        server.child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(10)), 300);
      }, 200);
    });
    const res = await response;
    assert.equal(res.status, 200, res.body);
    assert.ok((JSON.parse(res.body) as { accessToken: string }).accessToken);
    assert.deepEqual(await server.exited, { code: 0, signal: null });
  });
});

describe('flotilla serve without init', () => {
  it('exits 1 and says to run flotilla init', async () => {
    const dataDir = join(tempDir(), 'never-initialized');
    const r = await runCli(['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /flotilla init/);
  });

  it('exits 2 on a malformed --listen', async () => {
    const r = await runCli(['serve', '--data-dir', tempDir(), '--listen', 'nowhere']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--listen/);
  });
});

describe('flotilla serve with TLS', () => {
  it('serves https with the given certificate', async () => {
    const dir = tempDir();
    const dataDir = join(dir, 'data');
    const init = await runCli([
      'init',
      '--data-dir',
      dataDir,
      '--email',
      'tls@example.com',
      '--org',
      'TLS Org',
      '--json',
    ]);
    assert.equal(init.code, 0, init.stderr);
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const server = spawnCli([
      'serve',
      '--data-dir',
      dataDir,
      '--listen',
      '127.0.0.1:0',
      '--tls-cert',
      join(dir, 'cert.pem'),
      '--tls-key',
      join(dir, 'key.pem'),
    ]);
    try {
      const [, scheme, port] = await server.waitFor(LISTENING);
      assert.equal(scheme, 'https');
      const status = await new Promise<number>((resolve, reject) =>
        https
          .get(
            { host: '127.0.0.1', port: Number(port), path: '/healthz', rejectUnauthorized: false },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          )
          .on('error', reject),
      );
      assert.equal(status, 200);
    } finally {
      server.child.kill('SIGTERM');
      assert.deepEqual(await server.exited, { code: 0, signal: null });
    }
  });
});

describe('npm start (flotilla start)', () => {
  it('initializes a fresh data directory once, prints a working key and a snippet, then serves', async () => {
    const dataDir = join(tempDir(), 'data');
    const env = { FLOTILLA_DATA_DIR: dataDir, FLOTILLA_LISTEN: '127.0.0.1:0' };
    const first = spawnCli(['start'], env);
    try {
      const [, , port] = await first.waitFor(LISTENING);
      const [, keyId] = await first.waitFor(/^API key id: (\S+)$/m);
      const [, key] = await first.waitFor(/^API key: (\S+)$/m);
      await first.waitFor(/createViamClient\(/);
      assert.ok(first.stdout().includes(`serviceHost: 'http://127.0.0.1:${port}'`));
      // The console built by `npm run build` (which `npm test` runs first) is served and named.
      assert.ok(first.stdout().includes(`web console: http://127.0.0.1:${port}/\n`));
      const page = await fetch(`http://127.0.0.1:${port}/`);
      assert.match(await page.text(), /<div id="app">/);
      assert.deepEqual(await orgNames(`http://127.0.0.1:${port}`, keyId!, key!), ['My Organization']);
    } finally {
      first.child.kill('SIGTERM');
      await first.exited;
    }
    const second = spawnCli(['start'], env);
    try {
      await second.waitFor(LISTENING);
      await new Promise((r) => setTimeout(r, 200));
      assert.doesNotMatch(second.stdout(), /API key/, 'the key is printed only on the first start');
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});
