import http2 from 'node:http2';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';

/*
 * A bare HTTP/2 gRPC client for tests that need to say what no real client says: any body
 * (bad or truncated frames, a compressed flag, lies about lengths), any header, a reset in the
 * middle of a call. It reports what came back as it came: headers, trailers, raw frames, and
 * whether the status arrived alone in the headers (a trailers-only reply).
 */

/** One length-prefixed message as gRPC frames it: flags, a 4-byte big-endian length, the bytes. */
export function grpcFrame(message: Uint8Array, flags = 0): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = flags;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** A frame prefix alone, announcing `length` bytes (which need not follow). */
export function grpcFramePrefix(length: number, flags = 0): Buffer {
  const out = Buffer.alloc(5);
  out[0] = flags;
  out.writeUInt32BE(length, 1);
  return out;
}

export interface RawGrpcOptions {
  /** Extra request headers; `content-type` (default `application/grpc`) and `te` may be overridden. */
  headers?: Record<string, string>;
  /** Keep the request side open after the body (no END_STREAM), as a client still sending would. */
  keepOpen?: boolean;
  /** Reset the stream (RST_STREAM with `resetCode`, CANCEL by default) this long after sending. */
  resetAfterMs?: number;
  resetCode?: number;
  /** Give up (destroying the stream) when the call has not ended within this; 10 s by default. */
  timeoutMs?: number;
}

export interface RawGrpcFrame {
  flags: number;
  data: Buffer;
}

export interface RawGrpcReply {
  /** The response headers, pseudo-headers (`:status`) included. */
  headers: http2.IncomingHttpHeaders;
  /** The trailers; undefined when none came (trailers-only reply, or the stream was reset). */
  trailers: http2.IncomingHttpHeaders | undefined;
  /** The status came in the headers, with no body and no trailers. */
  trailersOnly: boolean;
  /** The body as received. */
  body: Buffer;
  /** The body split into frames, as received (payloads still compressed where flagged). */
  frames: RawGrpcFrame[];
  /** Each frame's message, decompressed by the reply's `grpc-encoding` where flagged. */
  messages: Uint8Array[];
  /** Bytes after the last complete frame (a truncated reply); empty normally. */
  leftover: Buffer;
  /** `grpc-status` from the trailers, else the headers; undefined if neither had it. */
  status: number | undefined;
  /** `grpc-message`, percent-decoded. */
  message: string | undefined;
  /** `grpc-message` exactly as sent. */
  rawMessage: string | undefined;
  /** The RST_STREAM code the stream closed with (0 when it ended normally). */
  rstCode: number;
}

/** Splits a body into frames; what does not make a whole frame is left over. */
export function splitGrpcFrames(body: Buffer): { frames: RawGrpcFrame[]; leftover: Buffer } {
  const frames: RawGrpcFrame[] = [];
  let at = 0;
  while (body.length - at >= 5) {
    const length = body.readUInt32BE(at + 1);
    if (body.length - at - 5 < length) break;
    frames.push({ flags: body[at]!, data: body.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return { frames, leftover: body.subarray(at) };
}

function decompress(frame: RawGrpcFrame, encoding: string | undefined): Uint8Array {
  if ((frame.flags & 1) === 0) return frame.data;
  if (encoding === 'gzip') return gunzipSync(frame.data);
  if (encoding === 'br') return brotliDecompressSync(frame.data);
  throw new Error(`a compressed frame with grpc-encoding ${String(encoding)}`);
}

const single = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value.join(', ') : value;

/**
 * One gRPC call on `target` (a session, or a URL for a session of its own, closed afterwards).
 * `body` is either the raw request body, sent exactly as given, or a list of messages, each
 * framed without compression.
 */
export async function rawGrpcCall(
  target: http2.ClientHttp2Session | string,
  path: string,
  body: Uint8Array | readonly Uint8Array[],
  options: RawGrpcOptions = {},
): Promise<RawGrpcReply> {
  const own = typeof target === 'string' ? http2.connect(target) : undefined;
  const session = own ?? (target as http2.ClientHttp2Session);
  try {
    return await callOn(session, path, body, options);
  } finally {
    own?.close();
  }
}

function callOn(
  session: http2.ClientHttp2Session,
  path: string,
  body: Uint8Array | readonly Uint8Array[],
  options: RawGrpcOptions,
): Promise<RawGrpcReply> {
  const bytes = body instanceof Uint8Array ? body : Buffer.concat(body.map((m) => grpcFrame(m)));
  return new Promise((resolve, reject) => {
    // An empty body ends the request with its headers (END_STREAM on HEADERS), as clients do.
    const headersOnly = bytes.length === 0 && !options.keepOpen;
    const stream = session.request(
      {
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        ...options.headers,
      },
      { endStream: headersOnly },
    );
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    const timers: NodeJS.Timeout[] = [];
    const timeoutMs = options.timeoutMs ?? 10_000;
    timers.push(
      setTimeout(() => {
        stream.destroy();
        reject(new Error(`no end of the call to ${path} within ${timeoutMs} ms`));
      }, timeoutMs),
    );
    if (options.resetAfterMs !== undefined) {
      const code = options.resetCode ?? http2.constants.NGHTTP2_CANCEL;
      timers.push(setTimeout(() => stream.close(code), options.resetAfterMs));
    }
    stream.on('response', (h: http2.IncomingHttpHeaders) => {
      headers = h;
    });
    stream.on('trailers', (t: http2.IncomingHttpHeaders) => {
      trailers = t;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A reset surfaces as an error on the client stream; the reply still says what came.
    stream.on('error', () => {});
    stream.on('close', () => {
      for (const timer of timers) clearTimeout(timer);
      try {
        const received = Buffer.concat(chunks);
        const { frames, leftover } = splitGrpcFrames(received);
        const encoding = single(headers['grpc-encoding']);
        const statusSource = trailers?.['grpc-status'] !== undefined ? trailers : headers;
        const status = single(statusSource['grpc-status']);
        const rawMessage = single(statusSource['grpc-message']);
        resolve({
          headers,
          trailers,
          trailersOnly:
            trailers === undefined && headers['grpc-status'] !== undefined && received.length === 0,
          body: received,
          frames,
          messages: frames.map((frame) => decompress(frame, encoding)),
          leftover,
          status: status === undefined ? undefined : Number(status),
          message: rawMessage === undefined ? undefined : decodeURIComponent(rawMessage),
          rawMessage,
          rstCode: stream.rstCode ?? 0,
        });
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    if (options.keepOpen) stream.write(bytes);
    else if (!headersOnly) stream.end(bytes);
  });
}
