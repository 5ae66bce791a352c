import http2 from 'node:http2';
import { Code, ConnectError } from '@connectrpc/connect';
import { compressionBrotli, compressionGzip } from '@connectrpc/connect-node';

/*
 * Unary native gRPC straight on HTTP/2 streams, for the few calls machines make all the time.
 * It answers byte for byte what connect-node (1.7, behind `guardedRpc`) answers for
 * `application/grpc`: the same headers, the same frames, the same trailers, the same protocol
 * errors with the same messages; it only skips the compatibility layer, the web Headers objects
 * and the async iterator pipeline. Anything it would not answer exactly alike (compressed
 * requests, CORS, `expect`, other content types, unknown methods) is left to the framework.
 *
 * Where it knowingly differs: the handler runs once the request body has ended (connect-node
 * starts it at the first complete message; a client that sends its message and half-closes sees
 * no difference); a deadline longer than Node's longest timer (about 24.8 days) waits that long,
 * where connect-node's timer overflows and expires after 1 ms; and the signal is not aborted
 * when a call ends normally (connect-node aborts its handler context then).
 */

/** What a handler learns about its call. */
export interface LeanCall {
  /** The method's path, such as `/viam.app.v1.RobotService/Config`. */
  readonly path: string;
  readonly headers: http2.IncomingHttpHeaders;
  /** Aborted when the deadline (`grpc-timeout`) passes or the client resets the stream, with the
   * reason connect-node gives: a ConnectError DEADLINE_EXCEEDED, or the reset code's error. */
  readonly signal: AbortSignal;
  /** The client's address, from the HTTP/2 session's socket. */
  readonly remoteAddress: string | undefined;
}

/** Serves one unary call: the request message's bytes in, the reply message's bytes out. */
export type LeanUnaryHandler = (request: Uint8Array, call: LeanCall) => Promise<Uint8Array> | Uint8Array;

/** A gRPC status: a code (`Code` of @connectrpc/connect) and a message, not yet percent-encoded. */
export interface LeanStatus {
  code: number;
  message: string;
}

export interface LeanGrpcOptions {
  /** The handlers, by path. */
  methods: ReadonlyMap<string, LeanUnaryHandler>;
  /** Largest request message accepted, in bytes (connect-node's `readMaxBytes`). */
  readMaxBytes: number;
  /** Turns an error a handler threw into a status (the server passes its error interceptor's
   * translation). If it throws, the call answers INTERNAL "internal error", as connect-node does
   * for an error that is not a ConnectError. */
  statusOf(error: unknown, path: string, signal: AbortSignal): LeanStatus | Promise<LeanStatus>;
  /** Reply compressions, in the server's order, announced in `grpc-accept-encoding`: `gzip,br`. */
  acceptEncodings: string;
  /**
   * Hears each call end, once (metrics): its path, its status code (0 for OK) and the seconds
   * from its headers to its answer. A stream closed before it was answered ends with the code
   * its reset gives the signal (CANCELLED for a cancel, and when no reset code says more).
   */
  onCallEnded?: ((path: string, code: number, seconds: number) => void) | undefined;
}

export interface LeanGrpc {
  /** True for a stream served exactly as the framework would serve it: a POST of
   * `application/grpc` or `application/grpc+proto` to a path in `methods`, with no request
   * compression (`grpc-encoding` absent or `identity`), no `origin` (the framework adds CORS
   * headers) and no `expect`. */
  accepts(headers: http2.IncomingHttpHeaders): boolean;
  /** Serves one accepted stream. Never throws, never rejects; resolves once the stream closed
   * (after a reset, its handler may still be running: its signal is aborted, its result dropped). */
  handle(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): Promise<void>;
}

interface ReplyCompression {
  name: string;
  compress(bytes: Uint8Array): Promise<Uint8Array>;
}

/** What connect-node's adapter accepts by default, by the name gRPC gives it. */
const KNOWN_COMPRESSIONS: ReadonlyMap<string, ReplyCompression> = new Map([
  [compressionGzip.name, compressionGzip],
  [compressionBrotli.name, compressionBrotli],
]);

/** connect-node compresses a reply message only from this size on (its `compressMinBytes` default). */
const COMPRESS_MIN_BYTES = 1024;
const COMPRESSED_FLAG = 0b0000_0001;
/** Node cannot wait longer in one timer; connect-node's longer deadlines fire after 1 ms instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const GRPC_TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = {
  H: 60 * 60 * 1000,
  M: 60 * 1000,
  S: 1000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};
const RESPOND_OPTIONS: Readonly<http2.ServerStreamResponseOptions> = Object.freeze({ waitForTrailers: true });
const OK_TRAILERS: Readonly<http2.OutgoingHttpHeaders> = Object.freeze({ 'grpc-status': '0' });

// connect-node's own wording for the protocol errors it answers before (or after) the handler.
const MISSING_MESSAGE: LeanStatus = {
  code: Code.Unimplemented,
  message: 'protocol error: missing input message for unary method',
};
const EXTRA_MESSAGE: LeanStatus = {
  code: Code.Unimplemented,
  message: 'protocol error: received extra input message for unary method',
};
/** Flotilla's own refusal (`refuseUnnamedCompression`), where the framework would say INTERNAL. */
const UNNAMED_COMPRESSION: LeanStatus = {
  code: Code.InvalidArgument,
  message: 'a message is marked compressed but the request names no encoding (grpc-encoding)',
};
const INTERNAL: LeanStatus = { code: Code.Internal, message: 'internal error' };

/** The HTTP/2 error codes connect-node names when a reset aborts a call. */
const RESET_CODES: ReadonlyMap<number, [name: string, code: Code]> = new Map([
  [0x1, ['PROTOCOL_ERROR', Code.Internal]],
  [0x2, ['INTERNAL_ERROR', Code.Internal]],
  [0x3, ['FLOW_CONTROL_ERROR', Code.Internal]],
  [0x4, ['SETTINGS_TIMEOUT', Code.Internal]],
  [0x6, ['FRAME_SIZE_ERROR', Code.Internal]],
  [0x7, ['REFUSED_STREAM', Code.Unavailable]],
  [0x8, ['CANCEL', Code.Canceled]],
  [0x9, ['COMPRESSION_ERROR', Code.Internal]],
  [0xa, ['CONNECT_ERROR', Code.Internal]],
  [0xb, ['ENHANCE_YOUR_CALM', Code.ResourceExhausted]],
  [0xc, ['INADEQUATE_SECURITY', Code.PermissionDenied]],
  [0xd, ['HTTP_1_1_REQUIRED', Code.PermissionDenied]],
]);

/** The reason a reset gives the call's signal (undefined: a plain abort), as connect-node has it. */
function resetReason(rstCode: number | undefined): ConnectError | undefined {
  const known = rstCode === undefined ? undefined : RESET_CODES.get(rstCode);
  if (!known || rstCode === undefined) return undefined;
  return new ConnectError(
    `http/2 stream closed with error code ${known[0]} (0x${rstCode.toString(16)})`,
    known[1],
  );
}

const ignore = () => {};

const errorTrailers = (status: LeanStatus): http2.OutgoingHttpHeaders => ({
  'grpc-message': encodeURIComponent(status.message),
  'grpc-status': String(status.code),
});

function frameOf(message: Uint8Array, flags: number): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = flags;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** Builds the lean path for `options.methods`. */
export function createLeanGrpc(options: LeanGrpcOptions): LeanGrpc {
  const available = options.acceptEncodings
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '')
    .map((name) => {
      const compression = KNOWN_COMPRESSIONS.get(name);
      if (!compression) throw new Error(`lean gRPC: no compression named ${name}`);
      return compression;
    });
  const plainHeaders: http2.OutgoingHttpHeaders = Object.freeze({
    ':status': 200,
    'grpc-accept-encoding': options.acceptEncodings,
    'content-type': 'application/grpc+proto',
  });
  const encodedHeaders = new Map(
    available.map((c) => [c.name, Object.freeze({ ...plainHeaders, 'grpc-encoding': c.name })]),
  );
  const shared: Shared = { options, available, plainHeaders, encodedHeaders };
  return {
    accepts(headers) {
      const contentType = headers['content-type'];
      const encoding = headers['grpc-encoding'];
      return (
        headers[':method'] === 'POST' &&
        (contentType === 'application/grpc' || contentType === 'application/grpc+proto') &&
        options.methods.has(headers[':path'] ?? '') &&
        (encoding === undefined || encoding === 'identity') &&
        headers.origin === undefined &&
        headers.expect === undefined
      );
    },
    handle(stream, headers) {
      return new Promise<void>((resolve) => {
        try {
          new StreamCall(shared, stream, headers, resolve).start();
        } catch {
          // Only a stream already gone can get here; there is no one left to answer.
          if (!stream.destroyed) stream.destroy();
          resolve();
        }
      });
    },
  };
}

interface Shared {
  options: LeanGrpcOptions;
  available: readonly ReplyCompression[];
  plainHeaders: http2.OutgoingHttpHeaders;
  encodedHeaders: ReadonlyMap<string, http2.OutgoingHttpHeaders>;
}

/** One call, from its headers to its trailers. */
class StreamCall implements LeanCall {
  readonly path: string;
  private readonly handler: LeanUnaryHandler;
  private controller: AbortController | undefined;
  /** Set once the call is aborted, whether or not anyone asked for the signal yet. */
  private aborted = false;
  private abortReason: unknown;
  private timer: NodeJS.Timeout | undefined;
  private compression: ReplyCompression | undefined;
  // The request body, as received.
  private chunks: Buffer[] = [];
  private received = 0;
  /** Offset of the frame being read, and its length once its prefix is in (-1 before). */
  private frameAt = 0;
  private frameLength = -1;
  private frames = 0;
  private firstAt = 0;
  private firstLength = 0;
  /** A protocol error connect-node reports after the reply (a second message, say). */
  private trailing: LeanStatus | undefined;
  private reading = false;
  private requestEnded = false;
  private answered = false;
  private closed = false;
  /** When the call began (performance.now()), measured only for `onCallEnded`. */
  private readonly startedAt: number;
  private reported = false;

  constructor(
    private readonly shared: Shared,
    private readonly stream: http2.ServerHttp2Stream,
    readonly headers: http2.IncomingHttpHeaders,
    private readonly resolve: () => void,
  ) {
    this.path = headers[':path'] ?? '';
    this.handler = shared.options.methods.get(this.path) ?? (() => Promise.reject(new Error('no handler')));
    this.startedAt = shared.options.onCallEnded ? performance.now() : 0;
  }

  /** Tells `onCallEnded`, the first time only, that the call ended with `code`. */
  private report(code: number): void {
    const onCallEnded = this.shared.options.onCallEnded;
    if (!onCallEnded || this.reported) return;
    this.reported = true;
    onCallEnded(this.path, code, (performance.now() - this.startedAt) / 1000);
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get remoteAddress(): string | undefined {
    try {
      return this.stream.session?.socket?.remoteAddress;
    } catch {
      // The socket of a session already destroyed is no longer reachable.
      return undefined;
    }
  }

  start(): void {
    const stream = this.stream;
    // Resets other than CANCEL come as errors; they are handled at 'close'.
    stream.on('error', ignore);
    stream.once('close', () => this.onClose());
    if (stream.destroyed || stream.closed) {
      this.closed = true;
      this.report(Code.Canceled);
      this.resolve();
      return;
    }
    this.compression = this.negotiate(this.headers['grpc-accept-encoding']);
    const timeout = this.headers['grpc-timeout'];
    if (timeout !== undefined && !this.startDeadline(String(timeout))) return;
    this.reading = true;
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.once('end', () => this.onEnd());
  }

  /** connect-node's choice: the first encoding the client accepts that the server offers. */
  private negotiate(accepted: string | string[] | undefined): ReplyCompression | undefined {
    if (accepted === undefined || accepted === '') return undefined;
    const names = Array.isArray(accepted) ? accepted.join(',') : accepted;
    for (const name of names.split(',')) {
      const trimmed = name.trim();
      const found = this.shared.available.find((c) => c.name === trimmed);
      if (found) return found;
    }
    return undefined;
  }

  /** Starts the deadline; false (the call already answered) when the header does not parse. */
  private startDeadline(value: string): boolean {
    const parsed = GRPC_TIMEOUT.exec(value);
    if (!parsed) {
      this.answer(undefined, {
        code: Code.InvalidArgument,
        message: `protocol error: invalid grpc timeout value: ${value}`,
      });
      return false;
    }
    const ms = TIMEOUT_UNIT_MS[parsed[2]!]! * Number.parseInt(parsed[1]!, 10);
    const expire = () => this.abort(new ConnectError('the operation timed out', Code.DeadlineExceeded));
    if (ms <= 0) expire();
    else this.timer = setTimeout(expire, Math.min(ms, MAX_TIMER_MS));
    return true;
  }

  private abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReason = reason;
    clearTimeout(this.timer);
    if (!this.controller) return;
    if (reason === undefined) this.controller.abort();
    else this.controller.abort(reason);
  }

  private onClose(): void {
    this.closed = true;
    clearTimeout(this.timer);
    if (!this.answered) {
      const reason = resetReason(this.stream.rstCode);
      this.abort(reason);
      this.report(reason?.code ?? Code.Canceled);
    }
    this.resolve();
  }

  private onData(chunk: Buffer): void {
    if (!this.reading) return;
    this.chunks.push(chunk);
    this.received += chunk.length;
    const refusal = this.scan();
    if (refusal) {
      this.stopReading();
      this.answer(undefined, refusal);
    } else if (this.trailing) {
      // Enough is known: connect-node calls the handler, then reports what follows.
      this.stopReading();
      void this.invoke();
    }
  }

  private onEnd(): void {
    if (!this.reading) return;
    this.reading = false;
    this.requestEnded = true;
    const rest = this.received - this.frameAt;
    if (this.frames === 0) {
      this.answer(undefined, rest === 0 ? MISSING_MESSAGE : this.incomplete(rest));
      return;
    }
    if (rest > 0) this.trailing = this.incomplete(rest);
    void this.invoke();
  }

  /** connect-node's words for a body that ends inside a frame, `rest` bytes into it. */
  private incomplete(rest: number): LeanStatus {
    return {
      code: Code.InvalidArgument,
      message:
        rest < 5
          ? 'protocol error: incomplete envelope'
          : `protocol error: promised ${this.frameLength} bytes in enveloped message, got ${rest - 5} bytes`,
    };
  }

  /**
   * Reads frame prefixes as they arrive. Returns a refusal to answer before any handler runs
   * (a compressed flag; a first message over readMaxBytes); sets `trailing` once what follows
   * the first message decides the call (a second message, or one over readMaxBytes), which
   * bounds the reading at two messages.
   */
  private scan(): LeanStatus | undefined {
    for (;;) {
      if (this.frameLength < 0) {
        if (this.received - this.frameAt < 5) return undefined;
        if (this.byteAt(this.frameAt) & COMPRESSED_FLAG) return UNNAMED_COMPRESSION;
        const length =
          ((this.byteAt(this.frameAt + 1) << 24) |
            (this.byteAt(this.frameAt + 2) << 16) |
            (this.byteAt(this.frameAt + 3) << 8) |
            this.byteAt(this.frameAt + 4)) >>>
          0;
        if (length > this.shared.options.readMaxBytes) {
          const status = {
            code: Code.ResourceExhausted,
            message: `message size ${length} is larger than configured readMaxBytes ${this.shared.options.readMaxBytes}`,
          };
          if (this.frames === 0) return status;
          return this.decideAfterFirst(status);
        }
        this.frameLength = length;
      }
      if (this.received - this.frameAt - 5 < this.frameLength) return undefined;
      this.frames++;
      if (this.frames === 1) {
        this.firstAt = this.frameAt;
        this.firstLength = this.frameLength;
      }
      this.frameAt += 5 + this.frameLength;
      this.frameLength = -1;
      if (this.frames === 2) return this.decideAfterFirst(EXTRA_MESSAGE);
    }
  }

  /**
   * Flotilla's compression guard looks at every frame prefix in what has arrived before the
   * framework parses any message; a compressed flag further on still refuses the call first.
   */
  private decideAfterFirst(status: LeanStatus): LeanStatus | undefined {
    let at = this.frameAt;
    while (this.received - at >= 5) {
      if (this.byteAt(at) & COMPRESSED_FLAG) return UNNAMED_COMPRESSION;
      const length =
        ((this.byteAt(at + 1) << 24) |
          (this.byteAt(at + 2) << 16) |
          (this.byteAt(at + 3) << 8) |
          this.byteAt(at + 4)) >>>
        0;
      at += 5 + length;
    }
    this.trailing = status;
    return undefined;
  }

  private byteAt(offset: number): number {
    for (const chunk of this.chunks) {
      if (offset < chunk.length) return chunk[offset]!;
      offset -= chunk.length;
    }
    return 0;
  }

  private stopReading(): void {
    this.reading = false;
    this.stream.pause();
  }

  private firstMessage(): Uint8Array {
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.received);
    this.chunks = [];
    return body.subarray(this.firstAt + 5, this.firstAt + 5 + this.firstLength);
  }

  private async invoke(): Promise<void> {
    const request = this.firstMessage();
    let reply: Uint8Array;
    try {
      reply = await this.handler(request, this);
    } catch (error) {
      clearTimeout(this.timer);
      // Translated even for a client gone: the translation is where failures get logged.
      let status: LeanStatus;
      try {
        status = await this.shared.options.statusOf(error, this.path, this.signal);
      } catch {
        status = INTERNAL;
      }
      this.answer(undefined, status);
      return;
    }
    clearTimeout(this.timer);
    if (this.closed) return;
    let frame: Buffer;
    try {
      frame =
        this.compression && reply.length >= COMPRESS_MIN_BYTES
          ? frameOf(await this.compression.compress(reply), COMPRESSED_FLAG)
          : frameOf(reply, 0);
    } catch {
      this.answer(undefined, INTERNAL);
      return;
    }
    this.answer(frame, this.trailing);
  }

  /** Headers, the reply frame if any, then the trailers with the status (0 without one). */
  private answer(frame: Buffer | undefined, status: LeanStatus | undefined): void {
    const stream = this.stream;
    if (this.answered || this.closed || stream.destroyed || stream.closed) return;
    this.answered = true;
    clearTimeout(this.timer);
    this.report(status?.code ?? 0);
    const trailers = status ? errorTrailers(status) : OK_TRAILERS;
    try {
      stream.respond(
        this.compression
          ? (this.shared.encodedHeaders.get(this.compression.name) ?? this.shared.plainHeaders)
          : this.shared.plainHeaders,
        RESPOND_OPTIONS,
      );
      stream.once('wantTrailers', () => this.sendTrailers(trailers));
      if (frame) stream.end(frame);
      else stream.end();
    } catch {
      // The stream went away between the check and the write: nothing to tell anyone.
    }
  }

  private sendTrailers(trailers: http2.OutgoingHttpHeaders): void {
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    try {
      stream.sendTrailers(trailers);
    } catch {
      return;
    }
    if (this.requestEnded) return;
    // Answered before the client finished sending: once the trailers are out (Node sends them
    // on the next turn), a reset with NO_ERROR tells it to stop, and what it sent is dropped.
    setImmediate(() => {
      if (stream.destroyed || stream.closed) return;
      stream.close(http2.constants.NGHTTP2_NO_ERROR);
      stream.resume();
    });
  }
}

/**
 * Routes the streams of one HTTP/2 session: those `lean.accepts` go to `lean.handle` (after
 * `onStream`, if given) and never reach Node's compatibility layer; every other stream goes to
 * the 'stream' listeners the session had (Node's forwarding to the server's 'stream' event, and
 * from there to 'request'). Call it first thing in the server's 'session' listener: 'stream'
 * listeners added later see every stream, diverted or not.
 */
export function divertStreams(
  session: http2.ServerHttp2Session,
  lean: LeanGrpc,
  onStream?: (stream: http2.ServerHttp2Stream) => void,
): void {
  const others = session.rawListeners('stream') as ((...args: unknown[]) => void)[];
  session.removeAllListeners('stream');
  session.on(
    'stream',
    (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, raw: string[]) => {
      if (lean.accepts(headers)) {
        onStream?.(stream);
        void lean.handle(stream, headers);
        return;
      }
      for (const listener of others) listener.call(session, stream, headers, flags, raw);
    },
  );
}
