import { join } from 'node:path';
import { createContextValues } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { listenUrl, type ServerConfig } from '../config.js';
import { CertificateAuthority } from '../crypto/certificate-authority.js';
import { hasServerKeys, keysFingerprint, loadServerKeys } from '../crypto/server-keys.js';
import {
  auditInterceptor,
  authenticationInterceptor,
  errorInterceptor,
  errorTranslator,
} from '../rpc/interceptors.js';
import { createRoutes } from '../rpc/routes.js';
import { sourceAddressKey } from '../rpc/call-context.js';
import {
  databaseTarget,
  isReachable,
  migrate,
  openDatabase,
  openPartLogStore,
  type DatabaseTarget,
} from '../store/database.js';
import type { PartLogStore } from '../store/part-log-store.js';
import type { BlobStore } from '../store/blob-store.js';
import { FileBlobStore } from '../store/file-blob-store.js';
import { PostgresBlobStore } from '../store/postgres-blob-store.js';
import { PostgresNotifications } from '../store/postgres-notifications.js';
import { LOGS_CHANNEL } from '../store/postgres-part-log-store.js';
import { CHANGES_CHANNEL, shareChanges } from '../store/postgres-change-feed.js';
import { settleServerSetting } from '../store/server-settings.js';
import { ADVISORY_LOCKS, ifAdvisoryLockFree } from '../store/advisory-lock.js';
import { httpFront, type RequestHandler } from './http-front.js';
import { ACCEPTED_ENCODINGS, guardedRpc } from './rpc-guard.js';
import { moduleDownloadRoute } from './module-download-route.js';
import { packageDownloadRoute } from './package-download-route.js';
import { provisioningRoute } from './provisioning-route.js';
import { invitePage } from './invite-page.js';
import { mergedConfigRoute } from './merged-config-route.js';
import { alertRoutes } from './alert-routes.js';
import { startAlertLoops } from './alert-loops.js';
import { createSmtpAlertMailer } from '../mail/alert-mailer.js';
import { auditRoute } from './audit-route.js';
import { consoleRoute } from './console-route.js';
import { createSmtpInviteMailer, inviteDelivery } from '../mail/invite-mailer.js';
import { composeServices, fleetSettings } from './composition-root.js';
import { callTransportKey } from '../rpc/context-keys.js';
import { createLeanGrpc } from './lean-grpc.js';
import { callTransportOf, createListener } from './listener.js';
import type { Logger } from '../domain/logger.js';
import { createLogger } from './logger.js';
import { callMetricsInterceptor } from '../rpc/call-metrics.js';
import { serveMetrics, ServerMetrics, type MetricsEndpoint } from './metrics.js';

export interface RunningServer {
  /** Base URL clients connect to, such as `http://127.0.0.1:8080`. */
  url: string;
  port: number;
  /** Whether the web console is served at `/` (it is once `npm run build` has built it). */
  servesConsole: boolean;
  /** Where Prometheus metrics are served (`GET /metrics`), when FLOTILLA_METRICS_LISTEN is set. */
  metricsUrl?: string | undefined;
  /** Stops accepting, finishes calls in flight (bounded), closes the database. */
  close(): Promise<void>;
}

/** The server refused to start, for a reason its message gives in full (no stack needed). */
export class StartupError extends Error {}

/** Uploads unfinished for this long are taken as abandoned (their replica died) and removed. */
const ABANDONED_UPLOAD_AGE_MS = 6 * 3600_000;
const ABANDONED_UPLOAD_SWEEP_MS = 15 * 60_000;

/**
 * The server keys and machine CA, from the data directory or the environment. A replica on
 * PostgreSQL never makes its own: they must be the ones `flotilla init` made for the database.
 */
function loadKeys(config: ServerConfig, target: DatabaseTarget) {
  const env = process.env;
  const shared = target.dialect === 'postgres';
  if (
    !hasServerKeys(config.dataDir, env) ||
    (shared && !CertificateAuthority.isAvailable(config.dataDir, env))
  ) {
    throw new StartupError(
      `no server keys in ${config.dataDir} (server-keys.json, ca.pem, ca-key.pem). ` +
        (shared
          ? 'Every replica on PostgreSQL needs the keys `flotilla init --database-url` wrote: copy that directory here, ' +
            'or set FLOTILLA_TOKEN_SIGNING_KEY, FLOTILLA_SECRET_ENCRYPTION_KEY, FLOTILLA_MACHINE_CA_CERT and FLOTILLA_MACHINE_CA_KEY. ' +
            'A replica never makes keys of its own.'
          : 'Run `flotilla init` first.'),
    );
  }
  const keys = loadServerKeys(config.dataDir, env);
  const certificates =
    shared || CertificateAuthority.isAvailable(config.dataDir, env)
      ? CertificateAuthority.loadFrom(config.dataDir, env)
      : (CertificateAuthority.ensureIn(config.dataDir), CertificateAuthority.loadFrom(config.dataDir));
  return { keys, certificates };
}

/**
 * Starts the server: loads its keys, opens and migrates the database and the stores only `serve`
 * needs (blobs, machine logs; on PostgreSQL the notification connection that hears the other
 * replicas), has the composition root (`composition-root.ts`) build every service, builds the
 * routes and starts listening. Tests start it for real on port 0.
 */
export async function startServer(
  config: ServerConfig,
  logger: Logger = createLogger(config.logLevel),
): Promise<RunningServer> {
  const target = databaseTarget(config.dataDir, config.databaseUrl);
  const { keys, certificates } = loadKeys(config, target);
  // Metrics (metrics.ts) only when asked for: otherwise no hook below measures anything.
  const metrics = config.metricsListen ? new ServerMetrics() : undefined;
  const database = openDatabase(target, config.databasePool, metrics);
  let logStore: PartLogStore | undefined;
  let blobs: BlobStore;
  let notifications: PostgresNotifications | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  try {
    await migrate(database);
    const fingerprint = keysFingerprint(keys, certificates.certificatePem);
    if ((await settleServerSetting(database.db, 'keys_fingerprint', fingerprint)) !== fingerprint) {
      throw new StartupError(
        'these server keys are not the ones this database was initialized with: give this server a copy of the data ' +
          'directory its `flotilla init` wrote (or the same FLOTILLA_* key variables as the other replicas)',
      );
    }
    if (target.dialect === 'postgres') {
      notifications = await PostgresNotifications.open(
        target.url,
        [LOGS_CHANNEL, CHANGES_CHANNEL],
        (message) => logger.warn(message),
      );
      const pgBlobs = new PostgresBlobStore(database.db);
      blobs = pgBlobs;
      // Uploads whose replica died midway are removed by one replica at a time.
      sweeper = setInterval(() => {
        ifAdvisoryLockFree(database.db, ADVISORY_LOCKS.abandonedBlobs, async () => {
          const removed = await pgBlobs.removeAbandoned(ABANDONED_UPLOAD_AGE_MS);
          if (removed > 0) logger.info('removed abandoned uploads', { count: removed });
        }).catch((error: unknown) =>
          logger.warn('removing abandoned uploads failed', { error: String(error) }),
        );
      }, ABANDONED_UPLOAD_SWEEP_MS).unref();
    } else {
      blobs = await FileBlobStore.openIn(join(config.dataDir, 'blobs'));
    }
    logStore = openPartLogStore(target, database.db, notifications, config.logRetention, (message) =>
      logger.warn(message),
    );
  } catch (error) {
    clearInterval(sweeper);
    await logStore?.close();
    await notifications?.close();
    await database.close();
    throw error;
  }
  // The public URL defaults to the listen address, known once listening (port 0 picks one).
  const settings = fleetSettings(config);
  // Invite links go out by SMTP when configured; otherwise (and when mail fails) into the log.
  const mailer = config.smtpUrl
    ? createSmtpInviteMailer(config.smtpUrl, `Flotilla <flotilla@${config.domain}>`)
    : undefined;
  // Email alerts go out over the same SMTP server; without one they fail, saying so.
  const alertMailer = config.smtpUrl
    ? createSmtpAlertMailer(config.smtpUrl, `Flotilla <flotilla@${config.domain}>`)
    : undefined;
  const composition = composeServices(
    {
      db: database.db,
      dataDir: config.dataDir,
      keys,
      certificates,
      shareChanges: notifications && ((changes) => shareChanges(changes, notifications)),
      settings,
      tokenTtlSeconds: config.tokenTtlSeconds,
      inviteDelivery: inviteDelivery(mailer, logger),
      logger,
      rememberedTokens: config.machineCacheEntries,
    },
    {
      logStore,
      blobs,
      logTailBuffer: config.logTailBuffer,
      moduleFileMaxBytes: config.moduleFileMaxBytes,
      packageUrlTtlSeconds: config.packageUrlTtlSeconds,
      accessFlushMs: config.accessFlushMs,
      alerts: { settings: config.alerts, mailer: alertMailer, logger },
      machineCacheSizes: {
        configs: config.machineCacheEntries,
        restartAnswers: config.machineCacheEntries * 4,
      },
    },
  );
  const { services } = composition;
  // Audit retention: hourly, starting a minute after start; one replica at a time on PostgreSQL.
  const auditRetention = () => {
    const purge = async () => {
      const removed = await services.audit.deleteOlderThan(config.auditMaxAgeSeconds);
      if (removed > 0) logger.info('deleted old audit events', { count: removed });
    };
    const run =
      target.dialect === 'postgres'
        ? ifAdvisoryLockFree(database.db, ADVISORY_LOCKS.auditRetention, purge)
        : purge();
    run.catch((error: unknown) => logger.warn('audit retention failed', { error: String(error) }));
  };
  const auditTimers = [
    setTimeout(auditRetention, 60_000).unref(),
    setInterval(auditRetention, 3600_000).unref(),
  ];
  if (metrics) {
    composition.repos.parts.rememberCallers();
    metrics.watch({
      callersWithin: (ms) => composition.repos.parts.callersWithin(ms),
      logEntriesStored: () => services.partLogs.entriesStored,
      openTails: () => services.partLogs.openTails,
      poolConnections: database.poolConnections,
    });
  }
  const routes = createRoutes(services);

  const rpc = connectNodeAdapter({
    routes: routes.register,
    interceptors: [
      // Outermost: counts every call with the code its client gets.
      ...(metrics ? [callMetricsInterceptor(metrics)] : []),
      errorInterceptor(logger),
      authenticationInterceptor(services.auth, routes.needsCaller),
      auditInterceptor(composition.audit),
    ],
    readMaxBytes: config.readMaxBytes,
    // The client's address, from the connection itself (HTTP/2: its session's socket), never a header.
    contextValues: (req) =>
      createContextValues()
        .set(
          sourceAddressKey,
          'stream' in req ? req.stream.session?.socket.remoteAddress : req.socket.remoteAddress,
        )
        // What a handler needs to end a call whose client reads nothing (log tails).
        .set(callTransportKey, callTransportOf(req)),
    grpc: true,
    grpcWeb: true,
    connect: true,
  }) as RequestHandler;
  // Machines' native gRPC calls (RobotService, Authenticate) skip the framework: same handlers,
  // same checks, same wire (lean-grpc.ts).
  const translate = errorTranslator(logger);
  const lean = config.machineFastPath
    ? createLeanGrpc({
        methods: routes.machineFacing(),
        readMaxBytes: config.readMaxBytes,
        statusOf: (error, path, signal) => {
          const translated = translate(error, path.slice(1), signal);
          return { code: translated.code, message: translated.rawMessage };
        },
        acceptEncodings: ACCEPTED_ENCODINGS,
        onCallEnded: metrics?.leanCallEnded,
      })
    : undefined;
  // The web console, when built (npm run build); without it the server still serves the API.
  const webConsole = consoleRoute(config.consoleDir);
  if (!webConsole && config.consoleDir) {
    logger.warn('FLOTILLA_CONSOLE_DIR has no index.html: the web console is not served', {
      dir: config.consoleDir,
    });
  }
  const listener = createListener(
    httpFront(
      guardedRpc(rpc, routes.procedures),
      // Ready: the database answers and, on PostgreSQL, the other replicas can be heard.
      async () => (notifications?.connected ?? true) && (await isReachable(database.db)),
      provisioningRoute(services.provisioning, services.auth, logger),
      moduleDownloadRoute(services.registry, services.moduleFiles, services.auth, logger),
      packageDownloadRoute(services.packages, services.auth, logger),
      invitePage(services.members, logger),
      mergedConfigRoute(services.parts, services.auth, logger),
      ...alertRoutes(services.alerts, services.auth, logger),
      auditRoute(services.audit, services.auth, logger),
      // Last: the console answers index.html for page paths no route above claimed.
      ...(webConsole ? [webConsole] : []),
    ),
    { host: config.host, port: config.port, tls: config.tls, limits: config.connections, lean },
  );
  let port: number;
  let metricsEndpoint: MetricsEndpoint | undefined;
  try {
    // Metrics first: if their address is taken, nothing has started serving yet.
    if (metrics && config.metricsListen) {
      metricsEndpoint = await serveMetrics(metrics, config.metricsListen, logger);
    }
    port = await listener.listen();
  } catch (error) {
    await metricsEndpoint?.close();
    mailer?.close();
    alertMailer?.close();
    composition.close();
    clearInterval(sweeper);
    for (const timer of auditTimers) clearTimeout(timer);
    await logStore.close();
    await notifications?.close();
    await database.close();
    throw error;
  }
  const url = listenUrl(config.host, port, config.tls !== undefined);
  // Machine alerts: the online checker (one replica at a time on PostgreSQL) and the dispatcher.
  const alertLoops = startAlertLoops(
    services.alerts,
    target.dialect === 'postgres'
      ? (work) => ifAdvisoryLockFree(database.db, ADVISORY_LOCKS.alertChecks, work)
      : (work) => work().then(() => true),
    logger,
  );
  // The same settings object the services read, now with the public URL of the port it got.
  Object.assign(settings, fleetSettings(config, port));
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    servesConsole: webConsole !== undefined,
    metricsUrl: metricsEndpoint?.url,
    close() {
      closing ??= (async () => {
        // Live tails end first, so their streams finish cleanly instead of holding shutdown.
        composition.close();
        await listener.close(config.shutdownGraceMs);
        await metricsEndpoint?.close();
        await composition
          .drain()
          .catch((error: unknown) =>
            logger.error("writing machines' last calls at shutdown failed", { error: String(error) }),
          );
        await alertLoops.stop();
        alertMailer?.close();
        mailer?.close();
        clearInterval(sweeper);
        for (const timer of auditTimers) clearTimeout(timer);
        await logStore.close();
        await notifications?.close();
        await database.close();
      })();
      return closing;
    },
  };
}
