import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

/*
 * A private, throwaway PostgreSQL cluster that a test may stop and start again (a database
 * outage), run the way .ci/run runs the shared one: initdb with trust authentication, pg_ctl on
 * a free loopback port with its socket in the cluster's own directory, fsync off. As root, the
 * binaries run as the postgres user through runuser, over a directory chowned to it.
 */

const run = promisify(execFile);

/** The PostgreSQL bin directory: FLOTILLA_TEST_PG_BIN, else the newest /usr/lib/postgresql/<v>/bin. */
export function postgresBinDir(): string | undefined {
  const given = process.env.FLOTILLA_TEST_PG_BIN;
  if (given) return existsSync(join(given, 'initdb')) ? given : undefined;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const newest = versions.at(-1);
  return newest === undefined ? undefined : join(root, newest, 'bin');
}

/**
 * A suite that needs PostgreSQL's binaries (initdb, pg_ctl): skipped without them, failed under
 * CI=true, where they must be installed (.ci/run installs them).
 */
export function describeWithPostgres(name: string, suite: () => void): void {
  if (postgresBinDir()) describe(name, suite);
  else if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs PostgreSQL binaries under CI=true', () => {
        throw new Error('no initdb in FLOTILLA_TEST_PG_BIN or /usr/lib/postgresql/*/bin');
      });
    });
  } else describe(name, { skip: 'no PostgreSQL binaries (set FLOTILLA_TEST_PG_BIN)' }, () => {});
}

export interface PostgresCluster {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` (trust authentication). */
  url: string;
  port: number;
  /** Stops the server (fast mode: sessions are disconnected); the data stays. A no-op when stopped. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it accepts connections. A no-op when running. */
  start(): Promise<void>;
  /** Stops it if running (immediate mode) and removes its directory. */
  destroy(): Promise<void>;
  /** The server's log so far (for failure messages). */
  log(): string;
}

/** A loopback port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Creates and starts a cluster in a new temp directory. */
export async function startPostgresCluster(): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('no PostgreSQL binaries (FLOTILLA_TEST_PG_BIN or /usr/lib/postgresql/*/bin)');
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-pg-'));
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: group } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(group.trim()));
  }
  const pg = (tool: string, args: string[], timeout = 30_000) =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args], { timeout })
      : run(join(bin, tool), args, { timeout });
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  let running = false;
  const cluster: PostgresCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      if (running) return;
      await pg('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '20', '-o', options, 'start']);
      running = true;
    },
    async stop() {
      if (!running) return;
      await pg('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '20', 'stop']);
      running = false;
    },
    async destroy() {
      if (running) await pg('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => {});
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
  };
  try {
    await pg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres'], 60_000);
    await cluster.start();
  } catch (error) {
    await cluster.destroy();
    throw error;
  }
  return cluster;
}
