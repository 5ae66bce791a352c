import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createViamClient, type ViamClient } from '@viamrobotics/sdk';
import { initializeDataDir } from '../../src/cli/init-command.js';
import { loadServerConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server/create-server.js';
import { createLogger } from '../../src/server/logger.js';
import type { BootstrapResult } from '../../src/services/bootstrap-service.js';
import type { TestDatabase } from './databases.js';

/** A real server on a free port over a fresh data directory, initialized like `flotilla init`. */
export interface TestServer {
  url: string;
  dataDir: string;
  /** The first user, organization and owner key (`flotilla init --json`). */
  admin: BootstrapResult & { email: string; password: string };
  server: RunningServer;
  /** An SDK client authenticated with an API key. */
  clientForKey(id: string, key: string): Promise<ViamClient>;
  /** An access token for the first owner key, from Authenticate over Connect JSON. */
  adminToken(): Promise<string>;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

export async function startTestServer(
  database: TestDatabase,
  env: Record<string, string> = {},
  /** The listen address; a wildcard one (`0.0.0.0:0`) still answers on 127.0.0.1. */
  listen = '127.0.0.1:0',
  /** Receives the server's log lines (at FLOTILLA_LOG_LEVEL, `error` unless set); dropped by default. */
  onLog: (line: string) => void = () => {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'flotilla-test-'));
  const email = 'admin@example.com';
  const password = 'correct horse battery staple';
  const admin = await initializeDataDir(dataDir, database.databaseUrl, {
    email,
    organizationName: 'Org A',
    password,
  });
  // A console built elsewhere (FLOTILLA_CONSOLE_DIR) reaches every test server; nothing else of
  // the environment does.
  const consoleDir = process.env.FLOTILLA_CONSOLE_DIR;
  const config = loadServerConfig(
    { dataDir, listen, databaseUrl: database.databaseUrl },
    {
      ...(consoleDir ? { FLOTILLA_CONSOLE_DIR: consoleDir } : {}),
      ...env,
      FLOTILLA_LOG_LEVEL: env.FLOTILLA_LOG_LEVEL ?? 'error',
    },
  );
  const server = await startServer(config, createLogger(config.logLevel, onLog));
  // A wildcard listen address is reached through the loopback address.
  const url = server.url.replace('//0.0.0.0:', '//127.0.0.1:');
  return {
    url,
    dataDir,
    admin: { ...admin, email, password },
    server,
    clientForKey: (id, key) =>
      createViamClient({
        serviceHost: url,
        credentials: { type: 'api-key', authEntity: id, payload: key },
      }),
    async adminToken() {
      const res = await fetch(`${url}/proto.rpc.v1.AuthService/Authenticate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          entity: admin.apiKeyId,
          credentials: { type: 'api-key', payload: admin.apiKey },
        }),
      });
      return ((await res.json()) as { accessToken: string }).accessToken;
    },
    async stop() {
      await server.close();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
