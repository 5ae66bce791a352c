import {
  Code,
  ConnectError,
  createPromiseClient,
  type Interceptor,
  type PromiseClient,
} from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-web';
import { AuthService } from '../../../src/rpc/auth-service-descriptor.js';
import { AppService } from '../../../src/rpc/service-descriptors.generated.js';
import { session } from './session.svelte.js';

/*
 * The console is a client of the public API like any other: AppService and AuthService over
 * gRPC-web on the page's own origin, with the SDK's generated messages (@viamrobotics/sdk's
 * appApi) and connect-web, the transport the SDK's createViamClient uses. Plain-HTTP routes
 * (viam.json, the merged config) are fetched with the same bearer token.
 */

export type AppClient = PromiseClient<typeof AppService>;

const origin = () => window.location.origin;

/** Adds the session's token; an UNAUTHENTICATED answer ends the session (sign-in says why). */
const bearer: Interceptor = (next) => async (req) => {
  const token = session.token;
  if (token) req.header.set('authorization', `Bearer ${token}`);
  try {
    return await next(req);
  } catch (error) {
    if (token && ConnectError.from(error).code === Code.Unauthenticated) {
      session.end('Your session has expired or its key was revoked. Sign in again.');
    }
    throw error;
  }
};

const transport = createGrpcWebTransport({ baseUrl: origin(), interceptors: [bearer] });

/** AppService, authenticated with the session's token. */
export const app: AppClient = createPromiseClient(AppService, transport);

const auth = createPromiseClient(AuthService, createGrpcWebTransport({ baseUrl: origin() }));

/** Exchanges credentials for an access token (AuthService.Authenticate). */
export async function authenticate(
  entity: string,
  type: 'api-key' | 'password',
  payload: string,
): Promise<string> {
  const reply = await auth.authenticate({ entity, credentials: { type, payload } });
  return reply.accessToken;
}

/** Plain-HTTP JSON routes of the server, with the session's token. */
export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { authorization: `Bearer ${session.token ?? ''}` } });
  const text = await res.text();
  if (!res.ok) {
    let message = text.trim() || res.statusText;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? message;
    } catch {
      // not JSON: the text itself
    }
    if (res.status === 401) session.end('Your session has expired or its key was revoked. Sign in again.');
    throw new Error(`${message} (HTTP ${res.status})`);
  }
  return JSON.parse(text) as T;
}

const CODE_WORDS: Partial<Record<Code, string>> = {
  [Code.InvalidArgument]: 'Invalid input',
  [Code.NotFound]: 'Not found',
  [Code.AlreadyExists]: 'Already exists',
  [Code.PermissionDenied]: 'Permission denied',
  [Code.Unauthenticated]: 'Not signed in',
  [Code.FailedPrecondition]: 'Not possible now',
  [Code.ResourceExhausted]: 'Too many requests',
  [Code.Unavailable]: 'Server unavailable',
  [Code.Unimplemented]: 'Not supported by this server',
};

/** A failure in words for a person: what kind, and the server's own message. */
export function errorText(error: unknown): string {
  if (error instanceof ConnectError) {
    const words = CODE_WORDS[error.code] ?? Code[error.code] ?? 'Error';
    return error.rawMessage ? `${words}: ${error.rawMessage}` : words;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

export function isCode(error: unknown, code: Code): boolean {
  return error instanceof ConnectError && error.code === code;
}

/**
 * The answer to an update that named `last_known_update` when someone else saved since (parts and
 * fragments alike, src/domain/optimistic-update.ts).
 */
export function isStaleUpdate(error: unknown): boolean {
  return isCode(error, Code.FailedPrecondition) && /changed since last_known_update/.test(errorText(error));
}

export { Code };
