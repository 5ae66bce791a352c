import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { Struct, Value } from '@bufbuild/protobuf';
import { Code, createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import { Http2SessionManager } from '@connectrpc/connect-node';
import { appApi, appRobotApi, type AppClient } from '@viamrobotics/sdk';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { MAX_ERROR_MESSAGE_LENGTH } from '../src/rpc/interceptors.js';
import { AppService, RobotService } from '../src/rpc/service-descriptors.generated.js';
import { structFromObject } from '../src/rpc/wire-values.js';
import { bearer, grpcTransport } from './support/clients.js';
import { expectCode } from './support/expect.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * Input a client got wrong gets a clear client error, never INTERNAL, never a dropped
 * connection: long strings echoed in errors, undecodable messages, unnamed compression, huge
 * lists, NaN and `__proto__` in Structs, timestamps out of range, unknown methods; and a client's
 * cancel is not logged as a server failure. The wire, not storage: SQLite only.
 */

/** A raw gRPC call on an HTTP/2 session: the status and message, from headers or trailers. */
function rawCall(
  session: http2.ClientHttp2Session,
  path: string,
  frame: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: string | undefined; message: string; acceptEncoding: string | undefined }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    let head: http2.IncomingHttpHeaders = {};
    let tail: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => {
      head = h;
    });
    stream.on('trailers', (t) => {
      tail = t;
    });
    stream.on('data', () => {});
    stream.on('error', reject);
    stream.on('close', () =>
      resolve({
        status: (head['grpc-status'] ?? tail['grpc-status']) as string | undefined,
        message: decodeURIComponent(String(head['grpc-message'] ?? tail['grpc-message'] ?? '')),
        acceptEncoding: head['grpc-accept-encoding'] as string | undefined,
      }),
    );
    stream.end(frame);
  });
}

function envelope(body: Uint8Array, flags = 0): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out[0] = flags;
  out.writeUInt32BE(body.length, 1);
  out.set(body, 5);
  return out;
}

/** A Struct with a NaN number, built with our runtime and sent as bytes (JSON cannot carry it). */
const nanStruct = () =>
  new Struct({ fields: { speed: new Value({ kind: { case: 'numberValue', value: Number.NaN } }) } });

const PLACEHOLDER_KEY = '__proto_X';

/** A Struct with a key that becomes `__proto__` in the bytes (see `withProtoKey`). */
const protoKeyStruct = () =>
  new Struct({ fields: { [PLACEHOLDER_KEY]: new Value({ kind: { case: 'stringValue', value: 'x' } }) } });

/**
 * A message's bytes with the placeholder key renamed `__proto__`: a JavaScript message object
 * can't hold that key (it sets the prototype), but a client in another language sends it.
 */
function withProtoKey(message: { toBinary(): Uint8Array }): Buffer {
  const bytes = Buffer.from(message.toBinary());
  const at = bytes.indexOf(PLACEHOLDER_KEY);
  assert.ok(at >= 0, 'the placeholder key is in the bytes');
  bytes.write('__proto__', at, 'latin1');
  return bytes;
}

describe('hostile input gets clear client errors', () => {
  let t: TestServer;
  const logs: string[] = [];
  let admin: AppClient;
  let token: string;
  let sessions: Http2SessionManager;
  let app: PromiseClient<typeof AppService>;
  let robot: PromiseClient<typeof RobotService>;
  let auth: PromiseClient<typeof AuthService>;
  let partId: string;
  let partName: string;
  let partToken: string;

  before(async () => {
    t = await startTestServer(
      { dialect: 'sqlite', databaseUrl: undefined, drop: () => Promise.resolve() },
      { FLOTILLA_LOG_LEVEL: 'debug' },
      undefined,
      (line) => logs.push(line),
    );
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    sessions = new Http2SessionManager(t.url);
    const transport = grpcTransport(t.url, { sessionManager: sessions });
    app = createPromiseClient(AppService, transport);
    robot = createPromiseClient(RobotService, transport);
    auth = createPromiseClient(AuthService, transport);
    token = (
      await auth.authenticate({
        entity: t.admin.apiKeyId,
        credentials: { type: 'api-key', payload: t.admin.apiKey },
      })
    ).accessToken;
    const location = await admin.createLocation(t.admin.organizationId, 'Yard');
    const robotId = await admin.newRobot(location?.id ?? '', 'rover');
    const part = (await admin.getRobotParts(robotId))[0];
    partId = part?.id ?? '';
    partName = part?.name ?? '';
    const secret = (await admin.getRobotPart(partId)).part?.secrets[0]?.secret ?? '';
    partToken = (
      await auth.authenticate({ entity: partId, credentials: { type: 'robot-secret', payload: secret } })
    ).accessToken;
  });
  after(async () => {
    sessions.abort();
    await t.stop();
  });

  it('a 70,000-character credential type gets a short UNAUTHENTICATED, and the connection carries on', async () => {
    const session = http2.connect(t.url);
    try {
      const request = new AuthService.methods.authenticate.I({
        entity: 'someone',
        credentials: { type: 'x'.repeat(70_000), payload: 'p' },
      });
      const refused = await rawCall(
        session,
        '/proto.rpc.v1.AuthService/Authenticate',
        envelope(request.toBinary()),
      );
      assert.equal(refused.status, String(Code.Unauthenticated));
      assert.ok(refused.message.length <= MAX_ERROR_MESSAGE_LENGTH, `message of ${refused.message.length}`);
      const next = await rawCall(
        session,
        '/viam.app.v1.AppService/ListOrganizations',
        envelope(new appApi.ListOrganizationsRequest().toBinary()),
        { authorization: `Bearer ${token}` },
      );
      assert.equal(next.status, '0', next.message);
      assert.equal(session.closed || session.destroyed, false, 'the same connection served both');
    } finally {
      session.close();
    }
  });

  it('every error message is bounded, whatever input it repeats', async () => {
    await assert.rejects(
      app.getRobotPartLogs({ id: partId, levels: ['v'.repeat(70_000)] }, bearer(token)),
      (e: Error & { code?: unknown; rawMessage?: string }) => {
        assert.equal(e.code, Code.InvalidArgument);
        assert.ok(
          (e.rawMessage ?? '').length <= MAX_ERROR_MESSAGE_LENGTH,
          `message of ${e.rawMessage?.length}`,
        );
        return true;
      },
    );
  });

  it('an undecodable message and a compressed message without an encoding are INVALID_ARGUMENT', async () => {
    const session = http2.connect(t.url);
    try {
      const auth = { authorization: `Bearer ${token}` };
      const malformed = await rawCall(
        session,
        '/viam.app.v1.AppService/GetOrganization',
        envelope(Buffer.from([0x0a, 0xff, 0xff, 0xff])),
        auth,
      );
      assert.equal(malformed.status, String(Code.InvalidArgument), malformed.message);
      assert.match(malformed.message, /could not be decoded/);
      const compressed = await rawCall(
        session,
        '/viam.app.v1.AppService/GetOrganization',
        envelope(Buffer.from([0x0a, 0x01, 0x61]), 1),
        auth,
      );
      assert.equal(compressed.status, String(Code.InvalidArgument), compressed.message);
      assert.match(compressed.message, /grpc-encoding/);
      const log = await rawCall(
        session,
        '/viam.app.v1.RobotService/Log',
        envelope(Buffer.from([0x12, 0x05, 0x0a])),
        {
          authorization: `Bearer ${partToken}`,
        },
      );
      assert.equal(log.status, String(Code.InvalidArgument), log.message);
    } finally {
      session.close();
    }
  });

  it('unknown methods and services answer UNIMPLEMENTED in gRPC form, naming the encodings accepted', async () => {
    const session = http2.connect(t.url);
    try {
      for (const path of ['/viam.app.v1.AppService/NoSuchMethod', '/no.such.Service/Call']) {
        const res = await rawCall(session, path, envelope(Buffer.alloc(0)));
        assert.equal(res.status, String(Code.Unimplemented), path);
        assert.match(res.message, /unknown method/);
        assert.equal(res.acceptEncoding, 'gzip,br');
      }
      const known = await rawCall(
        session,
        '/viam.app.v1.AppService/ListOrganizations',
        envelope(new appApi.ListOrganizationsRequest().toBinary()),
        { authorization: `Bearer ${token}` },
      );
      assert.equal(known.acceptEncoding, 'gzip,br');
    } finally {
      session.close();
    }
    const web = await fetch(`${t.url}/no.such.Service/Call`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web+proto' },
      body: envelope(Buffer.alloc(0)),
    });
    assert.equal(web.status, 200);
    assert.equal(web.headers.get('grpc-status'), String(Code.Unimplemented));
  });

  it('40,000 enum values are INVALID_ARGUMENT; repeated values count once', async () => {
    await expectCode(
      app.listRegistryItems(
        { organizationId: t.admin.organizationId, types: new Array<number>(40_000).fill(2) },
        bearer(token),
      ),
      Code.InvalidArgument,
    );
    const items = await app.listRegistryItems(
      { organizationId: t.admin.organizationId, types: new Array<number>(5000).fill(3) },
      bearer(token),
    );
    assert.deepEqual(items.items, []);
  });

  it('NaN and `__proto__` in a config, in metadata and in log fields are INVALID_ARGUMENT and change nothing', async () => {
    const before = (await admin.getRobotPart(partId)).configJson;
    await expectCode(
      app.updateRobotPart({ id: partId, name: partName, robotConfig: nanStruct() }, bearer(token)),
      Code.InvalidArgument,
    );
    const session = http2.connect(t.url);
    const sendRaw = async (path: string, message: { toBinary(): Uint8Array }, as = token) =>
      (await rawCall(session, path, envelope(withProtoKey(message)), { authorization: `Bearer ${as}` }))
        .status;
    assert.equal(
      await sendRaw(
        '/viam.app.v1.AppService/UpdateRobotPart',
        new appApi.UpdateRobotPartRequest({ id: partId, name: partName, robotConfig: protoKeyStruct() }),
      ),
      String(Code.InvalidArgument),
    );
    assert.equal((await admin.getRobotPart(partId)).configJson, before);
    // The same key through Connect JSON.
    const json = await fetch(`${t.url}/viam.app.v1.AppService/UpdateRobotPart`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: `{"id": "${partId}", "name": "${partName}", "robotConfig": {"__proto__": {"polluted": true}}}`,
    });
    assert.equal(json.status, 400, await json.text());
    assert.equal((await admin.getRobotPart(partId)).configJson, before);

    const metadataBefore = await admin.getOrganizationMetadata(t.admin.organizationId);
    assert.equal(
      await sendRaw(
        '/viam.app.v1.AppService/UpdateOrganizationMetadata',
        new appApi.UpdateOrganizationMetadataRequest({
          organizationId: t.admin.organizationId,
          data: protoKeyStruct(),
        }),
      ),
      String(Code.InvalidArgument),
    );
    assert.deepEqual(await admin.getOrganizationMetadata(t.admin.organizationId), metadataBefore);

    const entry = (fields: Struct[]) =>
      new appRobotApi.LogRequest({
        id: partId,
        logs: [{ host: 'h', level: 'info', loggerName: 'l', message: 'hostile', fields: fields }],
      });
    await expectCode(robot.log(entry([nanStruct()]), bearer(partToken)), Code.InvalidArgument);
    assert.equal(
      await sendRaw('/viam.app.v1.RobotService/Log', entry([protoKeyStruct()]), partToken),
      String(Code.InvalidArgument),
    );
    session.close();
    const stored = await app.getRobotPartLogs({ id: partId, filter: 'hostile' }, bearer(token));
    assert.equal(stored.logs.length, 0, 'no refused entry was stored');
  });

  it('timestamps out of range are INVALID_ARGUMENT; log times are kept to the microsecond', async () => {
    await expectCode(
      app.updateRobotPart(
        {
          id: partId,
          name: partName,
          robotConfig: structFromObject({}),
          lastKnownUpdate: { seconds: 253_402_300_800n, nanos: 0 },
        },
        bearer(token),
      ),
      Code.InvalidArgument,
    );
    const at = (seconds: bigint, nanos: number) =>
      new appRobotApi.LogRequest({
        id: partId,
        logs: [
          { host: 'h', level: 'info', loggerName: 'l', message: `time ${seconds}`, time: { seconds, nanos } },
        ],
      });
    // Beyond Timestamp's range (the second after 9999-12-31T23:59:59Z, the second before the
    // year 1, a nanosecond count of a whole second): refused, never stored altered.
    await expectCode(robot.log(at(253_402_300_800n, 0), bearer(partToken)), Code.InvalidArgument);
    await expectCode(robot.log(at(-62_135_596_801n, 999_999_999), bearer(partToken)), Code.InvalidArgument);
    await expectCode(robot.log(at(1_700_000_000n, 1_000_000_000), bearer(partToken)), Code.InvalidArgument);
    const timeOf = async (
      seconds: bigint,
      window: { start?: { seconds: bigint; nanos: number }; end?: { seconds: bigint; nanos: number } },
    ) => {
      const read = await app.getRobotPartLogs(
        { id: partId, filter: `time ${seconds}`, ...window },
        bearer(token),
      );
      return read.logs.map((l) => ({ seconds: l.time?.seconds, nanos: l.time?.nanos }));
    };
    // Anywhere in the range, a time comes back to the microsecond, and start (inclusive) and end
    // (exclusive) filters are exact to the microsecond too: 2200-01-01T00:00:00.123456Z,
    // 9999-12-31T23:59:59.999999Z and 0001-01-01T00:00:00.000001Z.
    const times = [
      { sent: { seconds: 7_258_118_400n, nanos: 123_456_789 }, kept: 123_456_000 },
      { sent: { seconds: 253_402_300_799n, nanos: 999_999_000 }, kept: 999_999_000 },
      { sent: { seconds: -62_135_596_800n, nanos: 1000 }, kept: 1000 },
    ];
    for (const { sent } of times) await robot.log(at(sent.seconds, sent.nanos), bearer(partToken));
    /** `us` microseconds after `ts`, as a Timestamp. */
    const plus = (ts: { seconds: bigint; nanos: number }, us: number) => {
      const total = ts.seconds * 1_000_000_000n + BigInt(ts.nanos) + BigInt(us) * 1000n;
      const seconds = total / 1_000_000_000n - (total % 1_000_000_000n < 0n ? 1n : 0n);
      return { seconds, nanos: Number(total - seconds * 1_000_000_000n) };
    };
    for (const { sent, kept } of times) {
      const exact = { seconds: sent.seconds, nanos: kept };
      const last = exact.seconds === 253_402_300_799n; // nothing after it to filter on
      assert.deepEqual(await timeOf(sent.seconds, {}), [exact], `${sent.seconds}`);
      assert.deepEqual(await timeOf(sent.seconds, { start: exact }), [exact]);
      assert.deepEqual(await timeOf(sent.seconds, { start: plus(exact, -1) }), [exact]);
      assert.deepEqual(await timeOf(sent.seconds, { end: exact }), [], 'end is exclusive');
      assert.deepEqual(await timeOf(sent.seconds, { start: plus(exact, -1), end: exact }), []);
      if (!last) {
        assert.deepEqual(await timeOf(sent.seconds, { start: plus(exact, -1), end: plus(exact, 1) }), [
          exact,
        ]);
        assert.deepEqual(await timeOf(sent.seconds, { start: exact, end: plus(exact, 1) }), [exact]);
        assert.deepEqual(await timeOf(sent.seconds, { start: plus(exact, 1) }), []);
      }
    }
    // The range's own ends are filters like any other.
    assert.deepEqual(
      await timeOf(-62_135_596_800n, {
        start: { seconds: -62_135_596_800n, nanos: 0 },
        end: { seconds: 253_402_300_799n, nanos: 999_999_999 },
      }),
      [{ seconds: -62_135_596_800n, nanos: 1000 }],
    );
  });

  it('a call its client cancels is CANCELLED and logged at debug, not as a failure', async () => {
    const moduleId = `${t.admin.organizationId}:cancelled`;
    await admin.createModule(t.admin.organizationId, 'cancelled');
    await admin.updateModule(moduleId, appApi.Visibility.PRIVATE, '', '', [], 'run');
    const session = http2.connect(t.url);
    const stream = session.request({
      ':method': 'POST',
      ':path': '/viam.app.v1.AppService/UploadModuleFile',
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: `Bearer ${token}`,
    });
    stream.on('error', () => {});
    const info = new appApi.UploadModuleFileRequest({
      moduleFile: { case: 'moduleFileInfo', value: { moduleId, version: '1.0.0', platform: 'any' } },
    });
    const chunk = new appApi.UploadModuleFileRequest({
      moduleFile: { case: 'file', value: new Uint8Array(1024) },
    });
    stream.write(envelope(info.toBinary()));
    stream.write(envelope(chunk.toBinary()));
    const errorsBefore = logs.filter((l) => l.includes('"level":"error"')).length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    const deadline = Date.now() + 5000;
    while (!logs.some((l) => l.includes('cancelled by its client')) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    session.close();
    assert.ok(
      logs.some((l) => l.includes('cancelled by its client') && l.includes('"level":"debug"')),
      logs.slice(-5).join('\n'),
    );
    assert.equal(
      logs.filter((l) => l.includes('"level":"error"')).length,
      errorsBefore,
      'nothing logged as an error',
    );
    assert.deepEqual((await admin.getModule(moduleId))?.versions, [], 'nothing was stored');
  });
});
