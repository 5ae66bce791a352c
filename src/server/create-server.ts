import { connectNodeAdapter } from '@connectrpc/connect-node';
import type { ServerConfig } from '../config.js';
import { loadServerKeys } from '../crypto/server-keys.js';
import { authenticationInterceptor, errorInterceptor } from '../rpc/interceptors.js';
import { createRoutes } from '../rpc/routes.js';
import { databaseTarget, isReachable, migrate, openDatabase } from '../store/database.js';
import type { FleetSettings } from '../services/context.js';
import { httpFront, type RequestHandler } from './http-front.js';
import { provisioningRoute } from './provisioning-route.js';
import { invitePage } from './invite-page.js';
import { createSmtpInviteMailer, inviteDelivery } from '../mail/invite-mailer.js';
import { wireServices } from './wiring.js';
import { createListener } from './listener.js';
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
  const database = openDatabase(databaseTarget(config.dataDir, config.databaseUrl));
  try {
    await migrate(database.db);
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
  const { services, auth } = wireServices(
    database.db,
    config.dataDir,
    keys,
    settings,
    config.tokenTtlSeconds,
    inviteDelivery(mailer, logger),
  );
  const routes = createRoutes(services, auth);

  const rpc = connectNodeAdapter({
    routes: routes.register,
    interceptors: [errorInterceptor(logger), authenticationInterceptor(auth, routes.needsCaller)],
    readMaxBytes: config.readMaxBytes,
    grpc: true,
    grpcWeb: true,
    connect: true,
  }) as RequestHandler;
  const listener = createListener(
    httpFront(
      rpc,
      () => isReachable(database.db),
      provisioningRoute(services.provisioning, auth),
      invitePage(services.members, logger),
    ),
    { host: config.host, port: config.port, tls: config.tls },
  );
  let port: number;
  try {
    port = await listener.listen();
  } catch (error) {
    mailer?.close();
    await database.close();
    throw error;
  }
  const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `${config.tls ? 'https' : 'http'}://${hostForUrl}:${port}`;
  if (!config.publicUrl) settings.publicUrl = url;
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    close() {
      closing ??= (async () => {
        await listener.close(config.shutdownGraceMs);
        mailer?.close();
        await database.close();
      })();
      return closing;
    },
  };
}
