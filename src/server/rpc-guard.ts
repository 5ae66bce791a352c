import { refuseUnnamedCompression } from '../rpc/request-guards.js';
import type { RequestHandler } from './http-front.js';

/** Compressions the RPC handler accepts (connect-node's defaults), announced to gRPC clients. */
export const ACCEPTED_ENCODINGS = 'gzip,br';
const GRPC_CONTENT_TYPE = /^application\/grpc(-web)?(?:[+;]|$)/;

/**
 * In front of the RPC handler, what gRPC's own servers do and the framework does not: every gRPC
 * reply names the encodings accepted (`grpc-accept-encoding`); a gRPC call to a method or service
 * that does not exist gets `grpc-status: 12` (UNIMPLEMENTED) rather than a bare HTTP 404; and a
 * message marked compressed without a named encoding is the client's mistake (INVALID_ARGUMENT).
 */
export function guardedRpc(rpc: RequestHandler, procedures: ReadonlySet<string>): RequestHandler {
  return (req, res) => {
    const grpc = GRPC_CONTENT_TYPE.exec(String(req.headers['content-type'] ?? ''));
    if (grpc) {
      res.setHeader('grpc-accept-encoding', ACCEPTED_ENCODINGS);
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (req.method === 'POST' && !procedures.has(path)) {
        const message = `unknown method ${path.slice(0, 200)}`;
        // A trailers-only reply: the status travels in the headers, and the body is not read.
        res.writeHead(200, {
          'content-type': grpc[1] ? 'application/grpc-web+proto' : 'application/grpc',
          'grpc-status': '12',
          'grpc-message': encodeURIComponent(message),
        });
        res.end();
        req.resume();
        return;
      }
    }
    refuseUnnamedCompression(req);
    rpc(req, res);
  };
}
