import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { PartialMessage } from '@bufbuild/protobuf';
import { Code, createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import { appApi, type AppClient, type commonApi } from '@viamrobotics/sdk';
import forge from 'node-forge';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { AppService, RobotService } from '../src/rpc/service-descriptors.generated.js';
import { bearer, grpcTransport } from './support/clients.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * Hardening: every connection has a timeout (silent sockets, header drips, stalled bodies, idle
 * keep-alive connections and HTTP/2 sessions), HTTP/2 connections have a stream limit, and log
 * tails whose clients read nothing, or whose deadline passes, are ended. Timeouts are short here
 * and the assertions generous: "closed within a few times the timeout", never exact times.
 */

const FIRST_BYTE_MS = 500;
const HEADERS_MS = 1000;
const REQUEST_MS = 2000;
const KEEP_ALIVE_MS = 300;
/** Node waits this much longer than the keep-alive timeout it announces. */
const KEEP_ALIVE_BUFFER_MS = 1000;
const HTTP2_IDLE_MS = 700;
const BODY_IDLE_MS = 700;
const MAX_STREAMS = 4;
const STALLED_GRACE_MS = 500;
const TAIL_BUFFER = 50;

const ENV = {
  FLOTILLA_FIRST_BYTE_TIMEOUT: `${FIRST_BYTE_MS}ms`,
  FLOTILLA_HEADERS_TIMEOUT: `${HEADERS_MS}ms`,
  FLOTILLA_REQUEST_TIMEOUT: `${REQUEST_MS}ms`,
  FLOTILLA_KEEP_ALIVE_TIMEOUT: `${KEEP_ALIVE_MS}ms`,
  FLOTILLA_HTTP2_IDLE_TIMEOUT: `${HTTP2_IDLE_MS}ms`,
  FLOTILLA_BODY_IDLE_TIMEOUT: `${BODY_IDLE_MS}ms`,
  FLOTILLA_HTTP2_MAX_CONCURRENT_STREAMS: String(MAX_STREAMS),
  FLOTILLA_STALLED_STREAM_GRACE: `${STALLED_GRACE_MS}ms`,
  FLOTILLA_LOG_TAIL_BUFFER: String(TAIL_BUFFER),
};

const TAIL_PATH = `/${AppService.typeName}/${AppService.methods.tailRobotPartLogs.name}`;
const PAGE_PATH = `/${AppService.typeName}/${AppService.methods.getRobotPartLogs.name}`;
const BASE_US = (Math.floor(Date.now() / 1000) - 3600) * 1_000_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects after `ms` unless `promise` settles first. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Whether `promise` is still pending after `ms`. */
async function pendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const still = Symbol('pending');
  return (await Promise.race([promise.then(() => undefined), sleep(ms).then(() => still)])) === still;
}

/** A gRPC length-prefixed frame. */
function grpcFrame(body: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, 5);
  return frame;
}

/** A plain TCP connection: resolves with how long it stayed open and what it received. */
function rawSocket(port: number): { socket: net.Socket; closed: Promise<{ ms: number; received: string }> } {
  const opened = Date.now();
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => {});
  const closed = new Promise<{ ms: number; received: string }>((resolve) =>
    socket.on('close', () => resolve({ ms: Date.now() - opened, received })),
  );
  return { socket, closed };
}

/** An HTTP/2 client session with the server's SETTINGS in; `closed` resolves with its lifetime. */
async function h2Session(
  url: string,
): Promise<{ session: http2.ClientHttp2Session; closed: Promise<number> }> {
  const session = http2.connect(url);
  session.on('error', () => {});
  const opened = Date.now();
  const closed = new Promise<number>((resolve) => session.on('close', () => resolve(Date.now() - opened)));
  await within(new Promise((resolve) => session.once('remoteSettings', resolve)), 5000, 'the SETTINGS');
  return { session, closed };
}

/** A TailRobotPartLogs stream over plain node:http2, where the test controls reading. */
interface RawTail {
  stream: http2.ClientHttp2Stream;
  /** The first (empty) message arrived. */
  started: Promise<void>;
  /** Resolves once the stream closed: its reset code (0: ended normally) and grpc-status. */
  ended: Promise<{ rstCode: number; status: string | undefined; ms: number }>;
}

function rawTail(
  session: http2.ClientHttp2Session,
  token: string,
  partId: string,
  options: { grpcTimeout?: string; pauseAfterFirst?: boolean } = {},
): RawTail {
  const opened = Date.now();
  const stream = session.request({
    ':method': 'POST',
    ':path': TAIL_PATH,
    'content-type': 'application/grpc',
    te: 'trailers',
    authorization: `Bearer ${token}`,
    ...(options.grpcTimeout ? { 'grpc-timeout': options.grpcTimeout } : {}),
  });
  stream.on('error', () => {});
  stream.end(grpcFrame(new appApi.TailRobotPartLogsRequest({ id: partId }).toBinary()));
  let status: string | undefined;
  const statusOf = (h: http2.IncomingHttpHeaders) => {
    const s = h['grpc-status'];
    if (s !== undefined) status = Array.isArray(s) ? s[0] : s;
  };
  stream.on('response', statusOf);
  stream.on('trailers', statusOf);
  let received = 0;
  const started = new Promise<void>((resolve) =>
    stream.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= 5) {
        if (options.pauseAfterFirst) stream.pause();
        resolve();
      }
    }),
  );
  const ended = new Promise<{ rstCode: number; status: string | undefined; ms: number }>((resolve) =>
    stream.on('close', () => resolve({ rstCode: stream.rstCode ?? 0, status, ms: Date.now() - opened })),
  );
  return { stream, started: within(started, 5000, 'the tail’s first message'), ended };
}

type WireEntry = PartialMessage<commonApi.LogEntry>;
const line = (message: string, i: number): WireEntry => ({
  host: 'rover.lan',
  level: 'info',
  time: { seconds: BigInt(Math.floor((BASE_US + i) / 1_000_000)), nanos: ((BASE_US + i) % 1_000_000) * 1000 },
  loggerName: 'rdk.test',
  message,
  stack: '',
  fields: [],
});

describe('connection limits and timeouts', () => {
  let t: TestServer;
  let port: number;
  let admin: AppClient;
  let ownerToken: string;
  let partId: string;
  let robot: PromiseClient<typeof RobotService>;
  let partToken: string;
  const push = (logs: WireEntry[]) => robot.log({ id: partId, logs }, bearer(partToken));

  before(async () => {
    t = await startTestServer(
      { dialect: 'sqlite', databaseUrl: undefined, drop: () => Promise.resolve() },
      ENV,
    );
    port = Number(new URL(t.url).port);
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    const transport = grpcTransport(t.url);
    const auth = createPromiseClient(AuthService, transport);
    robot = createPromiseClient(RobotService, transport);
    ownerToken = (
      await auth.authenticate({
        entity: t.admin.apiKeyId,
        credentials: { type: 'api-key', payload: t.admin.apiKey },
      })
    ).accessToken;
    const location = await admin.createLocation(t.admin.organizationId, 'Limits');
    assert.ok(location);
    const machineId = await admin.newRobot(location.id, 'Limited');
    partId = await admin.newRobotPart(machineId, 'chatty');
    const secret = (await admin.getRobotPart(partId)).part?.secrets[0]?.secret ?? '';
    partToken = (
      await auth.authenticate({ entity: partId, credentials: { type: 'robot-secret', payload: secret } })
    ).accessToken;
  });
  after(() => t.stop());

  it('a socket that never sends a byte is closed after the first-byte timeout', async () => {
    const { closed } = rawSocket(port);
    const { ms } = await within(closed, 5000, 'the silent socket to close');
    assert.ok(ms >= FIRST_BYTE_MS - 50, `closed after ${ms} ms, before the timeout`);
    assert.ok(ms < 4 * FIRST_BYTE_MS, `closed after ${ms} ms`);
  });

  it('HTTP/1.1: a client dripping header lines is cut off at the header timeout (408)', async () => {
    const { socket, closed } = rawSocket(port);
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    let n = 0;
    const drip = setInterval(() => socket.write(`X-Drip-${n++}: still here\r\n`), 200);
    try {
      const { ms, received } = await within(closed, 10_000, 'the dripping client to be closed');
      assert.ok(ms >= HEADERS_MS - 50, `closed after ${ms} ms, before the timeout`);
      assert.ok(ms < 3 * HEADERS_MS, `closed after ${ms} ms`);
      assert.match(received, /^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(drip);
    }
  });

  it('HTTP/1.1: a body that stops is cut off after the body idle timeout; one that trickles at the request timeout', async () => {
    const head = (length: number) =>
      `POST ${PAGE_PATH} HTTP/1.1\r\nHost: x\r\ncontent-type: application/grpc-web+proto\r\n` +
      `authorization: Bearer ${ownerToken}\r\ncontent-length: ${length}\r\n\r\n`;
    const stopped = rawSocket(port);
    stopped.socket.write(head(100) + 'x'.repeat(10));
    const stop = await within(stopped.closed, 10_000, 'the stopped upload to be cut off');
    assert.ok(stop.ms >= BODY_IDLE_MS - 50, `cut off after ${stop.ms} ms, before the timeout`);
    assert.ok(stop.ms < 4 * BODY_IDLE_MS, `cut off after ${stop.ms} ms`);

    // A byte every 200 ms is never idle, but the whole request has REQUEST_MS.
    const trickling = rawSocket(port);
    trickling.socket.write(head(1000));
    const drip = setInterval(() => trickling.socket.write('x'), 200);
    try {
      const trickle = await within(trickling.closed, 10_000, 'the trickling upload to be cut off');
      assert.ok(trickle.ms >= REQUEST_MS - 50, `cut off after ${trickle.ms} ms, before the timeout`);
      assert.ok(trickle.ms < 2.5 * REQUEST_MS, `cut off after ${trickle.ms} ms`);
    } finally {
      clearInterval(drip);
    }
  });

  it('HTTP/1.1: a keep-alive connection is closed once idle', async () => {
    const { socket, closed } = rawSocket(port);
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const { ms, received } = await within(closed, 10_000, 'the idle keep-alive connection to close');
    assert.match(received, /^HTTP\/1\.1 200 /);
    assert.ok(ms < 3 * (KEEP_ALIVE_MS + KEEP_ALIVE_BUFFER_MS), `closed after ${ms} ms`);
  });

  it('HTTP/2: an idle session is closed, also after its last stream; one with an open tail is not', async () => {
    const idle = await h2Session(t.url);
    const idleMs = await within(idle.closed, 10_000, 'the idle session to close');
    assert.ok(idleMs < 4 * HTTP2_IDLE_MS, `closed after ${idleMs} ms`);

    const used = await h2Session(t.url);
    const health = used.session.request({ ':path': '/healthz' });
    health.resume();
    await new Promise((resolve) => health.on('close', resolve));
    const lastStreamAt = Date.now();
    await within(used.closed, 10_000, 'the session to close after its last stream');
    assert.ok(Date.now() - lastStreamAt < 4 * HTTP2_IDLE_MS);

    const busy = await h2Session(t.url);
    const tail = rawTail(busy.session, ownerToken, partId);
    try {
      await tail.started;
      assert.equal(
        await pendingAfter(busy.closed, 3 * HTTP2_IDLE_MS),
        true,
        'a session with a tail was closed',
      );
      await push([line('through the quiet session', 1)]);
      assert.equal(await pendingAfter(tail.ended, 200), true, 'the tail ended');
      tail.stream.close(http2.constants.NGHTTP2_CANCEL);
      const closedAt = Date.now();
      await within(busy.closed, 10_000, 'the session to close once its tail ended');
      assert.ok(Date.now() - closedAt < 4 * HTTP2_IDLE_MS);
    } finally {
      busy.session.destroy();
    }
  });

  it('HTTP/2: SETTINGS advertise the stream limit; a stream beyond it waits for a free slot', async () => {
    const { session } = await h2Session(t.url);
    try {
      assert.equal(session.remoteSettings.maxConcurrentStreams, MAX_STREAMS);
      const tails = Array.from({ length: MAX_STREAMS }, () => rawTail(session, ownerToken, partId));
      await Promise.all(tails.map((tail) => tail.started));
      const extra = session.request({ ':path': '/healthz' });
      let refused: unknown;
      extra.on('error', (error: Error) => {
        refused = error;
      });
      const answered = new Promise<number>((resolve) =>
        extra.on('response', (h) => resolve(Number(h[':status']))),
      );
      extra.resume();
      assert.equal(await pendingAfter(answered, 600), true, 'the stream beyond the limit was not held back');
      assert.equal(refused, undefined);
      tails[0]?.stream.close(http2.constants.NGHTTP2_CANCEL);
      assert.equal(await within(answered, 5000, 'the waiting stream to be answered'), 200);
      for (const tail of tails) tail.stream.close(http2.constants.NGHTTP2_CANCEL);
    } finally {
      session.destroy();
    }
  });

  it('HTTP/2: a request body that stops is reset (CANCEL); one that arrives slowly is served', async () => {
    const { session } = await h2Session(t.url);
    try {
      const headers = {
        ':method': 'POST',
        ':path': PAGE_PATH,
        'content-type': 'application/grpc',
        te: 'trailers',
        authorization: `Bearer ${ownerToken}`,
      };
      const stalled = session.request(headers);
      stalled.on('error', () => {});
      stalled.write(Buffer.from([0, 0, 0, 0, 100, 1, 2, 3]));
      const opened = Date.now();
      await within(
        new Promise((resolve) => stalled.on('close', resolve)),
        10_000,
        'the stalled body to be reset',
      );
      const ms = Date.now() - opened;
      assert.equal(stalled.rstCode, http2.constants.NGHTTP2_CANCEL);
      assert.ok(ms >= BODY_IDLE_MS - 50 && ms < 4 * BODY_IDLE_MS, `reset after ${ms} ms`);

      // 250 ms between bytes, for several times the idle timeout in all.
      const frame = grpcFrame(new appApi.GetRobotPartLogsRequest({ id: 'no-such-part' }).toBinary());
      const slow = session.request(headers);
      slow.on('error', () => {});
      let status: string | undefined;
      slow.on('trailers', (h) => (status = String(h['grpc-status'])));
      slow.on(
        'response',
        (h) => (status ??= h['grpc-status'] === undefined ? undefined : String(h['grpc-status'])),
      );
      slow.resume();
      const done = new Promise((resolve) => slow.on('close', resolve));
      const started = Date.now();
      for (const byte of frame) {
        slow.write(Buffer.from([byte]));
        await sleep(250);
      }
      slow.end();
      await within(done, 5000, 'the slow request to be answered');
      assert.ok(Date.now() - started > 3 * BODY_IDLE_MS);
      assert.equal(slow.rstCode, http2.constants.NGHTTP2_NO_ERROR);
      assert.equal(status, String(Code.NotFound));
    } finally {
      session.destroy();
    }
  });

  it('a tail whose client reads nothing is ended (ENHANCE_YOUR_CALM: RESOURCE_EXHAUSTED) and freed; ingestion stays fast', async () => {
    const slow = await h2Session(t.url);
    let reader: Awaited<ReturnType<typeof h2Session>> | undefined;
    try {
      const stalled = rawTail(slow.session, ownerToken, partId, { pauseAfterFirst: true });
      await stalled.started;
      // ~1 KB entries: far more than the HTTP/2 window plus TAIL_BUFFER entries.
      const pad = 'x'.repeat(1000);
      let slowest = 0;
      for (let c = 0; c < 40; c++) {
        const callStart = Date.now();
        await push(Array.from({ length: 10 }, (_, i) => line(`stalled ${c * 10 + i} ${pad}`, c * 10 + i)));
        slowest = Math.max(slowest, Date.now() - callStart);
      }
      assert.ok(slowest < 2000, `a Log call took ${slowest} ms while a tail was stalled`);
      // The client still reads nothing; the stream is reset all the same.
      const ended = await within(stalled.ended, 10_000, 'the unread tail to be ended');
      assert.equal(ended.rstCode, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      assert.equal(slow.session.closed || slow.session.destroyed, false, 'the whole session was closed');

      // The part's logs still reach a tail that reads, promptly.
      reader = await h2Session(t.url);
      const fresh = rawTail(reader.session, ownerToken, partId);
      await fresh.started;
      let got = '';
      fresh.stream.on('data', (chunk: Buffer) => (got += chunk.toString('latin1')));
      await push([line('after the reset', 1)]);
      const deadline = Date.now() + 5000;
      while (!got.includes('after the reset')) {
        assert.ok(Date.now() < deadline, 'the new tail did not get the entry');
        await sleep(20);
      }
      fresh.stream.close(http2.constants.NGHTTP2_CANCEL);
    } finally {
      slow.session.destroy();
      reader?.session.destroy();
    }
  });

  it('a tail with grpc-timeout ends with DEADLINE_EXCEEDED; one whose client reads nothing is reset', async () => {
    const { session } = await h2Session(t.url);
    try {
      const tail = rawTail(session, ownerToken, partId, { grpcTimeout: '800m' });
      await tail.started;
      const ended = await within(tail.ended, 10_000, 'the tail to reach its deadline');
      assert.equal(ended.status, String(Code.DeadlineExceeded));
      assert.equal(ended.rstCode, http2.constants.NGHTTP2_NO_ERROR);
      assert.ok(ended.ms >= 700, `ended after ${ended.ms} ms, before its deadline`);

      // Big entries, few of them: flow control blocks the stream long before the tail's buffer
      // fills, so the deadline passes while the status cannot be sent.
      const stalled = rawTail(session, ownerToken, partId, { grpcTimeout: '1500m', pauseAfterFirst: true });
      await stalled.started;
      const pad = 'y'.repeat(8000);
      for (let c = 0; c < 2; c++) {
        await push(Array.from({ length: 10 }, (_, i) => line(`big ${c * 10 + i} ${pad}`, c * 10 + i)));
      }
      const reset = await within(stalled.ended, 10_000, 'the unread tail to be reset at its deadline');
      assert.equal(reset.rstCode, http2.constants.NGHTTP2_CANCEL);
      assert.ok(reset.ms >= 1400, `reset after ${reset.ms} ms, before its deadline`);
    } finally {
      session.destroy();
    }
  });

  it('no call is left in flight: the server closes at once', async () => {
    const closing = Date.now();
    await within(t.server.close(), 5000, 'the server to close');
    const ms = Date.now() - closing;
    assert.ok(ms < 2000, `close took ${ms} ms: a call was still in flight`);
  });
});

/** A self-signed certificate for 127.0.0.1 in a temporary directory. */
function selfSignedCertificate(): { certFile: string; keyFile: string; remove(): void } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3_600_000);
  const name = [{ name: 'commonName', value: '127.0.0.1' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }]);
  cert.sign(forge.pki.privateKeyFromPem(key), forge.md.sha256.create());
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  writeFileSync(certFile, forge.pki.certificateToPem(cert));
  writeFileSync(keyFile, key);
  return { certFile, keyFile, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('connection limits and timeouts over TLS', () => {
  let t: TestServer;
  let port: number;
  let certificate: ReturnType<typeof selfSignedCertificate>;

  before(async () => {
    certificate = selfSignedCertificate();
    t = await startTestServer(
      { dialect: 'sqlite', databaseUrl: undefined, drop: () => Promise.resolve() },
      { ...ENV, FLOTILLA_TLS_CERT: certificate.certFile, FLOTILLA_TLS_KEY: certificate.keyFile },
    );
    port = Number(new URL(t.url).port);
  });
  after(async () => {
    await t.stop();
    certificate.remove();
  });

  it('a socket that never completes its handshake is closed after the first-byte timeout', async () => {
    const { closed } = rawSocket(port);
    const { ms } = await within(closed, 5000, 'the silent socket to close');
    assert.ok(ms >= FIRST_BYTE_MS - 50 && ms < 4 * FIRST_BYTE_MS, `closed after ${ms} ms`);
  });

  it('HTTP/1.1 over TLS: header drips get 408 at the header timeout; idle keep-alive connections close', async () => {
    const connect = () =>
      new Promise<{ socket: tls.TLSSocket; closed: Promise<{ ms: number; received: string }> }>(
        (resolve, reject) => {
          const socket = tls.connect({
            port,
            host: '127.0.0.1',
            ca: readFileSync(certificate.certFile),
            ALPNProtocols: ['http/1.1'],
          });
          let received = '';
          socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
          socket.once('error', reject);
          socket.once('secureConnect', () => {
            const opened = Date.now();
            resolve({
              socket,
              closed: new Promise((done) =>
                socket.on('close', () => done({ ms: Date.now() - opened, received })),
              ),
            });
          });
        },
      );
    const dripping = await connect();
    dripping.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    let n = 0;
    const drip = setInterval(() => dripping.socket.write(`X-Drip-${n++}: still here\r\n`), 200);
    try {
      const { ms, received } = await within(dripping.closed, 10_000, 'the dripping client to be closed');
      assert.match(received, /^HTTP\/1\.1 408 /);
      assert.ok(ms < 3 * HEADERS_MS, `closed after ${ms} ms`);
    } finally {
      clearInterval(drip);
    }
    const idle = await connect();
    idle.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const { ms, received } = await within(idle.closed, 10_000, 'the idle keep-alive connection to close');
    assert.match(received, /^HTTP\/1\.1 200 /);
    assert.ok(ms < 3 * (KEEP_ALIVE_MS + KEEP_ALIVE_BUFFER_MS), `closed after ${ms} ms`);
  });

  it('HTTP/2 over TLS: SETTINGS advertise the stream limit; an idle session is closed', async () => {
    const session = http2.connect(t.url, { ca: readFileSync(certificate.certFile) });
    session.on('error', () => {});
    const opened = Date.now();
    const closed = new Promise<number>((resolve) => session.on('close', () => resolve(Date.now() - opened)));
    await within(new Promise((resolve) => session.once('remoteSettings', resolve)), 5000, 'the SETTINGS');
    assert.equal(session.remoteSettings.maxConcurrentStreams, MAX_STREAMS);
    const ms = await within(closed, 10_000, 'the idle session to close');
    assert.ok(ms < 4 * HTTP2_IDLE_MS, `closed after ${ms} ms`);
  });
});
