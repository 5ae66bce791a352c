/*
 * The front the baseline servers share with Flotilla: one connect-node handler with gRPC,
 * gRPC-web and Connect enabled, HTTP/1.1 and h2c on one port told apart by the connection's
 * preface, Nagle off, on 127.0.0.1 with a free port.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';

/** Starts serving `routes`; resolves with the listening server and its URL. */
export function listenConnectFront(
  routes: (router: ConnectRouter) => void,
  options: { readMaxBytes?: number } = {},
): Promise<{ server: net.Server; url: string }> {
  const rpc = connectNodeAdapter({
    routes,
    ...(options.readMaxBytes === undefined ? {} : { readMaxBytes: options.readMaxBytes }),
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
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}` });
    });
  });
}
