/** What the orchestrator, the load generator and the report share. */

export const PROTOCOLS = {
  'grpc-web-h1': 'gRPC-web binary, HTTP/1.1 (TS SDK wire)',
  'grpc-h2c': 'gRPC, h2c, 1 connection (Python/Go SDKs, machines)',
} as const;
export type Protocol = keyof typeof PROTOCOLS;

export const METHODS = {
  getOrganization: 'GetOrganization',
  listLocations: 'ListLocations',
  getLocation: 'GetLocation',
} as const;
export type Method = keyof typeof METHODS;

export type Target = 'baseline' | 'flotilla';

/** One measured row: a method on one server over one protocol at a fixed number of calls in flight. */
export interface RowSpec {
  id: string;
  target: Target;
  method: Method;
  protocol: Protocol;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

/** What the load generator needs to call a server. */
export interface TargetInfo {
  url: string;
  token: string;
  organizationId: string;
  locationId: string;
}

export interface LoadResult {
  /** Successful calls in the measured window. */
  calls: number;
  /** Failed calls (an error, or a reply that did not check out) in the measured window. */
  errors: number;
  warmupCalls: number;
  warmupErrors: number;
  firstError?: string;
  /** From the start of the measured window until its last call returned. */
  elapsedMs: number;
  callsPerSec: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** Size of the first reply message (protobuf binary). */
  replyBytes: number;
  /** The load generator's own CPU over the measured window, % of one core. */
  clientCpuPct: number;
}

export interface RowResult extends RowSpec, LoadResult {
  /** The server process's CPU over the measured window, % of one core. */
  serverCpuPct: number | undefined;
  /**
   * The rest of the machine over the measured window (every core's busy time minus the server's
   * and the load generator's), % of one core: other work competing with the benchmark.
   */
  otherCpuPct: number | undefined;
  /** Row id of the baseline this row is compared with (itself for baseline rows). */
  baselineId: string | undefined;
  /** calls/s divided by the baseline row's calls/s. */
  ratio: number | undefined;
}
