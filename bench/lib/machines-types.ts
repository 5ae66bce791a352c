/** What the machines benchmark's orchestrator, load generator and report share. */
import type { SampledPart, ServedExpectation } from './fleet-seed.js';
import type { ReferenceReplies } from './machine-baselines.js';
import { summarizeLatencies, type LatencySummary } from './stats.js';

export const CALLS = {
  config: { name: 'Config', wire: 'gRPC, h2c', path: '/viam.app.v1.RobotService/Config', machine: true },
  needsRestart: {
    name: 'NeedsRestart',
    wire: 'gRPC, h2c',
    path: '/viam.app.v1.RobotService/NeedsRestart',
    machine: true,
  },
  log: { name: 'Log', wire: 'gRPC, h2c', path: '/viam.app.v1.RobotService/Log', machine: true },
  getRobotPartWeb: {
    name: 'GetRobotPart',
    wire: 'gRPC-web, HTTP/1.1',
    path: '/viam.app.v1.AppService/GetRobotPart',
    machine: false,
  },
  getRobotPartJson: {
    name: 'GetRobotPart',
    wire: 'Connect JSON, HTTP/1.1',
    path: '/viam.app.v1.AppService/GetRobotPart',
    machine: false,
  },
  listRobots: {
    name: 'ListRobots',
    wire: 'gRPC-web, HTTP/1.1',
    path: '/viam.app.v1.AppService/ListRobots',
    machine: false,
  },
} as const;
export type Call = keyof typeof CALLS;

export const TARGETS = {
  small: 'Flotilla, 1k-machine fleet',
  large: 'Flotilla, 1M-machine fleet',
  'connect-pre': 'connect-node, reply pre-encoded',
  'connect-reencode': 'connect-node, reply encoded per call',
  'raw-h2': 'node:http2, same frames',
} as const;
export type TargetKey = keyof typeof TARGETS;
export type FleetKey = 'small' | 'large';
export const isFlotilla = (t: TargetKey): t is FleetKey => t === 'small' || t === 'large';

/** One measured row: a call against one server with a fixed number of calls in flight. */
export interface RowSpec {
  id: string;
  call: Call;
  target: TargetKey;
  inFlight: number;
  warmupMs: number;
  durationMs: number;
}

/** What the load generator is told to run. */
export interface RowRun extends RowSpec {
  url: string;
  /** Whose machines and tokens the calls use (baselines accept the large fleet's). */
  fleet: FleetKey;
  /** Check replies against the part asked for, or against the reference part (baselines). */
  expect: 'requested' | 'reference';
  /** HTTP/2 connections the machines are spread over (native gRPC calls). */
  connections: number;
  logBatch: number;
  callTimeoutMs: number;
}

export interface RowLoad {
  /** Successful calls started in the measured window. */
  calls: number;
  errors: number;
  warmupCalls: number;
  warmupErrors: number;
  firstError?: string;
  /** Replies decoded and checked (one before the warm-up, one from the measured window). */
  checked: number;
  checkError?: string;
  /** From the start of the measured window until the last of its calls returned. */
  elapsedMs: number;
  callsPerSec: number;
  /** Log rows: entries acknowledged per second. */
  entriesPerSec?: number;
  latency: LatencySummary;
  /** Size of the checked reply message (protobuf, or JSON for Connect). */
  replyBytes: number;
  /** The load generator's CPU over the measured window, % of one core. */
  clientCpuPct: number;
}

/** A row's load before any call: every count 0. */
export const emptyRowLoad = (): RowLoad => ({
  calls: 0,
  errors: 0,
  warmupCalls: 0,
  warmupErrors: 0,
  checked: 0,
  elapsedMs: 0,
  callsPerSec: 0,
  latency: summarizeLatencies([]),
  replyBytes: 0,
  clientCpuPct: 0,
});

export interface ServerWindow {
  /** The server process (all threads), % of one core. */
  cpuPct: number;
  /** Its main thread (the event loop), % of one core, where /proc tells. */
  mainThreadPct?: number;
  /** Its SQLite log writer and search indexer threads, % of one core, where /proc tells. */
  writerPct?: number;
  indexerPct?: number;
}

export interface RowResult extends RowSpec, RowLoad {
  server: ServerWindow | undefined;
  /** The rest of the machine over the window, % of one core. */
  otherCpuPct: number | undefined;
}

/** A fleet as the load generator needs it. */
export interface FleetSetup {
  key: FleetKey;
  url: string;
  apiKeyId: string;
  apiKey: string;
  /** Sampled machines: the first `rowSample` serve the rows, all of them the capacity steps. */
  parts: SampledPart[];
  rowSample: number;
  /** Locations of 50 machines. */
  locations: string[];
  secret: string;
  served: ServedExpectation;
}

/** Machines booted (one Config each), how long it took (ms), and how many Config calls failed. */
export interface BootResult {
  parts: number;
  ms: number;
  errors: number;
  firstError?: string;
}

/** Machines booted at a time: each boot is one Config call. */
export const BOOT_IN_FLIGHT = 32;

export interface LoadSetupResult {
  /** Per fleet: machines logged in (Authenticate with robot-secret), and how fast. */
  auth: Record<FleetKey, { parts: number; ms: number }>;
  /** Per fleet: the row machines booted (one Config each, the first they fetch: cold). */
  boot: Record<FleetKey, BootResult>;
  ownerToken: string;
  /** The large fleet's row machines: part id -> token (for the baselines). */
  partTokens: Record<string, string>;
  /** Flotilla's replies for one part of the large fleet, for the baselines to send. */
  replies: ReferenceReplies;
}

/** Machine behaviour in the capacity steps: viam-server's defaults unless told otherwise. */
export interface MachineRates {
  configEveryS: number;
  restartEveryS: number;
  logEveryS: number;
  logEntries: number;
}

export interface CapacitySpec {
  id: string;
  url: string;
  machines: number;
  perConnection: number;
  rates: MachineRates;
  warmupMs: number;
  durationMs: number;
  callTimeoutMs: number;
  /** Calls in flight at most; a call due beyond it is dropped and counted. */
  maxInFlight: number;
  /** Each call's time moves at random by up to this share of its period. */
  jitter: number;
}

export const MACHINE_CALLS = ['config', 'needsRestart', 'log'] as const;
export type MachineCall = (typeof MACHINE_CALLS)[number];

export interface CapacityCallStats {
  /** Due in the measured window. */
  scheduled: number;
  ok: number;
  errors: number;
  /**
   * Errors other than an overloaded server's (deadline exceeded, resource exhausted,
   * unavailable, a call cut off by its timeout): these mean something is broken.
   */
  hardErrors: number;
  firstError?: string;
  /** From the moment the call was sent. */
  latency: LatencySummary;
}

export interface CapacityLoad {
  machines: number;
  connections: number;
  /** Calls due per second by the schedule. */
  scheduledPerSec: number;
  /** Calls sent per second in the measured window. */
  sentPerSec: number;
  byCall: Record<MachineCall, CapacityCallStats>;
  /** How late the generator sent calls against their schedule. */
  dispatchLag: LatencySummary;
  /** Calls dropped because `maxInFlight` calls were already waiting for the server. */
  droppedAtCap: number;
  peakInFlight: number;
  /** Calls still unanswered after the step and the call timeout (never counted otherwise). */
  unfinished: number;
  entriesPerSec: number;
  clientCpuPct: number;
  /** The generator could not keep the schedule: its numbers say nothing about the server. */
  generatorBound: boolean;
  generatorNote?: string;
}

export interface CapacityStep extends CapacityLoad {
  /** The machines new to this step, booted (one Config each) before it, and how long that took, ms. */
  booted: number;
  bootMs: number;
  server: ServerWindow | undefined;
  otherCpuPct: number | undefined;
  /** Every call type p99 under the limit, no error, nothing dropped, the generator on schedule. */
  passed: boolean;
  /** Who fell short when it did not pass: the server, or (the server being fine) the generator. */
  limitedBy?: 'server' | 'load generator';
  verdict: string;
}
