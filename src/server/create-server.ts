import { join } from 'node:path';
import { createContextValues } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { listenUrl, type ServerConfig } from '../config.js';
import { loadServerKeys } from '../crypto/server-keys.js';
import { authenticationInterceptor, errorInterceptor, errorTranslator } from '../rpc/interceptors.js';
import { createRoutes } from '../rpc/routes.js';
import { sourceAddressKey } from '../rpc/call-context.js';
import { databaseTarget, isReachable, migrate, openDatabase, openPartLogStore } from '../store/database.js';
import type { PartLogStore } from '../store/part-log-store.js';
import { FileBlobStore } from '../store/file-blob-store.js';
import { httpFront, type RequestHandler } from './http-front.js';
import { ACCEPTED_ENCODINGS, guardedRpc } from './rpc-guard.js';
import { moduleDownloadRoute } from './module-download-route.js';
import { packageDownloadRoute } from './package-download-route.js';
import { provisioningRoute } from './provisioning-route.js';
import { invitePage } from './invite-page.js';
import { mergedConfigRoute } from './merged-config-route.js';
import { consoleRoute } from './console-route.js';
import { createSmtpInviteMailer, inviteDelivery } from '../mail/invite-mailer.js';
import { composeServices, fleetSettings } from './composition-root.js';
import { callTransportKey } from '../rpc/context-keys.js';
import { createLeanGrpc } from './lean-grpc.js';
import { callTransportOf, createListener } from './listener.js';
import type { Logger } from '../domain/logger.js';
import { createLogger } from './logger.js';

export interface RunningServer {
  /** Base URL clients connect to, such as `http://127.0.0.1:8080`. */
  url: string;
  port: number;
  /** Whether the web console is served at `/` (it is once `npm run build` has built it). */
  servesConsole: boolean;
  /** Stops accepting, finishes calls in flight (bounded), closes the database. */
  close(): Promise<void>;
}

/**
 * Starts the server: opens and migrates the database and the stores only `serve` needs (blobs,
 * machine logs), has the composition root (`composition-root.ts`) build every service, builds the
 * routes and starts listening. Tests start it for real on port 0.
 */
export async function startServer(
  config: ServerConfig,
  logger: Logger = createLogger(config.logLevel),
): Promise<RunningServer> {
  const keys = loadServerKeys(config.dataDir);
  const target = databaseTarget(config.dataDir, config.databaseUrl);
  const database = openDatabase(target);
  let logStore: PartLogStore;
  let blobs: FileBlobStore;
  try {
    await migrate(database.db);
    blobs = await FileBlobStore.openIn(join(config.dataDir, 'blobs'));
    logStore = await openPartLogStore(target, database.db, config.logRetention, (message) =>
      logger.warn(message),
    );
  } catch (error) {
    await database.close();
    throw error;
  }
  // The public URL defaults to the listen address, known once listening (port 0 picks one).
  const settings = fleetSettings(config);
  // Invite links go out by SMTP when configured; otherwise (and when mail fails) into the log.
  const mailer = config.smtpUrl
    ? createSmtpInviteMailer(config.smtpUrl, `Flotilla <flotilla@${config.domain}>`)
    : undefined;
  const composition = composeServices(
    {
      db: database.db,
      dataDir: config.dataDir,
      keys,
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
      machineCacheSizes: {
        configs: config.machineCacheEntries,
        restartAnswers: config.machineCacheEntries * 4,
      },
    },
  );
  const { services } = composition;
  const routes = createRoutes(services);

  const rpc = connectNodeAdapter({
    routes: routes.register,
    interceptors: [errorInterceptor(logger), authenticationInterceptor(services.auth, routes.needsCaller)],
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
      () => isReachable(database.db),
      provisioningRoute(services.provisioning, services.auth, logger),
      moduleDownloadRoute(services.registry, services.moduleFiles, services.auth, logger),
      packageDownloadRoute(services.packages, services.auth, logger),
      invitePage(services.members, logger),
      mergedConfigRoute(services.parts, services.auth, logger),
      // Last: the console answers index.html for page paths no route above claimed.
      ...(webConsole ? [webConsole] : []),
    ),
    { host: config.host, port: config.port, tls: config.tls, limits: config.connections, lean },
  );
  let port: number;
  try {
    port = await listener.listen();
  } catch (error) {
    mailer?.close();
    composition.close();
    await logStore.close();
    await database.close();
    throw error;
  }
  const url = listenUrl(config.host, port, config.tls !== undefined);
  // The same settings object the services read, now with the public URL of the port it got.
  Object.assign(settings, fleetSettings(config, port));
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    servesConsole: webConsole !== undefined,
    close() {
      closing ??= (async () => {
        // Live tails end first, so their streams finish cleanly instead of holding shutdown.
        composition.close();
        await listener.close(config.shutdownGraceMs);
        await composition
          .drain()
          .catch((error: unknown) =>
            logger.error("writing machines' last calls at shutdown failed", { error: String(error) }),
          );
        mailer?.close();
        await logStore.close();
        await database.close();
      })();
      return closing;
    },
  };
}
