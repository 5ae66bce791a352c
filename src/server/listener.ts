import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { CallTransport } from '../rpc/context-keys.js';
import { divertStreams, type LeanGrpc } from './lean-grpc.js';
import type { AnyRequest, AnyResponse, RequestHandler } from './http-front.js';

/** How long connections may take and how much one may hold; every timeout in milliseconds. */
export interface ConnectionLimits {
  /** A new connection sends its first byte (cleartext) or completes its TLS handshake within this. */
  firstByteTimeoutMs: number;
  /** HTTP/1.1: a request's headers arrive complete within this after the request starts. */
  headersTimeoutMs: number;
  /** HTTP/1.1: a whole request (headers and body) arrives within this. */
  requestTimeoutMs: number;
  /** HTTP/1.1: an idle keep-alive connection is closed after this (plus Node's 1 s buffer). */
  keepAliveTimeoutMs: number;
  /** HTTP/2: a session with no open stream for this long gets GOAWAY and is closed. */
  http2IdleTimeoutMs: number;
  /** A request body that receives no bytes for this long (while its reader waits) is cut off. */
  bodyIdleTimeoutMs: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: what a client opens beyond it waits. */
  maxConcurrentStreams: number;
  /** How long a stream its handler gave up on may take to deliver its status before it is reset. */
  stalledStreamGraceMs: number;
}

export interface ListenerOptions {
  host: string;
  port: number;
  tls: { certFile: string; keyFile: string } | undefined;
  limits: ConnectionLimits;
  /** Serves the HTTP/2 streams it accepts itself, before Node's compatibility layer (lean-grpc.ts). */
  lean?: LeanGrpc | undefined;
}

/** The key moved to src/rpc (handlers read it; the listener sets it); re-exported for the server. */

const transports = new WeakMap<AnyRequest, CallTransport>();

/** The transport of a request the listener handed to its handler. */
export const callTransportOf = (req: AnyRequest): CallTransport | undefined => transports.get(req);

/** One TCP port for HTTP/1.1 and HTTP/2, with graceful close. */
export interface Listener {
  /** Starts accepting; resolves with the real port. */
  listen(): Promise<number>;
  /** Stops accepting, lets calls in flight finish for up to `graceMs`, then closes every connection. */
  close(graceMs: number): Promise<void>;
}

const HTTP2_PREFACE = 'PRI';
const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

/** The error an abandoned call's pending write fails with (a destroyed stream, as Node says). */
const abandoned = () =>
  Object.assign(new Error('the call was abandoned: its client read nothing'), {
    code: 'ERR_STREAM_DESTROYED',
  });

/**
 * Cuts off a request whose body stops arriving: no body bytes for `idleMs` while nothing
 * received waits for the handler (a handler behind on reading is not the client's fault).
 * HTTP/2 counts DATA frames (the stream's own timeout, refreshed by traffic); HTTP/1.1 the
 * connection's bytes. Requests without a body are not watched.
 */
function watchBody(req: AnyRequest, idleMs: number, isClosed: () => boolean): void {
  if (req instanceof http2.Http2ServerRequest) {
    const stream = req.stream;
    if (stream.endAfterHeaders) return;
    const onIdle = () => {
      if (stream.destroyed || isClosed() || stream.state.remoteClose) return;
      if (req.readableLength > 0 || stream.readableLength > 0) stream.setTimeout(idleMs, onIdle);
      else stream.close(NGHTTP2_CANCEL);
    };
    stream.setTimeout(idleMs, onIdle);
    req.once('end', () => stream.setTimeout(0, onIdle));
    return;
  }
  const length = req.headers['content-length'];
  if ((length === undefined || length === '0') && req.headers['transfer-encoding'] === undefined) return;
  const socket = req.socket;
  let seen = socket.bytesRead;
  const timer = setTimeout(() => {
    if (req.complete || socket.destroyed || isClosed()) return;
    if (socket.bytesRead === seen && req.readableLength === 0) {
      socket.destroy();
      return;
    }
    seen = socket.bytesRead;
    timer.refresh();
  }, idleMs).unref();
}

/**
 * Cleartext: Node's http2 server cannot take HTTP/1.1, so a plain `net.Server` peeks at the first
 * bytes and hands the socket to the HTTP/2 server (connection preface `PRI * HTTP/2.0`) or the
 * HTTP/1.1 one. `noDelay` matters: sockets accepted by our own `net.Server` keep Nagle's algorithm
 * otherwise, and every gRPC-web call then stalls about 40 ms on delayed ACKs.
 * With TLS, ALPN chooses instead (`allowHTTP1`).
 *
 * Every connection runs against `limits`: a first-byte (TLS: handshake) timeout, HTTP/1.1 header,
 * request and keep-alive timeouts, an idle timeout for HTTP/2 sessions with no open stream, an
 * idle timeout for request bodies, and a stream limit per HTTP/2 connection (SETTINGS).
 */
export function createListener(handler: RequestHandler, options: ListenerOptions): Listener {
  const { limits } = options;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const tracked: RequestHandler = (req: AnyRequest, res: AnyResponse) => {
    inFlight++;
    let done = false;
    let closed = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight--;
      if (inFlight === 0) drained?.();
    };
    res.on('finish', finish);
    res.on('close', () => {
      closed = true;
      finish();
    });
    const isClosed = () => closed;
    transports.set(req, {
      abandon(reason) {
        if (closed) return;
        const timer = setTimeout(() => {
          if (closed) return;
          if (req instanceof http2.Http2ServerRequest) {
            req.stream.close(reason === 'resource-exhausted' ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_CANCEL);
            // The reset is on its way; the write the handler waits on fails with this error,
            // which connect-node takes for a client gone (any other it prints to stderr).
            req.stream.destroy(abandoned());
          } else {
            req.socket.destroy(abandoned());
          }
        }, limits.stalledStreamGraceMs).unref();
        res.once('close', () => clearTimeout(timer));
      },
    });
    watchBody(req, limits.bodyIdleTimeoutMs, isClosed);
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
  // Node checks HTTP/1.1 header and request timeouts on an interval (30 s by default); this
  // one keeps them within a quarter of the shorter timeout, at most a second late.
  const http1Timeouts = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(
      10,
      Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)),
    ),
  };
  const h1 = http.createServer(http1Timeouts, tracked as http.RequestListener);
  const settings: http2.Settings = { maxConcurrentStreams: limits.maxConcurrentStreams };
  let h2: http2.Http2Server | http2.Http2SecureServer;
  let front: net.Server;
  if (options.tls) {
    h2 = http2.createSecureServer(
      {
        cert: readFileSync(options.tls.certFile),
        key: readFileSync(options.tls.keyFile),
        allowHTTP1: true,
        handshakeTimeout: limits.firstByteTimeoutMs,
        settings,
      },
      tracked as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
    );
    // HTTP/1.1 over TLS (ALPN) is served by the secure server itself, which listens, so Node
    // runs these timeouts for it.
    Object.assign(h2, http1Timeouts);
    front = h2;
    h2.on('secureConnection', (socket: net.Socket) => {
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
  } else {
    h2 = http2.createServer(
      { settings },
      tracked as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
    );
    front = net.createServer({ noDelay: true }, (socket) => {
      sockets.add(socket);
      // A connection that never says anything would hold its socket forever.
      const silent = setTimeout(() => socket.destroy(), limits.firstByteTimeoutMs).unref();
      socket.on('close', () => {
        clearTimeout(silent);
        sockets.delete(socket);
      });
      socket.on('error', () => socket.destroy());
      socket.once('data', (chunk: Buffer) => {
        clearTimeout(silent);
        socket.pause();
        socket.unshift(chunk);
        const target = chunk.subarray(0, 3).toString('latin1') === HTTP2_PREFACE ? h2 : h1;
        target.emit('connection', socket);
        process.nextTick(() => socket.resume());
      });
    });
  }
  // Streams the lean path serves count as calls in flight, like requests, and their bodies
  // have the same idle timeout (the stream's own timer, refreshed by its frames).
  const trackStream = (stream: http2.ServerHttp2Stream) => {
    inFlight++;
    const onIdle = () => {
      if (!stream.destroyed && !stream.state.remoteClose) stream.close(NGHTTP2_CANCEL);
    };
    stream.setTimeout(limits.bodyIdleTimeoutMs, onIdle);
    stream.once('end', () => stream.setTimeout(0, onIdle));
    stream.once('close', () => {
      inFlight--;
      if (inFlight === 0) drained?.();
    });
  };
  h2.on('session', (session: http2.ServerHttp2Session) => {
    // First: the streams it takes must never reach the compatibility layer.
    if (options.lean) divertStreams(session, options.lean, trackStream);
    sessions.add(session);
    // Idle means no open stream (a long-lived one, such as a log tail, keeps the session busy
    // however quiet it is); an idle session gets GOAWAY and closes.
    let open = 0;
    let idle: NodeJS.Timeout | undefined;
    const startIdle = () => {
      idle = setTimeout(() => session.close(), limits.http2IdleTimeoutMs).unref();
    };
    startIdle();
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      if (open++ === 0) clearTimeout(idle);
      stream.once('close', () => {
        if (--open === 0 && !session.closed && !session.destroyed) startIdle();
      });
    });
    session.on('close', () => {
      clearTimeout(idle);
      sessions.delete(session);
    });
  });

  return {
    listen: () =>
      new Promise((resolve, reject) => {
        front.once('error', reject);
        front.listen(options.port, options.host, () => {
          front.off('error', reject);
          // The header and request timeouts only run once the server emits 'listening' (which
          // starts its connection checks); this one never listens itself, the sniffer hands it
          // its sockets. close() stops the checks.
          if (front !== h2) h1.emit('listening');
          resolve((front.address() as net.AddressInfo).port);
        });
      }),
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => front.close(() => resolve()));
      // Tell HTTP/2 clients to stop opening streams; HTTP/1.1 idle keep-alive sockets can go now
      // (closing the HTTP/1.1 server also stops its timeout checks).
      for (const session of sessions) session.close();
      h1.close();
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
