/*
 * Flotilla child: the real server, as `flotilla init` + `flotilla start` would run it, on SQLite
 * in a fresh data directory (given by the orchestrator, removed again on exit).
 */
import { rmSync } from 'node:fs';
import type { RunningServer } from '../../src/server/create-server.js';
import { startBenchFlotilla, type FlotillaReady } from './flotilla-instance.js';
import { serveParent } from './ipc.js';
import { cpuSnapshot } from './stats.js';

let server: RunningServer | undefined;
let dataDir: string | undefined;

async function start(payload: unknown): Promise<FlotillaReady> {
  dataDir = (payload as { dataDir: string }).dataDir;
  const started = await startBenchFlotilla(dataDir);
  server = started.server;
  return started.ready;
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
