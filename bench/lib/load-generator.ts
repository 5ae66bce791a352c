/*
 * Load-generator child: connect-node clients in a closed loop. For each row it opens a fresh
 * transport (gRPC-web over HTTP/1.1 with one keep-alive connection per call in flight, or native
 * gRPC over one h2c connection), checks one reply, warms up, then measures a fixed window and
 * tells the orchestrator when the window starts and ends (so it can read the server's CPU).
 */
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import type { Message } from '@bufbuild/protobuf';
import { createPromiseClient, type PromiseClient, type Transport } from '@connectrpc/connect';
import { createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { appApi } from '@viamrobotics/sdk';
import { AuthService } from '../../src/rpc/auth-service-descriptor.js';
import { AppService } from '../../src/rpc/service-descriptors.generated.js';
import { notifyParent, serveParent } from './ipc.js';
import { cpuPercent, cpuSnapshot, summarizeLatencies } from './stats.js';
import type { LoadResult, Method, Protocol, RowSpec, TargetInfo } from './types.js';

/** A bound on every loop besides its time window. */
const MAX_CALLS_PER_PHASE = 5_000_000;
/** A call still running this long after its row's window has ended is cancelled. */
const ROW_GRACE_MS = 10_000;

export interface SetupRequest {
  url: string;
  organizationId: string;
  apiKeyId: string;
  apiKey: string;
}
export interface SetupResult {
  token: string;
  locationId: string;
  /** Flotilla's GetOrganizationResponse, binary, base64: the baseline's canned reply. */
  orgReplyBase64: string;
}

function openTransport(
  protocol: Protocol,
  url: string,
  concurrency: number,
): { transport: Transport; close: () => void } {
  // No compression on either side, as the TS SDK's gRPC-web transport sends it.
  switch (protocol) {
    case 'grpc-web-h1': {
      const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
      return {
        transport: createGrpcWebTransport({
          baseUrl: url,
          httpVersion: '1.1',
          useBinaryFormat: true,
          acceptCompression: [],
          nodeOptions: { agent },
        }),
        close: () => agent.destroy(),
      };
    }
    case 'grpc-h2c': {
      const sessions = new Http2SessionManager(url);
      return {
        transport: createGrpcTransport({
          baseUrl: url,
          httpVersion: '2',
          useBinaryFormat: true,
          acceptCompression: [],
          sessionManager: sessions,
        }),
        close: () => sessions.abort(),
      };
    }
  }
}

async function setup(payload: unknown): Promise<SetupResult> {
  const { url, organizationId, apiKeyId, apiKey } = payload as SetupRequest;
  const { transport, close } = openTransport('grpc-h2c', url, 1);
  try {
    const { accessToken } = await createPromiseClient(AuthService, transport).authenticate({
      entity: apiKeyId,
      credentials: { type: 'api-key', payload: apiKey },
    });
    const app = createPromiseClient(AppService, transport);
    const headers = { authorization: `Bearer ${accessToken}` };
    const { location } = await app.createLocation({ organizationId, name: 'Bench Location' }, { headers });
    if (!location?.id) throw new Error('CreateLocation returned no location');
    const org = await app.getOrganization({ organizationId }, { headers });
    if (org.organization?.id !== organizationId) throw new Error('GetOrganization returned another org');
    return {
      token: accessToken,
      locationId: location.id,
      orgReplyBase64: Buffer.from(org.toBinary()).toString('base64'),
    };
  } finally {
    close();
  }
}

type Call = () => Promise<Message>;

/** One call of `method`, with its reply checked; a wrong reply throws and counts as an error. */
function callFor(
  method: Method,
  app: PromiseClient<typeof AppService>,
  target: TargetInfo,
  options: { headers: Record<string, string>; signal: AbortSignal },
): Call {
  const { organizationId, locationId } = target;
  switch (method) {
    case 'getOrganization': {
      const req = new appApi.GetOrganizationRequest({ organizationId });
      return async () => {
        const res = await app.getOrganization(req, options);
        if (res.organization?.id !== organizationId) throw new Error('GetOrganization: wrong organization');
        return res;
      };
    }
    case 'listLocations': {
      const req = new appApi.ListLocationsRequest({ organizationId });
      return async () => {
        const res = await app.listLocations(req, options);
        if (!res.locations.some((l) => l.id === locationId))
          throw new Error('ListLocations: location missing');
        return res;
      };
    }
    case 'getLocation': {
      const req = new appApi.GetLocationRequest({ locationId });
      return async () => {
        const res = await app.getLocation(req, options);
        if (res.location?.id !== locationId) throw new Error('GetLocation: wrong location');
        return res;
      };
    }
  }
}

interface LoopResult {
  calls: number;
  errors: number;
  firstError: string | undefined;
  elapsedMs: number;
}

/** `concurrency` workers, each calling back to back until `ms` have passed (or the call cap). */
async function closedLoop(
  call: Call,
  concurrency: number,
  ms: number,
  latencies: number[] | undefined,
): Promise<LoopResult> {
  const start = performance.now();
  const end = start + ms;
  let calls = 0;
  let errors = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (performance.now() < end && calls + errors < MAX_CALLS_PER_PHASE) {
      const t0 = performance.now();
      try {
        await call();
        latencies?.push(performance.now() - t0);
        calls++;
      } catch (error) {
        errors++;
        firstError ??= String(error).slice(0, 300);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { calls, errors, firstError, elapsedMs: performance.now() - start };
}

async function runRow(payload: unknown): Promise<LoadResult> {
  const { spec, target } = payload as { spec: RowSpec; target: TargetInfo };
  const { transport, close } = openTransport(spec.protocol, target.url, spec.concurrency);
  const abort = new AbortController();
  // Every call in flight listens on this signal (and stops listening when it ends).
  setMaxListeners(spec.concurrency + 16, abort.signal);
  const hardStop = setTimeout(() => abort.abort(), spec.warmupMs + spec.durationMs + ROW_GRACE_MS);
  try {
    const app = createPromiseClient(AppService, transport);
    const call = callFor(spec.method, app, target, {
      headers: { authorization: `Bearer ${target.token}` },
      signal: abort.signal,
    });
    const first = await call();
    const warmup = await closedLoop(call, spec.concurrency, spec.warmupMs, undefined);
    const latencies: number[] = [];
    notifyParent('measure-start', spec.id);
    const cpu0 = cpuSnapshot();
    const measured = await closedLoop(call, spec.concurrency, spec.durationMs, latencies);
    const cpu1 = cpuSnapshot();
    notifyParent('measure-end', spec.id);
    const lat = summarizeLatencies(latencies);
    const firstError = warmup.firstError ?? measured.firstError;
    return {
      calls: measured.calls,
      errors: measured.errors,
      warmupCalls: warmup.calls,
      warmupErrors: warmup.errors,
      ...(firstError === undefined ? {} : { firstError }),
      elapsedMs: measured.elapsedMs,
      callsPerSec: measured.calls / (measured.elapsedMs / 1000),
      p50Ms: lat.p50,
      p90Ms: lat.p90,
      p99Ms: lat.p99,
      maxMs: lat.max,
      meanMs: lat.mean,
      replyBytes: first.toBinary().length,
      clientCpuPct: cpuPercent(cpu0, cpu1),
    };
  } finally {
    clearTimeout(hardStop);
    close();
  }
}

serveParent('load generator', { setup, row: runRow, stop: () => ({}) });
