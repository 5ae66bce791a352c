import { join } from 'node:path';
import { createContextValues } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { listenUrl, publicUrlFor, type ServerConfig } from '../config.js';
import { loadServerKeys } from '../crypto/server-keys.js';
import { authenticationInterceptor, errorInterceptor } from '../rpc/interceptors.js';
import { createRoutes } from '../rpc/routes.js';
import { sourceAddressKey } from '../rpc/call-context.js';
import { databaseTarget, isReachable, migrate, openDatabase, openPartLogStore } from '../store/database.js';
import type { PartLogStore } from '../store/part-log-store.js';
import { FileBlobStore } from '../store/file-blob-store.js';
import { LogTailHub } from '../services/log-tail-hub.js';
import { ModuleFileService } from '../services/module-file-service.js';
import { RegistryService } from '../services/registry-service.js';
import { PartLogService } from '../services/part-log-service.js';
import { FragmentResolver } from '../services/fragment-resolver.js';
import { MachineAgentService } from '../services/machine-agent-service.js';
import { PackageService } from '../services/package-service.js';
import { UrlSigner } from '../crypto/url-signer.js';
import type { FleetSettings } from '../services/context.js';
import { httpFront, type RequestHandler } from './http-front.js';
import { guardedRpc } from './rpc-guard.js';
import { moduleDownloadRoute } from './module-download-route.js';
import { packageDownloadRoute } from './package-download-route.js';
import { provisioningRoute } from './provisioning-route.js';
import { invitePage } from './invite-page.js';
import { createSmtpInviteMailer, inviteDelivery } from '../mail/invite-mailer.js';
import { wireServices } from './wiring.js';
import { callTransportKey, callTransportOf, createListener } from './listener.js';
import { createLogger, type Logger } from './logger.js';

export interface RunningServer {
  /** Base URL clients connect to, such as `http://127.0.0.1:8080`. */
  url: string;
  port: number;
  /** Stops accepting, finishes calls in flight (bounded), closes the database. */
  close(): Promise<void>;
}

/**
 * The composition root: opens and migrates the database, builds repositories, services and
 * routes, and starts listening. Tests start it for real on port 0.
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
  const settings: FleetSettings = {
    domain: config.domain,
    publicUrl: config.publicUrl ?? '',
    tls: config.tls !== undefined,
    restartCheckIntervalSeconds: config.restartCheckIntervalSeconds,
  };
  // Invite links go out by SMTP when configured; otherwise (and when mail fails) into the log.
  const mailer = config.smtpUrl
    ? createSmtpInviteMailer(config.smtpUrl, `Flotilla <flotilla@${config.domain}>`)
    : undefined;
  const { deps, services, auth } = wireServices(
    database.db,
    config.dataDir,
    keys,
    settings,
    config.tokenTtlSeconds,
    inviteDelivery(mailer, logger),
    logger,
  );
  const tails = new LogTailHub(logStore, config.logTailBuffer);
  const registry = new RegistryService(deps, blobs);
  const moduleFiles = new ModuleFileService(deps, blobs, registry, config.moduleFileMaxBytes);
  const packages = new PackageService(deps, blobs, new UrlSigner(keys.tokenSigningKey), {
    maxFileBytes: config.moduleFileMaxBytes,
    urlTtlSeconds: config.packageUrlTtlSeconds,
  });
  const routes = createRoutes(services, auth, {
    partLogs: new PartLogService(deps, logStore, tails),
    registry,
    moduleFiles,
    packages,
    machineAgent: new MachineAgentService(deps, new FragmentResolver(deps.repos), packages),
  });

  const rpc = connectNodeAdapter({
    routes: routes.register,
    interceptors: [errorInterceptor(logger), authenticationInterceptor(auth, routes.needsCaller)],
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
  const listener = createListener(
    httpFront(
      guardedRpc(rpc, routes.procedures),
      () => isReachable(database.db),
      provisioningRoute(services.provisioning, auth),
      moduleDownloadRoute(registry, moduleFiles, auth, logger),
      packageDownloadRoute(packages, auth, logger),
      invitePage(services.members, logger),
    ),
    { host: config.host, port: config.port, tls: config.tls, limits: config.connections },
  );
  let port: number;
  try {
    port = await listener.listen();
  } catch (error) {
    mailer?.close();
    tails.close();
    await logStore.close();
    await database.close();
    throw error;
  }
  const url = listenUrl(config.host, port, config.tls !== undefined);
  settings.publicUrl = publicUrlFor(config, port);
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    close() {
      closing ??= (async () => {
        // Live tails end first, so their streams finish cleanly instead of holding shutdown.
        tails.close();
        await listener.close(config.shutdownGraceMs);
        mailer?.close();
        await logStore.close();
        await database.close();
      })();
      return closing;
    },
  };
}
