/*
 * Baseline child: a bare connect-node server with no Flotilla code in the way. Same front as
 * Flotilla (HTTP/1.1 and h2c on one port by preface sniffing, Nagle off; gRPC, gRPC-web and
 * Connect enabled), serving AppService.GetOrganization with a canned reply (the bytes Flotilla
 * itself returned for the same organization) after a constant bearer-token comparison.
 */
import type net from 'node:net';
import { Code, ConnectError } from '@connectrpc/connect';
import { AppService } from '../../src/rpc/service-descriptors.generated.js';
import { listenConnectFront } from './connect-front.js';
import { serveParent } from './ipc.js';
import { cpuSnapshot } from './stats.js';

export interface BaselineStart {
  token: string;
  organizationId: string;
  /** A GetOrganizationResponse, binary, base64. */
  replyBase64: string;
}

let served = 0;
let rejected = 0;
let front: net.Server | undefined;

async function start(payload: unknown): Promise<{ url: string; replyBytes: number }> {
  const { token, organizationId, replyBase64 } = payload as BaselineStart;
  const canned = AppService.methods.getOrganization.O.fromBinary(Buffer.from(replyBase64, 'base64'));
  const expected = `Bearer ${token}`;
  const { server, url } = await listenConnectFront((router) =>
    router.service(AppService, {
      getOrganization(req, ctx) {
        if (ctx.requestHeader.get('authorization') !== expected) {
          rejected++;
          throw new ConnectError('bad bearer token', Code.Unauthenticated);
        }
        if (req.organizationId !== organizationId) throw new ConnectError('no such org', Code.NotFound);
        served++;
        return canned;
      },
    }),
  );
  front = server;
  return { url, replyBytes: canned.toBinary().length };
}

serveParent('baseline server', {
  start,
  stats: () => ({ ...cpuSnapshot(), served, rejected }),
  stop: () => {
    front?.close();
    return { served, rejected };
  },
});
