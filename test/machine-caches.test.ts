import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Code, createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import { createAsyncIterable } from '@connectrpc/connect/protocol';
import { appApi, type AppClient } from '@viamrobotics/sdk';
import { loadServerConfig } from '../src/config.js';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { AppService, RobotService } from '../src/rpc/service-descriptors.generated.js';
import { structFromObject } from '../src/rpc/wire-values.js';
import { startServer, type RunningServer } from '../src/server/create-server.js';
import { bearer, grpcTransport } from './support/clients.js';
import { forEachDialect, type TestDatabase } from './support/databases.js';
import { expectCode } from './support/expect.js';
import { seededRandom } from './support/random.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * The machine-facing caches (served configs, restart answers, checked tokens) are never stale.
 * Server A runs as shipped: caches on, machines' native gRPC on the lean path. Server B runs on
 * the same database with every cache off and the framework path. After each of a random
 * sequence of changes made through A (everything a served config or a restart flag is made of),
 * what a machine polling A gets must equal what B computes from scratch.
 */

const PLATFORM = 'linux/amd64';
const AGENT_INFO = {
  host: 'cache-rover',
  os: 'linux',
  ips: ['10.1.2.3'],
  version: '0.60.0',
  platform: PLATFORM,
};
const STEPS = 45;

type Robot = PromiseClient<typeof RobotService>;

forEachDialect(
  'machine caches: a polling machine never gets a stale config or restart answer',
  (newDatabase) => {
    let database: TestDatabase;
    let a: TestServer;
    let b: RunningServer;
    let admin: AppClient;
    let app: PromiseClient<typeof AppService>;
    let robotA: Robot;
    let robotB: Robot;
    let ownerToken: string;
    let organizationId: string;

    let parentLocationId: string;
    let locationId: string;
    let machineId: string;
    let partId: string;
    let loginSecretId: string;
    let partToken: string;
    let moduleId: string;
    /** F1 and F2 are included by the part; F2 includes F3; F4 is included at its tag `stable`. */
    const fragments: Record<'f1' | 'f2' | 'f3' | 'f4', string> = { f1: '', f2: '', f3: '', f4: '' };
    let f4Revisions = 1;
    let moduleVersion = 0;
    let partName = 'rover';
    let machineName = 'Cache Rover';
    let partOwn: Record<string, unknown> = {};
    let withF1 = true;

    const fragmentConfig = (key: string, value: unknown, nested?: string): Record<string, unknown> => ({
      components: [
        { name: `${key}-sensor`, api: 'rdk:component:sensor', model: 'fake', attributes: { value } },
      ],
      ...(nested ? { fragments: [nested] } : {}),
    });

    const partConfig = (): Record<string, unknown> => ({
      components: [
        { name: 'own-motor', api: 'rdk:component:motor', model: 'fake', attributes: { ...partOwn } },
      ],
      modules: [{ type: 'registry', name: 'cache-module', module_id: moduleId, version: 'latest' }],
      fragments: [...(withF1 ? [fragments.f1] : []), fragments.f2, { id: fragments.f4, version: 'stable' }],
    });

    const savePart = () => admin.updateRobotPart(partId, partName, structFromObject(partConfig()));

    async function uploadVersion(): Promise<void> {
      moduleVersion++;
      const messages: appApi.UploadModuleFileRequest[] = [
        new appApi.UploadModuleFileRequest({
          moduleFile: {
            case: 'moduleFileInfo',
            value: { moduleId, version: `1.${moduleVersion}.0`, platform: PLATFORM },
          },
        }),
        new appApi.UploadModuleFileRequest({
          moduleFile: { case: 'file', value: new TextEncoder().encode(`module build ${moduleVersion}`) },
        }),
      ];
      await app.uploadModuleFile(createAsyncIterable(messages), bearer(ownerToken));
    }

    const config = async (robot: Robot) =>
      (await robot.config({ id: partId, agentInfo: AGENT_INFO }, bearer(partToken))).toJson();

    /** A's reply, twice (the second from its cache), against B's computed from scratch. */
    async function expectFresh(step: string): Promise<void> {
      const expected = await config(robotB);
      assert.deepEqual(await config(robotA), expected, `${step}: A served a stale config`);
      assert.deepEqual(await config(robotA), expected, `${step}: A's cached config differs`);
      const restart = await robotA.needsRestart({ id: partId }, bearer(partToken));
      assert.equal(restart.mustRestart, false, `${step}: a restart nobody asked for`);
    }

    before(async () => {
      database = await newDatabase();
      // Caches on whatever the database (on PostgreSQL they are off unless asked for).
      a = await startTestServer(database, { FLOTILLA_MACHINE_CACHE_ENTRIES: '50000' });
      b = await startServer(
        loadServerConfig(
          { dataDir: a.dataDir, listen: '127.0.0.1:0', databaseUrl: database.databaseUrl },
          {
            FLOTILLA_LOG_LEVEL: 'error',
            FLOTILLA_MACHINE_CACHE_ENTRIES: '0',
            FLOTILLA_MACHINE_FAST_PATH: 'off',
          },
        ),
      );
      admin = (await a.clientForKey(a.admin.apiKeyId, a.admin.apiKey)).appClient;
      app = createPromiseClient(AppService, grpcTransport(a.url));
      robotA = createPromiseClient(RobotService, grpcTransport(a.url));
      robotB = createPromiseClient(RobotService, grpcTransport(b.url));
      ownerToken = await a.adminToken();
      organizationId = a.admin.organizationId;

      const created = await admin.createModule(organizationId, 'cache-module');
      moduleId = created.moduleId;
      await admin.updateModule(moduleId, appApi.Visibility.PRIVATE, '', '', [], 'bin/run');
      await uploadVersion();

      const make = async (key: string, nested?: string) =>
        (
          await admin.createFragment(
            organizationId,
            `fragment ${key}`,
            structFromObject(fragmentConfig(key, 0, nested)),
          )
        )?.id ?? assert.fail('no fragment');
      fragments.f3 = await make('f3');
      fragments.f2 = await make('f2', fragments.f3);
      fragments.f1 = await make('f1');
      fragments.f4 = await make('f4');
      await app.setFragmentTag(
        { fragmentId: fragments.f4, tag: 'stable', revision: '1' },
        bearer(ownerToken),
      );

      parentLocationId = (await admin.createLocation(organizationId, 'Depot'))?.id ?? '';
      locationId = (await admin.createLocation(organizationId, 'Yard'))?.id ?? '';
      machineId = await admin.newRobot(locationId, machineName);
      const main = (await admin.getRobotParts(machineId)).find((p) => p.mainPart);
      if (!main) assert.fail('no main part');
      partId = main.id;
      partName = main.name;
      await savePart();
      const secret = (await admin.getRobotPart(partId)).part?.secrets[0];
      if (!secret) assert.fail('no secret');
      loginSecretId = secret.id;
      const auth = createPromiseClient(AuthService, grpcTransport(a.url));
      partToken = (
        await auth.authenticate({
          entity: partId,
          credentials: { type: 'robot-secret', payload: secret.secret },
        })
      ).accessToken;
    });
    after(async () => {
      await b?.close();
      await a?.stop();
    });

    it('after every change, in a random order, A serves what B computes from scratch', async () => {
      const random = seededRandom(15);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
      let counter = 0;
      const next = () => ++counter;

      const changes: Record<string, () => Promise<unknown>> = {
        'part config': () => {
          partOwn = { speed: next(), label: `v${counter}` };
          return savePart();
        },
        'part drops or takes back a fragment': () => {
          withF1 = !withF1;
          return savePart();
        },
        'fragment edit at any depth': async () => {
          const key = pick(['f1', 'f2', 'f3', 'f4'] as const);
          const nested = key === 'f2' ? fragments.f3 : undefined;
          await admin.updateFragment(
            fragments[key],
            `fragment ${key}`,
            structFromObject(fragmentConfig(key, next(), nested)),
          );
          if (key === 'f4') f4Revisions++;
        },
        'tag moved': () => {
          const revision = 1 + Math.floor(random() * f4Revisions);
          return app.setFragmentTag(
            { fragmentId: fragments.f4, tag: 'stable', revision: String(revision) },
            bearer(ownerToken),
          );
        },
        'part secret added or deleted': async () => {
          const secrets = (await admin.getRobotPart(partId)).part?.secrets ?? [];
          const other = secrets.find((s) => s.id !== loginSecretId);
          if (other) await admin.deleteRobotPartSecret(partId, other.id);
          else await admin.createRobotPartSecret(partId);
        },
        'location secret added or deleted': async () => {
          const secrets = (await admin.getLocation(locationId))?.auth?.secrets ?? [];
          if (secrets.length > 1) await admin.deleteLocationSecret(locationId, secrets[0]?.id ?? '');
          else await admin.createLocationSecret(locationId);
        },
        'part renamed': () => {
          partName = `rover-${next()}`;
          return savePart();
        },
        'machine renamed': () => {
          machineName = `Cache Rover ${next()}`;
          return admin.updateRobot(machineId, locationId, machineName);
        },
        'location renamed or moved': () =>
          random() < 0.5
            ? admin.updateLocation(locationId, `Yard ${next()}`)
            : admin.updateLocation(locationId, undefined, random() < 0.5 ? parentLocationId : ''),
        'module version uploaded for latest': () => uploadVersion(),
      };

      await expectFresh('start');
      const names = Object.keys(changes);
      const done = new Set<string>();
      for (let step = 0; step < STEPS; step++) {
        // Every kind of change at least once, then at random.
        const name = step < names.length ? (names[step] as string) : pick(names);
        await changes[name]?.();
        done.add(name);
        await expectFresh(`step ${step} (${name})`);
        // Now and then a restart: told exactly once, on the next poll, also after cached "no".
        if (random() < 0.3) {
          await admin.markPartForRestart(partId);
          const first = await robotA.needsRestart({ id: partId }, bearer(partToken));
          assert.equal(first.mustRestart, true, `step ${step}: the restart request was not seen`);
          const second = await robotA.needsRestart({ id: partId }, bearer(partToken));
          assert.equal(second.mustRestart, false, `step ${step}: told to restart twice`);
        }
      }
      assert.equal(done.size, names.length);
    });

    it('a deleted part secret revokes its token at the next call, however often it was used', async () => {
      const added = await admin.createRobotPartSecret(partId);
      const secret = added?.secrets.find((s) => s.id !== loginSecretId) ?? assert.fail('no new secret');
      const auth = createPromiseClient(AuthService, grpcTransport(a.url));
      const token = (
        await auth.authenticate({
          entity: partId,
          credentials: { type: 'robot-secret', payload: secret.secret },
        })
      ).accessToken;
      for (let i = 0; i < 3; i++) await robotA.needsRestart({ id: partId }, bearer(token));
      await robotA.config({ id: partId, agentInfo: AGENT_INFO }, bearer(token));
      await admin.deleteRobotPartSecret(partId, secret.id);
      await expectCode(robotA.needsRestart({ id: partId }, bearer(token)), Code.Unauthenticated);
      await expectCode(robotA.config({ id: partId }, bearer(token)), Code.Unauthenticated);
      // The other secret's token is untouched.
      await robotA.needsRestart({ id: partId }, bearer(partToken));
    });

    it('a deleted machine revokes its parts’ tokens at the next call', async () => {
      const otherMachine = await admin.newRobot(locationId, 'Short Lived');
      const part = (await admin.getRobotParts(otherMachine))[0] ?? assert.fail('no part');
      const secret = (await admin.getRobotPart(part.id)).part?.secrets[0]?.secret ?? '';
      const auth = createPromiseClient(AuthService, grpcTransport(a.url));
      const token = (
        await auth.authenticate({ entity: part.id, credentials: { type: 'robot-secret', payload: secret } })
      ).accessToken;
      await robotA.config({ id: part.id }, bearer(token));
      await robotA.needsRestart({ id: part.id }, bearer(token));
      await admin.deleteRobot(otherMachine);
      await expectCode(robotA.needsRestart({ id: part.id }, bearer(token)), Code.Unauthenticated);
      await expectCode(robotA.config({ id: part.id }, bearer(token)), Code.Unauthenticated);
    });

    it('the last access a machine leaves is visible at once and written within the flush interval', async () => {
      const before = Date.now();
      await robotA.config({ id: partId, agentInfo: AGENT_INFO }, bearer(partToken));
      const seen = (await admin.getRobotPart(partId)).part;
      assert.ok(seen?.lastAccess && seen.lastAccess.toDate().getTime() >= before - 1000);
      // B reads the database only: the write lands within a few seconds.
      const adminB = createPromiseClient(AppService, grpcTransport(b.url));
      const deadline = Date.now() + 10_000;
      for (;;) {
        const part = (await adminB.getRobotPart({ id: partId }, bearer(ownerToken))).part;
        const at = part?.lastAccess?.toDate().getTime() ?? 0;
        if (at >= before - 1000) break;
        if (Date.now() > deadline) assert.fail('the last access was not written within 10 s');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });
  },
);
