/*
 * Flotilla child: the real server, as `flotilla init` + `flotilla start` would run it, on SQLite
 * in a fresh data directory (given by the orchestrator, removed again on exit).
 */
import { rmSync } from 'node:fs';
import { initializeDataDir } from '../../src/cli/init-command.js';
import { loadServerConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server/create-server.js';
import { serveParent } from './ipc.js';
import { cpuSnapshot } from './stats.js';

export interface FlotillaReady {
  url: string;
  organizationId: string;
  apiKeyId: string;
  apiKey: string;
}

let server: RunningServer | undefined;
let dataDir: string | undefined;

async function start(payload: unknown): Promise<FlotillaReady> {
  dataDir = (payload as { dataDir: string }).dataDir;
  const admin = await initializeDataDir(dataDir, undefined, {
    email: 'bench@example.com',
    organizationName: 'Bench Org',
    password: undefined,
  });
  server = await startServer(
    loadServerConfig({ dataDir, listen: '127.0.0.1:0' }, { FLOTILLA_LOG_LEVEL: 'error' }),
  );
  return {
    url: server.url,
    organizationId: admin.organizationId,
    apiKeyId: admin.apiKeyId,
    apiKey: admin.apiKey,
  };
}

serveParent(
  'flotilla server',
  {
    start,
    stats: () => cpuSnapshot(),
    stop: async () => {
      await server?.close();
      return {};
    },
  },
  () => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  },
);
