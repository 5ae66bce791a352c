/*
 * "Store nothing" baseline for the logs benchmark: a bare connect-node server with Flotilla's
 * front (HTTP/1.1 and h2c on one port by preface sniffing, Nagle off; gRPC, gRPC-web and
 * Connect; the same 4 MiB read limit) serving RobotService.Log. connect-node decodes each
 * request; the handler compares the bearer token in constant time, counts the entries and
 * returns {} without storing anything: the framework's own limit for these calls.
 */
import { timingSafeEqual } from 'node:crypto';
import type net from 'node:net';
import { Code, ConnectError } from '@connectrpc/connect';
import { RobotService } from '../../src/rpc/service-descriptors.generated.js';
import { listenConnectFront } from './connect-front.js';
import { serveParent } from './ipc.js';
import { cpuSnapshot } from './stats.js';

let calls = 0;
let entries = 0;
let rejected = 0;
let front: net.Server | undefined;

async function start(payload: unknown): Promise<{ url: string }> {
  const { tokens, readMaxBytes } = payload as { tokens: Record<string, string>; readMaxBytes: number };
  // Part id -> the bearer header that part must send.
  const expected = new Map(Object.entries(tokens).map(([id, token]) => [id, Buffer.from(`Bearer ${token}`)]));
  const { server, url } = await listenConnectFront(
    (router) =>
      router.service(RobotService, {
        log(req, ctx) {
          const want = expected.get(req.id);
          const got = Buffer.from(ctx.requestHeader.get('authorization') ?? '');
          if (!want || got.length !== want.length || !timingSafeEqual(got, want)) {
            rejected++;
            throw new ConnectError('bad bearer token', Code.Unauthenticated);
          }
          calls++;
          entries += req.logs.length;
          return {};
        },
      }),
    { readMaxBytes },
  );
  front = server;
  return { url };
}

serveParent('store-nothing server', {
  start,
  stats: () => ({ ...cpuSnapshot(), calls, entries, rejected }),
  stop: () => {
    front?.close();
    return { calls, entries, rejected };
  },
});
