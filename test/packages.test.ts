import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { after, before, it } from 'node:test';
import type { PartialMessage } from '@bufbuild/protobuf';
import { Code, createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import { Http2SessionManager } from '@connectrpc/connect-node';
import { createAsyncIterable } from '@connectrpc/connect/protocol';
import { appApi, type AppClient } from '@viamrobotics/sdk';
import { loadServerKeys } from '../src/crypto/server-keys.js';
import { UrlSigner } from '../src/crypto/url-signer.js';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import type { CreatePackageRequest } from '../src/rpc/package-service.generated.js';
import { PackageService, PackageType } from '../src/rpc/package-service.generated.js';
import { AppService, RobotService } from '../src/rpc/service-descriptors.generated.js';
import { structFromObject } from '../src/rpc/wire-values.js';
import { bearer, grpcTransport } from './support/clients.js';
import { forEachDialect } from './support/databases.js';
import { expectCode } from './support/expect.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * viam-server's whole module path, played as viam-server plays it (robot/packages in rdk): a
 * registry module in the part's config; Config over native gRPC with the machine's platform;
 * PackageService.GetPackage with the part's token for a URL; then HEAD and GET on that URL with
 * `part_id` / `secret` headers, checking Content-Type, Content-Length and the CRC-32C in
 * `x-goog-hash` against the bytes, and a ranged GET as a resumed download makes. Also
 * CreatePackage / ListPackages / DeletePackage for other package types, and the refusals.
 */

/** CRC-32C computed bit by bit, independently of the server's table-driven one. */
function referenceCrc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** viam-server's check: `x-goog-hash: crc32c=<base64 of the big-endian CRC>`. */
function googHashOf(data: Uint8Array): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(referenceCrc32c(data));
  return `crc32c=${bytes.toString('base64')}`;
}

/** A gzip stream of `size` pseudo-random bytes, different for each seed. */
function tarball(seed: string, size = 200_000): Buffer {
  const raw = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let at = 0; at < size; at += block.length) {
    block.copy(raw, at);
    block = createHash('sha256').update(block).digest();
  }
  return gzipSync(raw);
}

type UploadMessage = PartialMessage<appApi.UploadModuleFileRequest>;
const CHUNK = 32 * 1024;

function uploadMessages(moduleId: string, version: string, platform: string, data: Uint8Array) {
  const messages: UploadMessage[] = [
    { moduleFile: { case: 'moduleFileInfo', value: { moduleId, version, platform } } },
  ];
  for (let at = 0; at < data.length; at += CHUNK) {
    messages.push({ moduleFile: { case: 'file', value: data.subarray(at, at + CHUNK) } });
  }
  return messages;
}

function packageMessages(
  info: { organizationId: string; name: string; version: string; type: PackageType; platform?: string },
  data: Uint8Array,
): PartialMessage<CreatePackageRequest>[] {
  const messages: PartialMessage<CreatePackageRequest>[] = [{ package: { case: 'info', value: info } }];
  for (let at = 0; at < data.length; at += CHUNK) {
    messages.push({ package: { case: 'contents', value: data.subarray(at, at + CHUNK) } });
  }
  return messages;
}

interface Machine {
  partId: string;
  secret: string;
  token: string;
}

forEachDialect('packages: registry modules reach viam-server', (newDatabase) => {
  let t: TestServer;
  let admin: AppClient;
  let app: PromiseClient<typeof AppService>;
  let robot: PromiseClient<typeof RobotService>;
  let packages: PromiseClient<typeof PackageService>;
  let auth: PromiseClient<typeof AuthService>;
  let sessions: Http2SessionManager;
  let orgA: string;
  let orgB: string;
  let ownerToken: string;
  let machineA: Machine;
  let machineB: Machine;
  const arm64 = tarball('mover 1.0.0 linux/arm64');
  const anyPlatform = tarball('mover 1.0.0 any', 150_000);

  async function newMachine(organizationId: string, name: string): Promise<Machine> {
    const location = await admin.createLocation(organizationId, `${name} yard`);
    assert.ok(location);
    const robotId = await admin.newRobot(location.id, name);
    const partId = (await admin.getRobotParts(robotId)).find((p) => p.mainPart)?.id ?? '';
    const part = (await admin.getRobotPart(partId)).part;
    const secret = part?.secrets[0]?.secret ?? '';
    assert.notEqual(secret, '');
    const token = (
      await auth.authenticate({ entity: partId, credentials: { type: 'robot-secret', payload: secret } })
    ).accessToken;
    return { partId, secret, token };
  }

  const upload = (moduleId: string, version: string, platform: string, data: Uint8Array) =>
    app.uploadModuleFile(
      createAsyncIterable(uploadMessages(moduleId, version, platform, data)),
      bearer(ownerToken),
    );

  const setConfig = async (machine: Machine, config: Record<string, unknown>) => {
    const part = (await admin.getRobotPart(machine.partId)).part;
    assert.ok(part);
    await admin.updateRobotPart(machine.partId, part.name, structFromObject(config));
  };

  const configOf = async (machine: Machine, platform?: string) => {
    const res = await robot.config(
      {
        id: machine.partId,
        ...(platform && { agentInfo: { host: 'rover', os: 'linux', version: '0.60.0', platform } }),
      },
      bearer(machine.token),
    );
    assert.ok(res.config);
    return res.config;
  };

  /** A request as viam-server's package manager makes it: the URL, with the part's headers. */
  const fetchAs = (
    url: string,
    machine: Machine | undefined,
    init: { method?: string; range?: string } = {},
  ) =>
    fetch(url, {
      method: init.method ?? 'GET',
      headers: {
        ...(machine && { part_id: machine.partId, secret: machine.secret }),
        ...(init.range && { range: init.range }),
      },
    });

  /** A refused download: the status, a JSON error, and none of the file's bytes or headers. */
  async function expectNoBytes(res: Response, status: number) {
    const text = await res.text();
    assert.equal(res.status, status, text);
    assert.equal(res.headers.get('x-goog-hash'), null);
    assert.notEqual(res.headers.get('content-type'), 'application/x-gzip');
    assert.equal(typeof (JSON.parse(text) as { error: unknown }).error, 'string');
  }

  before(async () => {
    t = await startTestServer(await newDatabase());
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    orgA = t.admin.organizationId;
    sessions = new Http2SessionManager(t.url);
    const transport = grpcTransport(t.url, { sessionManager: sessions });
    app = createPromiseClient(AppService, transport);
    robot = createPromiseClient(RobotService, transport);
    packages = createPromiseClient(PackageService, transport);
    auth = createPromiseClient(AuthService, transport);
    ownerToken = (
      await auth.authenticate({
        entity: t.admin.apiKeyId,
        credentials: { type: 'api-key', payload: t.admin.apiKey },
      })
    ).accessToken;
    orgB = (await admin.createOrganization('Org B'))?.id ?? '';
    machineA = await newMachine(orgA, 'rover-a');
    machineB = await newMachine(orgB, 'rover-b');

    await admin.createModule(orgA, 'mover');
    await admin.updateModule(`${orgA}:mover`, appApi.Visibility.PRIVATE, '', '', [], 'bin/mover');
    await upload(`${orgA}:mover`, '1.0.0', 'linux/arm64', arm64);
    await upload(`${orgA}:mover`, '1.0.0', 'any', anyPlatform);
  });

  after(async () => {
    sessions.abort();
    await t.stop();
  });

  it('the whole module path: Config, GetPackage, HEAD and GET as viam-server makes them', async () => {
    const moduleId = `${orgA}:mover`;
    const packageName = `${orgA}_mover`;
    await setConfig(machineA, {
      modules: [{ type: 'registry', name: 'mover-module', module_id: moduleId, version: 'latest' }],
    });

    // Config for a linux/arm64 machine names the package and the executable inside it.
    const config = await configOf(machineA, 'linux/arm64');
    assert.deepEqual(
      config.packages.map((p) => ({ name: p.name, package: p.package, version: p.version, type: p.type })),
      [{ name: packageName, package: `${orgA}/mover`, version: '1.0.0', type: 'module' }],
    );
    const [module] = config.modules;
    assert.equal(module?.name, 'mover-module');
    assert.equal(module?.type, 'registry');
    assert.equal(module?.moduleId, moduleId);
    assert.equal(module?.path, `\${packages.module.${packageName}}/bin/mover`);
    assert.equal(module?.status, undefined);

    // GetPackage with the part's token, as the package manager asks: id, version, type, include_url.
    const got = await packages.getPackage(
      { id: `${orgA}/mover`, version: '1.0.0', type: PackageType.MODULE, includeUrl: true },
      bearer(machineA.token),
    );
    assert.equal(got.package?.info?.platform, 'linux/arm64', "the machine's platform picks the file");
    assert.equal(got.package?.info?.type, PackageType.MODULE);
    const url = got.package?.url ?? '';
    assert.ok(url.startsWith(`${t.url}/packages/`), url);

    // HEAD with part_id / secret: exactly what viam-server checks before downloading.
    const head = await fetchAs(url, machineA, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'application/x-gzip');
    assert.equal(head.headers.get('content-length'), String(arm64.length));
    assert.equal(head.headers.get('x-goog-hash'), googHashOf(arm64));
    assert.equal(head.headers.get('accept-ranges'), 'bytes');
    assert.equal((await head.arrayBuffer()).byteLength, 0);

    // GET: the exact bytes.
    const body = Buffer.from(await (await fetchAs(url, machineA)).arrayBuffer());
    assert.ok(body.equals(arm64), 'downloaded bytes differ');

    // A resumed download: the rest of the file from where the partial one stopped.
    const ranged = await fetchAs(url, machineA, { range: 'bytes=1000-' });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get('content-range'), `bytes 1000-${arm64.length - 1}/${arm64.length}`);
    assert.equal(ranged.headers.get('content-length'), String(arm64.length - 1000));
    assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(arm64.subarray(1000)));
    const middle = await fetchAs(url, machineA, { range: 'bytes=10-19' });
    assert.equal(middle.status, 206);
    assert.ok(Buffer.from(await middle.arrayBuffer()).equals(arm64.subarray(10, 20)));
    const beyond = await fetchAs(url, machineA, { range: `bytes=${arm64.length}-` });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), `bytes */${arm64.length}`);
    assert.equal((await beyond.arrayBuffer()).byteLength, 0);

    // The signed URL alone (no header) is enough, until it expires.
    assert.ok(Buffer.from(await (await fetchAs(url, undefined)).arrayBuffer()).equals(arm64));

    // A wrong secret, a tampered signature, an expired URL: no bytes.
    const path = new URL(url).pathname;
    const wrongSecret = await fetch(`${t.url}${path}`, {
      headers: { part_id: machineA.partId, secret: `${machineA.secret}x` },
    });
    await expectNoBytes(wrongSecret, 401);
    const signature = new URL(url).searchParams.get('signature') ?? '';
    const tampered = url.replace(signature, `${signature[0] === '0' ? '1' : '0'}${signature.slice(1)}`);
    await expectNoBytes(await fetchAs(tampered, undefined), 403);
    const otherFile = url.replace(path, `/packages/${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}`);
    await expectNoBytes(await fetchAs(otherFile, undefined), 403);
    const signer = new UrlSigner(loadServerKeys(t.dataDir).tokenSigningKey);
    const expired = `${t.url}${path}?${signer.query(path, Math.floor(Date.now() / 1000) - 5)}`;
    await expectNoBytes(await fetchAs(expired, undefined), 403);
    await expectNoBytes(await fetchAs(`${t.url}${path}`, undefined), 401);

    // Another organization's machine: the package does not exist for it.
    await expectCode(
      packages.getPackage(
        { id: `${orgA}/mover`, version: '1.0.0', includeUrl: true },
        bearer(machineB.token),
      ),
      Code.NotFound,
    );
    await expectNoBytes(await fetchAs(`${t.url}${path}`, machineB), 404);

    // A machine that says nothing of its platform gets the `any` file.
    const anyFile = await packages.getPackage(
      { id: `${orgA}/mover`, version: '1.0.0', platform: 'darwin/arm64', includeUrl: true },
      bearer(machineA.token),
    );
    assert.equal(anyFile.package?.info?.platform, 'any');
    const anyBody = await fetchAs(anyFile.package?.url ?? '', machineA);
    assert.equal(anyBody.headers.get('x-goog-hash'), googHashOf(anyPlatform));
    assert.ok(Buffer.from(await anyBody.arrayBuffer()).equals(anyPlatform));

    // Uploading 1.1.0 changes what `latest` resolves to, and so the revision machines poll.
    const before = config.revision;
    const newer = tarball('mover 1.1.0 linux/arm64');
    await upload(moduleId, '1.1.0', 'linux/arm64', newer);
    const after = await configOf(machineA, 'linux/arm64');
    assert.notEqual(after.revision, before);
    assert.equal(after.packages[0]?.version, '1.1.0');
    const latest = await packages.getPackage(
      { id: `${orgA}/mover`, version: '1.1.0', type: PackageType.MODULE, includeUrl: true },
      bearer(machineA.token),
    );
    const latestHead = await fetchAs(latest.package?.url ?? '', machineA, { method: 'HEAD' });
    assert.equal(latestHead.headers.get('x-goog-hash'), googHashOf(newer));
  });

  it('CreatePackage, ListPackages, GetPackage and DeletePackage for ML models; refusals change nothing', async () => {
    const model = tarball('detector v1', 80_000);
    const create = (messages: PartialMessage<CreatePackageRequest>[], token = ownerToken) =>
      packages.createPackage(createAsyncIterable(messages), bearer(token));
    const list = (token = ownerToken) =>
      packages.listPackages({ organizationId: orgA, type: PackageType.ML_MODEL }, bearer(token));
    const info = { organizationId: orgA, name: 'detector', type: PackageType.ML_MODEL };

    const created = await create(packageMessages({ ...info, version: '2026-01-01T00-00-00' }, model));
    assert.deepEqual(
      { id: created.id, version: created.version },
      { id: `${orgA}/detector`, version: '2026-01-01T00-00-00' },
    );
    const v2 = tarball('detector v2', 90_000);
    await create(packageMessages({ ...info, version: '2026-02-01T00-00-00', platform: 'linux/arm64' }, v2));

    const listed = await list();
    assert.deepEqual(
      listed.packages.map((p) => [p.id, p.info?.version, p.info?.platform, p.info?.files[0]?.size]),
      [
        [`${orgA}/detector`, '2026-01-01T00-00-00', 'any', BigInt(model.length)],
        [`${orgA}/detector`, '2026-02-01T00-00-00', 'linux/arm64', BigInt(v2.length)],
      ],
    );
    assert.equal(listed.packages[0]?.url, '', 'no URL unless asked for');
    // The machine of the organization reads it; the other organization's does not see it.
    assert.equal((await list(machineA.token)).packages.length, 2);
    await expectCode(list(machineB.token), Code.NotFound);

    // `latest` on a machine that says linux/arm64 (Viam's CLI suffix), with a URL that downloads it.
    const latest = await packages.getPackage(
      { id: `${orgA}/detector`, version: 'latest-linux-arm64', includeUrl: true },
      bearer(ownerToken),
    );
    assert.equal(latest.package?.info?.version, '2026-02-01T00-00-00');
    const res = await fetch(latest.package?.url ?? '');
    assert.equal(res.headers.get('x-goog-hash'), googHashOf(v2));
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(v2));
    // Without a platform, `latest` is the newest with a file for `any`.
    const anyLatest = await packages.getPackage({ id: `${orgA}/detector`, version: '' }, bearer(ownerToken));
    assert.equal(anyLatest.package?.info?.version, '2026-01-01T00-00-00');
    assert.equal(anyLatest.package?.checksum, googHashOf(model).slice('crc32c='.length));

    // Refusals: each changes nothing.
    const refused = async (call: () => Promise<unknown>, code: Code) => {
      const before = (await list()).packages.map((p) => `${p.info?.version} ${p.info?.platform}`);
      await expectCode(call(), code);
      assert.deepEqual(
        (await list()).packages.map((p) => `${p.info?.version} ${p.info?.platform}`),
        before,
      );
    };
    await refused(
      () => create(packageMessages({ ...info, version: 'v3' }, Buffer.from('not gzip at all'))),
      Code.InvalidArgument,
    );
    await refused(
      () => create(packageMessages({ ...info, version: '2026-01-01T00-00-00' }, model)),
      Code.AlreadyExists,
    );
    await refused(() => create(packageMessages({ ...info, version: 'latest' }, model)), Code.InvalidArgument);
    await refused(
      () => create(packageMessages({ ...info, version: 'v3', type: PackageType.UNSPECIFIED }, model)),
      Code.InvalidArgument,
    );
    await refused(
      () => create(packageMessages({ ...info, name: 'mover', version: 'v3' }, model)),
      Code.FailedPrecondition,
    );
    await refused(
      () => create(packageMessages({ ...info, organizationId: orgB, version: 'v3' }, model), machineA.token),
      Code.PermissionDenied,
    );
    await refused(() => create([{ package: { case: 'contents', value: model } }]), Code.InvalidArgument);
    await refused(
      () => packages.deletePackage({ id: `${orgA}/detector`, version: 'nope' }, bearer(ownerToken)),
      Code.NotFound,
    );
    await refused(
      () =>
        packages.deletePackage(
          { id: `${orgA}/detector`, version: '2026-01-01T00-00-00' },
          bearer(machineA.token),
        ),
      Code.PermissionDenied,
    );
    await refused(
      () => packages.deletePackage({ id: 'detector', version: '1' }, bearer(ownerToken)),
      Code.InvalidArgument,
    );
    await expectCode(
      packages.getPackage({ id: `${orgA}/nothing`, version: '1' }, bearer(ownerToken)),
      Code.NotFound,
    );
    await expectCode(
      packages.getPackage({ id: `${orgA}/detector`, version: 'v9' }, bearer(ownerToken)),
      Code.NotFound,
    );
    await expectCode(
      packages.getPackage(
        { id: `${orgA}/detector`, version: 'latest', type: PackageType.MODULE },
        bearer(ownerToken),
      ),
      Code.NotFound,
    );

    // A module version through CreatePackage is a module file like UploadModuleFile's.
    const mod = tarball('mover 3.0.0 darwin/arm64');
    const moduleInfo = {
      organizationId: orgA,
      name: 'mover',
      type: PackageType.MODULE,
      platform: 'darwin/arm64',
    };
    await refused(() => create(packageMessages({ ...moduleInfo, version: 'v3' }, mod)), Code.InvalidArgument);
    await create(packageMessages({ ...moduleInfo, version: '3.0.0' }, mod));
    const module = await admin.getModule(`${orgA}:mover`);
    const v3 = module?.versions.find((v) => v.version === '3.0.0');
    assert.deepEqual(
      v3?.files.map((f) => f.platform),
      ['darwin/arm64'],
    );
    assert.equal(v3?.entrypoint, 'bin/mover');
    await expectCode(
      create(packageMessages({ ...moduleInfo, name: 'no-such-module', version: '1.0.0' }, mod)),
      Code.NotFound,
    );

    // Delete a version: its file no longer downloads; the other version stays.
    const url = latest.package?.url ?? '';
    await packages.deletePackage(
      { id: `${orgA}/detector`, version: '2026-02-01T00-00-00' },
      bearer(ownerToken),
    );
    assert.deepEqual(
      (await list()).packages.map((p) => p.info?.version),
      ['2026-01-01T00-00-00'],
    );
    assert.equal((await fetch(url)).status, 404);
  });

  it('a module with no usable version is served with its reason, and the rest of the config with it', async () => {
    await admin.createModule(orgA, 'arm-only');
    await admin.updateModule(`${orgA}:arm-only`, appApi.Visibility.PRIVATE, '', '', [], 'run.sh');
    await upload(`${orgA}:arm-only`, '0.1.0', 'linux/arm64', tarball('arm-only'));
    await upload(`${orgA}:arm-only`, '0.2.0-rc.1', 'linux/arm64', tarball('arm-only rc'));
    await setConfig(machineA, {
      components: [{ name: 'base', api: 'rdk:component:base', model: 'rdk:builtin:fake' }],
      modules: [
        { type: 'registry', name: 'pinned', module_id: `${orgA}:mover`, version: '1.0.0' },
        { type: 'registry', name: 'missing-version', module_id: `${orgA}:mover`, version: '9.9.9' },
        { type: 'registry', name: 'wrong-platform', module_id: `${orgA}:arm-only`, version: 'latest' },
        { type: 'registry', name: 'nowhere', module_id: `${orgB}:mover`, version: 'latest' },
        { type: 'local', name: 'local-one', executable_path: '/opt/local/run' },
      ],
      packages: [{ name: 'detector', package: `${orgA}/detector`, type: 'ml_model' }],
    });
    const amd = await configOf(machineA, 'linux/amd64');
    assert.deepEqual(
      amd.modules.map((m) => [m.name, m.path, m.status?.error ?? '']),
      [
        ['pinned', `\${packages.module.${orgA}_mover}/bin/mover`, ''],
        [
          'missing-version',
          '',
          `module ${orgA}:mover has no version "9.9.9" with a file for platform linux/amd64`,
        ],
        [
          'wrong-platform',
          '',
          `module ${orgA}:arm-only has no version "latest" with a file for platform linux/amd64`,
        ],
        ['nowhere', '', `module ${orgB}:mover was not found in the registry`],
        ['local-one', '/opt/local/run', ''],
      ],
    );
    assert.deepEqual(
      amd.components.map((c) => c.name),
      ['base'],
    );
    // The user's own package is served as written; no version means the latest.
    assert.deepEqual(
      amd.packages.map((p) => [p.name, p.package, p.version, p.type]),
      [
        ['detector', `${orgA}/detector`, 'latest', 'ml_model'],
        [`${orgA}_mover`, `${orgA}/mover`, '1.0.0', 'module'],
      ],
    );
    // On linux/arm64 the arm-only module resolves, and `latest` skips its prerelease.
    const arm = await configOf(machineA, 'linux/arm64');
    assert.equal(
      arm.modules.find((m) => m.name === 'wrong-platform')?.path,
      `\${packages.module.${orgA}_arm-only}/run.sh`,
    );
    assert.equal(arm.packages.find((p) => p.name === `${orgA}_arm-only`)?.version, '0.1.0');
    // `latest-with-prerelease` takes it.
    await setConfig(machineA, {
      modules: [
        { type: 'registry', name: 'rc', module_id: `${orgA}:arm-only`, version: 'latest-with-prerelease' },
      ],
    });
    const rc = await configOf(machineA, 'linux/arm64');
    assert.deepEqual(
      rc.packages.map((p) => `${p.name}@${p.version}`),
      [`${orgA}_arm-only@0.2.0-rc.1`],
    );
    await setConfig(machineA, {});
  });
});
