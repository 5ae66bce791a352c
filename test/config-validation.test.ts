/**
 * Configs viam-server refuses (or panics on, or silently drops) are refused when saved, and
 * configs it accepts are accepted. Each row names the rdk rule it mirrors. Every row runs
 * through `toRobotConfigJson`, then through the real server: UpdateRobotPart and UpdateFragment
 * (and, for a fragment + part pair, the part's save and the fragment's edit), where a refusal is
 * INVALID_ARGUMENT naming the key path and changes nothing.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Code, createPromiseClient } from '@connectrpc/connect';
import type { AppClient } from '@viamrobotics/sdk';
import { DomainError } from '../src/domain/errors.js';
import { mergeFragments } from '../src/domain/config/fragment-merge.js';
import { toRobotConfigJson } from '../src/domain/config/robot-config.js';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { RobotService } from '../src/rpc/service-descriptors.generated.js';
import { structFromObject } from '../src/rpc/wire-values.js';
import { bearer, grpcTransport } from './support/clients.js';
import { forEachDialect, type TestDatabase } from './support/databases.js';
import { storePartConfigDirectly } from './support/direct-writes.js';
import { defined } from './support/expect.js';
import { startTestServer, type TestServer } from './support/server.js';

type Config = Record<string, unknown>;

/** One config: whether viam-server accepts it, the key path a refusal names, the rdk rule. */
interface Row {
  what: string;
  config: Config;
  accepted: boolean;
  /** The path at the start of the refusal message (refused rows only). */
  path?: string;
  rdk: string;
}

/**
 * A fragment and a part that includes it, each valid alone: whether viam-server accepts the
 * merged config. `part` gets the fragment's id (for `fragments` and `fragment_mods`).
 */
interface PairRow {
  what: string;
  fragment: Config;
  part: (fragmentId: string) => Config;
  accepted: boolean;
  path?: string;
  rdk: string;
}

const component = (extra: Config): Config => ({
  components: [{ name: 'arm1', api: 'rdk:component:arm', model: 'rdk:builtin:fake', ...extra }],
});
const apiKeyHandler = (config: unknown): Config => ({ auth: { handlers: [{ type: 'api-key', config }] } });
/** A real RSA public key as a JWK, as an identity provider publishes it. */
const RSA_KEY = {
  ...generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }),
  alg: 'RS256',
  kid: 'k1',
  use: 'sig',
};
const externalAuth = (external: unknown): Config => ({
  auth: { handlers: [], external_auth_config: external },
});
const localModule = (extra: Config): Config => ({
  modules: [{ name: 'gizmo', type: 'local', executable_path: '/opt/gizmo/run.sh', ...extra }],
});
const registryModule = (extra: Config): Config => ({
  modules: [{ name: 'carto', type: 'registry', module_id: 'viam:cartographer', version: '1.2.3', ...extra }],
});
const pkg = (extra: Config): Config => ({
  packages: [{ name: 'yolo', package: 'org-id/yolo', type: 'ml_model', version: '3', ...extra }],
});
const job = (extra: Config): Config => ({
  jobs: [{ name: 'nightly', schedule: '0 3 * * *', resource: 'arm1', method: 'DoCommand', ...extra }],
});
const LONG = 'x'.repeat(5000);

const ROWS: Row[] = [
  // Components and services: names, api, model.
  {
    what: 'a component with an api triplet and a model triplet',
    config: component({ api: 'acme:component:gripper', model: 'acme:grippers:soft' }),
    accepted: true,
    rdk: 'rdk resource/api.go NewAPIFromString, resource/model.go NewModelFromString',
  },
  {
    what: 'a legacy type and a single-word (builtin) model',
    config: { components: [{ name: 'm1', type: 'motor', model: 'gpio' }] },
    accepted: true,
    rdk: 'rdk resource/model.go NewModelFromString (a single word is rdk:builtin:<word>)',
  },
  {
    what: 'a component without a model',
    config: { components: [{ name: 'arm1', api: 'rdk:component:arm' }] },
    accepted: false,
    path: 'components[0].model',
    rdk: 'rdk config/proto_conversions.go ComponentConfigFromProto (NewModelFromString fails: component dropped)',
  },
  {
    what: 'a service without a model',
    config: { services: [{ name: 'nav', api: 'rdk:service:navigation' }] },
    accepted: false,
    path: 'services[0].model',
    rdk: 'rdk config/proto_conversions.go ServiceConfigFromProto (NewModelFromString fails: service dropped)',
  },
  {
    what: 'a model with a dot',
    config: component({ model: 'acme:grippers:soft.v2' }),
    accepted: false,
    path: 'components[0].model',
    rdk: 'rdk resource/model.go modelRegexValidator, singleFieldRegexValidator',
  },
  {
    what: 'a model of two parts',
    config: component({ model: 'acme:soft' }),
    accepted: false,
    path: 'components[0].model',
    rdk: 'rdk resource/model.go NewModelFromString',
  },
  {
    what: 'an api with a dot in its namespace',
    config: component({ api: 'acme.io:component:gripper' }),
    accepted: false,
    path: 'components[0].api',
    rdk: 'rdk resource/api.go apiRegexValidator',
  },
  {
    what: 'a legacy namespace with a dot',
    config: { components: [{ name: 'm1', namespace: 'acme.io', type: 'motor', model: 'fake' }] },
    accepted: false,
    path: 'components[0].namespace',
    rdk: 'rdk resource/api.go APIType.Validate',
  },
  {
    what: 'a resource name with a space',
    config: component({ name: 'left arm' }),
    accepted: false,
    path: 'components[0].name',
    rdk: 'rdk resource/config.go Config.validate, utils/variables.go ValidateResourceName',
  },
  {
    what: 'a resource name starting with "_"',
    config: component({ name: '_arm' }),
    accepted: false,
    path: 'components[0].name',
    rdk: 'rdk utils/variables.go ValidateResourceName',
  },
  {
    what: 'a resource name of 60 characters',
    config: component({ name: 'a'.repeat(60) }),
    accepted: true,
    rdk: 'rdk utils/variables.go ValidateResourceName',
  },
  {
    what: 'a resource name of 61 characters',
    config: component({ name: 'a'.repeat(61) }),
    accepted: false,
    path: 'components[0].name',
    rdk: 'rdk utils/variables.go ValidateResourceName',
  },
  {
    what: 'a resource name of 5000 characters (not echoed back)',
    config: component({ name: LONG }),
    accepted: false,
    path: 'components[0].name',
    rdk: 'rdk utils/variables.go ValidateResourceName',
  },
  {
    what: 'a service config type of two parts',
    config: component({ service_configs: [{ type: 'rdk:data_manager', attributes: {} }] }),
    accepted: false,
    path: 'components[0].service_configs[0].type',
    rdk: 'rdk resource/api.go NewPossibleRDKServiceAPIFromString',
  },
  {
    what: 'a log_configuration level in capitals',
    config: component({ log_configuration: { level: 'WARNING' } }),
    accepted: true,
    rdk: 'rdk logging/level.go LevelFromString (case-insensitive)',
  },
  {
    what: 'an unknown log_configuration level',
    config: component({ log_configuration: { level: 'verbose' } }),
    accepted: false,
    path: 'components[0].log_configuration.level',
    rdk: 'rdk logging/level.go LevelFromString, Level.UnmarshalJSON',
  },
  // Remotes.
  {
    what: 'a remote name with a space',
    config: { remotes: [{ name: 'arm pi', address: 'arm-pi.local:8080' }] },
    accepted: false,
    path: 'remotes[0].name',
    rdk: 'rdk config/config.go Remote.validate (ValidateRemoteName)',
  },
  // Auth handlers.
  {
    what: 'an api-key handler with its keys',
    config: apiKeyHandler({ keys: ['key-id-1', 'key-id-2'], 'key-id-1': 'secret-1', 'key-id-2': 'secret-2' }),
    accepted: true,
    rdk: 'rdk config/config.go AuthHandlerConfig.Validate, ParseAPIKeys',
  },
  {
    what: 'a robot-location-secret handler',
    config: { auth: { handlers: [{ type: 'robot-location-secret', config: { secret: 's' } }] } },
    accepted: false,
    path: 'auth.handlers[0].type',
    rdk: 'rdk config/config.go AuthHandlerConfig.Validate (only api-key)',
  },
  {
    what: 'a robot-secret handler',
    config: { auth: { handlers: [{ type: 'robot-secret', config: { secret: 's' } }] } },
    accepted: false,
    path: 'auth.handlers[0].type',
    rdk: 'rdk config/config.go AuthHandlerConfig.Validate (only api-key)',
  },
  {
    what: 'an api-key handler without config',
    config: { auth: { handlers: [{ type: 'api-key' }] } },
    accepted: false,
    path: 'auth.handlers[0].config',
    rdk: 'rdk config/config.go AuthHandlerConfig.Validate ("keys is required")',
  },
  {
    what: 'an api-key handler with no keys',
    config: apiKeyHandler({ keys: [] }),
    accepted: false,
    path: 'auth.handlers[0].config.keys',
    rdk: 'rdk config/config.go AuthHandlerConfig.Validate ("keys is required")',
  },
  {
    what: 'keys as a string',
    config: apiKeyHandler({ keys: 'key-id-1', 'key-id-1': 'secret-1' }),
    accepted: false,
    path: 'auth.handlers[0].config.keys',
    rdk: 'rdk utils/attribute_map.go AttributeMap.StringSlice (panics)',
  },
  {
    what: 'a key id that is a number',
    config: apiKeyHandler({ keys: [7] }),
    accepted: false,
    path: 'auth.handlers[0].config.keys[0]',
    rdk: 'rdk utils/attribute_map.go AttributeMap.StringSlice (panics)',
  },
  {
    what: 'a listed key id without its key',
    config: apiKeyHandler({ keys: ['key-id-1'] }),
    accepted: false,
    path: 'auth.handlers[0].config.key-id-1',
    rdk: 'rdk config/config.go ParseAPIKeys, robot/web/web.go ("requires non-empty API keys")',
  },
  {
    what: 'a key that is a number',
    config: apiKeyHandler({ keys: ['key-id-1'], 'key-id-1': 12345 }),
    accepted: false,
    path: 'auth.handlers[0].config.key-id-1',
    rdk: 'rdk config/config.go ParseAPIKeys (AttributeMap.String panics)',
  },
  {
    what: 'a non-string config entry under a 5000-character key (not echoed back)',
    config: apiKeyHandler({ keys: ['k'], k: 'secret', [LONG]: 1 }),
    accepted: false,
    path: 'auth.handlers[0].config[',
    rdk: 'rdk config/config.go ParseAPIKeys (AttributeMap.String panics)',
  },
  // External auth.
  {
    what: 'an external auth config with one RSA key',
    config: externalAuth({ jwks: { keys: [RSA_KEY] } }),
    accepted: true,
    rdk: 'rdk config/config.go ExternalAuthConfig.Validate',
  },
  {
    what: 'an empty external auth config',
    config: externalAuth({}),
    accepted: false,
    path: 'auth.external_auth_config.jwks',
    rdk: 'rdk config/proto_conversions.go AuthConfigFromProto (nil Jwks panics)',
  },
  {
    what: 'a JWKS without keys',
    config: externalAuth({ jwks: {} }),
    accepted: false,
    path: 'auth.external_auth_config.jwks.keys',
    rdk: 'rdk config/config.go ExternalAuthConfig.Validate ("must contain at least 1 key")',
  },
  {
    what: 'a JWKS with an EC key',
    config: externalAuth({ jwks: { keys: [{ ...RSA_KEY, kty: 'EC' }] } }),
    accepted: false,
    path: 'auth.external_auth_config.jwks.keys[0].kty',
    rdk: 'rdk config/config.go ExternalAuthConfig.Validate (allowedKeyTypesForExternalAuth)',
  },
  {
    what: 'a JWKS key with an HMAC algorithm',
    config: externalAuth({ jwks: { keys: [{ ...RSA_KEY, alg: 'HS256' }] } }),
    accepted: false,
    path: 'auth.external_auth_config.jwks.keys[0].alg',
    rdk: 'rdk config/config.go ExternalAuthConfig.Validate (allowedAlgsForExternalAuth)',
  },
  {
    what: 'an RSA key without its modulus',
    config: externalAuth({ jwks: { keys: [{ ...RSA_KEY, n: undefined }] } }),
    accepted: false,
    path: 'auth.external_auth_config.jwks.keys[0].n',
    rdk: 'rdk config/config.go ExternalAuthConfig.Validate (jwks.ParseKeySet fails)',
  },
  // Modules.
  {
    what: 'a local module with an executable and no log level',
    config: localModule({ log_level: '' }),
    accepted: true,
    rdk: 'rdk config/module.go Module.validate',
  },
  {
    what: 'a registry module at an exact version',
    config: registryModule({ log_level: 'debug' }),
    accepted: true,
    rdk: 'rdk config/module.go Module.validate',
  },
  {
    what: 'a registry module at latest-with-prerelease',
    config: registryModule({ version: 'latest-with-prerelease' }),
    accepted: true,
    rdk: 'rdk config/module.go Module.validate',
  },
  {
    what: 'a module named "parent"',
    config: localModule({ name: 'parent' }),
    accepted: false,
    path: 'modules[0].name',
    rdk: 'rdk config/module.go Module.validate (reservedModuleName)',
  },
  {
    what: 'a module name with a space',
    config: localModule({ name: 'my gizmo' }),
    accepted: false,
    path: 'modules[0].name',
    rdk: 'rdk utils/variables.go ValidateModuleName',
  },
  {
    what: 'a module of an unknown type',
    config: localModule({ type: 'github' }),
    accepted: false,
    path: 'modules[0].type',
    rdk: 'rdk config/module.go ModuleType (local, registry)',
  },
  {
    what: 'a local module without an executable',
    config: { modules: [{ name: 'gizmo', type: 'local' }] },
    accepted: false,
    path: 'modules[0].executable_path',
    rdk: 'rdk config/module.go Module.validate (stat of executable_path)',
  },
  {
    what: 'a registry module without a module id',
    config: registryModule({ module_id: undefined }),
    accepted: false,
    path: 'modules[0].module_id',
    rdk: 'rdk module/modmanager/manager.go getFullEnvironment, checkIfAllowed (namespace:name)',
  },
  {
    what: 'a registry module id without a namespace',
    config: registryModule({ module_id: 'cartographer' }),
    accepted: false,
    path: 'modules[0].module_id',
    rdk: 'rdk module/modmanager/manager.go checkIfAllowed (module_id is namespace:name)',
  },
  {
    what: 'a registry module version with a "v"',
    config: registryModule({ version: 'v1.2.3' }),
    accepted: false,
    path: 'modules[0].version',
    rdk: 'rdk cli/module_reload.go newModulePairs (a registry entry names a version spec)',
  },
  {
    what: 'a registry module without a version',
    config: registryModule({ version: undefined }),
    accepted: false,
    path: 'modules[0].version',
    rdk: 'rdk cli/module_reload.go newModulePairs (a registry entry names a version spec)',
  },
  {
    what: 'a module log level viam-server does not know',
    config: localModule({ log_level: 'trace' }),
    accepted: false,
    path: 'modules[0].log_level',
    rdk: 'rdk logging/level.go LevelFromString, config/module.go Module.LogLevel',
  },
  // Packages.
  {
    what: 'a package without a version (the latest)',
    config: pkg({ version: undefined }),
    accepted: true,
    rdk: 'rdk config/config.go PackageConfig (version omitempty, DefaultPackageVersionValue)',
  },
  {
    what: 'a package of an unknown type',
    config: pkg({ type: 'dataset' }),
    accepted: false,
    path: 'packages[0].type',
    rdk: 'rdk config/config.go PackageConfig.validate (SupportedPackageTypes)',
  },
  {
    what: 'a package without a type',
    config: pkg({ type: undefined }),
    accepted: false,
    path: 'packages[0].type',
    rdk: 'rdk config/config.go PackageConfig.validate (SupportedPackageTypes)',
  },
  {
    what: 'a package name with a slash',
    config: pkg({ name: 'org/yolo' }),
    accepted: false,
    path: 'packages[0].name',
    rdk: 'rdk config/config.go PackageConfig.validate (ValidatePackageName)',
  },
  {
    what: 'a package without its package id',
    config: pkg({ package: '' }),
    accepted: false,
    path: 'packages[0].package',
    rdk: 'rdk config/config.go PackageConfig.validate ("empty package id")',
  },
  // Jobs.
  {
    what: 'jobs on a cron, a seconds cron, a duration, a descriptor and continuously',
    config: {
      jobs: ['0 3 * * *', '*/5 * * * * *', '30s', '@hourly', 'continuous'].map((schedule, i) => ({
        name: `job-${i}`,
        schedule,
        resource: 'arm1',
        method: 'DoCommand',
        command: { go: true },
      })),
    },
    accepted: true,
    rdk: 'rdk config/config.go JobConfig.Validate, robot/jobmanager/jobmanager.go scheduleJob',
  },
  {
    what: 'a job without a method',
    config: job({ method: undefined }),
    accepted: false,
    path: 'jobs[0].method',
    rdk: 'rdk config/config.go JobConfig.Validate',
  },
  {
    what: 'a job without a resource',
    config: job({ resource: '' }),
    accepted: false,
    path: 'jobs[0].resource',
    rdk: 'rdk config/config.go JobConfig.Validate',
  },
  {
    what: 'a job schedule in words',
    config: job({ schedule: 'every day' }),
    accepted: false,
    path: 'jobs[0].schedule',
    rdk: 'rdk robot/jobmanager/jobmanager.go scheduleJob (neither a duration nor a cron)',
  },
  {
    what: 'a job every 0s',
    config: job({ schedule: '0s' }),
    accepted: false,
    path: 'jobs[0].schedule',
    rdk: 'rdk robot/jobmanager/jobmanager.go scheduleJob (gocron DurationJob needs a positive interval)',
  },
  // Log patterns.
  {
    what: 'a log pattern at level Info',
    config: { log: [{ pattern: 'rdk.resource_manager.*', level: 'Info' }] },
    accepted: true,
    rdk: 'rdk logging/logger_registry.go Registry.Update, logging/level.go LevelFromString',
  },
  {
    what: 'a log pattern at an unknown level',
    config: { log: [{ pattern: 'rdk.*', level: 'loud' }] },
    accepted: false,
    path: 'log[0].level',
    rdk: 'rdk logging/logger_registry.go Registry.Update, logging/level.go LevelFromString',
  },
];

/** A fragment's arm, which the part's fragment_mods change. */
const FRAGMENT_ARM = {
  components: [
    { name: 'arm1', api: 'rdk:component:arm', model: 'rdk:builtin:fake', attributes: { speed: 1 } },
  ],
};
const withMods = (fragmentId: string, mods: Config[]): Config => ({
  fragments: [fragmentId],
  fragment_mods: [{ fragment_id: fragmentId, mods }],
});

const PAIRS: PairRow[] = [
  {
    what: 'a mod that changes an attribute of the fragment arm',
    fragment: FRAGMENT_ARM,
    part: (id) => withMods(id, [{ $set: { 'components.arm1.attributes.speed': 2 } }]),
    accepted: true,
    rdk: 'rdk config/proto_conversions.go ComponentConfigFromProto',
  },
  {
    what: 'a mod that gives the fragment arm a model with a dot',
    fragment: FRAGMENT_ARM,
    part: (id) => withMods(id, [{ $set: { 'components.arm1.model': 'acme:arms:x.y' } }]),
    accepted: false,
    path: 'components[0].model',
    rdk: 'rdk resource/model.go NewModelFromString (the served, merged config)',
  },
  {
    what: 'a mod that removes the fragment arm model',
    fragment: FRAGMENT_ARM,
    part: (id) => withMods(id, [{ $unset: { 'components.arm1.model': '' } }]),
    accepted: false,
    path: 'components[0].model',
    rdk: 'rdk config/proto_conversions.go ComponentConfigFromProto (the served, merged config)',
  },
  {
    what: 'a mod that gives the fragment package an unknown type',
    fragment: pkg({}),
    part: (id) => withMods(id, [{ $set: { 'packages.yolo.type': 'dataset' } }]),
    accepted: false,
    path: 'packages[0].type',
    rdk: 'rdk config/config.go PackageConfig.validate (the served, merged config)',
  },
];

/** Longest refusal message allowed: user input is never echoed in full. */
const MAX_MESSAGE = 400;

function conversionError(config: Config): DomainError | undefined {
  try {
    toRobotConfigJson(config);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof DomainError, `expected a DomainError, got ${String(error)}`);
    return error;
  }
}

function checkUnit(what: string, config: Config, accepted: boolean, path: string | undefined): void {
  const error = conversionError(config);
  if (accepted) {
    assert.equal(error, undefined, `${what}: refused: ${error?.message}`);
    return;
  }
  assert.ok(error, `${what}: accepted`);
  assert.equal(error.kind, 'invalid_argument', what);
  assert.ok(error.message.startsWith(`${path}`), `${what}: names ${path}: ${error.message}`);
  assert.ok(error.message.length < MAX_MESSAGE, `${what}: message of ${error.message.length} characters`);
}

/** The merged config the part would be served (what RobotService.Config converts). */
const mergedConfig = (pair: PairRow, fragmentId: string): Config =>
  mergeFragments(pair.part(fragmentId), [{ id: fragmentId, revision: '1', depth: 1, config: pair.fragment }])
    .config;

describe('config validation: each row through toRobotConfigJson', () => {
  it('every row has an rdk citation and a path when refused', () => {
    for (const row of [...ROWS, ...PAIRS]) {
      assert.match(row.rdk, /^rdk [\w/.-]+\.go/, row.what);
      assert.equal(row.accepted, row.path === undefined, `${row.what}: a path exactly when refused`);
    }
  });

  for (const row of ROWS) {
    it(`${row.accepted ? 'accepts' : 'refuses'} ${row.what} (${row.rdk})`, () =>
      checkUnit(row.what, row.config, row.accepted, row.path));
  }

  for (const pair of PAIRS) {
    it(`${pair.accepted ? 'accepts' : 'refuses'} merged: ${pair.what} (${pair.rdk})`, () => {
      const id = randomUUID();
      checkUnit(`${pair.what} (fragment alone)`, pair.fragment, true, undefined);
      checkUnit(`${pair.what} (part alone)`, pair.part(id), true, undefined);
      checkUnit(pair.what, mergedConfig(pair, id), pair.accepted, pair.path);
    });
  }

  it('a package without a version is served at "latest"', () => {
    const json = toRobotConfigJson(pkg({ version: undefined }));
    assert.deepEqual(json.packages, [
      { name: 'yolo', package: 'org-id/yolo', version: 'latest', type: 'ml_model' },
    ]);
  });
});

forEachDialect('config validation through the SDK', (newDatabase) => {
  let t: TestServer;
  let database: TestDatabase;
  let admin: AppClient;
  let partId: string;
  let partName: string;
  let fragmentId: string;
  const fragmentName = 'validation target';

  before(async () => {
    database = await newDatabase();
    t = await startTestServer(database);
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    const org = t.admin.organizationId;
    const location = defined(await admin.createLocation(org, 'Validation Lab'), 'a location').id;
    const machineId = await admin.newRobot(location, 'validator');
    const parts = await admin.getRobotParts(machineId);
    partId = parts[0]!.id;
    partName = parts[0]!.name;
    fragmentId = defined(
      await admin.createFragment(org, fragmentName, structFromObject({})),
      'a fragment',
    ).id;
  });
  after(() => t.stop());

  async function partState() {
    const res = await admin.getRobotPart(partId);
    const part = defined(res.part, 'the part');
    return {
      name: part.name,
      config: JSON.parse(res.configJson) as unknown,
      lastUpdated: part.lastUpdated?.toDate().getTime(),
      history: (await admin.getRobotPartHistory(partId)).length,
    };
  }

  async function fragmentState() {
    const f = defined(await admin.getFragment(fragmentId), 'the fragment');
    return {
      name: f.name,
      revision: f.revision,
      config: f.fragment?.toJson(),
      lastUpdated: f.lastUpdated?.toDate().getTime(),
    };
  }

  /** Asserts the call is refused with INVALID_ARGUMENT naming every `names`, and `state` did not move. */
  async function refused(
    what: string,
    call: () => Promise<unknown>,
    names: string[],
    state: () => Promise<unknown>,
  ): Promise<void> {
    const before = await state();
    await assert.rejects(call(), (e: Error & { code?: unknown }) => {
      assert.equal(e.code, Code.InvalidArgument, `${what}: ${e.message}`);
      for (const name of names) assert.ok(e.message.includes(name), `${what}: names ${name}: ${e.message}`);
      assert.ok(e.message.length < MAX_MESSAGE + 200, `${what}: message of ${e.message.length} characters`);
      return true;
    });
    assert.deepEqual(await state(), before, `${what}: a refused call changed something`);
  }

  /** The config as JSON carries it: keys with undefined values dropped. */
  const plain = (config: Config) => JSON.parse(JSON.stringify(config)) as Config;
  const savePart = (config: Config) =>
    admin.updateRobotPart(partId, partName, structFromObject(plain(config)));
  const saveFragment = (config: Config) =>
    admin.updateFragment(fragmentId, fragmentName, structFromObject(plain(config)));

  it('UpdateRobotPart and UpdateFragment accept and refuse each row as viam-server would', async () => {
    for (const row of ROWS) {
      const what = `${row.what} (${row.rdk})`;
      if (row.accepted) {
        await savePart(row.config);
        assert.deepEqual((await partState()).config, plain(row.config), `${what}: the part holds it`);
        await saveFragment(row.config);
        assert.deepEqual((await fragmentState()).config, plain(row.config), `${what}: the fragment holds it`);
      } else {
        const path = row.path ?? '';
        await refused(`${what}: part`, () => savePart(row.config), [path], partState);
        await refused(`${what}: fragment`, () => saveFragment(row.config), [path], fragmentState);
      }
    }
  });

  it('the part merged with its fragment is checked on the part save and on the fragment edit', async () => {
    for (const pair of PAIRS) {
      const what = `${pair.what} (${pair.rdk})`;
      const part = pair.part(fragmentId);

      // The part save: the fragment already holds its config.
      await savePart({});
      await saveFragment(pair.fragment);
      if (pair.accepted) {
        await savePart(part);
        assert.deepEqual((await partState()).config, plain(part), `${what}: the part holds it`);
      } else {
        await refused(`${what}: part save`, () => savePart(part), [pair.path ?? ''], partState);
      }

      // The fragment edit: the part already includes the (empty) fragment, whose new config
      // would make the part's merged config one viam-server refuses.
      await saveFragment({});
      await savePart(part);
      if (pair.accepted) {
        await saveFragment(pair.fragment);
        assert.deepEqual((await fragmentState()).config, plain(pair.fragment), `${what}: saved`);
      } else {
        await refused(
          `${what}: fragment edit`,
          () => saveFragment(pair.fragment),
          [`part ${partId}`, pair.path ?? ''],
          async () => ({ fragment: await fragmentState(), part: await partState() }),
        );
      }
    }
    await savePart({});
  });

  it('a fragment edit is not blamed for a part whose merged config was refused before it', async () => {
    await saveFragment(FRAGMENT_ARM);
    await savePart({ fragments: [fragmentId] });
    // A part stored before the stricter rules: a component without a model.
    const legacy = {
      fragments: [fragmentId],
      components: [{ name: 'legacy', api: 'rdk:component:arm' }],
    };
    await storePartConfigDirectly(database, t.dataDir, partId, legacy);
    assert.deepEqual((await partState()).config, legacy);
    const next = { components: [{ ...FRAGMENT_ARM.components[0], attributes: { speed: 3 } }] };
    await saveFragment(next);
    assert.deepEqual((await fragmentState()).config, next, 'the edit is saved');
    // Saving the part itself still needs a config viam-server accepts.
    await refused('the legacy part saved as is', () => savePart(legacy), ['components[0].model'], partState);
    // The machine asking for that config is told the server's state is at fault, and what to fix.
    const secret = defined((await admin.getRobotPart(partId)).part?.secrets[0]?.secret, 'a part secret');
    const transport = grpcTransport(t.url);
    const { accessToken } = await createPromiseClient(AuthService, transport).authenticate({
      entity: partId,
      credentials: { type: 'robot-secret', payload: secret },
    });
    await assert.rejects(
      createPromiseClient(RobotService, transport).config({ id: partId }, bearer(accessToken)),
      (e: Error & { code?: unknown }) => {
        assert.equal(e.code, Code.FailedPrecondition, e.message);
        assert.match(e.message, /components\[0\]\.model/);
        return true;
      },
    );
    await savePart({});
  });
});
