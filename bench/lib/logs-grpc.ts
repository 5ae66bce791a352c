/*
 * A minimal native-gRPC client on node:http2 (h2c) for the logs benchmark: requests go out as
 * ready-made frames (5-byte prefix + protobuf), replies come back as raw frames, and the call
 * succeeds only with grpc-status 0. Nothing is decoded on the hot path, so the load generator
 * costs little next to the server.
 */
import http2 from 'node:http2';

export interface UnaryResult {
  /** grpc-status, or -1 when the call broke before one arrived. */
  status: number;
  message: string;
  /** The reply's first message (without its prefix), if any. */
  reply: Buffer | undefined;
}

/** Splits gRPC frames out of a byte stream. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  /** Feeds a chunk; returns the complete messages it finished (compressed frames are refused). */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    while (this.pending.length >= 5) {
      const length = this.pending.readUInt32BE(1);
      if (this.pending.length < 5 + length) break;
      if (this.pending[0] !== 0) throw new Error('compressed or trailer frame in a gRPC reply');
      out.push(this.pending.subarray(5, 5 + length));
      this.pending = this.pending.subarray(5 + length);
    }
    return out;
  }
}

const statusOf = (headers: http2.IncomingHttpHeaders | undefined): number | undefined => {
  const raw = headers?.['grpc-status'];
  return raw === undefined ? undefined : Number(raw);
};
const messageOf = (headers: http2.IncomingHttpHeaders | undefined): string => {
  const raw = headers?.['grpc-message'];
  return typeof raw === 'string' ? decodeURIComponent(raw) : '';
};

/** One HTTP/2 connection to a server. */
export class GrpcSession {
  private readonly session: http2.ClientHttp2Session;
  private broken: Error | undefined;

  constructor(url: string) {
    this.session = http2.connect(url, {
      settings: { initialWindowSize: 4 * 1024 * 1024, enablePush: false },
    });
    this.session.on('error', (error: Error) => {
      this.broken = error;
    });
    this.session.on('connect', () => {
      // A session closed before it finished connecting still says so; it has no window left.
      if (!this.session.destroyed && !this.session.closed) this.session.setLocalWindowSize(8 * 1024 * 1024);
    });
  }

  private open(path: string, token: string, timeoutMs: number): http2.ClientHttp2Stream {
    if (this.broken) throw this.broken;
    const stream = this.session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: `Bearer ${token}`,
      'grpc-timeout': `${Math.max(1, Math.round(timeoutMs))}m`,
    });
    stream.setTimeout(timeoutMs + 2000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    return stream;
  }

  /** A unary call with a framed request; resolves (never rejects) with the status. */
  unary(path: string, token: string, framedRequest: Buffer, timeoutMs = 30_000): Promise<UnaryResult> {
    return new Promise((resolve) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.open(path, token, timeoutMs);
      } catch (error) {
        resolve({ status: -1, message: String(error), reply: undefined });
        return;
      }
      let headers: http2.IncomingHttpHeaders | undefined;
      let trailers: http2.IncomingHttpHeaders | undefined;
      const chunks: Buffer[] = [];
      stream.on('response', (h) => (headers = h));
      stream.on('trailers', (t: http2.IncomingHttpHeaders) => {
        trailers = t;
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', () => undefined);
      stream.on('close', () => {
        const status = statusOf(trailers) ?? statusOf(headers) ?? -1;
        const message = messageOf(trailers) || messageOf(headers) || (status === -1 ? 'stream closed' : '');
        const body = Buffer.concat(chunks);
        const reply = body.length >= 5 ? body.subarray(5, 5 + body.readUInt32BE(1)) : undefined;
        resolve({ status, message, reply });
      });
      stream.end(framedRequest);
    });
  }

  /**
   * A server-streaming call. `onMessage` gets each reply message with the time (performance.now)
   * its last byte arrived. `done` resolves with the final status; `cancel` ends the call.
   */
  serverStream(
    path: string,
    token: string,
    framedRequest: Buffer,
    onMessage: (message: Buffer, receivedAt: number) => void,
    timeoutMs: number,
  ): { done: Promise<UnaryResult>; cancel: () => void } {
    let stream: http2.ClientHttp2Stream | undefined;
    const done = new Promise<UnaryResult>((resolve) => {
      try {
        stream = this.open(path, token, timeoutMs);
      } catch (error) {
        resolve({ status: -1, message: String(error), reply: undefined });
        return;
      }
      const reader = new FrameReader();
      let headers: http2.IncomingHttpHeaders | undefined;
      let trailers: http2.IncomingHttpHeaders | undefined;
      let failure: string | undefined;
      stream.on('response', (h) => (headers = h));
      stream.on('trailers', (t: http2.IncomingHttpHeaders) => {
        trailers = t;
      });
      stream.on('data', (chunk: Buffer) => {
        const at = performance.now();
        try {
          for (const message of reader.push(chunk)) onMessage(message, at);
        } catch (error) {
          failure = String(error);
        }
      });
      stream.on('error', () => undefined);
      stream.on('close', () => {
        const status = statusOf(trailers) ?? statusOf(headers) ?? -1;
        resolve({
          status: failure ? -1 : status,
          message: failure ?? (messageOf(trailers) || messageOf(headers)),
          reply: undefined,
        });
      });
      stream.end(framedRequest);
    });
    return {
      done,
      cancel: () => {
        if (stream && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      },
    };
  }

  close(): void {
    this.session.destroy();
  }
}
