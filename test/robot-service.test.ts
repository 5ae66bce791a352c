import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { Code, createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import { appApi, appRobotApi, type AppClient } from '@viamrobotics/sdk';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { AppService, RobotService } from '../src/rpc/service-descriptors.generated.js';
import { structFromObject } from '../src/rpc/wire-values.js';
import { bearer, grpcTransport } from './support/clients.js';
import { forEachDialect } from './support/databases.js';
import { expectCode } from './support/expect.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * Plays the machine as viam-server does: native gRPC over HTTP/2 cleartext, authenticating with
 * the part secret, then calling viam.app.v1.RobotService (Config, Log, NeedsRestart, Certificate)
 * for itself. The owner's side is the real SDK client.
 */

/** The main part's config: two components (one with attributes and a frame), a service, a module. */
const MAIN_CONFIG = {
  components: [
    {
      name: 'left-motor',
      api: 'rdk:component:motor',
      model: 'rdk:builtin:gpio',
      attributes: { board: 'local', max_rpm: 300, pins: { a: '11', b: '13' }, reversed: true },
      depends_on: ['local'],
      frame: {
        parent: 'world',
        translation: { x: 1, y: 2.5, z: -3 },
        orientation: { type: 'ov_degrees', value: { th: 90, x: 0, y: 0, z: 1 } },
      },
    },
    { name: 'local', type: 'board', model: 'pi' },
  ],
  services: [{ name: 'nav', api: 'rdk:service:navigation', model: 'builtin', attributes: { store: 'mem' } }],
  modules: [
    { name: 'my-module', executable_path: '/opt/my-module/run.sh', log_level: 'debug', type: 'local' },
  ],
};

const AGENT_INFO = {
  host: 'rover-one.lan',
  os: 'linux',
  ips: ['192.168.1.20', '10.0.0.7'],
  version: '0.52.0',
  gitRevision: 'abc123',
  platform: 'linux/arm64',
};

/*
 * Machines' native gRPC calls are served by the lean path (src/server/lean-grpc.ts) unless
 * FLOTILLA_MACHINE_FAST_PATH=off; the whole suite runs against both, which must behave alike.
 */
for (const [path, fastPath] of [
  ['lean path', 'on'],
  ['framework path', 'off'],
] as const) {
  forEachDialect(`RobotService: the machine side over native gRPC, ${path}`, (newDatabase) => {
    let t: TestServer;
    let admin: AppClient;
    let robot: PromiseClient<typeof RobotService>;
    let auth: PromiseClient<typeof AuthService>;
    let rawApp: PromiseClient<typeof AppService>;

    let locationId: string;
    let machineId: string;
    /** The main part ("Rover One-main") with MAIN_CONFIG. */
    let partId: string;
    let partSecret: string;
    let partToken: string;
    /** A second part of the same machine, config `{}`. */
    let emptyPartId: string;
    let emptyPartSecret: string;

    /** Authenticates a part with one of its secrets through the raw AuthService; the access token. */
    const partLogin = async (entity: string, secret: string) =>
      (await auth.authenticate({ entity, credentials: { type: 'robot-secret', payload: secret } }))
        .accessToken;

    /** The part's secrets as the owner reads them. */
    const secretsOf = async (id: string) =>
      ((await admin.getRobotPart(id)).part?.secrets ?? []).map((s) => ({ id: s.id, secret: s.secret }));

    const partOf = async (id: string) => {
      const part = (await admin.getRobotPart(id)).part;
      assert.ok(part, `part ${id} missing`);
      return part;
    };

    /** Comparable log lines of a part, newest first, as the owner reads them. */
    const logLines = async (id: string) =>
      (await admin.getRobotPartLogs(id)).logs.map((l) => `${l.level}|${l.message}`);

    before(async () => {
      t = await startTestServer(await newDatabase(), { FLOTILLA_MACHINE_FAST_PATH: fastPath });
      admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
      const transport = grpcTransport(t.url);
      robot = createPromiseClient(RobotService, transport);
      auth = createPromiseClient(AuthService, transport);
      rawApp = createPromiseClient(AppService, transport);

      const location = await admin.createLocation(t.admin.organizationId, 'Robot Yard');
      assert.ok(location);
      locationId = location.id;
      // Two location secrets, so that `location_secrets` must carry all of them.
      await admin.createLocationSecret(locationId);
      machineId = await admin.newRobot(locationId, 'Rover One');
      const main = (await admin.getRobotParts(machineId)).find((p) => p.mainPart);
      assert.ok(main);
      partId = main.id;
      await admin.updateRobotPart(partId, main.name, structFromObject(MAIN_CONFIG));
      partSecret = (await secretsOf(partId))[0]?.secret ?? '';
      assert.notEqual(partSecret, '');
      emptyPartId = await admin.newRobotPart(machineId, 'Arm Unit');
      emptyPartSecret = (await secretsOf(emptyPartId))[0]?.secret ?? '';
      assert.notEqual(emptyPartSecret, '');
      partToken = await partLogin(partId, partSecret);
    });
    after(() => t.stop());

    it('Authenticate: the part secret gives a token; wrong secret, unknown part, another part’s secret are UNAUTHENTICATED', async () => {
      assert.match(partToken, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      await expectCode(partLogin(partId, randomBytes(24).toString('base64url')), Code.Unauthenticated);
      await expectCode(partLogin(partId, ''), Code.Unauthenticated);
      await expectCode(partLogin(randomUUID(), partSecret), Code.Unauthenticated);
      await expectCode(partLogin(partId, emptyPartSecret), Code.Unauthenticated);
      await expectCode(partLogin(emptyPartId, partSecret), Code.Unauthenticated);
      // The api-key type does not take a part secret either.
      await expectCode(
        auth.authenticate({ entity: partId, credentials: { type: 'api-key', payload: partSecret } }),
        Code.Unauthenticated,
      );
    });

    it('Config: every cloud field, the converted config, last access and agent info', async () => {
      const before = await partOf(partId);
      assert.equal(before.lastAccess, undefined, 'a part that never called has no last access');
      assert.equal(before.onlineState, appApi.OnlineState.AWAITING_SETUP);

      const started = Date.now();
      const res = await robot.config({ id: partId, agentInfo: AGENT_INFO }, bearer(partToken));
      const config = res.config;
      assert.ok(config, 'Config returned no config');

      // cloud
      const cloud = config.cloud;
      assert.ok(cloud, 'Config returned no cloud section');
      assert.equal(cloud.id, partId);
      assert.equal(cloud.fqdn, `rover-one-main.${locationId}.flotilla.local`);
      assert.equal(cloud.localFqdn, `rover-one-main.${locationId}.local.flotilla.local`);
      assert.equal(cloud.fqdn, before.fqdn);
      assert.equal(cloud.localFqdn, before.localFqdn);
      assert.equal(cloud.secret, partSecret);
      const locAuth = await admin.locationAuth(locationId);
      assert.ok(locAuth);
      assert.equal(locAuth.secrets.length, 2);
      assert.notEqual(locAuth.secret, '');
      assert.equal(cloud.locationSecret, locAuth.secret);
      const byId = (a: { id: string; secret: string }, b: { id: string }) => a.id.localeCompare(b.id);
      assert.deepEqual(
        cloud.locationSecrets.map((s) => ({ id: s.id, secret: s.secret })).sort(byId),
        locAuth.secrets.map((s) => ({ id: s.id, secret: s.secret })).sort(byId),
      );
      assert.ok(cloud.locationSecrets.every((s) => s.id !== '' && s.secret !== ''));
      assert.equal(cloud.locationId, locationId);
      assert.equal(cloud.machineId, machineId);
      assert.equal(cloud.primaryOrgId, t.admin.organizationId);
      assert.equal(cloud.signalingInsecure, true);

      // converted sections
      assert.deepEqual(
        config.components.map((c) => c.name),
        ['left-motor', 'local'],
      );
      const [motor, board] = config.components;
      assert.ok(motor && board);
      assert.equal(motor.api, 'rdk:component:motor');
      assert.equal(motor.namespace, 'rdk');
      assert.equal(motor.type, 'motor');
      assert.equal(motor.model, 'rdk:builtin:gpio');
      assert.deepEqual(motor.attributes?.toJson(), {
        board: 'local',
        max_rpm: 300,
        pins: { a: '11', b: '13' },
        reversed: true,
      });
      assert.deepEqual(motor.dependsOn, ['local']);
      assert.equal(motor.frame?.parent, 'world');
      assert.deepEqual(
        { x: motor.frame?.translation?.x, y: motor.frame?.translation?.y, z: motor.frame?.translation?.z },
        { x: 1, y: 2.5, z: -3 },
      );
      const orientation = motor.frame?.orientation?.type;
      assert.equal(orientation?.case, 'vectorDegrees');
      assert.deepEqual(
        orientation?.case === 'vectorDegrees'
          ? {
              theta: orientation.value.theta,
              x: orientation.value.x,
              y: orientation.value.y,
              z: orientation.value.z,
            }
          : undefined,
        { theta: 90, x: 0, y: 0, z: 1 },
      );
      assert.equal(board.api, 'rdk:component:board');
      assert.equal(board.type, 'board');
      assert.equal(board.namespace, 'rdk');
      assert.equal(board.model, 'pi');
      assert.equal(config.services.length, 1);
      assert.equal(config.services[0]?.name, 'nav');
      assert.equal(config.services[0]?.api, 'rdk:service:navigation');
      assert.equal(config.services[0]?.model, 'builtin');
      assert.deepEqual(config.services[0]?.attributes?.toJson(), { store: 'mem' });
      assert.equal(config.modules.length, 1);
      assert.equal(config.modules[0]?.name, 'my-module');
      assert.equal(config.modules[0]?.path, '/opt/my-module/run.sh');
      assert.equal(config.modules[0]?.logLevel, 'debug');
      assert.equal(config.modules[0]?.type, 'local');

      // last access, online state, agent info
      const after = await partOf(partId);
      assert.ok(after.lastAccess, 'GetRobotPart shows no last access after Config');
      const seenMs = after.lastAccess.toDate().getTime();
      assert.ok(seenMs >= started - 2000 && seenMs <= Date.now() + 2000, `lastAccess ${seenMs} not now`);
      assert.equal(after.onlineState, appApi.OnlineState.ONLINE);
      const summaries = await admin.listMachineSummaries(t.admin.organizationId, [], [locationId]);
      const summary = summaries
        .flatMap((l) => l.machineSummaries)
        .find((m) => m.machineId === machineId)
        ?.partSummaries.find((p) => p.partId === partId);
      assert.ok(summary, 'the part is missing from the machine summaries');
      assert.equal(summary.os, 'linux');
      assert.equal(summary.platform, 'linux/arm64');
      assert.equal(summary.onlineState, appApi.OnlineState.ONLINE);
      assert.ok(summary.lastAccess);
    });

    it('Config: the revision is stable without a change and changes after UpdateRobotPart', async () => {
      const first = (await robot.config({ id: partId }, bearer(partToken))).config?.revision ?? '';
      const second = (await robot.config({ id: partId }, bearer(partToken))).config?.revision ?? '';
      assert.notEqual(first, '');
      assert.equal(second, first);

      const changed = { ...MAIN_CONFIG, debug: true };
      await admin.updateRobotPart(partId, 'Rover One-main', structFromObject(changed));
      const third = (await robot.config({ id: partId }, bearer(partToken))).config;
      assert.ok(third);
      assert.notEqual(third.revision, '');
      assert.notEqual(third.revision, first);
      assert.equal(third.debug, true);
      assert.equal((await robot.config({ id: partId }, bearer(partToken))).config?.revision, third.revision);

      // Back to the original config: `debug` is absent again and the revision moves again.
      await admin.updateRobotPart(partId, 'Rover One-main', structFromObject(MAIN_CONFIG));
      const fourth = (await robot.config({ id: partId }, bearer(partToken))).config;
      assert.equal(fourth?.debug, undefined);
      assert.notEqual(fourth?.revision, third.revision);
    });

    it('Config of a part with a `{}` config: an empty RobotConfig with cloud filled', async () => {
      assert.equal((await admin.getRobotPart(emptyPartId)).configJson.replace(/\s/g, ''), '{}');
      const token = await partLogin(emptyPartId, emptyPartSecret);
      const config = (await robot.config({ id: emptyPartId }, bearer(token))).config;
      assert.ok(config);
      assert.notEqual(config.revision, '');
      const cloud = config.cloud;
      assert.ok(cloud);
      assert.equal(cloud.id, emptyPartId);
      assert.equal(cloud.fqdn, `arm-unit.${locationId}.flotilla.local`);
      assert.equal(cloud.localFqdn, `arm-unit.${locationId}.local.flotilla.local`);
      assert.equal(cloud.secret, emptyPartSecret);
      assert.equal(cloud.locationId, locationId);
      assert.equal(cloud.machineId, machineId);
      assert.equal(cloud.primaryOrgId, t.admin.organizationId);
      assert.equal(cloud.signalingInsecure, true);
      assert.equal(cloud.locationSecrets.length, 2);
      assert.notEqual(cloud.locationSecret, '');

      const rest = config.clone();
      rest.cloud = undefined;
      rest.revision = '';
      assert.ok(
        rest.equals(new appRobotApi.RobotConfig()),
        `expected an empty RobotConfig, got ${JSON.stringify(rest.toJson())}`,
      );
      assert.equal((await partOf(emptyPartId)).onlineState, appApi.OnlineState.ONLINE);
    });

    it('Log: entries are stored with lowercase levels and read back newest first', async () => {
      assert.deepEqual(await logLines(partId), []);
      const base = Math.floor(Date.now() / 1000) - 60;
      const entry = (offset: number, level: string, message: string) => ({
        host: 'rover-one.lan',
        level,
        time: { seconds: BigInt(base + offset), nanos: 0 },
        loggerName: 'rdk.resource_manager',
        message,
        stack: '',
        fields: [],
      });
      await robot.log(
        {
          id: partId,
          logs: [
            {
              ...entry(0, 'Info', 'first'),
              caller: structFromObject({ File: 'main.go', Line: 42, Defined: true }),
            },
            { ...entry(1, 'ERROR', 'second'), fields: [structFromObject({ motor: 'left', rpm: 10 })] },
            entry(2, 'debug', 'third'),
          ],
        },
        bearer(partToken),
      );
      const logs = (await admin.getRobotPartLogs(partId)).logs;
      assert.deepEqual(
        logs.map((l) => [l.level, l.message]),
        [
          ['debug', 'third'],
          ['error', 'second'],
          ['info', 'first'],
        ],
      );
      const [third, second, first] = logs;
      assert.ok(first && second && third);
      assert.equal(first.host, 'rover-one.lan');
      assert.equal(first.loggerName, 'rdk.resource_manager');
      assert.equal(Number(first.time?.seconds), base);
      assert.equal(Number(third.time?.seconds), base + 2);
      assert.deepEqual(first.caller?.toJson(), { File: 'main.go', Line: 42, Defined: true });
      assert.deepEqual(
        second.fields.map((f) => f.toJson()),
        [{ motor: 'left', rpm: 10 }],
      );
    });

    it('Log: more than 1000 entries, or an unknown level, is INVALID_ARGUMENT and stores nothing', async () => {
      const stored = await logLines(partId);
      assert.equal(stored.length, 3);
      const now = { seconds: BigInt(Math.floor(Date.now() / 1000)), nanos: 0 };
      const line = (i: number, level = 'info') => ({
        host: 'h',
        level,
        time: now,
        loggerName: 'l',
        message: `bulk ${i}`,
        stack: '',
        fields: [],
      });
      await expectCode(
        robot.log({ id: partId, logs: Array.from({ length: 1001 }, (_, i) => line(i)) }, bearer(partToken)),
        Code.InvalidArgument,
      );
      assert.deepEqual(await logLines(partId), stored);
      await expectCode(
        robot.log({ id: partId, logs: [line(0), line(1, 'verbose'), line(2)] }, bearer(partToken)),
        Code.InvalidArgument,
      );
      assert.deepEqual(await logLines(partId), stored);
      // Exactly 1000 is allowed.
      await robot.log(
        { id: partId, logs: Array.from({ length: 1000 }, (_, i) => line(i)) },
        bearer(partToken),
      );
      const afterBulk = await logLines(partId);
      assert.ok(afterBulk.length > stored.length, 'a batch of 1000 entries was not stored');
      // Same timestamp: the later arrival is the newer entry.
      assert.equal(afterBulk[0], 'info|bulk 999');
    });

    it('Log: a call, with entries or none, records the part as seen', async () => {
      const quietId = await admin.newRobotPart(machineId, 'Quiet Unit');
      const quietToken = await partLogin(quietId, (await secretsOf(quietId))[0]?.secret ?? '');
      assert.equal((await partOf(quietId)).lastAccess, undefined);
      const started = Date.now();
      await robot.log({ id: quietId, logs: [] }, bearer(quietToken));
      const seen = await partOf(quietId);
      assert.ok(seen.lastAccess, 'an empty Log call left no last access');
      assert.ok(seen.lastAccess.toDate().getTime() >= started - 2000);
      assert.equal(seen.onlineState, appApi.OnlineState.ONLINE);
      await admin.deleteRobotPart(quietId);
    });

    it('NeedsRestart: true exactly once after MarkPartForRestart; check interval 5 s', async () => {
      const ask = () => robot.needsRestart({ id: partId }, bearer(partToken));
      const idle = await ask();
      assert.equal(idle.id, partId);
      assert.equal(idle.mustRestart, false);
      assert.equal(idle.restartCheckInterval?.seconds, 5n);
      assert.equal(idle.restartCheckInterval?.nanos, 0);

      await admin.markPartForRestart(partId);
      const told = await ask();
      assert.equal(told.mustRestart, true);
      assert.equal(told.restartCheckInterval?.seconds, 5n);
      assert.equal((await ask()).mustRestart, false);
      assert.equal((await ask()).mustRestart, false);
    });

    it('Certificate: a chain and key for the part’s addresses, issued by the data directory’s CA', async () => {
      const res = await robot.certificate({ id: partId }, bearer(partToken));
      assert.equal(res.id, partId);
      const pems =
        res.tlsCertificate.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
      assert.equal(pems.length, 2, 'expected a chain of the leaf and the CA');
      const [leafPem, chainCaPem] = pems;
      assert.ok(leafPem && chainCaPem);
      const leaf = new X509Certificate(leafPem);
      const ca = new X509Certificate(readFileSync(join(t.dataDir, 'ca.pem')));
      assert.equal(new X509Certificate(chainCaPem).fingerprint256, ca.fingerprint256);
      assert.ok(leaf.verify(ca.publicKey), 'the leaf does not verify against <dataDir>/ca.pem');
      assert.ok(leaf.checkIssued(ca));
      assert.equal(leaf.verify(leaf.publicKey), false, 'the leaf must not be self-signed');
      assert.equal(leaf.ca, false);
      assert.ok(new Date(leaf.validTo).getTime() > Date.now());
      assert.ok(new Date(leaf.validFrom).getTime() <= Date.now());

      const part = await partOf(partId);
      assert.equal(leaf.checkHost(part.fqdn), part.fqdn);
      assert.equal(leaf.checkHost(part.localFqdn), part.localFqdn);
      assert.equal(leaf.checkHost(`other.${locationId}.flotilla.local`), undefined);
      const san = (leaf.subjectAltName ?? '').split(',').map((s) => s.trim());
      assert.ok(san.includes(`DNS:${part.fqdn}`), `SAN ${leaf.subjectAltName} lacks the fqdn`);
      assert.ok(san.includes(`DNS:${part.localFqdn}`), `SAN ${leaf.subjectAltName} lacks the local fqdn`);

      assert.match(res.tlsPrivateKey, /^-----BEGIN RSA PRIVATE KEY-----/);
      const key = createPrivateKey(res.tlsPrivateKey);
      assert.ok(leaf.checkPrivateKey(key), 'the private key does not match the certificate');
      assert.deepEqual(
        createPublicKey(key).export({ type: 'spki', format: 'der' }),
        leaf.publicKey.export({ type: 'spki', format: 'der' }),
      );
    });

    it('Access: a part token is refused on AppService, including about itself, and changes nothing', async () => {
      const before = await admin.getRobotPart(partId);
      await expectCode(rawApp.listOrganizations({}, bearer(partToken)), Code.PermissionDenied);
      await expectCode(rawApp.getRobotPart({ id: partId }, bearer(partToken)), Code.PermissionDenied);
      await expectCode(
        rawApp.getRobotParts({ robotId: machineId }, bearer(partToken)),
        Code.PermissionDenied,
      );
      await expectCode(rawApp.markPartForRestart({ partId }, bearer(partToken)), Code.PermissionDenied);
      await expectCode(
        rawApp.updateRobotPart(
          { id: partId, name: 'Renamed', robotConfig: structFromObject({ debug: true }) },
          bearer(partToken),
        ),
        Code.PermissionDenied,
      );
      await expectCode(rawApp.createRobotPartSecret({ partId }, bearer(partToken)), Code.PermissionDenied);
      await expectCode(
        rawApp.newRobot({ location: locationId, name: 'Sneaky' }, bearer(partToken)),
        Code.PermissionDenied,
      );

      const after = await admin.getRobotPart(partId);
      assert.equal(after.part?.name, before.part?.name);
      assert.equal(after.configJson, before.configJson);
      assert.equal(after.part?.secrets.length, before.part?.secrets.length);
      assert.deepEqual(
        (await admin.listRobots(locationId)).map((r) => r.name),
        ['Rover One'],
      );
      assert.equal((await robot.needsRestart({ id: partId }, bearer(partToken))).mustRestart, false);
    });

    it('Access: another part’s token, an API key token and no token are refused on RobotService and change nothing', async () => {
      // A part that has never called, marked for restart: a refused call must neither record access nor consume the flag.
      const idleId = await admin.newRobotPart(machineId, 'Idle Part');
      await admin.markPartForRestart(idleId);
      const apiKeyToken = (
        await auth.authenticate({
          entity: t.admin.apiKeyId,
          credentials: { type: 'api-key', payload: t.admin.apiKey },
        })
      ).accessToken;
      const logEntry = {
        host: 'h',
        level: 'info',
        time: { seconds: BigInt(Math.floor(Date.now() / 1000)), nanos: 0 },
        loggerName: 'l',
        message: 'forged',
        stack: '',
        fields: [],
      };

      const refusals: [string, Code][] = [
        [partToken, Code.PermissionDenied],
        [apiKeyToken, Code.PermissionDenied],
      ];
      for (const [token, code] of refusals) {
        const opts = bearer(token);
        await expectCode(robot.config({ id: idleId, agentInfo: AGENT_INFO }, opts), code);
        await expectCode(robot.log({ id: idleId, logs: [logEntry] }, opts), code);
        await expectCode(robot.needsRestart({ id: idleId }, opts), code);
        await expectCode(robot.certificate({ id: idleId }, opts), code);
      }
      // An API key, even the organization owner's, is not a machine: refused for every part.
      await expectCode(robot.config({ id: partId }, bearer(apiKeyToken)), Code.PermissionDenied);
      await expectCode(robot.needsRestart({ id: partId }, bearer(apiKeyToken)), Code.PermissionDenied);
      // No token at all.
      await expectCode(robot.config({ id: idleId }), Code.Unauthenticated);
      await expectCode(robot.log({ id: idleId, logs: [logEntry] }), Code.Unauthenticated);
      await expectCode(robot.needsRestart({ id: idleId }), Code.Unauthenticated);
      await expectCode(robot.certificate({ id: idleId }), Code.Unauthenticated);
      // A token that is not a token.
      await expectCode(robot.config({ id: idleId }, bearer('not-a-jwt')), Code.Unauthenticated);

      // Nothing changed: never seen, no logs, the restart request still pending.
      const idle = await partOf(idleId);
      assert.equal(idle.lastAccess, undefined);
      assert.equal(idle.onlineState, appApi.OnlineState.AWAITING_SETUP);
      assert.deepEqual(await logLines(idleId), []);
      const idleSecret = (await secretsOf(idleId))[0]?.secret ?? '';
      const idleToken = await partLogin(idleId, idleSecret);
      assert.equal((await robot.needsRestart({ id: idleId }, bearer(idleToken))).mustRestart, true);
      assert.equal((await robot.needsRestart({ id: idleId }, bearer(idleToken))).mustRestart, false);
      // The idle part's own token is refused for the main part in turn.
      await expectCode(robot.config({ id: partId }, bearer(idleToken)), Code.PermissionDenied);
    });

    it('Access: deleting the secret a token was minted with stops the token at once; the remaining secret works', async () => {
      const rotId = await admin.newRobotPart(machineId, 'Rotating Part');
      const [original] = await secretsOf(rotId);
      assert.ok(original);
      const oldToken = await partLogin(rotId, original.secret);
      assert.equal((await robot.needsRestart({ id: rotId }, bearer(oldToken))).mustRestart, false);

      const withTwo = await admin.createRobotPartSecret(rotId);
      assert.equal(withTwo?.secrets.length, 2);
      const added = (await secretsOf(rotId)).find((s) => s.id !== original.id);
      assert.ok(added);
      const newToken = await partLogin(rotId, added.secret);
      // Both secrets work while both exist.
      assert.equal((await robot.needsRestart({ id: rotId }, bearer(oldToken))).mustRestart, false);

      await admin.deleteRobotPartSecret(rotId, original.id);
      assert.deepEqual(
        (await secretsOf(rotId)).map((s) => s.id),
        [added.id],
      );
      await expectCode(robot.needsRestart({ id: rotId }, bearer(oldToken)), Code.Unauthenticated);
      await expectCode(robot.config({ id: rotId }, bearer(oldToken)), Code.Unauthenticated);
      await expectCode(robot.certificate({ id: rotId }, bearer(oldToken)), Code.Unauthenticated);
      await expectCode(partLogin(rotId, original.secret), Code.Unauthenticated);

      // The token minted earlier from the remaining secret, and a fresh one, both work.
      const served = (await robot.config({ id: rotId }, bearer(newToken))).config;
      assert.equal(served?.cloud?.secret, added.secret);
      const fresh = await partLogin(rotId, added.secret);
      assert.equal((await robot.needsRestart({ id: rotId }, bearer(fresh))).id, rotId);
    });
  });
}
