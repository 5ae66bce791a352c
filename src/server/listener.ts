import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AnyRequest, AnyResponse, RequestHandler } from './http-front.js';

export interface ListenerOptions {
  host: string;
  port: number;
  tls: { certFile: string; keyFile: string } | undefined;
}

/** One TCP port for HTTP/1.1 and HTTP/2, with graceful close. */
export interface Listener {
  /** Starts accepting; resolves with the real port. */
  listen(): Promise<number>;
  /** Stops accepting, lets calls in flight finish for up to `graceMs`, then closes every connection. */
  close(graceMs: number): Promise<void>;
}

const HTTP2_PREFACE = 'PRI';

/**
 * Cleartext: Node's http2 server cannot take HTTP/1.1, so a plain `net.Server` peeks at the first
 * bytes and hands the socket to the HTTP/2 server (connection preface `PRI * HTTP/2.0`) or the
 * HTTP/1.1 one. `noDelay` matters: sockets accepted by our own `net.Server` keep Nagle's algorithm
 * otherwise, and every gRPC-web call then stalls about 40 ms on delayed ACKs.
 * With TLS, ALPN chooses instead (`allowHTTP1`).
 */
export function createListener(handler: RequestHandler, options: ListenerOptions): Listener {
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const tracked: RequestHandler = (req: AnyRequest, res: AnyResponse) => {
    inFlight++;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight--;
      if (inFlight === 0) drained?.();
    };
    res.on('finish', finish);
    res.on('close', finish);
    if (req instanceof http2.Http2ServerRequest) {
      // A reply sent before the request body ended (an upload refused early, say) leaves the
      // client sending into a stream nobody reads, stalled by flow control. Once the trailers
      // are handed over, a reset with NO_ERROR tells the client to stop, as HTTP/2 allows. The
      // compatibility layer sends the trailers from a 'wantTrailers' listener it adds later
      // than this one, hence setImmediate; a reset any earlier (at 'finish', say) drops them.
      const stream = req.stream;
      stream.once('wantTrailers', () =>
        setImmediate(() => {
          if (req.complete || stream.closed) return;
          stream.close(http2.constants.NGHTTP2_NO_ERROR);
          // The reset is queued after the trailers. What the client sent and nobody read would
          // keep the stream from ending (and shutdown waiting its grace out for a call long
          // over), so it is thrown away with the stream.
          stream.destroy();
        }),
      );
    }
    handler(req, res);
  };

  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  const h1 = http.createServer(tracked as http.RequestListener);
  let h2: http2.Http2Server | http2.Http2SecureServer;
  let front: net.Server;
  if (options.tls) {
    h2 = http2.createSecureServer(
      { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile), allowHTTP1: true },
      tracked as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
    );
    front = h2;
    h2.on('secureConnection', (socket: net.Socket) => {
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
  } else {
    h2 = http2.createServer(
      tracked as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
    );
    front = net.createServer({ noDelay: true }, (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      socket.once('data', (chunk: Buffer) => {
        socket.pause();
        socket.unshift(chunk);
        const target = chunk.subarray(0, 3).toString('latin1') === HTTP2_PREFACE ? h2 : h1;
        target.emit('connection', socket);
        process.nextTick(() => socket.resume());
      });
    });
  }
  h2.on('session', (session: http2.Http2Session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });

  return {
    listen: () =>
      new Promise((resolve, reject) => {
        front.once('error', reject);
        front.listen(options.port, options.host, () => {
          front.off('error', reject);
          resolve((front.address() as net.AddressInfo).port);
        });
      }),
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => front.close(() => resolve()));
      // Tell HTTP/2 clients to stop opening streams; HTTP/1.1 idle keep-alive sockets can go now.
      for (const session of sessions) session.close();
      h1.closeIdleConnections();
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, graceMs).unref();
        });
      }
      for (const socket of sockets) socket.destroy();
      for (const session of sessions) session.destroy();
      await closed;
    },
  };
}
