/*
 * Load-generator child of the machines benchmark. Requests are encoded once per machine (or,
 * for Log, assembled from pre-encoded entries with fresh times); replies stay raw bytes on the
 * hot path and one per row is decoded and checked off the clock.
 *
 * - setup: the owner's token and each row machine's token (AuthService.Authenticate with the
 *   part secret), per fleet; Flotilla's replies for one part, for the baselines to send.
 * - row: a closed loop of N callers for a warm-up, then a measured window. Machine calls go over
 *   the raw h2c client (logs-grpc.ts), the machines spread over a few HTTP/2 connections, each
 *   call from a machine drawn at random with its own token; owner calls over HTTP/1.1 (gRPC-web
 *   or Connect JSON), one keep-alive connection per call in flight.
 * - capacity: an open loop of M machines calling on viam-server's schedule, 100 to a connection,
 *   with the generator's own lateness measured so it can say when it, not the server, fell behind.
 * - marker: a Log entry with a unique word, and GetRobotPartLogs(filter) until it is found.
 */
import { createPromiseClient } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { appApi, appRobotApi } from '@viamrobotics/sdk';
import { AuthService } from '../../src/rpc/auth-service-descriptor.js';
import { servedConfigProblem } from './fleet-seed.js';
import { H1Client, type H1Result } from './h1-client.js';
import { notifyParent, serveParent } from './ipc.js';
import type { ReferenceReplies } from './machine-baselines.js';
import {
  BOOT_IN_FLIGHT,
  emptyRowLoad,
  CALLS,
  MACHINE_CALLS,
  type BootResult,
  type CapacityLoad,
  type CapacitySpec,
  type FleetKey,
  type FleetSetup,
  type LoadSetupResult,
  type MachineCall,
  type RowLoad,
  type RowRun,
} from './machines-types.js';
import {
  encodePool,
  frame,
  framedLogRequest,
  LogRequestAssembler,
  plainPool,
  POOL_SIZE,
} from './logs-entries.js';
import { GrpcSession, type UnaryResult } from './logs-grpc.js';
import { cpuPercent, cpuSnapshot, summarizeLatencies } from './stats.js';

const MAX_CALLS_PER_ROW = 5_000_000;
const AUTH_IN_FLIGHT = 16;
const GET_LOGS_PATH = '/viam.app.v1.AppService/GetRobotPartLogs';
const errorText = (e: unknown) =>
  (e instanceof Error ? e.message : String(e)).split('\n', 1)[0]?.slice(0, 300);
/** The generator kept its schedule if its sends were at most this late (p99, ms). */
const MAX_LATE_P99_MS = 50;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

const encodedPool = encodePool(plainPool());

/** A fleet's machines, their tokens and their requests (built on first use). */
class Fleet {
  readonly tokens: string[] = [];
  ownerToken = '';
  /** The first `booted` machines have fetched their config once (capacity steps). */
  booted = 0;
  private readonly configRequests: Buffer[] = [];
  private readonly restartRequests: Buffer[] = [];
  private readonly partRequests: Buffer[] = [];
  private readonly partJson: Buffer[] = [];
  private readonly listRequests: Buffer[] = [];
  private readonly assemblers: LogRequestAssembler[] = [];

  constructor(readonly setup: FleetSetup) {}

  part(m: number) {
    const p = this.setup.parts[m];
    if (!p) throw new Error(`machine ${m} is not in the ${this.setup.key} fleet's sample`);
    return p;
  }

  /** What viam-server sends: its id and what its agent knows about the host. */
  configRequest(m: number): Buffer {
    return (this.configRequests[m] ??= frame(
      new appRobotApi.ConfigRequest({
        id: this.part(m).id,
        agentInfo: new appRobotApi.AgentInfo({
          host: this.part(m).host,
          os: 'linux',
          ips: [`10.${(m >> 16) & 255}.${(m >> 8) & 255}.${m & 255}`],
          version: '0.98.0',
          gitRevision: '4f2b1c9a8e7d6c5b4a39281706f5e4d3c2b1a098',
          platform: 'linux/arm64',
        }),
      }).toBinary(),
    ));
  }

  restartRequest(m: number): Buffer {
    return (this.restartRequests[m] ??= frame(
      new appRobotApi.NeedsRestartRequest({ id: this.part(m).id }).toBinary(),
    ));
  }

  logRequest(m: number, cursor: number, entries: number): Buffer {
    const assembler = (this.assemblers[m] ??= new LogRequestAssembler(
      this.part(m).id,
      this.part(m).host,
      encodedPool,
    ));
    return assembler.framed(cursor % POOL_SIZE, entries);
  }

  partRequest(m: number): Buffer {
    return (this.partRequests[m] ??= frame(
      new appApi.GetRobotPartRequest({ id: this.part(m).id }).toBinary(),
    ));
  }

  partJsonRequest(m: number): Buffer {
    return (this.partJson[m] ??= Buffer.from(JSON.stringify({ id: this.part(m).id })));
  }

  listRequest(l: number): Buffer {
    const locationId = this.setup.locations[l % this.setup.locations.length] as string;
    return (this.listRequests[l] ??= frame(new appApi.ListRobotsRequest({ locationId }).toBinary()));
  }

  /** Logs in machines until the first `n` have tokens, `AUTH_IN_FLIGHT` at a time. */
  async ensureTokens(n: number): Promise<{ parts: number; ms: number }> {
    const want = Math.min(n, this.setup.parts.length);
    const started = performance.now();
    const before = this.tokens.length;
    if (before >= want && this.ownerToken) return { parts: 0, ms: 0 };
    const sessions = new Http2SessionManager(this.setup.url);
    try {
      const transport = createGrpcTransport({
        baseUrl: this.setup.url,
        httpVersion: '2',
        sessionManager: sessions,
      });
      const auth = createPromiseClient(AuthService, transport);
      if (!this.ownerToken) {
        ({ accessToken: this.ownerToken } = await auth.authenticate({
          entity: this.setup.apiKeyId,
          credentials: { type: 'api-key', payload: this.setup.apiKey },
        }));
      }
      let next = before;
      await Promise.all(
        Array.from({ length: AUTH_IN_FLIGHT }, async () => {
          while (next < want) {
            const m = next++;
            const { accessToken } = await auth.authenticate(
              { entity: this.part(m).id, credentials: { type: 'robot-secret', payload: this.setup.secret } },
              { timeoutMs: 30_000 },
            );
            this.tokens[m] = accessToken;
          }
        }),
      );
      return { parts: want - before, ms: performance.now() - started };
    } finally {
      sessions.abort();
    }
  }
}

const fleets = new Map<FleetKey, Fleet>();
const fleetOf = (key: FleetKey): Fleet => {
  const f = fleets.get(key);
  if (!f) throw new Error(`setup first (no ${key} fleet)`);
  return f;
};
let reference: ReferenceReplies | undefined;

// ---- setup ----

async function setup(payload: unknown): Promise<LoadSetupResult> {
  const { fleets: given } = payload as { fleets: FleetSetup[] };
  const auth: Partial<LoadSetupResult['auth']> = {};
  const booted: Partial<LoadSetupResult['boot']> = {};
  for (const s of given) {
    const fleet = new Fleet(s);
    fleets.set(s.key, fleet);
    auth[s.key] = await fleet.ensureTokens(s.rowSample);
    // The rows' machines are up, as a fleet's machines are: each has fetched its config once.
    booted[s.key] = await boot({
      fleet: s.key,
      machines: s.rowSample,
      inFlight: BOOT_IN_FLIGHT,
      callTimeoutMs: BOOT_TIMEOUT_MS,
    });
  }
  const large = fleetOf('large');
  reference = await referenceReplies(large);
  const partTokens: Record<string, string> = {};
  for (let m = 0; m < large.setup.rowSample; m++) partTokens[large.part(m).id] = large.tokens[m] as string;
  return {
    auth: auth as LoadSetupResult['auth'],
    boot: booted as LoadSetupResult['boot'],
    ownerToken: large.ownerToken,
    partTokens,
    replies: reference,
  };
}

/** Flotilla's replies for the large fleet's first sampled machine, each checked. */
async function referenceReplies(fleet: Fleet): Promise<ReferenceReplies> {
  const url = fleet.setup.url;
  const session = new GrpcSession(url);
  const h1 = new H1Client(url, 1);
  try {
    const token = fleet.tokens[0] as string;
    const unary = async (call: 'config' | 'needsRestart' | 'log', request: Buffer) => {
      const r = await session.unary(CALLS[call].path, token, request, 10_000);
      if (r.status !== 0 || !r.reply)
        throw new Error(`reference ${call}: grpc-status ${r.status} ${r.message}`);
      const problem = verify(call, r.reply, { partId: fleet.part(0).id, locationId: '' }, fleet);
      if (problem) throw new Error(`reference ${call}: ${problem}`);
      return r.reply.toString('base64');
    };
    const web = async (call: 'getRobotPartWeb' | 'listRobots', request: Buffer, locationId: string) => {
      const r = await h1.grpcWeb(CALLS[call].path, fleet.ownerToken, request, 10_000);
      if (r.status !== 0 || !r.reply)
        throw new Error(`reference ${call}: grpc-status ${r.status} ${r.message}`);
      const problem = verify(call, r.reply, { partId: fleet.part(0).id, locationId }, fleet);
      if (problem) throw new Error(`reference ${call}: ${problem}`);
      return r.reply.toString('base64');
    };
    const json = await h1.connectJson(
      CALLS.getRobotPartJson.path,
      fleet.ownerToken,
      fleet.partJsonRequest(0),
      10_000,
    );
    if (json.status !== 0 || !json.reply)
      throw new Error(`reference GetRobotPart JSON: ${json.status} ${json.message}`);
    const locationId = fleet.setup.locations[0] as string;
    return {
      partId: fleet.part(0).id,
      locationId,
      config: await unary('config', fleet.configRequest(0)),
      needsRestart: await unary('needsRestart', fleet.restartRequest(0)),
      log: await unary('log', fleet.logRequest(0, 0, 1)),
      getRobotPart: await web('getRobotPartWeb', fleet.partRequest(0), locationId),
      getRobotPartJson: json.reply.toString('utf8'),
      listRobots: await web('listRobots', fleet.listRequest(0), locationId),
    };
  } finally {
    session.close();
    h1.close();
  }
}

// ---- checking replies ----

/**
 * Decodes a reply and says what is wrong with it, if anything: the part it is about, the merged
 * config (see servedConfigProblem), the location's machines.
 */
function verify(
  call: keyof typeof CALLS,
  reply: Buffer,
  expect: { partId: string; locationId: string },
  fleet: Fleet,
): string | undefined {
  try {
    switch (call) {
      case 'config':
        return servedConfigProblem(
          appRobotApi.ConfigResponse.fromBinary(reply).config,
          expect.partId,
          fleet.setup.served,
        );
      case 'needsRestart': {
        const r = appRobotApi.NeedsRestartResponse.fromBinary(reply);
        return r.id === expect.partId ? undefined : `NeedsRestart answered for ${r.id}`;
      }
      case 'log':
        appRobotApi.LogResponse.fromBinary(reply);
        return undefined;
      case 'getRobotPartWeb': {
        const r = appApi.GetRobotPartResponse.fromBinary(reply);
        if (r.part?.id !== expect.partId) return `GetRobotPart returned part ${r.part?.id ?? '?'}`;
        const config = JSON.parse(r.configJson) as { fragments?: unknown[] };
        return config.fragments?.length === 3 ? undefined : 'GetRobotPart config_json lacks the 3 fragments';
      }
      case 'getRobotPartJson': {
        const r = JSON.parse(reply.toString('utf8')) as { part?: { id?: string }; configJson?: string };
        if (r.part?.id !== expect.partId) return `GetRobotPart (JSON) returned part ${r.part?.id ?? '?'}`;
        const config = JSON.parse(r.configJson ?? '{}') as { fragments?: unknown[] };
        return config.fragments?.length === 3
          ? undefined
          : 'GetRobotPart (JSON) config_json lacks the 3 fragments';
      }
      case 'listRobots': {
        const { robots } = appApi.ListRobotsResponse.fromBinary(reply);
        if (robots.length !== 50) return `ListRobots returned ${robots.length} machines, not 50`;
        return robots.every((r) => r.location === expect.locationId)
          ? undefined
          : 'ListRobots: a machine of another location';
      }
    }
  } catch (error) {
    return `reply does not decode: ${errorText(error)}`;
  }
}

// ---- rows ----

interface Outcome {
  ok: boolean;
  error?: string;
  reply?: Buffer;
}

interface Caller {
  /** Calls as machine (or location) `m` from worker `w`. */
  call(m: number, w: number): Promise<Outcome>;
  /** How many machines (or locations) to draw from. */
  population: number;
  expectFor(m: number): { partId: string; locationId: string };
  close(): void;
}

const fromUnary = (r: UnaryResult | H1Result, what: string): Outcome =>
  r.status === 0
    ? { ok: true, reply: r.reply }
    : { ok: false, error: `${what}: status ${r.status} ${r.message}` };

function callerFor(spec: RowRun, fleet: Fleet): Caller {
  const population = Math.min(fleet.setup.rowSample, fleet.tokens.length);
  const ref = reference;
  const expectFor = (m: number) =>
    spec.expect === 'reference' && ref
      ? { partId: ref.partId, locationId: ref.locationId }
      : {
          partId: fleet.part(m).id,
          locationId: fleet.setup.locations[m % fleet.setup.locations.length] as string,
        };
  const timeout = spec.callTimeoutMs;
  const what = `${CALLS[spec.call].name} (${CALLS[spec.call].wire})`;
  if (CALLS[spec.call].machine) {
    const sessions = Array.from({ length: spec.connections }, () => new GrpcSession(spec.url));
    const cursors = new Array<number>(spec.inFlight).fill(0).map((_, w) => w * 997);
    const path = CALLS[spec.call].path;
    const request = (m: number, w: number): Buffer => {
      if (spec.call === 'config') return fleet.configRequest(m);
      if (spec.call === 'needsRestart') return fleet.restartRequest(m);
      const cursor = cursors[w] ?? 0;
      cursors[w] = cursor + spec.logBatch;
      return fleet.logRequest(m, cursor, spec.logBatch);
    };
    return {
      population,
      expectFor,
      call: async (m, w) =>
        fromUnary(
          await (sessions[m % sessions.length] as GrpcSession).unary(
            path,
            fleet.tokens[m] as string,
            request(m, w),
            timeout,
          ),
          what,
        ),
      close: () => sessions.forEach((s) => s.close()),
    };
  }
  const h1 = new H1Client(spec.url, spec.inFlight);
  const owner = fleet.ownerToken;
  const path = CALLS[spec.call].path;
  if (spec.call === 'listRobots') {
    return {
      population: fleet.setup.locations.length,
      expectFor,
      call: async (l) => fromUnary(await h1.grpcWeb(path, owner, fleet.listRequest(l), timeout), what),
      close: () => h1.close(),
    };
  }
  return {
    population,
    expectFor,
    call:
      spec.call === 'getRobotPartJson'
        ? async (m) => fromUnary(await h1.connectJson(path, owner, fleet.partJsonRequest(m), timeout), what)
        : async (m) => fromUnary(await h1.grpcWeb(path, owner, fleet.partRequest(m), timeout), what),
    close: () => h1.close(),
  };
}

async function row(payload: unknown): Promise<RowLoad> {
  const spec = payload as RowRun;
  const fleet = fleetOf(spec.fleet);
  const caller = callerFor(spec, fleet);
  const pick = () => Math.floor(Math.random() * caller.population);
  const result: RowLoad = emptyRowLoad();
  const check = (m: number, outcome: Outcome) => {
    if (!outcome.ok || !outcome.reply) {
      result.checkError ??= outcome.error ?? 'no reply to check';
      return;
    }
    result.checked++;
    result.replyBytes = outcome.reply.length;
    const problem = verify(spec.call, outcome.reply, caller.expectFor(m), fleet);
    if (problem) result.checkError ??= problem;
  };
  try {
    // One checked call before anything is timed.
    const first = pick();
    check(first, await caller.call(first, 0));

    const latencies: number[] = [];
    let sample: { m: number; outcome: Outcome } | undefined;
    const t0 = performance.now();
    const measureFrom = t0 + spec.warmupMs;
    const end = measureFrom + spec.durationMs;
    const sampleFrom = measureFrom + spec.durationMs / 2;
    let cpu0 = cpuSnapshot();
    const startTimer = setTimeout(() => {
      notifyParent('measure-start', spec.id);
      cpu0 = cpuSnapshot();
    }, spec.warmupMs);
    let lastEnd = measureFrom;
    let total = 0;
    await Promise.all(
      Array.from({ length: spec.inFlight }, async (_, w) => {
        for (;;) {
          const start = performance.now();
          if (start >= end || total >= MAX_CALLS_PER_ROW) break;
          total++;
          const m = pick();
          const outcome = await caller.call(m, w);
          const done = performance.now();
          const measured = start >= measureFrom;
          if (measured) lastEnd = Math.max(lastEnd, done);
          if (outcome.ok) {
            if (!measured) result.warmupCalls++;
            else {
              result.calls++;
              latencies.push(done - start);
              if (!sample && start >= sampleFrom) sample = { m, outcome };
            }
          } else {
            if (measured) result.errors++;
            else result.warmupErrors++;
            result.firstError ??= outcome.error;
          }
        }
      }),
    );
    clearTimeout(startTimer);
    const cpu1 = cpuSnapshot();
    notifyParent('measure-end', spec.id);
    if (sample) check(sample.m, sample.outcome);
    else if (result.calls > 0) result.checkError ??= 'no reply from the second half of the window to check';
    result.elapsedMs = lastEnd - measureFrom;
    result.callsPerSec = result.elapsedMs > 0 ? (result.calls / result.elapsedMs) * 1000 : 0;
    if (spec.call === 'log') result.entriesPerSec = result.callsPerSec * spec.logBatch;
    result.latency = summarizeLatencies(latencies);
    result.clientCpuPct = cpuPercent(cpu0, cpu1);
    return result;
  } finally {
    caller.close();
  }
}

// ---- capacity: an open loop on viam-server's schedule ----

/**
 * What an overloaded server answers (deadline exceeded, resource exhausted, unavailable), and
 * -1: no status at all, as when the client's own timeout cut the call off.
 */
const OVERLOAD_STATUSES = new Set([4, 8, 14, -1]);

/** Schedule resolution: calls due within one slot go out together. */
const SLOT_MS = 2;

async function capacity(payload: unknown): Promise<CapacityLoad> {
  const spec = payload as CapacitySpec;
  const fleet = fleetOf('large');
  const machines = Math.min(spec.machines, fleet.setup.parts.length);
  if (fleet.tokens.length < machines) throw new Error(`log in ${machines} machines first (tokens)`);
  const connections = Math.ceil(machines / spec.perConnection);
  const totalMs = spec.warmupMs + spec.durationMs;
  const periods: Record<MachineCall, number> = {
    config: spec.rates.configEveryS * 1000,
    needsRestart: spec.rates.restartEveryS * 1000,
    log: spec.rates.logEveryS * 1000,
  };
  // The schedule, in slots: every machine starts each kind of call at a random phase, then
  // repeats it every period, each time moved by up to `jitter` of the period.
  const slots = Math.ceil(totalMs / SLOT_MS) + 1;
  const due: number[][] = Array.from({ length: slots }, () => []);
  MACHINE_CALLS.forEach((call, c) => {
    const period = periods[call];
    for (let m = 0; m < machines; m++) {
      for (let t = Math.random() * period; t < totalMs; t += period) {
        const at = Math.min(totalMs - 1, Math.max(0, t + (Math.random() * 2 - 1) * spec.jitter * period));
        (due[Math.floor(at / SLOT_MS)] as number[]).push(m * 4 + c);
      }
    }
  });
  const sessions = Array.from({ length: connections }, () => new GrpcSession(spec.url));
  const stats = Object.fromEntries(
    MACHINE_CALLS.map((call) => [
      call,
      { scheduled: 0, ok: 0, errors: 0, hardErrors: 0, latencies: [] as number[], firstError: '' },
    ]),
  ) as Record<
    MachineCall,
    {
      scheduled: number;
      ok: number;
      errors: number;
      hardErrors: number;
      latencies: number[];
      firstError: string;
    }
  >;
  const lags: number[] = [];
  let inFlight = 0;
  let peakInFlight = 0;
  let droppedAtCap = 0;
  let sentMeasured = 0;
  const cursors = new Array<number>(machines).fill(0);
  const running = new Set<Promise<void>>();

  const send = (code: number, scheduledAt: number, measured: boolean) => {
    const m = code >> 2;
    const call = MACHINE_CALLS[code & 3] as MachineCall;
    const s = stats[call];
    if (measured) s.scheduled++;
    if (inFlight >= spec.maxInFlight) {
      if (measured) droppedAtCap++;
      return;
    }
    let request: Buffer;
    if (call === 'config') request = fleet.configRequest(m);
    else if (call === 'needsRestart') request = fleet.restartRequest(m);
    else {
      request = fleet.logRequest(m, cursors[m] ?? 0, spec.rates.logEntries);
      cursors[m] = (cursors[m] ?? 0) + spec.rates.logEntries;
    }
    const sent = performance.now();
    if (measured) {
      lags.push(sent - scheduledAt);
      sentMeasured++;
    }
    inFlight++;
    peakInFlight = Math.max(peakInFlight, inFlight);
    const session = sessions[Math.floor(m / spec.perConnection)] as GrpcSession;
    const p = session
      .unary(CALLS[call].path, fleet.tokens[m] as string, request, spec.callTimeoutMs)
      .then((r) => {
        inFlight--;
        if (!measured) return;
        if (r.status === 0) {
          s.ok++;
          s.latencies.push(performance.now() - sent);
        } else {
          s.errors++;
          if (!OVERLOAD_STATUSES.has(r.status)) s.hardErrors++;
          s.firstError ||= `${CALLS[call].name}: grpc-status ${r.status} ${r.message}`;
        }
      });
    running.add(p);
    void p.then(() => running.delete(p));
  };

  try {
    const t0 = performance.now();
    const measureFrom = t0 + spec.warmupMs;
    let cpu0 = cpuSnapshot();
    let started = false;
    let next = 0;
    while (next < slots) {
      const now = performance.now();
      if (!started && now >= measureFrom) {
        started = true;
        notifyParent('measure-start', spec.id);
        cpu0 = cpuSnapshot();
      }
      const upTo = Math.min(slots - 1, Math.floor((now - t0) / SLOT_MS));
      for (; next <= upTo; next++) {
        const scheduledAt = t0 + next * SLOT_MS;
        const measured = scheduledAt >= measureFrom;
        for (const code of due[next] as number[]) send(code, scheduledAt, measured);
        (due[next] as number[]).length = 0;
      }
      if (next < slots) await sleep(1);
    }
    const cpu1 = cpuSnapshot();
    notifyParent('measure-end', spec.id);
    // Calls still out get until their timeout (plus the client's grace) to finish.
    await Promise.race([Promise.all(running), sleep(spec.callTimeoutMs + 3000)]);
    const unfinished = inFlight;
    const windowS = spec.durationMs / 1000;
    const scheduled = MACHINE_CALLS.reduce((n, c) => n + stats[c].scheduled, 0);
    const lagSummary = summarizeLatencies(lags);
    const clientCpuPct = cpuPercent(cpu0, cpu1);
    const sentRatio = scheduled > 0 ? (sentMeasured + droppedAtCap) / scheduled : 1;
    const notes: string[] = [];
    // Latency counts from the actual send, so lateness only makes the load burstier; beyond half
    // the 100 ms bound the schedule no longer resembles a fleet's.
    if (lagSummary.p99 > MAX_LATE_P99_MS)
      notes.push(`sent calls up to ${Math.round(lagSummary.p99)} ms late (p99)`);
    if (sentRatio < 0.99) notes.push(`sent ${Math.round(sentRatio * 100)}% of the calls due`);
    if (clientCpuPct > 90) notes.push(`its CPU at ${Math.round(clientCpuPct)}% of a core`);
    return {
      machines,
      connections,
      scheduledPerSec: scheduled / windowS,
      sentPerSec: sentMeasured / windowS,
      byCall: Object.fromEntries(
        MACHINE_CALLS.map((c) => [
          c,
          {
            scheduled: stats[c].scheduled,
            ok: stats[c].ok,
            errors: stats[c].errors,
            hardErrors: stats[c].hardErrors,
            ...(stats[c].firstError ? { firstError: stats[c].firstError } : {}),
            latency: summarizeLatencies(stats[c].latencies),
          },
        ]),
      ) as CapacityLoad['byCall'],
      dispatchLag: lagSummary,
      droppedAtCap,
      peakInFlight,
      unfinished,
      entriesPerSec: (stats.log.ok * spec.rates.logEntries) / windowS,
      clientCpuPct,
      generatorBound: notes.length > 0,
      ...(notes.length > 0 ? { generatorNote: `the load generator fell behind: ${notes.join('; ')}` } : {}),
    };
  } finally {
    for (const s of sessions) s.close();
  }
}

const BOOT_TIMEOUT_MS = 30_000;

/**
 * Boots machines (the rows' machines at setup, those a capacity step adds before it): each calls Config once, `inFlight` at a time, as
 * viam-server does when it starts, so the step measures a fleet that is up rather than a herd
 * all asking for their first config at once.
 */
async function boot(payload: unknown): Promise<BootResult> {
  const {
    fleet: key = 'large',
    machines,
    inFlight,
    callTimeoutMs,
  } = payload as { fleet?: FleetKey; machines: number; inFlight: number; callTimeoutMs: number };
  const fleet = fleetOf(key);
  const want = Math.min(machines, fleet.tokens.length);
  const before = fleet.booted;
  const started = performance.now();
  const sessions = Array.from({ length: 4 }, () => new GrpcSession(fleet.setup.url));
  let next = before;
  let errors = 0;
  let firstError: string | undefined;
  try {
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < want) {
          const m = next++;
          const session = sessions[m % sessions.length] as GrpcSession;
          const r = await session.unary(
            CALLS.config.path,
            fleet.tokens[m] as string,
            fleet.configRequest(m),
            callTimeoutMs,
          );
          if (r.status !== 0) {
            errors++;
            firstError ??= `boot Config: grpc-status ${r.status} ${r.message}`;
          }
        }
      }),
    );
    fleet.booted = Math.max(fleet.booted, want);
    return {
      parts: Math.max(0, want - before),
      ms: performance.now() - started,
      errors,
      ...(firstError ? { firstError } : {}),
    };
  } finally {
    for (const s of sessions) s.close();
  }
}

// ---- the search marker ----

/**
 * Logs one entry with a unique word on the fleet's first sampled machine, then `bury` calls of
 * 100 ordinary entries on the same part, so the marker is far from the part's newest entries
 * when it is searched for.
 */
async function markerSend(payload: unknown): Promise<{ marker: string; partId: string; buried: number }> {
  const { fleet: key, marker, bury } = payload as { fleet: FleetKey; marker: string; bury: number };
  const fleet = fleetOf(key);
  const part = fleet.part(0);
  const session = new GrpcSession(fleet.setup.url);
  const token = fleet.tokens[0] as string;
  try {
    const r = await session.unary(
      CALLS.log.path,
      token,
      framedLogRequest(part.id, [
        {
          host: part.host,
          level: 'warn',
          loggerName: 'bench.marker',
          message: `calibration drift ${marker} logged before the Log rows`,
        },
      ]),
      10_000,
    );
    if (r.status !== 0) throw new Error(`marker Log: grpc-status ${r.status} ${r.message}`);
    for (let i = 0; i < bury; i++) {
      const filler = await session.unary(CALLS.log.path, token, fleet.logRequest(0, i * 100, 100), 10_000);
      if (filler.status !== 0)
        throw new Error(`Log after the marker: grpc-status ${filler.status} ${filler.message}`);
    }
    return { marker, partId: part.id, buried: bury * 100 };
  } finally {
    session.close();
  }
}

async function markerFind(
  payload: unknown,
): Promise<{ found: boolean; ms: number; polls: number; lastQueryMs: number; error?: string }> {
  const { fleet: key, marker, timeoutMs } = payload as { fleet: FleetKey; marker: string; timeoutMs: number };
  const fleet = fleetOf(key);
  const session = new GrpcSession(fleet.setup.url);
  const request = frame(
    new appApi.GetRobotPartLogsRequest({ id: fleet.part(0).id, filter: marker, limit: 10n }).toBinary(),
  );
  const started = performance.now();
  let lastQueryMs = 0;
  let polls = 0;
  try {
    while (polls < 1000) {
      polls++;
      const q0 = performance.now();
      const r = await session.unary(GET_LOGS_PATH, fleet.ownerToken, request, 10_000);
      lastQueryMs = performance.now() - q0;
      if (r.status !== 0 || !r.reply) {
        const error = `GetRobotPartLogs: grpc-status ${r.status} ${r.message}`;
        return { found: false, ms: performance.now() - started, polls, lastQueryMs, error };
      }
      const { logs } = appApi.GetRobotPartLogsResponse.fromBinary(r.reply);
      if (logs.some((l) => l.message.includes(marker))) {
        return { found: true, ms: performance.now() - started, polls, lastQueryMs };
      }
      if (performance.now() - started > timeoutMs) break;
      await sleep(50);
    }
    return { found: false, ms: performance.now() - started, polls, lastQueryMs };
  } finally {
    session.close();
  }
}

serveParent('machines load generator', {
  setup,
  row,
  tokens: async (payload: unknown) =>
    fleetOf('large').ensureTokens((payload as { machines: number }).machines),
  capacity,
  boot,
  markerSend,
  markerFind,
  stop: () => ({}),
});
