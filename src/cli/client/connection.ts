import {
  Code,
  ConnectError,
  createPromiseClient,
  type Interceptor,
  type PromiseClient,
} from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { AuthService } from '../../rpc/auth-service-descriptor.js';
import { PackageService } from '../../rpc/package-service.generated.js';
import { AppService, RobotService } from '../../rpc/service-descriptors.generated.js';
import { loadCliConfig, saveCliConfig, type CliConfig, type StoredCredential } from './cli-config.js';

/** The public API, as the command line calls it: native gRPC over HTTP/2, with a bearer token. */
export interface Session {
  server: string;
  app: PromiseClient<typeof AppService>;
  robot: PromiseClient<typeof RobotService>;
  packages: PromiseClient<typeof PackageService>;
  /** The bearer token the clients send; plain-HTTP JSON routes take it too (http-json.ts). */
  token: string | undefined;
  /** Ends the HTTP/2 connection, so the process can exit. */
  close(): void;
}

/** A usage mistake (exit 2): a missing flag the library can't know about, no server, no login. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** Whether the command's usage helps (a flag mistake), or only the message does (no login). */
    readonly showUsage = true,
  ) {
    super(message);
  }
}

/** Seconds a token is still used for before it expires (a call may take a while). */
const EXPIRY_MARGIN_SECONDS = 60;

/** The server's URL without a trailing slash; http:// when no scheme is given. */
export function normalizeServer(value: string): string {
  const trimmed = value.trim().replace(/\/+$/, '');
  if (trimmed === '') throw new UsageError('--server must name the server, such as http://127.0.0.1:8080');
  return /^[a-z]+:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
}

/** The expiry (`exp`, seconds) of a JWT, read without checking it: the server checks it. */
export function tokenExpiry(token: string): number {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      exp?: unknown;
    };
    return typeof payload.exp === 'number' ? payload.exp : 0;
  } catch {
    return 0;
  }
}

const sessionManagerFor = (server: string) => new Http2SessionManager(server);

function clients(server: string, token: string | undefined): Session {
  const sessionManager = sessionManagerFor(server);
  const bearer: Interceptor = (next) => (req) => {
    if (token) req.header.set('authorization', `Bearer ${token}`);
    return next(req);
  };
  const transport = createGrpcTransport({
    baseUrl: server,
    httpVersion: '2',
    sessionManager,
    interceptors: [bearer],
  });
  return {
    server,
    app: createPromiseClient(AppService, transport),
    robot: createPromiseClient(RobotService, transport),
    packages: createPromiseClient(PackageService, transport),
    token,
    close: () => sessionManager.abort(),
  };
}

/** Exchanges a credential for an access token with AuthService.Authenticate. */
export async function authenticate(
  server: string,
  entity: string,
  credentials: { type: 'api-key' | 'password'; payload: string },
): Promise<string> {
  const sessionManager = sessionManagerFor(server);
  try {
    const auth = createPromiseClient(
      AuthService,
      createGrpcTransport({ baseUrl: server, httpVersion: '2', sessionManager }),
    );
    return (await auth.authenticate({ entity, credentials })).accessToken;
  } finally {
    sessionManager.abort();
  }
}

/** Where a command connects to and as whom: flags and environment first, then `flotilla login`. */
export interface ConnectOptions {
  server: string | undefined;
  env: NodeJS.ProcessEnv;
}

/**
 * A session for a command. An API key from FLOTILLA_API_KEY_ID / FLOTILLA_API_KEY wins (scripts);
 * else the login saved by `flotilla login`, whose token is renewed when it is about to expire (an
 * API key logs in again by itself; a user is asked to).
 */
export async function connect(options: ConnectOptions): Promise<Session> {
  const { env } = options;
  const config = await loadCliConfig(env);
  const named = options.server ?? env.FLOTILLA_SERVER ?? config?.server;
  if (!named) {
    throw new UsageError(
      'not logged in: run flotilla login api-key --server URL --key-id ID --key KEY',
      false,
    );
  }
  const server = normalizeServer(named);
  const keyId = env.FLOTILLA_API_KEY_ID;
  const key = env.FLOTILLA_API_KEY;
  if (keyId || key) {
    if (!keyId || !key) throw new UsageError('set both FLOTILLA_API_KEY_ID and FLOTILLA_API_KEY');
    return clients(server, await authenticate(server, keyId, { type: 'api-key', payload: key }));
  }
  if (!config)
    throw new UsageError('not logged in: run flotilla login api-key --server URL --key-id ID --key KEY');
  if (config.server !== server) {
    throw new UsageError(
      `logged in to ${config.server}, not ${server}: run flotilla login for that server`,
      false,
    );
  }
  return clients(server, await freshToken(config, env));
}

/** The saved token, renewed first when it expires within a minute. */
async function freshToken(config: CliConfig, env: NodeJS.ProcessEnv): Promise<string> {
  if (tokenExpiry(config.accessToken) - EXPIRY_MARGIN_SECONDS > Date.now() / 1000) return config.accessToken;
  const credential: StoredCredential = config.credential;
  if (credential.type === 'user') {
    throw new ConnectError(
      `the login of ${credential.email} has expired: run flotilla login --email ${credential.email} again`,
      Code.Unauthenticated,
    );
  }
  const token = await authenticate(config.server, credential.keyId, {
    type: 'api-key',
    payload: credential.key,
  });
  await saveCliConfig(env, { ...config, accessToken: token });
  return token;
}
