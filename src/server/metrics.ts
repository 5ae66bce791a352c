import http from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { listenUrl } from '../config.js';
import type { Logger } from '../domain/logger.js';
import type { CallMetrics, MethodMetrics } from '../rpc/call-metrics.js';
import type { PoolConnections, QueryObserver } from '../store/database.js';

/*
 * Prometheus metrics (FLOTILLA_METRICS_LISTEN): one registry per server, so servers sharing a
 * process (tests) keep their own counts, served as text at `GET /metrics` on a listener of its
 * own. Calls are counted through label children made once per method and code; what the
 * services already know (machines seen, log entries stored, open tails, the database pool) is
 * read when Prometheus scrapes, at no cost per call. Without FLOTILLA_METRICS_LISTEN nothing
 * here is created.
 */

/** gRPC status codes by number, as metric labels: gRPC's names, lower case. */
const CODE_NAMES: readonly string[] = [
  'ok',
  'cancelled',
  'unknown',
  'invalid_argument',
  'deadline_exceeded',
  'not_found',
  'already_exists',
  'permission_denied',
  'resource_exhausted',
  'failed_precondition',
  'aborted',
  'out_of_range',
  'unimplemented',
  'internal',
  'unavailable',
  'data_loss',
  'unauthenticated',
];
const UNKNOWN_CODE = 2;

/** Durations from half a millisecond to ten seconds (RPC calls and database queries alike). */
export const DURATION_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** `flotilla_machines_seen` counts the parts that called within this window. */
export const MACHINES_SEEN_WINDOW_MS = 60_000;

/** What the metrics read when scraped, from the services and stores that keep it anyway. */
export interface MetricsSources {
  /** Distinct parts that made a RobotService call within the last `ms` milliseconds. */
  callersWithin(ms: number): number;
  /** Log entries stored by RobotService.Log since the process started. */
  logEntriesStored(): number;
  /** Live log tails open now. */
  openTails(): number;
  /** PostgreSQL: the pool's connections now; undefined on SQLite. */
  poolConnections?: (() => PoolConnections) | undefined;
}

type CallLabels = 'service' | 'method' | 'code';

/** One method's series: its counter per code (made at the code's first call) and its histogram. */
class MethodSeries implements MethodMetrics {
  private readonly byCode: (Counter.Internal | undefined)[] = [];
  private readonly duration: Histogram.Internal<'service' | 'method'>;

  constructor(
    private readonly calls: Counter<CallLabels>,
    durations: Histogram<'service' | 'method'>,
    private readonly service: string,
    private readonly method: string,
  ) {
    this.duration = durations.labels(service, method);
  }

  ended(code: number, seconds: number): void {
    const index = code >= 0 && code < CODE_NAMES.length ? code : UNKNOWN_CODE;
    let counter = this.byCode[index];
    if (!counter) {
      counter = this.calls.labels(this.service, this.method, CODE_NAMES[index]!);
      this.byCode[index] = counter;
    }
    counter.inc();
    this.duration.observe(seconds);
  }
}

let processRegistry: Registry | undefined;

/**
 * Node's process metrics (CPU, memory, event-loop lag, GC, handles), prom-client's default
 * names: one registry per process, since they describe the process, started by the first
 * server that serves metrics and shared by any other in the same process.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** The server's metrics: the hooks the layers report to, and their registry. */
export class ServerMetrics implements CallMetrics, QueryObserver {
  readonly registry = new Registry();
  private readonly calls: Counter<CallLabels>;
  private readonly durations: Histogram<'service' | 'method'>;
  private readonly queries: Histogram;
  private readonly byPath = new Map<string, MethodMetrics>();
  private sources: MetricsSources | undefined;

  constructor() {
    const registers = [this.registry];
    this.calls = new Counter({
      name: 'flotilla_rpc_calls_total',
      help: 'RPC calls that ended, by service, method and gRPC status code (server streams count when they end).',
      labelNames: ['service', 'method', 'code'],
      registers,
    });
    this.durations = new Histogram({
      name: 'flotilla_rpc_duration_seconds',
      help: 'RPC call duration in seconds; for server streams (log tails), until their first message.',
      labelNames: ['service', 'method'],
      buckets: [...DURATION_BUCKETS],
      registers,
    });
    this.queries = new Histogram({
      name: 'flotilla_db_query_duration_seconds',
      help: 'Database query duration in seconds (queries of the main connection or pool, failed ones included).',
      buckets: [...DURATION_BUCKETS],
      registers,
    });
    const read = (pick: (sources: MetricsSources) => number) => () => (this.sources ? pick(this.sources) : 0);
    const machinesSeen = read((s) => s.callersWithin(MACHINES_SEEN_WINDOW_MS));
    new Gauge({
      name: 'flotilla_machines_seen',
      help: 'Distinct machine parts that made a RobotService call to this process in the last minute.',
      registers,
      collect() {
        this.set(machinesSeen());
      },
    });
    const stored = read((s) => s.logEntriesStored());
    new Counter({
      name: 'flotilla_log_entries_stored_total',
      help: 'Machine log entries stored by RobotService.Log calls to this process.',
      registers,
      collect() {
        this.reset();
        this.inc(stored());
      },
    });
    const tails = read((s) => s.openTails());
    new Gauge({
      name: 'flotilla_log_tails',
      help: 'Live log tails (TailRobotPartLogs streams) open in this process.',
      registers,
      collect() {
        this.set(tails());
      },
    });
  }

  /** Attaches what is read when scraped; the pool gauges exist only for a PostgreSQL pool. */
  watch(sources: MetricsSources): void {
    this.sources = sources;
    const pool = sources.poolConnections;
    if (!pool) return;
    new Gauge({
      name: 'flotilla_db_pool_connections',
      help: 'PostgreSQL pool connections: total open, idle among them, and calls waiting for one.',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const now = pool();
        this.set({ state: 'total' }, now.total);
        this.set({ state: 'idle' }, now.idle);
        this.set({ state: 'waiting' }, now.waiting);
      },
    });
  }

  /** The series of one method (CallMetrics: the interceptor asks once per method and keeps it). */
  method(service: string, method: string): MethodMetrics {
    return new MethodSeries(this.calls, this.durations, service, method);
  }

  /** The lean native-gRPC path's report (`onCallEnded` of lean-grpc.ts), by the call's path. */
  readonly leanCallEnded = (path: string, code: number, seconds: number): void => {
    let series = this.byPath.get(path);
    if (!series) {
      const slash = path.lastIndexOf('/');
      series = this.method(path.slice(1, slash), path.slice(slash + 1));
      this.byPath.set(path, series);
    }
    series.ended(code, seconds);
  };

  queryEnded(seconds: number): void {
    this.queries.observe(seconds);
  }

  /** Everything, in Prometheus' text format: this server's metrics, then the process's. */
  async text(): Promise<string> {
    return (await this.registry.metrics()) + '\n' + (await processMetrics().metrics());
  }
}

/** The metrics listener, once listening. */
export interface MetricsEndpoint {
  /** `http://HOST:PORT`; the metrics are at `/metrics`. */
  url: string;
  port: number;
  /** Stops listening and closes its connections. */
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (Prometheus' text format) on a plain HTTP listener of its own, apart from
 * the API's port; anything else is 404. Process metrics start with the first call.
 */
export async function serveMetrics(
  metrics: ServerMetrics,
  address: { host: string; port: number },
  logger: Logger,
): Promise<MetricsEndpoint> {
  processMetrics();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    metrics.text().then(
      (text) => {
        res.writeHead(200, { 'content-type': Registry.PROMETHEUS_CONTENT_TYPE });
        res.end(text);
      },
      (error: unknown) => {
        logger.error('collecting metrics failed', { error: String(error) });
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('collecting metrics failed\n');
      },
    );
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        new Error(
          `FLOTILLA_METRICS_LISTEN: cannot listen on ${address.host}:${address.port}: ${error.message}`,
          { cause: error },
        ),
      ),
    );
    server.listen(address.port, address.host, () => {
      const bound = server.address();
      resolve(typeof bound === 'object' && bound ? bound.port : address.port);
    });
  });
  server.on('error', (error) => logger.warn('metrics listener failed', { error: String(error) }));
  let closing: Promise<void> | undefined;
  return {
    url: listenUrl(address.host, port, false),
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
