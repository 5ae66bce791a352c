import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import http2 from 'node:http2';
import { after, before, it } from 'node:test';
import type { PartialMessage } from '@bufbuild/protobuf';
import { Code, createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import { Http2SessionManager } from '@connectrpc/connect-node';
import { createAsyncIterable } from '@connectrpc/connect/protocol';
import { appApi, type AppClient } from '@viamrobotics/sdk';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { AppService } from '../src/rpc/service-descriptors.generated.js';
import { bearer, grpcTransport, rawAppClient } from './support/clients.js';
import { forEachDialect } from './support/databases.js';
import { organizationRole } from './support/roles.js';
import { expectCode } from './support/expect.js';
import { startTestServer, type TestServer } from './support/server.js';
import { storedBlobs, type StoredBlobs } from './support/stored-blobs.js';

/*
 * Module files (issue 7) end to end: UploadModuleFile over native gRPC as the viam CLI sends it,
 * GetModule through the SDK, and the plain-HTTP download route, with the blob directory checked
 * on disk after every upload, refusal and interruption.
 */

const MAX_FILE_BYTES = 8 * 1024 * 1024;
const CHUNK = 64 * 1024;

type UploadMessage = PartialMessage<appApi.UploadModuleFileRequest>;

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const msOf = (ts: { seconds: bigint; nanos: number } | undefined) =>
  ts ? Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1_000_000) : Number.NaN;

/** Bytes that are not a repeated pattern: a SHA-256 chain, so every 32-byte block differs. */
function fileBytes(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let at = 0; at < size; at += block.length) {
    block.copy(out, at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

const infoMessage = (moduleId: string, version: string, platform: string): UploadMessage => ({
  moduleFile: { case: 'moduleFileInfo', value: { moduleId, version, platform } },
});
const fileMessage = (bytes: Uint8Array): UploadMessage => ({ moduleFile: { case: 'file', value: bytes } });

/** The info message, then the data in chunks. */
function uploadMessages(moduleId: string, version: string, platform: string, data: Uint8Array) {
  const messages = [infoMessage(moduleId, version, platform)];
  for (let at = 0; at < data.length; at += CHUNK) messages.push(fileMessage(data.subarray(at, at + CHUNK)));
  return messages;
}

/** Polls `done` every 10 ms; fails with `what` after `timeoutMs`. */
async function waitUntil(
  done: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** One gRPC length-prefixed frame. */
function grpcFrame(message: UploadMessage): Buffer {
  const body = new appApi.UploadModuleFileRequest(message).toBinary();
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, 5);
  return frame;
}

/** An UploadModuleFile call opened by hand on an HTTP/2 session, for what a client library won't do. */
function rawUploadStream(session: http2.ClientHttp2Session, token: string): http2.ClientHttp2Stream {
  const stream = session.request({
    ':method': 'POST',
    ':path': `/${AppService.typeName}/${AppService.methods.uploadModuleFile.name}`,
    'content-type': 'application/grpc',
    te: 'trailers',
    authorization: `Bearer ${token}`,
  });
  stream.on('error', () => {});
  return stream;
}

forEachDialect('module files: UploadModuleFile, GetModule and downloads', (newDatabase) => {
  let t: TestServer;
  /** The admin key: owner of org A and of org B. */
  let admin: AppClient;
  let app: PromiseClient<typeof AppService>;
  let auth: PromiseClient<typeof AuthService>;
  /** The native client's HTTP/2 connections, closed before the server stops. */
  let sessions: Http2SessionManager | undefined;
  let orgA: string;
  let orgB: string;
  let ownerToken: string;
  let operatorToken: string;
  /** A key that owns org B only. */
  let bOwner: AppClient;
  let bToken: string;
  /** Machine parts of org A and org B, logged in with their secrets. */
  let partAToken: string;
  let partBToken: string;
  /** Org A's public namespace, once set. */
  let namespace = '';
  /** Modules created here and not deleted: their files are all the committed blobs there should be. */
  const liveModules = new Set<string>();

  /** The blob store's contents: files on SQLite, rows on PostgreSQL. */
  let blobs: StoredBlobs;
  const committedBlobs = () => blobs.committed();

  const apiKeyToken = async (id: string, key: string) =>
    (await auth.authenticate({ entity: id, credentials: { type: 'api-key', payload: key } })).accessToken;

  /** A new machine in the organization; its main part's token. */
  async function partToken(organizationId: string, name: string): Promise<string> {
    const location = await admin.createLocation(organizationId, `${name} yard`);
    assert.ok(location);
    const robotId = await admin.newRobot(location.id, name);
    const partId = (await admin.getRobotParts(robotId)).find((p) => p.mainPart)?.id;
    assert.ok(partId);
    const part = (await admin.getRobotPart(partId)).part;
    const secret = part?.secret || part?.secrets[0]?.secret || '';
    assert.notEqual(secret, '', 'the part has no secret');
    return (
      await auth.authenticate({ entity: partId, credentials: { type: 'robot-secret', payload: secret } })
    ).accessToken;
  }

  /** A new private module of org A with an entrypoint (unless `entrypoint` is empty). */
  async function newModule(name: string, entrypoint = 'bin/module', models: appApi.Model[] = []) {
    const created = await admin.createModule(orgA, name);
    liveModules.add(created.moduleId);
    assert.equal(created.url, `${t.url}/modules/${created.moduleId}`);
    if (entrypoint !== '') {
      await admin.updateModule(created.moduleId, appApi.Visibility.PRIVATE, '', '', models, entrypoint);
    }
    return created.moduleId;
  }

  /** Sends the messages as one upload; `token` null sends no authorization at all. */
  const uploadRaw = (messages: readonly UploadMessage[], token: string | null = ownerToken) =>
    app.uploadModuleFile(createAsyncIterable([...messages]), token === null ? {} : bearer(token));

  const upload = (
    moduleId: string,
    version: string,
    platform: string,
    data: Uint8Array,
    token = ownerToken,
  ) => uploadRaw(uploadMessages(moduleId, version, platform, data), token);

  /** What GetModule says about the module's versions, as the owner sees it. */
  async function versionsOf(moduleId: string) {
    const module = await admin.getModule(moduleId);
    assert.ok(module, `module ${moduleId} not returned`);
    return module.versions.map((v) => ({
      version: v.version,
      platforms: v.files.map((f) => f.platform),
      uploadedAt: v.files.map((f) => msOf(f.uploadedAt)),
      entrypoint: v.entrypoint,
      models: v.models.map((m) => `${m.api} ${m.model}`),
    }));
  }

  /** Committed blobs match the files of the live modules, and nothing is in flight. */
  async function assertBlobsConsistent() {
    let files = 0;
    for (const id of liveModules) {
      for (const v of await versionsOf(id)) files += v.platforms.length;
    }
    assert.deepEqual(await blobs.inFlight(), [], 'no upload may be left in flight');
    const committed = await committedBlobs();
    assert.equal(committed.length, files, `committed blobs: ${committed.join(', ')}`);
  }

  /** Refused with `code`, with the module's versions and every file under blobs/ as before. */
  async function expectRefused(moduleId: string, call: () => Promise<unknown>, code: Code) {
    const versionsBefore = await versionsOf(moduleId);
    const blobsBefore = await blobs.snapshot();
    await expectCode(call(), code);
    assert.deepEqual(await versionsOf(moduleId), versionsBefore, 'GetModule changed');
    assert.deepEqual(await blobs.snapshot(), blobsBefore, 'the blob store changed');
    await assertBlobsConsistent();
  }

  const get = (path: string, token?: string, method = 'GET') =>
    fetch(`${t.url}${path}`, {
      method,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });

  /** Downloads a file and checks it against `data`. */
  async function expectDownload(path: string, token: string, data: Uint8Array) {
    const res = await get(path, token);
    assert.equal(res.status, 200, `GET ${path}: ${res.status}`);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(body.length, data.length);
    assert.ok(body.equals(data), 'downloaded bytes differ');
    assert.equal(res.headers.get('content-length'), String(data.length));
    assert.equal(res.headers.get('x-content-sha256'), sha256(data));
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
  }

  async function expectStatus(path: string, token: string | undefined, status: number) {
    const res = await get(path, token);
    const text = await res.text();
    assert.equal(res.status, status, `GET ${path}: ${res.status} ${text}`);
    if (status === 401) assert.equal(res.headers.get('www-authenticate'), 'Bearer');
    if (status !== 200) {
      assert.equal(res.headers.get('x-content-sha256'), null);
      assert.equal(typeof (JSON.parse(text) as { error: unknown }).error, 'string');
    }
  }

  before(async () => {
    const database = await newDatabase();
    t = await startTestServer(database, {
      FLOTILLA_MODULE_FILE_MAX_BYTES: String(MAX_FILE_BYTES),
    });
    blobs = storedBlobs(t.dataDir, database.databaseUrl);
    try {
      admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
      sessions = new Http2SessionManager(t.url);
      const transport = grpcTransport(t.url, { sessionManager: sessions });
      app = createPromiseClient(AppService, transport);
      auth = createPromiseClient(AuthService, transport);
      orgA = t.admin.organizationId;
      ownerToken = await apiKeyToken(t.admin.apiKeyId, t.admin.apiKey);
      const org = await admin.createOrganization('Org B');
      assert.ok(org);
      orgB = org.id;
      const operator = await admin.createKey([organizationRole('operator', orgA)], 'a-operator');
      operatorToken = await apiKeyToken(operator.id, operator.key);
      const b = await admin.createKey([organizationRole('owner', orgB)], 'b-owner');
      bOwner = (await t.clientForKey(b.id, b.key)).appClient;
      bToken = await apiKeyToken(b.id, b.key);
      partAToken = await partToken(orgA, 'rover-a');
      partBToken = await partToken(orgB, 'rover-b');
    } catch (error) {
      await t.stop();
      throw error;
    }
  });
  after(async () => {
    sessions?.abort();
    await blobs?.close();
    await t.stop();
  });

  it('acceptance: a 5 MiB upload in 64 KiB chunks over native gRPC, read back and downloaded', async () => {
    const moduleId = await newModule('acceptance', 'bin/acceptance');
    assert.equal(moduleId, `${orgA}:acceptance`);
    const data = fileBytes(5 * 1024 * 1024, 'acceptance');
    const blobsBefore = await committedBlobs();

    const started = Date.now();
    const reply = await upload(moduleId, '1.2.0', 'linux/amd64', data);
    const finished = Date.now();
    assert.equal(reply.url, `${t.url}/modules/${moduleId}`);

    const module = await admin.getModule(moduleId);
    assert.ok(module);
    assert.equal(module.moduleId, moduleId);
    assert.equal(module.versions.length, 1);
    const [version] = module.versions;
    assert.equal(version?.version, '1.2.0');
    assert.equal(version?.entrypoint, 'bin/acceptance');
    assert.deepEqual(
      version?.files.map((f) => f.platform),
      ['linux/amd64'],
    );
    const uploadedAt = msOf(version?.files[0]?.uploadedAt);
    assert.ok(
      uploadedAt >= started - 1000 && uploadedAt <= finished + 1000,
      `uploadedAt ${uploadedAt} not in [${started}, ${finished}]`,
    );

    // One new blob holding exactly the bytes.
    const added = (await committedBlobs()).filter((f) => !blobsBefore.includes(f));
    assert.equal(added.length, 1);
    assert.equal(sha256(await blobs.bytesOf(added[0]!)), sha256(data));
    await assertBlobsConsistent();

    await expectDownload(`/modules/${moduleId}/1.2.0/linux/amd64`, ownerToken, data);
  });

  it('both id forms work once the organization has a namespace', async () => {
    namespace = `acme-${randomUUID().slice(0, 8)}`;
    await rawAppClient(admin).updateOrganizationNamespace({
      organizationId: orgA,
      newPublicNamespace: namespace,
    });
    const data = fileBytes(5 * 1024 * 1024, 'acceptance');
    const nsId = `${namespace}:acceptance`;
    await expectDownload(`/modules/${nsId}/1.2.0/linux/amd64`, ownerToken, data);
    await expectDownload(`/modules/${orgA}:acceptance/1.2.0/linux/amd64`, ownerToken, data);
    const module = await admin.getModule(`${orgA}:acceptance`);
    assert.equal(module?.moduleId, nsId);
    assert.deepEqual(await versionsOf(nsId), await versionsOf(`${orgA}:acceptance`));

    // An upload addressed with the namespace form lands on the same module.
    const small = fileBytes(1000, 'ns-upload');
    const reply = await upload(nsId, '1.2.0', 'linux/arm64', small);
    assert.equal(reply.url, `${t.url}/modules/${nsId}`);
    assert.deepEqual(
      (await versionsOf(`${orgA}:acceptance`)).map((v) => v.platforms),
      [['linux/amd64', 'linux/arm64']],
    );
    await expectDownload(`/modules/${orgA}:acceptance/1.2.0/linux/arm64`, ownerToken, small);
    await assertBlobsConsistent();
  });

  it('versions ascend by semver, platforms sort, and each version keeps its first upload’s metadata', async () => {
    const m1 = [new appApi.Model({ api: 'rdk:component:motor', model: 'acme:motors:v1' })];
    const m2 = [
      new appApi.Model({ api: 'rdk:component:motor', model: 'acme:motors:v2' }),
      new appApi.Model({ api: 'rdk:service:navigation', model: 'acme:nav:v2' }),
    ];
    const m3 = [new appApi.Model({ api: 'rdk:component:arm', model: 'acme:arms:v3' })];
    const moduleId = await newModule('many-versions', 'bin/one', m1);
    const update = (models: appApi.Model[], entrypoint: string) =>
      admin.updateModule(moduleId, appApi.Visibility.PRIVATE, '', 'several versions', models, entrypoint);
    const bytes = new Map<string, Buffer>();
    const put = async (version: string, platform: string) => {
      const data = fileBytes(10_000 + bytes.size, `${version} ${platform}`);
      bytes.set(`${version}/${platform}`, data);
      await upload(moduleId, version, platform, data);
    };

    await put('1.10.0', 'linux/amd64');
    await update(m2, 'bin/two');
    await put('1.2.0', 'linux/arm64');
    await update(m3, 'bin/three');
    // More files for 1.2.0: the version keeps the models and entrypoint of its first upload.
    await put('1.2.0', 'any');
    await put('1.2.0', 'linux/arm/v7');
    await put('1.2.0', 'darwin/arm64');
    await put('1.2.0-rc.1', 'linux/amd64');

    const versions = await versionsOf(moduleId);
    assert.deepEqual(
      versions.map((v) => [v.version, v.platforms, v.entrypoint, v.models]),
      [
        ['1.2.0-rc.1', ['linux/amd64'], 'bin/three', ['rdk:component:arm acme:arms:v3']],
        [
          '1.2.0',
          ['any', 'darwin/arm64', 'linux/arm/v7', 'linux/arm64'],
          'bin/two',
          ['rdk:component:motor acme:motors:v2', 'rdk:service:navigation acme:nav:v2'],
        ],
        ['1.10.0', ['linux/amd64'], 'bin/one', ['rdk:component:motor acme:motors:v1']],
      ],
    );
    const module = await admin.getModule(moduleId);
    assert.equal(module?.entrypoint, 'bin/three');
    assert.deepEqual(
      module?.models.map((m) => m.model),
      ['acme:arms:v3'],
    );

    // Every file downloads as itself, a variant platform included.
    for (const [key, data] of bytes) {
      const [version, ...platform] = key.split('/');
      await expectDownload(`/modules/${moduleId}/${version}/${platform.join('/')}`, ownerToken, data);
    }
    await assertBlobsConsistent();
  });

  it('refuses malformed streams, bad versions and platforms, leaving nothing behind', async () => {
    const moduleId = await newModule('refusals');
    const first = fileBytes(4000, 'refusals first');
    await upload(moduleId, '1.0.0', 'linux/amd64', first);
    const data = fileBytes(3 * CHUNK + 17, 'refused');

    // The first message must be the file info.
    await expectRefused(
      moduleId,
      () => uploadRaw([fileMessage(data), infoMessage(moduleId, '2.0.0', 'linux/amd64')]),
      Code.InvalidArgument,
    );
    await expectRefused(
      moduleId,
      () => uploadRaw([{}, infoMessage(moduleId, '2.0.0', 'linux/amd64')]),
      Code.InvalidArgument,
    );
    await expectRefused(moduleId, () => uploadRaw([]), Code.InvalidArgument);
    // The file info only once, even after some bytes were written.
    await expectRefused(
      moduleId,
      () =>
        uploadRaw([
          ...uploadMessages(moduleId, '2.0.0', 'linux/amd64', data),
          infoMessage(moduleId, '2.0.0', 'linux/amd64'),
          fileMessage(data),
        ]),
      Code.InvalidArgument,
    );
    for (const version of ['v1.0.0', '1.0', '01.0.0', '', '1.0.0-', '2.0.0 ', '2.0.0+build.1']) {
      await expectRefused(
        moduleId,
        () => upload(moduleId, version, 'linux/amd64', data),
        Code.InvalidArgument,
      );
    }
    for (const platform of ['Linux/AMD64', 'linux', '', 'linux/amd64/v8/x', 'linux/../amd64']) {
      await expectRefused(moduleId, () => upload(moduleId, '2.0.0', platform, data), Code.InvalidArgument);
    }
    // Zero bytes: info only, or only empty chunks.
    await expectRefused(
      moduleId,
      () => uploadRaw([infoMessage(moduleId, '2.0.0', 'linux/amd64')]),
      Code.InvalidArgument,
    );
    await expectRefused(
      moduleId,
      () => uploadRaw([infoMessage(moduleId, '2.0.0', 'linux/amd64'), fileMessage(new Uint8Array(0))]),
      Code.InvalidArgument,
    );
    // Malformed and unknown module ids.
    await expectRefused(
      moduleId,
      () => upload('no-colon', '2.0.0', 'linux/amd64', data),
      Code.InvalidArgument,
    );
    await expectRefused(
      moduleId,
      () => upload(`${orgA}:Bad`, '2.0.0', 'linux/amd64', data),
      Code.InvalidArgument,
    );
    await expectRefused(
      moduleId,
      () => upload(`${orgA}:missing`, '2.0.0', 'linux/amd64', data),
      Code.NotFound,
    );

    assert.deepEqual(
      (await versionsOf(moduleId)).map((v) => [v.version, v.platforms]),
      [['1.0.0', ['linux/amd64']]],
    );
    await expectDownload(`/modules/${moduleId}/1.0.0/linux/amd64`, ownerToken, first);
  });

  it('refuses an upload to a module without an entrypoint, or to an item that is not a module', async () => {
    const moduleId = await newModule('no-entrypoint', '');
    await expectRefused(
      moduleId,
      () => upload(moduleId, '1.0.0', 'linux/amd64', fileBytes(100, 'x')),
      Code.FailedPrecondition,
    );
    assert.deepEqual(await versionsOf(moduleId), []);
    // After UpdateModule sets one, the same upload goes through.
    await admin.updateModule(moduleId, appApi.Visibility.PRIVATE, '', '', [], 'run.sh');
    await upload(moduleId, '1.0.0', 'linux/amd64', fileBytes(100, 'x'));
    assert.deepEqual(
      (await versionsOf(moduleId)).map((v) => [v.version, v.entrypoint]),
      [['1.0.0', 'run.sh']],
    );

    await admin.createRegistryItem(orgA, 'an-archive', 1);
    const blobsBefore = await blobs.snapshot();
    await expectCode(upload(`${orgA}:an-archive`, '1.0.0', 'any', fileBytes(100, 'y')), Code.NotFound);
    assert.deepEqual(await blobs.snapshot(), blobsBefore);
    await expectStatus(`/modules/${orgA}:an-archive/1.0.0/any`, ownerToken, 404);
    await expectStatus(`/modules/${orgA}:an-archive`, ownerToken, 404);
    await admin.deleteRegistryItem(`${orgA}:an-archive`);
    await assertBlobsConsistent();
  });

  it('refuses a second file for the same version and platform, keeping the first', async () => {
    const moduleId = await newModule('duplicates');
    const first = fileBytes(70_000, 'dup first');
    await upload(moduleId, '1.0.0', 'linux/amd64', first);
    const uploadedAt = (await versionsOf(moduleId))[0]?.uploadedAt;
    await expectRefused(
      moduleId,
      () => upload(moduleId, '1.0.0', 'linux/amd64', fileBytes(90_000, 'dup second')),
      Code.AlreadyExists,
    );
    assert.deepEqual((await versionsOf(moduleId))[0]?.uploadedAt, uploadedAt);
    await expectDownload(`/modules/${moduleId}/1.0.0/linux/amd64`, ownerToken, first);
    // A different platform of the same version is a new file.
    await upload(moduleId, '1.0.0', 'linux/arm64', fileBytes(10, 'other platform'));
    assert.deepEqual(
      (await versionsOf(moduleId)).map((v) => [v.version, v.platforms]),
      [['1.0.0', ['linux/amd64', 'linux/arm64']]],
    );
    await assertBlobsConsistent();
  });

  it(`enforces the size limit (${MAX_FILE_BYTES} bytes): one byte over is RESOURCE_EXHAUSTED`, async () => {
    const moduleId = await newModule('size-limit');
    const over = fileBytes(MAX_FILE_BYTES + 1, 'too big');
    await expectRefused(
      moduleId,
      () => upload(moduleId, '1.0.0', 'linux/amd64', over),
      Code.ResourceExhausted,
    );
    // Exactly at the limit is accepted.
    const atLimit = over.subarray(0, MAX_FILE_BYTES);
    await upload(moduleId, '1.0.0', 'linux/amd64', atLimit);
    const res = await get(`/modules/${moduleId}/1.0.0/linux/amd64`, ownerToken, 'HEAD');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(MAX_FILE_BYTES));
    assert.equal(res.headers.get('x-content-sha256'), sha256(atLimit));
    await assertBlobsConsistent();
  });

  it('refuses callers who may not write: operator, other organization, no token', async () => {
    const moduleId = await newModule('guarded');
    await upload(moduleId, '1.0.0', 'any', fileBytes(500, 'guarded'));
    const data = fileBytes(CHUNK + 1, 'intruder');
    await expectRefused(
      moduleId,
      () => upload(moduleId, '2.0.0', 'any', data, operatorToken),
      Code.PermissionDenied,
    );
    await expectRefused(moduleId, () => upload(moduleId, '2.0.0', 'any', data, bToken), Code.NotFound);
    await expectRefused(
      moduleId,
      () => upload(moduleId, '2.0.0', 'any', data, partAToken),
      Code.PermissionDenied,
    );
    await expectRefused(
      moduleId,
      () => uploadRaw(uploadMessages(moduleId, '2.0.0', 'any', data), null),
      Code.Unauthenticated,
    );
    await expectRefused(
      moduleId,
      () => upload(moduleId, '2.0.0', 'any', data, 'not-a-token'),
      Code.Unauthenticated,
    );
    // Org B's owner can't see the private module at all.
    await expectCode(bOwner.getModule(moduleId), Code.NotFound);
  });

  it('an interrupted upload leaves no file and no version; the same upload then succeeds', async () => {
    const moduleId = await newModule('interrupted');
    // The client means to send 2 MiB but goes away after the first 1 MiB.
    const data = fileBytes(2 * 1024 * 1024, 'interrupted');
    const sent = uploadMessages(moduleId, '3.0.0', 'linux/amd64', data.subarray(0, 1024 * 1024));
    const variants = {
      'a connection dropped': (_stream: http2.ClientHttp2Stream, session: http2.ClientHttp2Session) =>
        session.destroy(),
      'a stream cancelled inside a message': (stream: http2.ClientHttp2Stream) => {
        // The first 1000 bytes of a further message go out before the reset.
        const partial = grpcFrame(fileMessage(data.subarray(0, CHUNK))).subarray(0, 1000);
        stream.write(partial, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      },
      'a stream cancelled between messages': (stream: http2.ClientHttp2Stream) =>
        stream.close(http2.constants.NGHTTP2_CANCEL),
    };

    for (const [what, interrupt] of Object.entries(variants)) {
      const session = http2.connect(t.url);
      session.on('error', () => {});
      try {
        const stream = rawUploadStream(session, ownerToken);
        for (const message of sent) stream.write(grpcFrame(message));
        // Every byte sent is stored as in flight before the client goes away.
        const received = async () => (await blobs.inFlight())[0] === 1024 * 1024;
        await waitUntil(received, `the upload to reach the server before ${what}`);
        assert.equal((await blobs.inFlight()).length, 1);
        interrupt(stream, session);
        await waitUntil(
          async () => (await blobs.inFlight()).length === 0,
          `the upload in flight to be dropped after ${what}`,
        );
      } finally {
        session.destroy();
      }
      assert.deepEqual(await versionsOf(moduleId), [], `after ${what}, GetModule shows a truncated version`);
      await assertBlobsConsistent();
    }

    await upload(moduleId, '3.0.0', 'linux/amd64', data);
    assert.deepEqual(
      (await versionsOf(moduleId)).map((v) => [v.version, v.platforms]),
      [['3.0.0', ['linux/amd64']]],
    );
    await expectDownload(`/modules/${moduleId}/3.0.0/linux/amd64`, ownerToken, data);
    await assertBlobsConsistent();
  });

  it('a refused upload ends the stream after the reply, so a client still sending stops', async () => {
    const moduleId = await newModule('refused-early');
    const session = http2.connect(t.url);
    session.on('error', () => {});
    try {
      const stream = rawUploadStream(session, ownerToken);
      stream.resume();
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('trailers', resolve));
      const closed = new Promise<number | undefined>((resolve) =>
        stream.once('close', () => resolve(stream.rstCode)),
      );
      // The version is refused before any byte is read; the client goes on sending 4 MiB,
      // far more than the stream's flow-control window, and never ends its side by itself.
      stream.write(grpcFrame(infoMessage(moduleId, 'v1.0.0', 'linux/amd64')));
      const chunk = grpcFrame(fileMessage(fileBytes(CHUNK, 'refused-early')));
      let written = 0;
      const pump = () => {
        while (written < 64 && !stream.closed) {
          written += 1;
          if (!stream.write(chunk)) return void stream.once('drain', pump);
        }
      };
      pump();
      assert.equal((await trailers)['grpc-status'], String(Code.InvalidArgument));
      // Without the server's reset the stream would stay open, its writes stalled, until the client gave up.
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve('still open after 10 s'), 10_000);
      });
      const ended = await Promise.race([closed, bound]);
      clearTimeout(timer);
      assert.equal(ended, http2.constants.NGHTTP2_NO_ERROR);
      assert.ok(written < 64, `the client stopped sending after ${written} of 64 chunks`);
    } finally {
      session.destroy();
    }
    assert.deepEqual(await versionsOf(moduleId), []);
    await assertBlobsConsistent();
  });

  it('download: 401 without a valid token, 404 for anything missing or hidden', async () => {
    const moduleId = await newModule('downloads');
    const data = fileBytes(20_000, 'downloads');
    await upload(moduleId, '1.0.0', 'linux/amd64', data);
    const path = `/modules/${moduleId}/1.0.0/linux/amd64`;
    await expectDownload(path, ownerToken, data);

    await expectStatus(path, undefined, 401);
    await expectStatus(path, 'garbage', 401);
    await expectStatus(path, `${ownerToken}x`, 401);
    const basic = await fetch(`${t.url}${path}`, { headers: { authorization: 'Basic YTpi' } });
    assert.equal(basic.status, 401);
    assert.equal(basic.headers.get('www-authenticate'), 'Bearer');
    await basic.body?.cancel();
    await expectStatus(`/modules/${moduleId}`, undefined, 401);

    await expectStatus(`/modules/${moduleId}/9.9.9/linux/amd64`, ownerToken, 404);
    await expectStatus(`/modules/${moduleId}/1.0.0/linux/arm64`, ownerToken, 404);
    await expectStatus(`/modules/${moduleId}/1.0.0/linux`, ownerToken, 404);
    await expectStatus(`/modules/${moduleId}/1.0.0`, ownerToken, 404);
    await expectStatus(`/modules/${moduleId}/1.0.0/`, ownerToken, 404);
    await expectStatus(`/modules/${orgA}:missing/1.0.0/linux/amd64`, ownerToken, 404);
    await expectStatus(`/modules/no-colon/1.0.0/linux/amd64`, ownerToken, 404);
    await expectStatus(`/modules/${orgA}:Bad/1.0.0/linux/amd64`, ownerToken, 404);
    await expectStatus(`/modules/%zz/1.0.0/linux/amd64`, ownerToken, 404);
    await expectStatus(`/modules/`, ownerToken, 404);
    // Another organization's valid tokens: the private module does not exist for them.
    await expectStatus(path, bToken, 404);
    await expectStatus(`/modules/${moduleId}`, bToken, 404);
    await expectStatus(path, partBToken, 404);
    // A part of the same organization may download it; an operator too.
    await expectDownload(path, partAToken, data);
    await expectDownload(path, operatorToken, data);
    // Percent-encoded segments are decoded.
    await expectDownload(`/modules/${encodeURIComponent(moduleId)}/1.0.0/linux%2Famd64`, ownerToken, data);

    // HEAD: the headers, no body.
    const head = await get(path, ownerToken, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(data.length));
    assert.equal(head.headers.get('x-content-sha256'), sha256(data));
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    const headMissing = await get(`/modules/${moduleId}/9.9.9/any`, ownerToken, 'HEAD');
    assert.equal(headMissing.status, 404);
    const headAnonymous = await get(path, undefined, 'HEAD');
    assert.equal(headAnonymous.status, 401);
  });

  it('a public module downloads with any organization’s key or part; private ones stay hidden', async () => {
    assert.notEqual(namespace, '', 'the namespace test runs first');
    const moduleId = await newModule('shared');
    const data = fileBytes(30_000, 'shared');
    await upload(moduleId, '0.1.0', 'any', data);
    const path = `/modules/${moduleId}/0.1.0/any`;
    await expectStatus(path, bToken, 404);
    await admin.updateModule(moduleId, appApi.Visibility.PUBLIC, '', 'shared', [], 'bin/module');
    await expectDownload(path, bToken, data);
    await expectDownload(path, partBToken, data);
    await expectDownload(`/modules/${orgA}:shared/0.1.0/any`, bToken, data);
    // Unlisted is still readable by anyone who knows the id.
    await admin.updateModule(moduleId, appApi.Visibility.PUBLIC_UNLISTED, '', 'shared', [], 'bin/module');
    await expectDownload(path, bToken, data);
    // Readable is not writable: org B's owner may not upload to it.
    await expectRefused(
      moduleId,
      () => upload(moduleId, '0.2.0', 'any', data, bToken),
      Code.PermissionDenied,
    );
    // Back to private: hidden again.
    await admin.updateModule(moduleId, appApi.Visibility.PRIVATE, '', 'shared', [], 'bin/module');
    await expectStatus(path, bToken, 404);
    await expectStatus(path, partBToken, 404);
    await expectDownload(path, partAToken, data);
  });

  it('GET /modules/<id> describes versions and files with working download URLs', async () => {
    const moduleId = await newModule('described', 'bin/described', [
      new appApi.Model({ api: 'rdk:component:camera', model: 'acme:cams:one' }),
    ]);
    const files = new Map([
      ['2.0.0/linux/amd64', fileBytes(1234, 'd1')],
      ['2.0.0/any', fileBytes(2345, 'd2')],
      ['1.0.0/linux/arm/v7', fileBytes(3456, 'd3')],
    ]);
    for (const [key, data] of files) {
      const [version = '', ...platform] = key.split('/');
      await upload(moduleId, version, platform.join('/'), data);
    }
    const res = await get(`/modules/${moduleId}`, partAToken);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const doc = (await res.json()) as {
      module_id: string;
      name: string;
      organization_id: string;
      visibility: string;
      entrypoint: string;
      models: { api: string; model: string }[];
      versions: {
        version: string;
        entrypoint: string;
        files: {
          platform: string;
          size_bytes: number;
          sha256: string;
          uploaded_at: string;
          download_url: string;
        }[];
      }[];
    };
    assert.equal(doc.module_id, `${namespace}:described`);
    assert.equal(doc.name, 'described');
    assert.equal(doc.organization_id, orgA);
    assert.equal(doc.visibility, 'private');
    assert.equal(doc.entrypoint, 'bin/described');
    assert.deepEqual(doc.models, [{ api: 'rdk:component:camera', model: 'acme:cams:one' }]);
    assert.deepEqual(
      doc.versions.map((v) => [v.version, v.entrypoint, v.files.map((f) => f.platform)]),
      [
        ['1.0.0', 'bin/described', ['linux/arm/v7']],
        ['2.0.0', 'bin/described', ['any', 'linux/amd64']],
      ],
    );
    for (const v of doc.versions) {
      for (const f of v.files) {
        const data = files.get(`${v.version}/${f.platform}`);
        assert.ok(data);
        assert.equal(f.size_bytes, data.length);
        assert.equal(f.sha256, sha256(data));
        assert.ok(Math.abs(Date.parse(f.uploaded_at) - Date.now()) < 60_000, f.uploaded_at);
        assert.equal(f.download_url, `${t.url}/modules/${namespace}:described/${v.version}/${f.platform}`);
        const got = await fetch(f.download_url, bearer(ownerToken));
        assert.equal(got.status, 200);
        assert.ok(Buffer.from(await got.arrayBuffer()).equals(data));
      }
    }
  });

  it('deleting the module removes its blobs and its downloads', async () => {
    const moduleId = await newModule('doomed');
    const before = await committedBlobs();
    const data = fileBytes(5000, 'doomed');
    await upload(moduleId, '1.0.0', 'linux/amd64', data);
    await upload(moduleId, '1.1.0', 'any', fileBytes(6000, 'doomed 2'));
    const added = (await committedBlobs()).filter((f) => !before.includes(f));
    assert.equal(added.length, 2);
    await expectDownload(`/modules/${moduleId}/1.0.0/linux/amd64`, ownerToken, data);

    await admin.deleteRegistryItem(moduleId);
    liveModules.delete(moduleId);
    assert.deepEqual(await committedBlobs(), before, 'its blobs are gone, other modules’ untouched');
    await expectStatus(`/modules/${moduleId}/1.0.0/linux/amd64`, ownerToken, 404);
    await expectStatus(`/modules/${moduleId}`, ownerToken, 404);
    await expectCode(admin.getModule(moduleId), Code.NotFound);
    await assertBlobsConsistent();

    // The name is free again, and a new module under it starts empty.
    const again = await newModule('doomed');
    assert.deepEqual(await versionsOf(again), []);
    await expectStatus(`/modules/${again}/1.0.0/linux/amd64`, ownerToken, 404);
  });
});
