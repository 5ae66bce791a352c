import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { ifAdvisoryLockFree, withAdvisoryLock } from '../src/store/advisory-lock.js';
import { CODE_SCHEMA_VERSION, migrate, openDatabase, type OpenDatabase } from '../src/store/database.js';
import { isDatabaseUnavailable } from '../src/store/db.js';
import { runCli, spawnCli } from './support/cli.js';
import { onPostgres, type TestDatabase } from './support/databases.js';

const LISTENING = /^flotilla listening on (http:\/\/127\.0\.0\.1:\d+)$/m;

/** Runs SQL on the database at `url` with a connection of its own. */
async function query(url: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

onPostgres('replica start-up: keys, init, schema version', (newDatabase) => {
  let database: TestDatabase;
  let url: string;
  let root: string;
  /** The directory `init --database-url` wrote: what every replica is given a copy of. */
  let keysDir: string;
  const dir = (name: string) => join(root, name);

  before(async () => {
    database = await newDatabase();
    url = database.databaseUrl!;
    root = mkdtempSync(join(tmpdir(), 'flotilla-replica-start-'));
    keysDir = dir('keys');
    const init = await runCli([
      'init',
      '--database-url',
      url,
      '--data-dir',
      keysDir,
      '--email',
      'ops@example.com',
      '--org',
      'Fleet',
      '--json',
    ]);
    assert.equal(init.code, 0, init.stderr);
    assert.deepEqual(Object.keys(JSON.parse(init.stdout) as object).sort(), [
      'api_key',
      'api_key_id',
      'organization_id',
      'user_id',
    ]);
  });
  after(async () => {
    rmSync(root, { recursive: true, force: true });
    await database.drop();
  });

  it('init --database-url writes the keys and the machine CA into the directory, and the database is PostgreSQL', async () => {
    assert.deepEqual(readdirSync(keysDir).sort(), ['ca-key.pem', 'ca.pem', 'server-keys.json']);
    const { rows } = await query(url, 'select email from users');
    assert.deepEqual(rows, [{ email: 'ops@example.com' }]);
    assert.equal(existsSync(join(keysDir, 'flotilla.sqlite')), false, 'no SQLite file beside the keys');
  });

  it('a second init on the same database is refused and writes no keys', async () => {
    const again = await runCli([
      'init',
      '--database-url',
      url,
      '--data-dir',
      dir('second'),
      '--email',
      'other@example.com',
      '--org',
      'Other',
    ]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /database is already initialized.*nothing changed/);
    assert.equal(existsSync(join(dir('second'), 'server-keys.json')), false);
    const { rows } = await query(url, 'select count(*)::int as n from users');
    assert.deepEqual(rows, [{ n: 1 }]);
  });

  it('a replica with no keys refuses to start, says what to copy, and makes none', async () => {
    const empty = dir('empty');
    const serve = await runCli([
      'serve',
      '--database-url',
      url,
      '--data-dir',
      empty,
      '--listen',
      '127.0.0.1:0',
    ]);
    assert.equal(serve.code, 1);
    assert.match(serve.stderr, /no server keys in .*empty/);
    assert.match(serve.stderr, /copy that directory here/);
    assert.match(serve.stderr, /never makes keys of its own/);
    assert.equal(serve.stdout, '');
    assert.deepEqual(existsSync(empty) ? readdirSync(empty) : [], [], 'nothing was written');
  });

  it('a replica given the keys through the environment starts with an empty data directory', async () => {
    const keys = JSON.parse(readFileSync(join(keysDir, 'server-keys.json'), 'utf8')) as Record<
      string,
      string
    >;
    const replica = spawnCli(
      ['serve', '--database-url', url, '--data-dir', dir('env-only'), '--listen', '127.0.0.1:0'],
      {
        FLOTILLA_TOKEN_SIGNING_KEY: keys.token_signing_key,
        FLOTILLA_SECRET_ENCRYPTION_KEY: keys.secret_encryption_key,
        FLOTILLA_MACHINE_CA_CERT: readFileSync(join(keysDir, 'ca.pem'), 'utf8'),
        FLOTILLA_MACHINE_CA_KEY: readFileSync(join(keysDir, 'ca-key.pem'), 'utf8'),
      },
    );
    try {
      const [, base] = await replica.waitFor(LISTENING);
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
    } finally {
      replica.child.kill('SIGTERM');
      assert.equal((await replica.exited).code, 0, replica.stderr());
    }
    const leftovers = existsSync(dir('env-only')) ? readdirSync(dir('env-only')) : [];
    assert.ok(
      !leftovers.some((f) => f.endsWith('.pem') || f === 'server-keys.json'),
      `made ${leftovers.join(', ')}`,
    );
  });

  it('a replica given keys made for another database refuses to start', async () => {
    const other = await runCli([
      'init',
      '--data-dir',
      dir('sqlite-keys'),
      '--email',
      'x@example.com',
      '--org',
      'X',
      '--json',
    ]);
    assert.equal(other.code, 0, other.stderr);
    const serve = await runCli([
      'serve',
      '--database-url',
      url,
      '--data-dir',
      dir('sqlite-keys'),
      '--listen',
      '127.0.0.1:0',
    ]);
    assert.equal(serve.code, 1);
    assert.match(serve.stderr, /not the ones this database was initialized with/);
  });

  it('a replica whose code is older than the schema refuses to start, naming both versions', async () => {
    const future = '29991231000000_from_a_newer_flotilla';
    await query(url, `insert into kysely_migration (name, timestamp) values ('${future}', now()::text)`);
    try {
      const serve = await runCli([
        'serve',
        '--database-url',
        url,
        '--data-dir',
        keysDir,
        '--listen',
        '127.0.0.1:0',
      ]);
      assert.equal(serve.code, 1);
      assert.ok(
        serve.stderr.includes(
          `schema is at version ${future}, newer than this flotilla's ${CODE_SCHEMA_VERSION}`,
        ),
        serve.stderr,
      );
      assert.equal(serve.stdout, '');
    } finally {
      await query(url, `delete from kysely_migration where name = '${future}'`);
    }
  });
});

onPostgres('advisory locks: migrations and periodic jobs', (newDatabase) => {
  let database: TestDatabase;
  const opened: OpenDatabase[] = [];
  const open = () => {
    const o = openDatabase({ dialect: 'postgres', url: database.databaseUrl! });
    opened.push(o);
    return o;
  };
  before(async () => (database = await newDatabase()));
  after(async () => {
    for (const o of opened) await o.close();
    await database.drop();
  });

  it('replicas migrating a fresh database together each succeed, and every migration runs once', async () => {
    await Promise.all([open(), open(), open(), open()].map((o) => migrate(o)));
    const { rows } = await query(database.databaseUrl!, 'select name from kysely_migration order by name');
    assert.equal(rows.length, new Set(rows.map((r: { name: string }) => r.name)).size);
    assert.equal((rows.at(-1) as { name: string }).name, CODE_SCHEMA_VERSION);
  });

  it('a periodic job runs on one replica at a time: the other skips its round', async () => {
    const [a, b] = [open(), open()];
    const ran: string[] = [];
    let release: () => void = () => {};
    const holding = new Promise<void>((resolve) => (release = resolve));
    let started: () => void = () => {};
    const aStarted = new Promise<void>((resolve) => (started = resolve));
    const first = ifAdvisoryLockFree(a.db, 0x7e57, async () => {
      ran.push('a');
      started();
      await holding;
    });
    await aStarted;
    assert.equal(await ifAdvisoryLockFree(b.db, 0x7e57, () => Promise.resolve(void ran.push('b'))), false);
    release();
    assert.equal(await first, true);
    assert.equal(await ifAdvisoryLockFree(b.db, 0x7e57, () => Promise.resolve(void ran.push('b'))), true);
    assert.deepEqual(ran, ['a', 'b']);
  });

  it('withAdvisoryLock waits for the holder, and a failing holder still releases the lock', async () => {
    const [a, b] = [open(), open()];
    const order: string[] = [];
    await assert.rejects(
      withAdvisoryLock(a.db, 0x7e58, () => {
        order.push('a');
        return Promise.reject(new Error('boom'));
      }),
      /boom/,
    );
    let release: () => void = () => {};
    const holding = new Promise<void>((resolve) => (release = resolve));
    const first = withAdvisoryLock(a.db, 0x7e58, async () => {
      order.push('a2 start');
      await holding;
      order.push('a2 end');
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = withAdvisoryLock(b.db, 0x7e58, () => Promise.resolve(void order.push('b')));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(order, ['a', 'a2 start'], 'b waits while a holds the lock');
    release();
    await Promise.all([first, second]);
    assert.deepEqual(order, ['a', 'a2 start', 'a2 end', 'b']);
  });
});

describe('isDatabaseUnavailable', () => {
  const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });
  it('recognizes lost and refused connections, and nothing else', () => {
    for (const error of [
      withCode('ECONNREFUSED'),
      withCode('57P01', 'terminating connection due to administrator command'),
      withCode('57P03', 'the database system is starting up'),
      withCode('08006'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      new AggregateError([withCode('ECONNREFUSED')], 'connect failed'),
    ]) {
      assert.equal(isDatabaseUnavailable(error), true, String(error));
    }
    for (const error of [
      withCode('23505', 'duplicate key'),
      withCode('42P01', 'relation does not exist'),
      withCode('SQLITE_BUSY'),
      new Error('something else'),
      'Connection terminated',
      undefined,
    ]) {
      assert.equal(isDatabaseUnavailable(error), false, String(error));
    }
  });
});
