/*
 * The real Flotilla server as both benchmarks run it: `flotilla init` + `flotilla start` on
 * SQLite in a fresh data directory given by the orchestrator, listening on 127.0.0.1.
 */
import { initializeDataDir } from '../../src/cli/init-command.js';
import { loadServerConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server/create-server.js';

/** What the orchestrator needs to reach the server and log in as its owner. */
export interface FlotillaReady {
  url: string;
  organizationId: string;
  apiKeyId: string;
  apiKey: string;
}

/**
 * Initializes `dataDir` (a user, organization "Bench Org" and an owner API key), calls
 * `beforeStart` if given, then starts the server on a free port, logging errors only.
 */
export async function startBenchFlotilla(
  dataDir: string,
  beforeStart?: () => void,
): Promise<{ server: RunningServer; ready: FlotillaReady }> {
  const admin = await initializeDataDir(dataDir, undefined, {
    email: 'bench@example.com',
    organizationName: 'Bench Org',
    password: undefined,
  });
  beforeStart?.();
  const server = await startServer(
    loadServerConfig({ dataDir, listen: '127.0.0.1:0' }, { FLOTILLA_LOG_LEVEL: 'error' }),
  );
  return {
    server,
    ready: {
      url: server.url,
      organizationId: admin.organizationId,
      apiKeyId: admin.apiKeyId,
      apiKey: admin.apiKey,
    },
  };
}
