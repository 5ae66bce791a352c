import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';

export type AnyRequest = IncomingMessage | Http2ServerRequest;
export type AnyResponse = ServerResponse | Http2ServerResponse;
export type RequestHandler = (req: AnyRequest, res: AnyResponse) => void;

const ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'x-grpc-web',
  'x-user-agent',
  'grpc-timeout',
  'viam_client',
  'connect-protocol-version',
  'connect-timeout-ms',
].join(', ');
const EXPOSED_HEADERS = ['grpc-status', 'grpc-message', 'grpc-status-details-bin', 'x-content-sha256'].join(
  ', ',
);

/**
 * Plain HTTP in front of the RPC handler: CORS for browsers using gRPC-web from another origin,
 * the health endpoints (`/healthz`: the process is up; `/readyz`: the database answers), and
 * any other plain-HTTP routes given.
 */
export function httpFront(
  rpc: RequestHandler,
  isReady: () => Promise<boolean>,
  ...routes: ((req: AnyRequest, res: AnyResponse) => boolean)[]
): RequestHandler {
  return (req, res) => {
    const origin = req.headers.origin;
    if (typeof origin === 'string') {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'origin');
      res.setHeader('access-control-expose-headers', EXPOSED_HEADERS);
      if (req.method === 'OPTIONS') {
        res.setHeader('access-control-allow-methods', 'POST, GET, HEAD, OPTIONS');
        res.setHeader('access-control-allow-headers', ALLOWED_HEADERS);
        res.setHeader('access-control-max-age', '7200');
        res.writeHead(204);
        res.end();
        return;
      }
    }
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    if (req.method === 'GET' && path === '/readyz') {
      void isReady().then(
        (ready) => {
          res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' });
          res.end(ready ? 'ready\n' : 'not ready\n');
        },
        () => {
          res.writeHead(503, { 'content-type': 'text/plain' });
          res.end('not ready\n');
        },
      );
      return;
    }
    if (routes.some((route) => route(req, res))) return;
    rpc(req, res);
  };
}
