import { Code, ConnectError } from '@connectrpc/connect';
import type { Session } from './connection.js';

/**
 * The gRPC code a plain-HTTP route's failure stands for (src/server/http-errors.ts maps the other
 * way), so a refused request prints like a refused call: `flotilla: PERMISSION_DENIED: ...`.
 */
const CODE_OF_STATUS: Readonly<Record<number, Code>> = {
  400: Code.InvalidArgument,
  401: Code.Unauthenticated,
  403: Code.PermissionDenied,
  404: Code.NotFound,
  409: Code.AlreadyExists,
  412: Code.FailedPrecondition,
  429: Code.ResourceExhausted,
  503: Code.Unavailable,
};

/**
 * `GET` of one of the server's JSON routes (`/api/...`) with the session's bearer token, over
 * HTTP/1.1 like the console. A failure answered as `{"error": ...}` throws a ConnectError with
 * the status's code and the server's message; an answer that is not JSON (a server without the
 * route answers the console's page) says so.
 */
export async function getJson<T>(s: Session, path: string, query?: URLSearchParams): Promise<T> {
  const search = query && query.size > 0 ? `?${query.toString()}` : '';
  const url = `${s.server}${path}${search}`;
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { accept: 'application/json', ...(s.token ? { authorization: `Bearer ${s.token}` } : {}) },
    });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    throw new ConnectError(`could not reach ${s.server}${cause}`, Code.Unavailable);
  }
  const text = await res.text();
  const isJson = /^application\/json\b/i.test(res.headers.get('content-type') ?? '');
  let body: unknown;
  if (isJson) {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  if (!res.ok) {
    const said = (body as { error?: unknown } | undefined)?.error;
    const message = typeof said === 'string' && said !== '' ? said : `HTTP ${res.status} from ${path}`;
    throw new ConnectError(message, CODE_OF_STATUS[res.status] ?? Code.Unknown);
  }
  if (body === undefined) {
    throw new ConnectError(
      `the server did not answer ${path} with JSON (is it a Flotilla server that has this route?)`,
      Code.Unimplemented,
    );
  }
  return body as T;
}
