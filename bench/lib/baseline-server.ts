/*
 * Baseline child: a bare connect-node server with no Flotilla code in the way. Same front as
 * Flotilla (HTTP/1.1 and h2c on one port by preface sniffing, Nagle off; gRPC, gRPC-web and
 * Connect enabled), serving AppService.GetOrganization with a canned reply (the bytes Flotilla
 * itself returned for the same organization) after a constant bearer-token comparison.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { AppService } from '../../src/rpc/service-descriptors.generated.js';
import { serveParent } from './ipc.js';
import { cpuSnapshot } from './stats.js';

export interface BaselineStart {
  token: string;
  organizationId: string;
  /** A GetOrganizationResponse, binary, base64. */
  replyBase64: string;
}

let served = 0;
let rejected = 0;
let front: net.Server | undefined;

function start(payload: unknown): Promise<{ url: string; replyBytes: number }> {
  const { token, organizationId, replyBase64 } = payload as BaselineStart;
  const canned = AppService.methods.getOrganization.O.fromBinary(Buffer.from(replyBase64, 'base64'));
  const expected = `Bearer ${token}`;
  const rpc = connectNodeAdapter({
    routes: (router: ConnectRouter) =>
      router.service(AppService, {
        getOrganization(req, ctx) {
          if (ctx.requestHeader.get('authorization') !== expected) {
            rejected++;
            throw new ConnectError('bad bearer token', Code.Unauthenticated);
          }
          if (req.organizationId !== organizationId) throw new ConnectError('no such org', Code.NotFound);
          served++;
          return canned;
        },
      }),
    grpc: true,
    grpcWeb: true,
    connect: true,
  });
  const h1 = http.createServer(rpc);
  const h2 = http2.createServer(rpc);
  // HTTP/2 with prior knowledge starts with "PRI * HTTP/2.0"; anything else is HTTP/1.1.
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      (first.toString('latin1', 0, 3) === 'PRI' ? h2 : h1).emit('connection', socket);
      process.nextTick(() => socket.resume());
    });
  });
  front = server;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}`, replyBytes: canned.toBinary().length });
    });
  });
}

serveParent('baseline server', {
  start,
  stats: () => ({ ...cpuSnapshot(), served, rejected }),
  stop: () => {
    front?.close();
    return { served, rejected };
  },
});
