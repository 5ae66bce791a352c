/*
 * Load-generator child of the logs benchmark. Everything on the hot paths goes through the raw
 * h2c client in logs-grpc.ts with requests assembled from pre-encoded entries (logs-entries.ts);
 * replies are decoded only off the clock. The phases:
 *
 * - setup: the owner's token; a location; the machines (16 ingesting parts, one part to fill,
 *   one part to tail), each part logged in with its own secret.
 * - ingest: every ingesting part on a connection of its own, exactly one Log call in flight,
 *   warm-up then a measured window; optionally the index-lag probe alongside.
 * - fill: one part's logs pushed up to a given count with large batches.
 * - queries: GetRobotPartLogs one call at a time on the filled part, per kind of filter.
 * - tails: 100 TailRobotPartLogs streams, then timed Log pushes, latency per entry per tail.
 */
import { randomBytes } from 'node:crypto';
import { createPromiseClient } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { appApi } from '@viamrobotics/sdk';
import { AuthService } from '../../src/rpc/auth-service-descriptor.js';
import { AppService } from '../../src/rpc/service-descriptors.generated.js';
import { notifyParent, serveParent } from './ipc.js';
import {
  checkAssembly,
  encodePool,
  frame,
  framedLogRequest,
  LogRequestAssembler,
  plainPool,
  POOL_SIZE,
  RARE_TERM,
} from './logs-entries.js';
import { GrpcSession } from './logs-grpc.js';
import {
  cpuPercent,
  cpuSnapshot,
  machinePercent,
  machineSnapshot,
  summarizeLatencies,
  type LatencySummary,
} from './stats.js';

const LOG_PATH = '/viam.app.v1.RobotService/Log';
const GET_LOGS_PATH = '/viam.app.v1.AppService/GetRobotPartLogs';
const TAIL_PATH = '/viam.app.v1.AppService/TailRobotPartLogs';

/** Bounds on every loop besides its time window. */
const MAX_CALLS = 5_000_000;
const MAX_PROBES = 2_000;
const MAX_POLLS_PER_PROBE = 1_000;

export interface PartInfo {
  id: string;
  token: string;
  host: string;
}
export interface LogsSetup {
  ownerToken: string;
  ingest: PartInfo[];
  fill: PartInfo;
  tail: PartInfo;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e)).slice(0, 300);

let setupDone: LogsSetup | undefined;
const pool = plainPool();
const encodedPool = encodePool(pool);

async function setup(payload: unknown): Promise<LogsSetup> {
  const { url, organizationId, apiKeyId, apiKey, ingestParts } = payload as {
    url: string;
    organizationId: string;
    apiKeyId: string;
    apiKey: string;
    ingestParts: number;
  };
  const sessions = new Http2SessionManager(url);
  try {
    const transport = createGrpcTransport({ baseUrl: url, httpVersion: '2', sessionManager: sessions });
    const auth = createPromiseClient(AuthService, transport);
    const app = createPromiseClient(AppService, transport);
    const { accessToken: ownerToken } = await auth.authenticate({
      entity: apiKeyId,
      credentials: { type: 'api-key', payload: apiKey },
    });
    const headers = { authorization: `Bearer ${ownerToken}` };
    const { location } = await app.createLocation({ organizationId, name: 'Logs Bench' }, { headers });
    if (!location?.id) throw new Error('CreateLocation returned no location');
    const machine = async (name: string, host: string): Promise<PartInfo> => {
      const { id: robotId } = await app.newRobot({ name, location: location.id }, { headers });
      const { parts } = await app.getRobotParts({ robotId }, { headers });
      const partId = parts[0]?.id;
      if (!partId) throw new Error(`machine ${name} has no part`);
      const { part } = await app.getRobotPart({ id: partId }, { headers });
      const secret = part?.secrets[0]?.secret;
      if (!secret) throw new Error(`part ${partId} has no secret`);
      const { accessToken } = await auth.authenticate({
        entity: partId,
        credentials: { type: 'robot-secret', payload: secret },
      });
      return { id: partId, token: accessToken, host };
    };
    const ingest: PartInfo[] = [];
    for (let i = 0; i < ingestParts; i++) {
      const n = String(i).padStart(2, '0');
      ingest.push(await machine(`rover-${n}`, `rover-${n}.lan`));
    }
    const fill = await machine('filled-rover', 'filled-rover.lan');
    const tail = await machine('tailed-rover', 'tailed-rover.lan');
    checkAssembly(fill.id, fill.host, pool);
    setupDone = { ownerToken, ingest, fill, tail };
    return setupDone;
  } finally {
    sessions.abort();
  }
}

function partsOrThrow(): LogsSetup {
  if (!setupDone) throw new Error('setup first');
  return setupDone;
}

/** Every phase's request names the phase (`id`, in its measure notices) and the server (`url`). */
interface PhaseSpec {
  id: string;
  url: string;
}

// ---- ingestion ----

export interface IngestSpec extends PhaseSpec {
  warmupMs: number;
  durationMs: number;
  batch: number;
  /** The index-lag probe (Flotilla only). */
  probe?: { intervalMs: number; recheckAfterMs: number; findTimeoutMs: number };
}

export interface ProbeResult {
  sent: number;
  logFailures: number;
  found: number;
  notFound: number;
  queryFailures: number;
  /** Log sent -> first GetRobotPartLogs reply that holds the marker, ms. */
  findableMs: number[];
  /** Of those, the Log call alone, ms. */
  logMs: number[];
  pollsMax: number;
  /** Queried again `recheckAfterMs` after it was first found. */
  rechecked: number;
  recheckFound: number;
  recheckQueryMs: number[];
  firstError?: string;
}

export interface IngestResult {
  entries: number;
  calls: number;
  failures: number;
  warmupEntries: number;
  warmupFailures: number;
  firstError?: string;
  elapsedMs: number;
  entriesPerSec: number;
  callLatency: LatencySummary;
  clientCpuPct: number;
  machinePct: number | undefined;
  /** Date.now() when the last ingestion call returned. */
  endEpochMs: number;
  probe?: ProbeResult;
}

interface LoopTotals {
  entries: number;
  calls: number;
  failures: number;
  firstError: string | undefined;
  elapsedMs: number;
}

/** One Log caller per part, back to back, until `ms` have passed. */
async function ingestLoop(
  workers: { session: GrpcSession; part: PartInfo; assembler: LogRequestAssembler; cursor: number }[],
  batch: number,
  ms: number,
  latencies: number[] | undefined,
): Promise<LoopTotals> {
  const start = performance.now();
  const end = start + ms;
  const totals: LoopTotals = { entries: 0, calls: 0, failures: 0, firstError: undefined, elapsedMs: 0 };
  await Promise.all(
    workers.map(async (w) => {
      while (performance.now() < end && totals.calls + totals.failures < MAX_CALLS) {
        const request = w.assembler.framed(w.cursor, batch);
        w.cursor = (w.cursor + batch) % POOL_SIZE;
        const t0 = performance.now();
        const result = await w.session.unary(LOG_PATH, w.part.token, request);
        if (result.status === 0) {
          latencies?.push(performance.now() - t0);
          totals.calls++;
          totals.entries += batch;
        } else {
          totals.failures++;
          totals.firstError ??= `Log: grpc-status ${result.status} ${result.message}`;
        }
      }
    }),
  );
  totals.elapsedMs = performance.now() - start;
  return totals;
}

async function ingest(payload: unknown): Promise<IngestResult> {
  const spec = payload as IngestSpec;
  const setupInfo = partsOrThrow();
  const workers = setupInfo.ingest.map((part, i) => ({
    part,
    session: new GrpcSession(spec.url),
    assembler: new LogRequestAssembler(part.id, part.host, encodedPool),
    cursor: (i * 1250) % POOL_SIZE,
  }));
  const owner = new GrpcSession(spec.url);
  try {
    const warm = await ingestLoop(workers, spec.batch, spec.warmupMs, undefined);
    const latencies: number[] = [];
    notifyParent('measure-start', spec.id);
    const m0 = machineSnapshot();
    const cpu0 = cpuSnapshot();
    const probeRun = spec.probe
      ? runProbes(spec.probe, setupInfo, workers[0]?.session as GrpcSession, owner, spec.durationMs)
      : undefined;
    const measured = await ingestLoop(workers, spec.batch, spec.durationMs, latencies);
    const cpu1 = cpuSnapshot();
    const m1 = machineSnapshot();
    const endEpochMs = Date.now();
    notifyParent('measure-end', spec.id);
    notifyParent('ingest-done', { id: spec.id, atMs: endEpochMs });
    const probe = await probeRun;
    const firstError = warm.firstError ?? measured.firstError;
    return {
      entries: measured.entries,
      calls: measured.calls,
      failures: measured.failures,
      warmupEntries: warm.entries,
      warmupFailures: warm.failures,
      ...(firstError === undefined ? {} : { firstError }),
      elapsedMs: measured.elapsedMs,
      entriesPerSec: measured.entries / (measured.elapsedMs / 1000),
      callLatency: summarizeLatencies(latencies),
      clientCpuPct: cpuPercent(cpu0, cpu1),
      machinePct: m0 && m1 ? machinePercent(m0, m1) : undefined,
      endEpochMs,
      ...(probe ? { probe } : {}),
    };
  } finally {
    for (const w of workers) w.session.close();
    owner.close();
  }
}

/**
 * Every `intervalMs` while ingestion runs: one entry with a unique marker, pushed through Log
 * on the first ingesting part (a call besides its regular one), then GetRobotPartLogs with the
 * marker as filter, as the owner, until the entry is there (every 50 ms, bounded), and once
 * more `recheckAfterMs` later, when thousands of newer entries have pushed it out of the
 * part's newest entries and it must come through the search index (or its unindexed tail).
 */
async function runProbes(
  p: NonNullable<IngestSpec['probe']>,
  setupInfo: LogsSetup,
  partSession: GrpcSession,
  owner: GrpcSession,
  durationMs: number,
): Promise<ProbeResult> {
  const part = setupInfo.ingest[0] as PartInfo;
  const tag = randomBytes(4).toString('hex');
  const r: ProbeResult = {
    sent: 0,
    logFailures: 0,
    found: 0,
    notFound: 0,
    queryFailures: 0,
    findableMs: [],
    logMs: [],
    pollsMax: 0,
    rechecked: 0,
    recheckFound: 0,
    recheckQueryMs: [],
  };
  const query = async (marker: string): Promise<boolean | undefined> => {
    const request = frame(
      new appApi.GetRobotPartLogsRequest({ id: part.id, filter: marker, limit: 10n }).toBinary(),
    );
    const result = await owner.unary(GET_LOGS_PATH, setupInfo.ownerToken, request);
    if (result.status !== 0 || !result.reply) {
      r.queryFailures++;
      r.firstError ??= `GetRobotPartLogs: grpc-status ${result.status} ${result.message}`;
      return undefined;
    }
    return appApi.GetRobotPartLogsResponse.fromBinary(result.reply).logs.some((l) =>
      l.message.includes(marker),
    );
  };
  const one = async (k: number) => {
    const marker = `probe${tag}n${k}z`;
    const t0 = performance.now();
    r.sent++;
    const logged = await partSession.unary(
      LOG_PATH,
      part.token,
      framedLogRequest(part.id, [
        {
          host: part.host,
          level: 'info',
          loggerName: 'bench.probe',
          message: `index probe ${marker} sent during sustained ingestion`,
        },
      ]),
    );
    const storedAt = performance.now();
    if (logged.status !== 0) {
      r.logFailures++;
      r.firstError ??= `probe Log: grpc-status ${logged.status} ${logged.message}`;
      return;
    }
    let foundAt: number | undefined;
    for (let polls = 1; polls <= MAX_POLLS_PER_PROBE && performance.now() - t0 < p.findTimeoutMs; polls++) {
      const found = await query(marker);
      if (found === undefined) return;
      if (found) {
        foundAt = performance.now();
        r.pollsMax = Math.max(r.pollsMax, polls);
        break;
      }
      await sleep(50);
    }
    if (foundAt === undefined) {
      r.notFound++;
      return;
    }
    r.found++;
    r.findableMs.push(foundAt - t0);
    r.logMs.push(storedAt - t0);
    await sleep(p.recheckAfterMs - (performance.now() - foundAt));
    const q0 = performance.now();
    const again = await query(marker);
    if (again === undefined) return;
    r.rechecked++;
    r.recheckQueryMs.push(performance.now() - q0);
    if (again) r.recheckFound++;
  };
  const start = performance.now();
  const running: Promise<void>[] = [];
  for (let k = 0; k < MAX_PROBES; k++) {
    const at = start + k * p.intervalMs;
    if (at > start + durationMs - 100) break;
    await sleep(at - performance.now());
    running.push(one(k).catch((e: unknown) => void (r.firstError ??= errorText(e))));
  }
  await Promise.all(running);
  return r;
}

// ---- the 1M fill ----

export interface FillResult {
  entries: number;
  failures: number;
  firstError?: string;
  elapsedMs: number;
  entriesPerSec: number;
  complete: boolean;
  clientCpuPct: number;
  machinePct: number | undefined;
  endEpochMs: number;
  /** GetRobotPartLogs(filter = the rare term) on the part, one every `queryEveryMs`, while it filled. */
  queriesDuring: { calls: number; failures: number; latency: LatencySummary; firstError?: string };
}

export interface FillSpec extends PhaseSpec {
  /** Entries to store on the part, in calls of `batch`, `inFlight` calls at a time. */
  total: number;
  batch: number;
  inFlight: number;
  /** Stop filling after this long, complete or not. */
  maxMs: number;
  queryEveryMs: number;
}

async function fill(payload: unknown): Promise<FillResult> {
  const { id, url, total, batch, inFlight, maxMs, queryEveryMs } = payload as FillSpec;
  const setupInfo = partsOrThrow();
  const part = setupInfo.fill;
  const assembler = new LogRequestAssembler(part.id, part.host, encodedPool);
  const sessions = Array.from({ length: inFlight }, () => new GrpcSession(url));
  const batches = Math.ceil(total / batch);
  let next = 0;
  let entries = 0;
  let failures = 0;
  let firstError: string | undefined;
  try {
    notifyParent('measure-start', id);
    const m0 = machineSnapshot();
    const cpu0 = cpuSnapshot();
    const start = performance.now();
    let filling = true;
    const queryLatencies: number[] = [];
    const during: FillResult['queriesDuring'] = { calls: 0, failures: 0, latency: summarizeLatencies([]) };
    const querySession = new GrpcSession(url);
    const queryRequest = frame(
      new appApi.GetRobotPartLogsRequest({ id: part.id, filter: RARE_TERM }).toBinary(),
    );
    const querying = (async () => {
      for (let i = 0; filling && i < 100_000; i++) {
        await sleep(queryEveryMs);
        if (!filling) break;
        const t0 = performance.now();
        const result = await querySession.unary(GET_LOGS_PATH, setupInfo.ownerToken, queryRequest);
        const took = performance.now() - t0;
        const logs =
          result.status === 0 && result.reply
            ? appApi.GetRobotPartLogsResponse.fromBinary(result.reply).logs
            : undefined;
        if (!logs || !logs.every((l) => l.message.includes(RARE_TERM))) {
          during.failures++;
          during.firstError ??= `GetRobotPartLogs during the fill: grpc-status ${result.status} ${result.message}`;
        } else {
          during.calls++;
          queryLatencies.push(took);
        }
      }
    })();
    await Promise.all(
      sessions.map(async (session) => {
        while (performance.now() - start < maxMs && failures < 100) {
          const k = next++;
          if (k >= batches) return;
          const count = Math.min(batch, total - k * batch);
          // Batch k holds pool entries k*batch..: the pool goes out in order, a whole number of times.
          const result = await session.unary(
            LOG_PATH,
            part.token,
            assembler.framed((k * batch) % POOL_SIZE, count),
          );
          if (result.status === 0) entries += count;
          else {
            failures++;
            firstError ??= `fill Log: grpc-status ${result.status} ${result.message}`;
          }
        }
      }),
    );
    const elapsedMs = performance.now() - start;
    const cpu1 = cpuSnapshot();
    const m1 = machineSnapshot();
    notifyParent('measure-end', id);
    filling = false;
    await querying;
    querySession.close();
    during.latency = summarizeLatencies(queryLatencies);
    return {
      queriesDuring: during,
      entries,
      failures,
      ...(firstError === undefined ? {} : { firstError }),
      elapsedMs,
      entriesPerSec: entries / (elapsedMs / 1000),
      complete: entries === total,
      clientCpuPct: cpuPercent(cpu0, cpu1),
      machinePct: m0 && m1 ? machinePercent(m0, m1) : undefined,
      endEpochMs: Date.now(),
    };
  } finally {
    for (const s of sessions) s.close();
  }
}

// ---- GetRobotPartLogs latency ----

export interface QueryKind {
  name: string;
  filter?: string;
  /** Entries every reply must hold. */
  expect: number;
}

export interface QueryResult {
  name: string;
  filter?: string;
  /** Entries every reply had to hold. */
  expect: number;
  calls: number;
  failures: number;
  wrongReplies: number;
  firstError?: string;
  latency: LatencySummary;
  replyBytes: number;
  clientCpuPct: number;
  machinePct: number | undefined;
}

export interface QueriesSpec extends PhaseSpec {
  kinds: QueryKind[];
  /** Per kind: measured calls after `warmup` unmeasured ones, within `maxMsPerKind`. */
  samples: number;
  warmup: number;
  maxMsPerKind: number;
}

async function queries(payload: unknown): Promise<QueryResult[]> {
  const { id, url, kinds, samples, warmup, maxMsPerKind } = payload as QueriesSpec;
  const setupInfo = partsOrThrow();
  const session = new GrpcSession(url);
  const out: QueryResult[] = [];
  try {
    for (const kind of kinds) {
      const request = frame(
        new appApi.GetRobotPartLogsRequest({
          id: setupInfo.fill.id,
          ...(kind.filter === undefined ? {} : { filter: kind.filter }),
        }).toBinary(),
      );
      const needle = kind.filter?.toLowerCase();
      const r: QueryResult = {
        name: kind.name,
        ...(kind.filter === undefined ? {} : { filter: kind.filter }),
        expect: kind.expect,
        calls: 0,
        failures: 0,
        wrongReplies: 0,
        latency: summarizeLatencies([]),
        replyBytes: 0,
        clientCpuPct: 0,
        machinePct: undefined,
      };
      const latencies: number[] = [];
      const started = performance.now();
      let cpu0 = cpuSnapshot();
      let m0 = machineSnapshot();
      for (let i = 0; i < warmup + samples && performance.now() - started < maxMsPerKind; i++) {
        if (i === warmup) {
          notifyParent('measure-start', `${id}:${kind.name}`);
          cpu0 = cpuSnapshot();
          m0 = machineSnapshot();
        }
        const t0 = performance.now();
        const result = await session.unary(GET_LOGS_PATH, setupInfo.ownerToken, request);
        const ms = performance.now() - t0;
        if (result.status !== 0 || !result.reply) {
          r.failures++;
          r.firstError ??= `GetRobotPartLogs (${kind.name}): grpc-status ${result.status} ${result.message}`;
          continue;
        }
        // Checked off the clock: the right number of entries, each matching the filter.
        const logs = appApi.GetRobotPartLogsResponse.fromBinary(result.reply).logs;
        const ok =
          logs.length === kind.expect &&
          (!needle || logs.every((l) => l.message.toLowerCase().includes(needle)));
        if (!ok) {
          r.wrongReplies++;
          r.firstError ??= `GetRobotPartLogs (${kind.name}): ${logs.length} entries, expected ${kind.expect}`;
        }
        if (i >= warmup) {
          latencies.push(ms);
          r.calls++;
          r.replyBytes = result.reply.length;
        }
      }
      r.clientCpuPct = cpuPercent(cpu0, cpuSnapshot());
      const m1 = machineSnapshot();
      r.machinePct = m0 && m1 ? machinePercent(m0, m1) : undefined;
      notifyParent('measure-end', `${id}:${kind.name}`);
      r.latency = summarizeLatencies(latencies);
      out.push(r);
    }
    return out;
  } finally {
    session.close();
  }
}

// ---- live tails ----

export interface TailResult {
  tails: number;
  openedAll: boolean;
  /** From the first stream opened until every tail had its first (empty) message, ms. */
  openMs: number;
  pushes: number;
  pushFailures: number;
  entriesPushed: number;
  /** Per tail: entries received (distinct), min and max over tails. */
  receivedMin: number;
  receivedMax: number;
  duplicates: number;
  tailsComplete: number;
  /** Streams that ended before the benchmark cancelled them. */
  endedEarly: number;
  firstError?: string;
  latency: LatencySummary;
  deliveries: number;
  pushLatency: LatencySummary;
  clientCpuPct: number;
  machinePct: number | undefined;
}

export interface TailsSpec extends PhaseSpec {
  /** Streams, spread over `connections` h2c connections. */
  count: number;
  connections: number;
  /** Log calls of `perPush` entries, one every `intervalMs`. */
  pushes: number;
  perPush: number;
  intervalMs: number;
  /** How long to wait for every stream's first message, and for the last entries after the pushes. */
  openTimeoutMs: number;
  drainMs: number;
}

async function tails(payload: unknown): Promise<TailResult> {
  const { id, url, count, connections, pushes, perPush, intervalMs, openTimeoutMs, drainMs } =
    payload as TailsSpec;
  const setupInfo = partsOrThrow();
  const part = setupInfo.tail;
  const sessions = Array.from({ length: connections }, () => new GrpcSession(url));
  const pusher = new GrpcSession(url);
  const request = frame(new appApi.TailRobotPartLogsRequest({ id: part.id, errorsOnly: false }).toBinary());
  const streamTimeoutMs = openTimeoutMs + pushes * intervalMs + drainMs + 60_000;
  let firstError: string | undefined;
  let endedEarly = 0;
  let cancelling = false;
  // Raw messages with their arrival time; decoded after the run, so decoding never delays the
  // arrival time of the streams after it.
  const received = Array.from({ length: count }, () => [] as { at: number; message: Buffer }[]);
  const streams = received.map((messages, i) => {
    const session = sessions[i % connections] as GrpcSession;
    const s = session.serverStream(
      TAIL_PATH,
      setupInfo.ownerToken,
      request,
      (message, at) => messages.push({ at, message }),
      streamTimeoutMs,
    );
    void s.done.then((status) => {
      if (!cancelling) {
        endedEarly++;
        firstError ??= `TailRobotPartLogs ended early: grpc-status ${status.status} ${status.message}`;
      }
    });
    return s;
  });
  try {
    const openStart = performance.now();
    while (received.some((m) => m.length === 0) && performance.now() - openStart < openTimeoutMs)
      await sleep(5);
    const openMs = performance.now() - openStart;
    const openedAll = received.every((m) => m.length > 0);

    notifyParent('measure-start', id);
    const m0 = machineSnapshot();
    const cpu0 = cpuSnapshot();
    const pushLatencies: number[] = [];
    let pushFailures = 0;
    let okPushes = 0;
    const running: Promise<void>[] = [];
    const start = performance.now();
    for (let b = 0; b < pushes; b++) {
      await sleep(start + b * intervalMs - performance.now());
      const sent = performance.now();
      const entries = Array.from({ length: perPush }, (_, i) => ({
        host: part.host,
        level: i % 10 === 9 ? 'warn' : 'info',
        loggerName: 'rdk.resource_manager',
        message: `tail probe b=${b} i=${i} sent=${sent.toFixed(3)} resource graph walk finished, ${(b * 7 + i) % 97} nodes updated`,
      }));
      running.push(
        pusher.unary(LOG_PATH, part.token, framedLogRequest(part.id, entries)).then((result) => {
          if (result.status === 0) {
            okPushes++;
            pushLatencies.push(performance.now() - sent);
          } else {
            pushFailures++;
            firstError ??= `tail push Log: grpc-status ${result.status} ${result.message}`;
          }
        }),
      );
    }
    await Promise.all(running);
    // One message per stored batch, after the first empty one.
    const drainStart = performance.now();
    while (received.some((m) => m.length < okPushes + 1) && performance.now() - drainStart < drainMs)
      await sleep(5);
    const cpu1 = cpuSnapshot();
    const m1 = machineSnapshot();
    notifyParent('measure-end', id);

    const latencies: number[] = [];
    let duplicates = 0;
    const counts = received.map((messages) => {
      const seen = new Set<string>();
      for (const { at, message } of messages) {
        for (const log of appApi.TailRobotPartLogsResponse.fromBinary(message).logs) {
          const m = /^tail probe b=(\d+) i=(\d+) sent=([\d.]+) /.exec(log.message);
          if (!m) continue;
          const key = `${m[1]}:${m[2]}`;
          if (seen.has(key)) duplicates++;
          seen.add(key);
          latencies.push(at - Number(m[3]));
        }
      }
      return seen.size;
    });
    const entriesPushed = okPushes * perPush;
    return {
      tails: count,
      openedAll,
      openMs,
      pushes,
      pushFailures,
      entriesPushed,
      receivedMin: Math.min(...counts),
      receivedMax: Math.max(...counts),
      duplicates,
      tailsComplete: counts.filter((c) => c === entriesPushed).length,
      endedEarly,
      ...(firstError === undefined ? {} : { firstError }),
      latency: summarizeLatencies(latencies),
      deliveries: latencies.length,
      pushLatency: summarizeLatencies(pushLatencies),
      clientCpuPct: cpuPercent(cpu0, cpu1),
      machinePct: m0 && m1 ? machinePercent(m0, m1) : undefined,
    };
  } finally {
    cancelling = true;
    for (const s of streams) s.cancel();
    await Promise.race([Promise.all(streams.map((s) => s.done)), sleep(5000)]);
    for (const s of sessions) s.close();
    pusher.close();
  }
}

serveParent('logs load generator', { setup, ingest, fill, queries, tails, stop: () => ({}) });
