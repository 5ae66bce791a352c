/*
 * Baselines child of the machines benchmark: three servers in one process (one is loaded at a
 * time), all answering with reply bytes Flotilla itself sent for one part, so only the work
 * around the reply differs:
 *
 * - connect-pre: a bare connect-node server (Flotilla's front: gRPC, gRPC-web and Connect,
 *   HTTP/1.1 and h2c on one port) whose replies carry their encoded bytes, binary and JSON, so
 *   connect-node skips encoding: the framework's own cost per call.
 * - connect-reencode: the same server returning the same decoded messages, so protobuf-es
 *   encodes them on every call, as a plain connect-node server does.
 * - raw-h2: bare node:http2 writing the same gRPC frames (RobotService only): Node's own limit.
 *
 * Each call compares the bearer token in constant time: a part's token for RobotService (the
 * part named in the request), the owner's for AppService. connect-node decodes requests, Log's
 * 100 entries included; the raw server reads only the part id at the front of the request.
 */
import { timingSafeEqual } from 'node:crypto';
import http2 from 'node:http2';
import type net from 'node:net';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import { AppService, RobotService } from '../../src/rpc/service-descriptors.generated.js';
import { listenConnectFront } from './connect-front.js';
import { serveParent } from './ipc.js';
import { cpuSnapshot } from './stats.js';

/** Flotilla's replies for one part (binary, base64; GetRobotPart also as Connect JSON). */
export interface ReferenceReplies {
  partId: string;
  locationId: string;
  config: string;
  needsRestart: string;
  log: string;
  getRobotPart: string;
  getRobotPartJson: string;
  listRobots: string;
}

export interface BaselinesStart {
  replies: ReferenceReplies;
  /** Part id -> that part's access token. */
  partTokens: Record<string, string>;
  ownerToken: string;
}

export interface BaselinesReady {
  connectPreUrl: string;
  connectReencodeUrl: string;
  rawH2Url: string;
}

const counters = { served: 0, rejected: 0, logEntries: 0 };
const listeners: net.Server[] = [];
let raw: http2.Http2Server | undefined;

const sameBytes = (got: string | undefined, want: Buffer | undefined): boolean => {
  if (!want || got === undefined) return false;
  const g = Buffer.from(got);
  return g.length === want.length && timingSafeEqual(g, want);
};

/** A message whose toBinary / toJsonString return fixed bytes, so connect-node skips encoding. */
function preEncoded<T extends { toBinary(): Uint8Array; toJsonString(): string }>(
  message: T,
  json?: string,
): T {
  const binary = message.toBinary();
  const text = json ?? message.toJsonString();
  return Object.assign(message, { toBinary: () => binary, toJsonString: () => text });
}

/** The RobotService part id of a framed gRPC request: field 1 (a string) at the front. */
function partIdOf(framed: Buffer): string | undefined {
  if (framed.length < 7 || framed[5] !== 0x0a) return undefined;
  let length = 0;
  let shift = 0;
  let i = 6;
  for (; i < framed.length && i < 11; i++) {
    const b = framed[i] as number;
    length |= (b & 0x7f) << shift;
    shift += 7;
    if (b < 0x80) break;
  }
  return framed.toString('utf8', i + 1, i + 1 + length);
}

function frame(body: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out.writeUInt32BE(body.length, 1);
  out.set(body, 5);
  return out;
}

async function start(payload: unknown): Promise<BaselinesReady> {
  const { replies, partTokens, ownerToken } = payload as BaselinesStart;
  const expected = new Map(Object.entries(partTokens).map(([id, t]) => [id, Buffer.from(`Bearer ${t}`)]));
  const owner = Buffer.from(`Bearer ${ownerToken}`);
  const bytes = (b64: string) => Buffer.from(b64, 'base64');
  const m = RobotService.methods;
  const a = AppService.methods;

  const checkPart = (id: string, header: string | null) => {
    if (!sameBytes(header ?? undefined, expected.get(id))) {
      counters.rejected++;
      throw new ConnectError('bad bearer token', Code.Unauthenticated);
    }
    counters.served++;
  };
  const checkOwner = (header: string | null) => {
    if (!sameBytes(header ?? undefined, owner)) {
      counters.rejected++;
      throw new ConnectError('bad bearer token', Code.Unauthenticated);
    }
    counters.served++;
  };
  const routes = (encodeEachCall: boolean) => {
    const wrap = <T extends { toBinary(): Uint8Array; toJsonString(): string }>(message: T, json?: string) =>
      encodeEachCall ? message : preEncoded(message, json);
    const config = wrap(m.config.O.fromBinary(bytes(replies.config)));
    const needsRestart = wrap(m.needsRestart.O.fromBinary(bytes(replies.needsRestart)));
    const log = wrap(m.log.O.fromBinary(bytes(replies.log)));
    const part = wrap(a.getRobotPart.O.fromBinary(bytes(replies.getRobotPart)), replies.getRobotPartJson);
    const robots = wrap(a.listRobots.O.fromBinary(bytes(replies.listRobots)));
    return (router: ConnectRouter) => {
      router.service(RobotService, {
        config(req, ctx) {
          checkPart(req.id, ctx.requestHeader.get('authorization'));
          return config;
        },
        needsRestart(req, ctx) {
          checkPart(req.id, ctx.requestHeader.get('authorization'));
          return needsRestart;
        },
        log(req, ctx) {
          checkPart(req.id, ctx.requestHeader.get('authorization'));
          counters.logEntries += req.logs.length;
          return log;
        },
      });
      router.service(AppService, {
        getRobotPart(_req, ctx) {
          checkOwner(ctx.requestHeader.get('authorization'));
          return part;
        },
        listRobots(_req, ctx) {
          checkOwner(ctx.requestHeader.get('authorization'));
          return robots;
        },
      });
    };
  };
  const pre = await listenConnectFront(routes(false), { readMaxBytes: 4 * 1024 * 1024 });
  const reencode = await listenConnectFront(routes(true), { readMaxBytes: 4 * 1024 * 1024 });
  listeners.push(pre.server, reencode.server);

  // The raw server: the same frames, written by node:http2 with nothing in between.
  const framed = new Map<string, Buffer>([
    ['/viam.app.v1.RobotService/Config', frame(bytes(replies.config))],
    ['/viam.app.v1.RobotService/NeedsRestart', frame(bytes(replies.needsRestart))],
    ['/viam.app.v1.RobotService/Log', frame(bytes(replies.log))],
  ]);
  raw = http2.createServer({ settings: { maxConcurrentStreams: 100 } });
  raw.on('connection', (socket: net.Socket) => socket.setNoDelay(true));
  raw.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const reply = framed.get(String(headers[':path']));
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      if (stream.destroyed) return;
      const id = partIdOf(Buffer.concat(chunks));
      const header = headers.authorization;
      const ok = reply !== undefined && id !== undefined && sameBytes(header, expected.get(id));
      if (ok) counters.served++;
      else counters.rejected++;
      if (!ok) {
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '16' },
          { endStream: true },
        );
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(reply);
    });
  });
  const rawUrl = await new Promise<string>((resolve, reject) => {
    raw?.once('error', reject);
    raw?.listen(0, '127.0.0.1', () => {
      const { port } = raw?.address() as net.AddressInfo;
      resolve(`http://127.0.0.1:${port}`);
    });
  });
  return { connectPreUrl: pre.url, connectReencodeUrl: reencode.url, rawH2Url: rawUrl };
}

serveParent('baseline servers', {
  start,
  stats: () => ({ ...cpuSnapshot(), mainThreadMs: undefined, ...counters }),
  stop: () => {
    for (const l of listeners) l.close();
    raw?.close();
    return { ...counters };
  },
});
