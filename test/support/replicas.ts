import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import { Http2SessionManager } from '@connectrpc/connect-node';
import { createViamClient, type AppClient } from '@viamrobotics/sdk';
import { AuthService } from '../../src/rpc/auth-service-descriptor.js';
import { AppService, RobotService } from '../../src/rpc/service-descriptors.generated.js';
import { runCli, spawnCli, type CliProcess } from './cli.js';
import { bearer, grpcTransport } from './clients.js';

/*
 * Several `flotilla serve` processes ("replicas") on one PostgreSQL database, as they run in
 * production: `flotilla init --database-url` once into a key directory, then each replica
 * serves a copy of that directory. Every process started here is stopped by `close()`.
 */

/** What `flotilla init --json` prints. */
export interface InitJson {
  user_id: string;
  organization_id: string;
  api_key_id: string;
  api_key: string;
}

const LISTENING = /^flotilla listening on (http:\/\/127\.0\.0\.1:\d+)$/m;

/** How long a replica may take to print its listening line, and to exit once told to stop. */
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

/** Every replica's environment unless a test overrides it. */
const REPLICA_ENV: Record<string, string> = {
  FLOTILLA_LOG_LEVEL: 'warn',
  // Calls in flight get 2 s at SIGTERM, so stopping never waits on a client that stays connected.
  FLOTILLA_SHUTDOWN_GRACE_MS: '2000',
};

export interface Replica {
  name: string;
  url: string;
  pid: number;
  dataDir: string;
  process: CliProcess;
  /** SIGTERM, then waits for the exit (SIGKILL after a bound); the exit status. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>;
  /** Still running (neither exited nor killed). */
  running(): boolean;
}

export interface ReplicaSet {
  databaseUrl: string;
  /** The directory init wrote the server keys and the machine CA into. */
  keysDir: string;
  init: InitJson;
  /** Starts a replica over a fresh copy of the key directory; rejects (with its stderr) if it fails to start. */
  start(name: string, env?: Record<string, string>): Promise<Replica>;
  /** Stops every replica still running and removes every directory. */
  close(): Promise<void>;
}

function replicaOf(name: string, dataDir: string, server: CliProcess, url: string): Replica {
  const running = () => server.child.exitCode === null && server.child.signalCode === null;
  return {
    name,
    url,
    pid: server.child.pid ?? -1,
    dataDir,
    process: server,
    running,
    async stop() {
      if (running()) server.child.kill('SIGTERM');
      try {
        return await within(server.exited, STOP_TIMEOUT_MS, `replica ${name} exiting after SIGTERM`);
      } catch (error) {
        server.child.kill('SIGKILL');
        await server.exited;
        throw error;
      }
    },
    async kill() {
      if (running()) server.child.kill('SIGKILL');
      await server.exited;
    },
  };
}

/**
 * Initializes the database at `databaseUrl` through the CLI (`init --database-url --json`) into
 * a temp key directory, ready to start replicas on it.
 */
export async function initReplicas(
  databaseUrl: string,
  /** The environment of every replica, over REPLICA_ENV. */
  env: Record<string, string> = {},
): Promise<ReplicaSet> {
  const root = mkdtempSync(join(tmpdir(), 'flotilla-replicas-'));
  const keysDir = join(root, 'keys');
  const replicas: Replica[] = [];
  const starting = new Set<CliProcess>();
  const r = await runCli([
    'init',
    '--database-url',
    databaseUrl,
    '--data-dir',
    keysDir,
    '--email',
    'ops@example.com',
    '--org',
    'Replicated Org',
    '--json',
  ]);
  if (r.code !== 0) {
    rmSync(root, { recursive: true, force: true });
    assert.fail(`flotilla init exited ${r.code}: ${r.stderr}`);
  }
  const init = JSON.parse(r.stdout) as InitJson;
  return {
    databaseUrl,
    keysDir,
    init,
    async start(name, extra = {}) {
      const dataDir = join(root, name);
      cpSync(keysDir, dataDir, { recursive: true });
      const server = spawnCli(
        ['serve', '--database-url', databaseUrl, '--data-dir', dataDir, '--listen', '127.0.0.1:0'],
        { ...REPLICA_ENV, ...env, ...extra },
      );
      starting.add(server);
      try {
        const [, url] = await server.waitFor(LISTENING, START_TIMEOUT_MS);
        const replica = replicaOf(name, dataDir, server, url!);
        replicas.push(replica);
        return replica;
      } catch (error) {
        server.child.kill('SIGKILL');
        await server.exited;
        throw new Error(`replica ${name} did not start: ${(error as Error).message}`);
      } finally {
        starting.delete(server);
      }
    },
    async close() {
      for (const p of starting) p.child.kill('SIGKILL');
      const stops = await Promise.allSettled(replicas.map((replica) => replica.stop()));
      rmSync(root, { recursive: true, force: true });
      const failed = stops.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : []));
      if (failed.length > 0) throw new Error(failed.join('; '));
    },
  };
}

/** The API of one replica: the SDK with the init key, and native gRPC clients over HTTP/2. */
export interface ReplicaClients {
  replica: Replica;
  admin: AppClient;
  app: PromiseClient<typeof AppService>;
  robot: PromiseClient<typeof RobotService>;
  auth: PromiseClient<typeof AuthService>;
  /** An access token of the init key, minted by this replica. */
  ownerToken: string;
  /** Drops the native clients' HTTP/2 connections (before the replica stops). */
  close(): void;
}

export async function clientsFor(replica: Replica, init: InitJson): Promise<ReplicaClients> {
  const sessions = new Http2SessionManager(replica.url);
  const transport = grpcTransport(replica.url, { sessionManager: sessions });
  const auth = createPromiseClient(AuthService, transport);
  const viam = await createViamClient({
    serviceHost: replica.url,
    credentials: { type: 'api-key', authEntity: init.api_key_id, payload: init.api_key },
  });
  return {
    replica,
    admin: viam.appClient,
    app: createPromiseClient(AppService, transport),
    robot: createPromiseClient(RobotService, transport),
    auth,
    ownerToken: await apiKeyToken(auth, init.api_key_id, init.api_key),
    close: () => sessions.abort(),
  };
}

export const apiKeyToken = async (auth: PromiseClient<typeof AuthService>, id: string, key: string) =>
  (await auth.authenticate({ entity: id, credentials: { type: 'api-key', payload: key } })).accessToken;

/** A new machine in a new location of `organizationId`: its main part and that part's first secret. */
export async function newMachine(admin: AppClient, organizationId: string, name: string) {
  const location = await admin.createLocation(organizationId, `${name} yard`);
  assert.ok(location);
  const machineId = await admin.newRobot(location.id, name);
  const partId = (await admin.getRobotParts(machineId)).find((p) => p.mainPart)?.id;
  assert.ok(partId, 'the new machine has no main part');
  const secret = (await admin.getRobotPart(partId)).part?.secrets[0]?.secret ?? '';
  assert.notEqual(secret, '', 'the main part has no secret');
  return { locationId: location.id, machineId, partId, secret };
}

/** A part's access token from its secret (AuthService, as viam-server logs in). */
export const partToken = async (auth: PromiseClient<typeof AuthService>, partId: string, secret: string) =>
  (await auth.authenticate({ entity: partId, credentials: { type: 'robot-secret', payload: secret } }))
    .accessToken;

/** Rejects after `ms` unless `promise` settles first. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A live TailRobotPartLogs stream: every entry received after the first (empty) message, and how it ended. */
export interface OpenTail {
  /** The messages received, in order. */
  received: string[];
  /** Resolves once the stream stops: undefined when it ended cleanly, else the error. */
  ended: Promise<unknown>;
  abort(): void;
}

/** Opens a tail of `partId` (entries matching `filter`) and waits for its first message. */
export async function openTail(
  app: PromiseClient<typeof AppService>,
  token: string,
  partId: string,
  filter: string,
): Promise<OpenTail> {
  const controller = new AbortController();
  const stream = app.tailRobotPartLogs(
    { id: partId, errorsOnly: false, filter },
    { ...bearer(token), signal: controller.signal },
  );
  const iterator = stream[Symbol.asyncIterator]();
  const first = await within(iterator.next(), 5000, 'the first tail message').catch((error: unknown) => {
    controller.abort();
    throw error;
  });
  assert.equal(first.done, false, 'the tail ended before its first message');
  const received: OpenTail['received'] = [];
  const ended = (async () => {
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
      for (const entry of r.value.logs) received.push(entry.message);
    }
  })().then(
    () => undefined,
    (error: unknown) => error ?? new Error('rejected without a reason'),
  );
  return { received, ended, abort: () => controller.abort() };
}
