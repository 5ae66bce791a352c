import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import type { PartialMessage } from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  createContextValues,
  createPromiseClient,
  type Interceptor,
  type UnaryRequest,
} from '@connectrpc/connect';
import { connectNodeAdapter, createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { appRobotApi } from '@viamrobotics/sdk';
import { DEFAULT_CONNECTION_LIMITS } from '../src/config.js';
import { DomainError, invalidArgument } from '../src/domain/errors.js';
import { errorInterceptor } from '../src/rpc/interceptors.js';
import { withTolerantRequests } from '../src/rpc/request-guards.js';
import { RobotService } from '../src/rpc/service-descriptors.generated.js';
import type { RequestHandler } from '../src/server/http-front.js';
import {
  createLeanGrpc,
  divertStreams,
  type LeanCall,
  type LeanGrpc,
  type LeanStatus,
} from '../src/server/lean-grpc.js';
import { createListener } from '../src/server/listener.js';
import { createLogger } from '../src/server/logger.js';
import { guardedRpc } from '../src/server/rpc-guard.js';
import {
  grpcFrame,
  grpcFramePrefix,
  rawGrpcCall,
  type RawGrpcOptions,
  type RawGrpcReply,
} from './support/raw-grpc.js';

/*
 * The lean path answers native gRPC exactly as the framework does: every request below goes, as
 * the same raw bytes, to a connect-node server built like Flotilla's (the adapter behind
 * `guardedRpc` and the real listener) and to a server whose sessions divert the method to the
 * lean path, and both answers must match: headers (but the date), frames, trailers, status.
 */

const PATH = `/${RobotService.typeName}/${RobotService.methods.needsRestart.name}`;
const READ_MAX_BYTES = 1024;
const ACCEPT_ENCODINGS = 'gzip,br';
const { NeedsRestartRequest, NeedsRestartResponse } = appRobotApi;

const request = (id: string) => new NeedsRestartRequest({ id }).toBinary();

/** What the signals of calls that waited on them were aborted with, one list per server. */
class Reasons {
  readonly seen: unknown[] = [];
  private waiters: ((reason: unknown) => void)[] = [];
  record(reason: unknown): void {
    this.seen.push(reason);
    this.waiters.shift()?.(reason);
  }
  next(): Promise<unknown> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

const untilAborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });

/** The fake NeedsRestart: what it does is named by the request's id. */
async function behave(
  id: string,
  signal: AbortSignal,
  reasons: Reasons,
): Promise<PartialMessage<appRobotApi.NeedsRestartResponse>> {
  switch (id) {
    case 'domain':
      throw new DomainError('not_found', 'part nöt found: 100% "a/b" ü\n(π)');
    case 'connect':
      throw new ConnectError('quota 5/5; try later', Code.ResourceExhausted);
    case 'plain':
      throw new Error('a secret the client must not see');
    case 'big':
      return { id: 'big:' + 'abcdefgh'.repeat(400), mustRestart: true };
    case 'wait':
      await untilAborted(signal);
      reasons.record(signal.reason);
      throw signal.reason;
    case 'wait-plain':
      await untilAborted(signal);
      reasons.record(signal.reason);
      throw new Error('stopped');
    case 'size:1023':
    case 'size:1024':
      // A reply of exactly that many bytes: tag, two length bytes, the id.
      return { id: 'z'.repeat(Number(id.slice(5)) - 3) };
    case 'slow':
      // Takes longer than its deadline, never looking at the signal.
      await new Promise((resolve) => setTimeout(resolve, 150));
      return { id, mustRestart: false };
    default:
      return { id, mustRestart: true };
  }
}

/** A handler's error as the interceptor translates it, the way connect-node would report it. */
function statusVia(interceptor: Interceptor) {
  return async (error: unknown, path: string, signal: AbortSignal): Promise<LeanStatus> => {
    const [typeName = '', name = ''] = path.slice(1).split('/');
    // The handler's error, rethrown as it was thrown (whatever it is).
    const call = interceptor(() => {
      throw error;
    });
    try {
      await call({
        service: { typeName },
        method: { name },
        stream: false,
        message: {},
        signal,
        header: new Headers(),
        contextValues: createContextValues(),
        url: '',
        init: {},
      } as unknown as UnaryRequest);
    } catch (thrown) {
      if (thrown instanceof ConnectError) return { code: thrown.code, message: thrown.rawMessage };
    }
    return { code: Code.Internal, message: 'internal error' };
  };
}

interface Served {
  url: string;
  session: http2.ClientHttp2Session;
  reasons: Reasons;
  close(): Promise<void>;
}

const logger = createLogger('error', () => {});

function frameworkHandler(reasons: Reasons): RequestHandler {
  const rpc = connectNodeAdapter({
    routes: (router) =>
      router.service(withTolerantRequests(RobotService), {
        needsRestart: (req, ctx) => behave(req.id, ctx.signal, reasons),
      }),
    interceptors: [errorInterceptor(logger)],
    readMaxBytes: READ_MAX_BYTES,
    grpc: true,
    grpcWeb: true,
    connect: true,
  }) as RequestHandler;
  return guardedRpc(rpc, new Set([PATH]));
}

/** (a) What Flotilla runs today: connect-node behind the guard, on the real listener. */
async function startFramework(): Promise<Served> {
  const reasons = new Reasons();
  const listener = createListener(frameworkHandler(reasons), {
    host: '127.0.0.1',
    port: 0,
    tls: undefined,
    limits: DEFAULT_CONNECTION_LIMITS,
  });
  const port = await listener.listen();
  const url = `http://127.0.0.1:${port}`;
  const session = http2.connect(url);
  return {
    url,
    session,
    reasons,
    async close() {
      session.destroy();
      await listener.close(500);
    },
  };
}

interface LeanServed extends Served {
  /** Requests Node's compatibility layer made (Http2ServerRequest objects). */
  compatRequests: number;
  /** Streams the lean path took, and how many of them have settled. */
  diverted: number;
  settled: number;
  /** The client addresses lean handlers were given. */
  remoteAddresses: Set<string | undefined>;
}

/** (b) The same framework for everything else, with the method diverted to the lean path. */
async function startLean(): Promise<LeanServed> {
  const reasons = new Reasons();
  const state = {
    compatRequests: 0,
    diverted: 0,
    settled: 0,
    remoteAddresses: new Set<string | undefined>(),
  };
  const lean = createLeanGrpc({
    methods: new Map([
      [
        PATH,
        async (bytes: Uint8Array, call: LeanCall) => {
          state.remoteAddresses.add(call.remoteAddress);
          let req: appRobotApi.NeedsRestartRequest;
          try {
            req = NeedsRestartRequest.fromBinary(bytes);
          } catch (error) {
            // What withTolerantRequests and the error interceptor make of it on the framework.
            throw invalidArgument(
              `the request message could not be decoded: ${error instanceof Error ? error.message : String(error)}`,
            );
          }
          return new NeedsRestartResponse(await behave(req.id, call.signal, reasons)).toBinary();
        },
      ],
    ]),
    readMaxBytes: READ_MAX_BYTES,
    statusOf: statusVia(errorInterceptor(logger)),
    acceptEncodings: ACCEPT_ENCODINGS,
  });
  class CountingRequest extends http2.Http2ServerRequest {
    constructor(...args: ConstructorParameters<typeof http2.Http2ServerRequest>) {
      super(...args);
      state.compatRequests++;
    }
  }
  const counted: LeanGrpc = {
    accepts: (headers) => lean.accepts(headers),
    handle: (stream, headers) => {
      state.diverted++;
      return lean.handle(stream, headers).then(() => {
        state.settled++;
      });
    },
  };
  const server = http2.createServer(
    { Http2ServerRequest: CountingRequest },
    frameworkHandler(new Reasons()) as (
      req: http2.Http2ServerRequest,
      res: http2.Http2ServerResponse,
    ) => void,
  );
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session: http2.ServerHttp2Session) => {
    divertStreams(session, counted);
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  const session = http2.connect(url);
  return Object.assign(state, {
    url,
    session,
    reasons,
    async close() {
      session.destroy();
      // Sessions still open (a call a test left hanging) would keep the process alive.
      for (const open of sessions) open.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        setTimeout(resolve, 500).unref();
      });
    },
  });
}

/** Everything the client saw, with what legitimately differs (the date, request ids) left out. */
function wireView(reply: RawGrpcReply) {
  const { date, ...headers } = reply.headers;
  assert.equal(typeof date, 'string', 'a date header');
  const anonymous = (value: unknown) =>
    typeof value === 'string' ? value.replace(/request%20id%20[0-9a-f-]{36}/, 'request%20id%20<id>') : value;
  const trailers =
    reply.trailers && Object.fromEntries(Object.entries(reply.trailers).map(([k, v]) => [k, anonymous(v)]));
  return {
    headerNames: Object.keys(reply.headers),
    headers,
    trailers,
    trailerNames: reply.trailers && Object.keys(reply.trailers),
    trailersOnly: reply.trailersOnly,
    frames: reply.frames.map((frame) => ({ flags: frame.flags, data: frame.data.toString('hex') })),
    leftover: reply.leftover.length,
    status: reply.status,
    message: anonymous(reply.rawMessage),
    rstCode: reply.rstCode,
  };
}

interface Case {
  name: string;
  body: Uint8Array | Uint8Array[];
  headers?: Record<string, string>;
  /** The status both must give, and how many reply messages. */
  status: Code | 0;
  replies: number;
  check?: (reply: RawGrpcReply) => void;
}

const CASES: Case[] = [
  { name: 'a plain call', body: [request('hello')], status: 0, replies: 1 },
  {
    name: 'application/grpc+proto and grpc-encoding: identity',
    body: [request('hello')],
    headers: { 'content-type': 'application/grpc+proto', 'grpc-encoding': 'identity' },
    status: 0,
    replies: 1,
  },
  {
    name: 'a domain error whose message needs percent-encoding',
    body: [request('domain')],
    status: Code.NotFound,
    replies: 0,
    check: (reply) => {
      assert.equal(reply.message, 'part nöt found: 100% "a/b" ü\n(π)');
      assert.match(reply.rawMessage ?? '', /^part%20n%C3%B6t%20found%3A%20100%25%20%22a%2Fb%22/);
    },
  },
  {
    name: 'a ConnectError with its code',
    body: [request('connect')],
    status: Code.ResourceExhausted,
    replies: 0,
  },
  {
    name: 'an unexpected error (internal, with a request id)',
    body: [request('plain')],
    status: Code.Internal,
    replies: 0,
    check: (reply) => assert.match(reply.message ?? '', /^internal error \(request id /),
  },
  {
    name: 'a request that does not decode',
    body: grpcFrame(Buffer.from([0x0a, 0xff, 0xff, 0xff])),
    status: Code.InvalidArgument,
    replies: 0,
  },
  {
    name: 'a deadline that passes while the handler waits on its signal',
    body: [request('wait')],
    headers: { 'grpc-timeout': '100m' },
    status: Code.DeadlineExceeded,
    replies: 0,
    check: (reply) => assert.equal(reply.message, 'the operation timed out'),
  },
  {
    name: 'a deadline of zero',
    body: [request('wait')],
    headers: { 'grpc-timeout': '0S' },
    status: Code.DeadlineExceeded,
    replies: 0,
  },
  {
    name: 'a deadline whose handler fails some other way once it passes',
    body: [request('wait-plain')],
    headers: { 'grpc-timeout': '20000u' },
    status: Code.Canceled,
    replies: 0,
  },
  {
    name: 'a deadline the handler ignores: its late reply is still sent',
    body: [request('slow')],
    headers: { 'grpc-timeout': '30m' },
    status: 0,
    replies: 1,
  },
  {
    name: 'a generous deadline',
    body: [request('hello')],
    headers: { 'grpc-timeout': '5S' },
    status: 0,
    replies: 1,
  },
  {
    name: 'an invalid grpc-timeout (unit)',
    body: [request('hello')],
    headers: { 'grpc-timeout': '5x' },
    status: Code.InvalidArgument,
    replies: 0,
    check: (reply) => assert.equal(reply.message, 'protocol error: invalid grpc timeout value: 5x'),
  },
  {
    name: 'an invalid grpc-timeout (nine digits)',
    body: [request('hello')],
    headers: { 'grpc-timeout': '123456789S' },
    status: Code.InvalidArgument,
    replies: 0,
  },
  {
    name: 'a message one byte over readMaxBytes',
    body: [new Uint8Array(READ_MAX_BYTES + 1)],
    status: Code.ResourceExhausted,
    replies: 0,
    check: (reply) =>
      assert.equal(
        reply.message,
        `message size 1025 is larger than configured readMaxBytes ${READ_MAX_BYTES}`,
      ),
  },
  {
    name: 'a much larger body, refused from its prefix',
    body: [new Uint8Array(300_000)],
    status: Code.ResourceExhausted,
    replies: 0,
  },
  {
    name: 'a first message, then a prefix over readMaxBytes',
    body: Buffer.concat([grpcFrame(request('hello')), grpcFramePrefix(5000)]),
    status: Code.ResourceExhausted,
    replies: 1,
  },
  {
    name: 'a compressed flag without grpc-encoding',
    body: grpcFrame(request('hello'), 1),
    status: Code.InvalidArgument,
    replies: 0,
    check: (reply) => assert.match(reply.message ?? '', /names no encoding/),
  },
  {
    name: 'a second message flagged compressed',
    body: Buffer.concat([grpcFrame(request('hello')), grpcFrame(request('again'), 1)]),
    status: Code.InvalidArgument,
    replies: 0,
  },
  { name: 'no message at all', body: new Uint8Array(0), status: Code.Unimplemented, replies: 0 },
  {
    name: 'two messages',
    body: [request('one'), request('two')],
    status: Code.Unimplemented,
    replies: 1,
    check: (reply) =>
      assert.equal(reply.message, 'protocol error: received extra input message for unary method'),
  },
  {
    name: 'a truncated frame',
    body: grpcFrame(request('hello')).subarray(0, 9),
    status: Code.InvalidArgument,
    replies: 0,
    check: (reply) =>
      assert.match(
        reply.message ?? '',
        /^protocol error: promised \d+ bytes in enveloped message, got 4 bytes$/,
      ),
  },
  {
    name: 'a truncated prefix',
    body: new Uint8Array([0, 0, 0]),
    status: Code.InvalidArgument,
    replies: 0,
  },
  {
    name: 'a message followed by a partial one',
    body: Buffer.concat([grpcFrame(request('hello')), grpcFrame(request('more')).subarray(0, 7)]),
    status: Code.InvalidArgument,
    replies: 1,
  },
  {
    name: 'a reply over 1 KiB to a client accepting gzip',
    body: [request('big')],
    headers: { 'grpc-accept-encoding': 'gzip' },
    status: 0,
    replies: 1,
    check: (reply) => {
      assert.equal(reply.headers['grpc-encoding'], 'gzip');
      assert.equal(reply.frames[0]?.flags, 1, 'compressed');
      const message = NeedsRestartResponse.fromBinary(reply.messages[0]!);
      assert.ok(message.id.startsWith('big:'));
    },
  },
  {
    name: 'a reply over 1 KiB to a client preferring br',
    body: [request('big')],
    headers: { 'grpc-accept-encoding': 'identity, br, gzip' },
    status: 0,
    replies: 1,
    check: (reply) => assert.equal(reply.headers['grpc-encoding'], 'br'),
  },
  {
    name: 'a small reply to a client accepting gzip: named, not compressed',
    body: [request('small')],
    headers: { 'grpc-accept-encoding': 'gzip' },
    status: 0,
    replies: 1,
    check: (reply) => assert.equal(reply.frames[0]?.flags, 0),
  },
  {
    name: 'a reply of 1023 bytes to a client accepting gzip: not compressed',
    body: [request('size:1023')],
    headers: { 'grpc-accept-encoding': 'gzip' },
    status: 0,
    replies: 1,
    check: (reply) =>
      assert.deepEqual(
        reply.frames.map((f) => [f.flags, f.data.length]),
        [[0, 1023]],
      ),
  },
  {
    name: 'a reply of 1024 bytes to a client accepting gzip: compressed',
    body: [request('size:1024')],
    headers: { 'grpc-accept-encoding': 'gzip' },
    status: 0,
    replies: 1,
    check: (reply) => assert.equal(reply.frames[0]?.flags, 1),
  },
  {
    name: 'an error to a client accepting gzip',
    body: [request('domain')],
    headers: { 'grpc-accept-encoding': 'gzip' },
    status: Code.NotFound,
    replies: 0,
  },
];

describe('lean gRPC path: the same answers as connect-node', () => {
  let framework: Served;
  let lean: LeanServed;

  before(async () => {
    framework = await startFramework();
    lean = await startLean();
  });
  after(async () => {
    await framework?.close();
    await lean?.close();
  });

  const both = async (body: Uint8Array | Uint8Array[], options: RawGrpcOptions) => {
    const viaFramework = await rawGrpcCall(framework.session, PATH, body, { timeoutMs: 5000, ...options });
    const viaLean = await rawGrpcCall(lean.session, PATH, body, { timeoutMs: 5000, ...options });
    return { viaFramework, viaLean };
  };

  for (const c of CASES) {
    it(c.name, async () => {
      const divertedBefore = lean.diverted;
      const compatBefore = lean.compatRequests;
      const { viaFramework, viaLean } = await both(c.body, { headers: c.headers ?? {} });
      assert.deepEqual(wireView(viaLean), wireView(viaFramework));
      // Both agree, and on what was meant.
      assert.equal(viaFramework.status, c.status, viaFramework.message);
      assert.equal(viaFramework.messages.length, c.replies);
      assert.equal(viaFramework.headers['content-type'], 'application/grpc+proto');
      assert.equal(viaFramework.headers['grpc-accept-encoding'], ACCEPT_ENCODINGS);
      c.check?.(viaFramework);
      c.check?.(viaLean);
      assert.equal(lean.diverted, divertedBefore + 1, 'the lean path served it');
      assert.equal(lean.compatRequests, compatBefore, 'without the compatibility layer');
    });
  }

  it('a client reset mid-call aborts the signal with the same reason, and the session carries on', async () => {
    for (const served of [framework, lean]) {
      const reason = served.reasons.next();
      const reply = await rawGrpcCall(served.session, PATH, [request('wait')], {
        resetAfterMs: 50,
        timeoutMs: 5000,
      });
      assert.equal(reply.rstCode, http2.constants.NGHTTP2_CANCEL);
      assert.equal(reply.status, undefined);
      const seen = await reason;
      assert.ok(seen instanceof ConnectError);
      assert.equal(seen.code, Code.Canceled);
      assert.equal(seen.rawMessage, 'http/2 stream closed with error code CANCEL (0x8)');
      const next = await rawGrpcCall(served.session, PATH, [request('after')], { timeoutMs: 5000 });
      assert.equal(next.status, 0);
    }
  });

  it('a client that stops sending mid-body and resets leaves no call behind', async () => {
    const reply = await rawGrpcCall(lean.session, PATH, grpcFramePrefix(100), {
      keepOpen: true,
      resetAfterMs: 50,
      timeoutMs: 5000,
    });
    assert.equal(reply.rstCode, http2.constants.NGHTTP2_CANCEL);
  });

  it('every stream the lean path took has settled', async () => {
    for (let tries = 0; lean.settled < lean.diverted && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(lean.diverted > CASES.length);
    assert.equal(lean.settled, lean.diverted);
    assert.deepEqual([...lean.remoteAddresses], ['127.0.0.1']);
  });

  it('divertStreams leaves gRPC-web, Connect JSON, unknown methods and plain HTTP to the compatibility layer', async () => {
    const diverted = lean.diverted;
    const compat = lean.compatRequests;
    const web = createPromiseClient(
      RobotService,
      createGrpcWebTransport({ baseUrl: lean.url, httpVersion: '2', useBinaryFormat: true }),
    );
    assert.equal((await web.needsRestart({ id: 'web' })).id, 'web');
    const connectJson = createPromiseClient(
      RobotService,
      createConnectTransport({ baseUrl: lean.url, httpVersion: '2', useBinaryFormat: false }),
    );
    const answer = await connectJson.needsRestart({ id: 'json' });
    assert.equal(answer.id, 'json');
    assert.equal(answer.mustRestart, true);
    const unknown = await rawGrpcCall(
      lean.session,
      `/${RobotService.typeName}/NoSuchMethod`,
      [request('x')],
      {
        timeoutMs: 5000,
      },
    );
    assert.equal(unknown.status, Code.Unimplemented);
    assert.equal(unknown.trailersOnly, true);
    const withOrigin = await rawGrpcCall(lean.session, PATH, [request('cors')], {
      headers: { origin: 'https://example.com' },
      timeoutMs: 5000,
    });
    assert.equal(withOrigin.status, 0);
    const compressed = await rawGrpcCall(lean.session, PATH, grpcFrame(request('gz'), 0), {
      headers: { 'grpc-encoding': 'gzip' },
      timeoutMs: 5000,
    });
    assert.equal(compressed.status, 0, 'an uncompressed frame under a named encoding is fine');
    const plain = await new Promise<number>((resolve, reject) => {
      const stream = lean.session.request({ ':method': 'GET', ':path': '/nothing-here' });
      stream.on('response', (headers) => resolve(Number(headers[':status'])));
      stream.on('error', reject);
      stream.resume();
      stream.end();
    });
    assert.equal(plain, 404);
    assert.equal(lean.diverted, diverted, 'none of them was diverted');
    assert.equal(lean.compatRequests, compat + 6, 'each went through the compatibility layer');
  });
});
