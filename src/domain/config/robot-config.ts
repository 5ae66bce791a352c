/**
 * A machine part's config, stored in the JSON format viam-server reads (the JSON a user pastes
 * into the Viam app's config editor), converted to the protobuf JSON form of
 * `viam.app.v1.RobotConfig` that RobotService.Config serves.
 *
 * Pure: no SDK, no I/O. The result is meant for protobuf-es `RobotConfig.fromJson`; it never
 * carries `cloud`, `revision` or `overwrite_fragment_status` (the service adds those). The JSON
 * readers are in `json.ts`, durations in `durations.ts`, frames and geometries in `frames.ts`.
 *
 * Format notes (viam-server's JSON, as its config loader reads it):
 * - components/services: `name`, `api` ("namespace:type:subtype") or legacy `namespace`+`type`,
 *   `model`, `attributes`, `depends_on`, `service_configs`, `log_configuration`, `frame`.
 * - frame: `parent`, `translation` {x,y,z}, `orientation` {type, value}, `geometry`.
 * - durations are Go duration strings ("10s", "1m30s", "500ms").
 * - unknown keys are ignored at every level, as viam-server ignores them; `null` counts as absent.
 *
 * What viam-server refuses, panics on, or silently drops when the cloud serves it is refused here,
 * each rule after the viam-server (rdk) check it mirrors: resource, remote, module and package
 * names (rdk utils/variables.go), api and model triplets (rdk resource/api.go, resource/model.go),
 * auth handlers and external auth (rdk config/config.go AuthConfig.Validate, ParseAPIKeys), modules
 * (rdk config/module.go), packages (rdk config/config.go PackageConfig.Validate), jobs (rdk
 * config/config.go JobConfig.Validate and robot/jobmanager) and log levels (rdk logging/level.go).
 */
import { invalidArgument } from '../errors.js';
import { parseSemVer } from '../semver.js';
import { duration, durationNanos, formatProtoDuration, parseGoDuration } from './durations.js';
import { frame } from './frames.js';
import {
  bool,
  checkJson,
  child,
  deepCopy,
  fail,
  get,
  isObject,
  items,
  list,
  object,
  put,
  requiredStr,
  section,
  str,
  strList,
  strMap,
  struct,
  type JsonObject,
  type ProtoJson,
} from './json.js';

/**
 * Validates a stored part config and converts it to RobotConfig's protobuf JSON form.
 * Throws INVALID_ARGUMENT naming the offending key path, e.g.
 * `components[1].name: must be a non-empty string`.
 */
export function toRobotConfigJson(config: unknown): Record<string, unknown> {
  if (!isObject(config)) throw invalidArgument('config must be a JSON object');
  checkJson(config, '', 1);

  const out: ProtoJson = {};
  put(out, 'components', resources(config, 'components', 'component'));
  put(out, 'services', resources(config, 'services', 'service'));
  put(out, 'remotes', list(config, 'remotes', '', remote));
  put(out, 'processes', list(config, 'processes', '', processConfig));
  put(out, 'modules', list(config, 'modules', '', moduleConfig));
  put(out, 'packages', list(config, 'packages', '', packageConfig));
  put(out, 'network', section(config, 'network', '', network));
  put(out, 'auth', section(config, 'auth', '', auth));
  put(out, 'debug', bool(config, 'debug', ''));
  put(out, 'disablePartialStart', bool(config, 'disable_partial_start', ''));
  put(out, 'enableWebProfile', bool(config, 'enable_web_profile', ''));
  put(out, 'disableLogDeduplication', bool(config, 'disable_log_deduplication', ''));
  put(out, 'jobs', list(config, 'jobs', '', job));
  put(out, 'log', list(config, 'log', '', logPattern));
  put(out, 'maintenance', section(config, 'maintenance', '', maintenance));
  put(out, 'tracing', section(config, 'tracing', '', tracing));
  // `fragments` and `fragment_mods` are resolved before this (fragment-merge.ts); `cloud`, `revision`,
  // `package_path` and any other key are ignored, as viam-server ignores keys it does not use.
  return out;
}

// ---------------------------------------------------------------------------------------------
// Components and services

function resources(config: JsonObject, key: string, kind: 'component' | 'service'): ProtoJson[] | undefined {
  const entries = items(config, key, '');
  if (entries === undefined) return undefined;
  const seen = new Map<string, string>();
  return entries.map(([item, path]) => {
    const name = nameOf(item, path, 'resource');
    const first = seen.get(name);
    if (first !== undefined) fail(child(path, 'name'), `duplicate name "${name}" (also used by ${first})`);
    seen.set(name, path);
    return resource(item, path, kind, name);
  });
}

function resource(item: JsonObject, path: string, kind: 'component' | 'service', name: string): ProtoJson {
  const api = resourceApi(item, path, kind);
  const [namespace = '', , subtype = ''] = api.split(':');
  const out: ProtoJson = { name, namespace, type: subtype, api, model: model(item, path) };
  put(out, 'attributes', struct(item, 'attributes', path));
  put(out, 'dependsOn', strList(item, 'depends_on', path));
  put(out, 'serviceConfigs', list(item, 'service_configs', path, serviceConfig));
  put(out, 'logConfiguration', section(item, 'log_configuration', path, logConfiguration));
  // ServiceConfig has no frame field: a service's `frame` cannot be carried and is ignored.
  if (kind === 'component') put(out, 'frame', section(item, 'frame', path, frame));
  return out;
}

/** One field of an api or model triplet (rdk resource/model.go singleFieldRegexValidator). */
const WORD = /^[\w-]+$/;
/** rdk resource/api.go apiRegexValidator and resource/model.go modelRegexValidator. */
const TRIPLET = /^[\w-]+:[\w-]+:[\w-]+$/;

/**
 * Names of resources, remotes, modules and packages (rdk utils/variables.go ValidateResourceName,
 * ValidateModuleName, ValidatePackageName): a letter or digit, then letters, digits, `-` and `_`.
 */
const NAME = /^[A-Za-z0-9][\w-]*$/;
const NAME_LIMITS = { resource: 60, remote: 60, module: 200, package: 200 } as const;

function nameOf(item: JsonObject, path: string, kind: keyof typeof NAME_LIMITS): string {
  const name = requiredStr(item, 'name', path);
  const here = child(path, 'name');
  const limit = NAME_LIMITS[kind];
  if (name.length > limit) fail(here, `must be ${limit} characters or fewer`);
  if (!NAME.test(name)) {
    fail(here, 'must start with a letter or digit and hold only letters, digits, "-" and "_"');
  }
  return name;
}

/**
 * `api` as given, or derived from `namespace` (default "rdk") and `type` as viam-server does.
 * viam-server drops a resource whose api is not `namespace:type:subtype` of [\w-]+ words
 * (rdk resource/api.go NewAPIFromString).
 */
function resourceApi(item: JsonObject, path: string, kind: 'component' | 'service'): string {
  const api = str(item, 'api', path);
  if (api !== undefined && api !== '') {
    if (!TRIPLET.test(api)) {
      fail(child(path, 'api'), 'must look like "namespace:type:subtype"');
    }
    return api;
  }
  const subtype = get(item, 'type');
  if (typeof subtype !== 'string' || subtype === '') {
    fail(child(path, 'type'), 'must be a non-empty string (or give "api")');
  }
  if (subtype.includes(':')) fail(child(path, 'type'), 'must not contain ":" (use "api" for a full API)');
  if (!WORD.test(subtype)) fail(child(path, 'type'), 'may hold only letters, digits, "-" and "_"');
  const namespace = str(item, 'namespace', path) || 'rdk';
  if (namespace.includes(':')) fail(child(path, 'namespace'), 'must not contain ":"');
  if (!WORD.test(namespace)) fail(child(path, 'namespace'), 'may hold only letters, digits, "-" and "_"');
  return `${namespace}:${kind}:${subtype}`;
}

/**
 * `model`, required: `namespace:family:name` or a single word for a builtin model. viam-server
 * drops a resource whose model does not parse (rdk resource/model.go NewModelFromString).
 */
function model(item: JsonObject, path: string): string {
  const value = str(item, 'model', path);
  if (!value) fail(child(path, 'model'), 'must be a non-empty string');
  if (!TRIPLET.test(value) && !WORD.test(value)) {
    fail(
      child(path, 'model'),
      'must look like "namespace:family:name" or be a single word (letters, digits, "-" and "_")',
    );
  }
  return value;
}

/** `type` is a service API triplet or a builtin service's single word (rdk NewPossibleRDKServiceAPIFromString). */
function serviceConfig(item: JsonObject, path: string): ProtoJson {
  const type = requiredStr(item, 'type', path);
  if (!TRIPLET.test(type) && !WORD.test(type)) {
    fail(child(path, 'type'), 'must look like "namespace:service:name" or be a single word');
  }
  const out: ProtoJson = { type };
  put(out, 'attributes', struct(item, 'attributes', path));
  return out;
}

/** Log level names viam-server knows, in any case (rdk logging/level.go LevelFromString). */
const LOG_LEVELS = ['debug', 'info', 'warn', 'warning', 'error'];

/** A log level: one of LOG_LEVELS; absent (and, where `emptyAllowed`, "") means the default. */
function logLevel(obj: JsonObject, key: string, path: string, emptyAllowed: boolean): string | undefined {
  const value = str(obj, key, path);
  if (value === undefined || (value === '' && emptyAllowed)) return value;
  if (!LOG_LEVELS.includes(value.toLowerCase())) {
    fail(child(path, key), `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  return value;
}

/** `level` may be left out (viam-server then logs at info); given, it must be a level name. */
function logConfiguration(item: JsonObject, path: string): ProtoJson {
  return { level: logLevel(item, 'level', path, false) ?? '' };
}

// ---------------------------------------------------------------------------------------------
// Remotes and credentials

const CREDENTIALS_TYPES: Record<string, string> = {
  'api-key': 'CREDENTIALS_TYPE_API_KEY',
  'robot-secret': 'CREDENTIALS_TYPE_ROBOT_SECRET',
  'robot-location-secret': 'CREDENTIALS_TYPE_ROBOT_LOCATION_SECRET',
};

function credentialsType(item: JsonObject, path: string): string {
  const type = get(item, 'type');
  const here = child(path, 'type');
  if (typeof type !== 'string' || !Object.hasOwn(CREDENTIALS_TYPES, type)) {
    fail(here, `must be one of ${Object.keys(CREDENTIALS_TYPES).join(', ')}`);
  }
  return CREDENTIALS_TYPES[type] ?? fail(here, 'unknown credentials type');
}

function remote(item: JsonObject, path: string): ProtoJson {
  // rdk config/config.go Remote.validate: name (ValidateRemoteName) and address are required.
  const out: ProtoJson = { name: nameOf(item, path, 'remote'), address: requiredStr(item, 'address', path) };
  put(out, 'frame', section(item, 'frame', path, frame));
  put(out, 'auth', section(item, 'auth', path, remoteAuth));
  put(out, 'managedBy', str(item, 'managed_by', path));
  put(out, 'insecure', bool(item, 'insecure', path));
  put(out, 'connectionCheckInterval', duration(item, 'connection_check_interval', path));
  put(out, 'reconnectInterval', duration(item, 'reconnect_interval', path));
  put(out, 'serviceConfigs', list(item, 'service_configs', path, serviceConfig));
  put(out, 'secret', str(item, 'secret', path));
  put(out, 'prefix', str(item, 'prefix', path));
  return out;
}

function remoteAuth(item: JsonObject, path: string): ProtoJson {
  const out: ProtoJson = {};
  put(
    out,
    'credentials',
    section(item, 'credentials', path, (creds, credsPath) => ({
      type: credentialsType(creds, credsPath),
      payload: str(creds, 'payload', credsPath) ?? '',
    })),
  );
  put(out, 'entity', str(item, 'entity', path));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Processes, modules, packages

/** viam-server's accepted stop signal spellings, by Unix signal number. */
const STOP_SIGNALS = new Map<string, number>(
  (
    [
      [1, ['HUP', 'SIGHUP', 'hangup']],
      [2, ['INT', 'SIGINT', 'interrupt']],
      [3, ['QUIT', 'SIGQUIT', 'quit']],
      [6, ['ABRT', 'SIGABRT', 'aborted', 'abort']],
      [9, ['KILL', 'SIGKILL', 'killed', 'kill']],
      [15, ['TERM', 'SIGTERM', 'terminated', 'terminate']],
    ] as const
  ).flatMap(([signal, names]) => [...names, String(signal)].map((name) => [name, signal] as const)),
);

function stopSignal(item: JsonObject, path: string): number | undefined {
  const value = get(item, 'stop_signal');
  if (value === undefined || value === '') return undefined;
  const signal =
    typeof value === 'number' || typeof value === 'string' ? STOP_SIGNALS.get(String(value)) : undefined;
  if (signal === undefined)
    fail(child(path, 'stop_signal'), 'must be one of HUP, INT, QUIT, ABRT, KILL, TERM');
  return signal;
}

function processConfig(item: JsonObject, path: string): ProtoJson {
  const out: ProtoJson = { id: requiredStr(item, 'id', path), name: requiredStr(item, 'name', path) };
  put(out, 'args', strList(item, 'args', path));
  put(out, 'cwd', str(item, 'cwd', path));
  put(out, 'oneShot', bool(item, 'one_shot', path));
  put(out, 'log', bool(item, 'log', path));
  put(out, 'stopSignal', stopSignal(item, path));
  put(out, 'stopTimeout', duration(item, 'stop_timeout', path));
  put(out, 'env', strMap(item, 'env', path));
  put(out, 'username', str(item, 'username', path));
  return out;
}

/** viam-server reserves this module name for itself (rdk config/module.go). */
const RESERVED_MODULE_NAME = 'parent';
const MODULE_TYPES = ['local', 'registry'];
/** A registry module's id: `<namespace or organization id>:<name>`. */
const MODULE_ID = /^[^:\s]+:[^:\s]+$/;
const MAX_MODULE_ID_LENGTH = 256;
/** Version specs a registry module may ask for besides an exact version. */
const MODULE_VERSION_WORDS = ['latest', 'latest-with-prerelease'];

/**
 * A module (rdk config/module.go Module.validate): a valid, unreserved name; `local` (or, as in
 * configs older than the registry, no type) needs the executable to run; `registry` needs the
 * module's id and a version (exact semver, `latest` or `latest-with-prerelease`). The stored
 * `version` is not carried: ModuleConfig has no field for it.
 */
function moduleConfig(item: JsonObject, path: string): ProtoJson {
  const name = nameOf(item, path, 'module');
  if (name === RESERVED_MODULE_NAME) fail(child(path, 'name'), `"${RESERVED_MODULE_NAME}" is reserved`);
  const out: ProtoJson = { name };
  const type = str(item, 'type', path) ?? '';
  if (type !== '' && !MODULE_TYPES.includes(type)) {
    fail(child(path, 'type'), `must be one of ${MODULE_TYPES.join(', ')}`);
  }
  const executablePath = str(item, 'executable_path', path);
  if (type === 'registry') {
    const moduleId = requiredStr(item, 'module_id', path);
    if (moduleId.length > MAX_MODULE_ID_LENGTH || !MODULE_ID.test(moduleId)) {
      fail(child(path, 'module_id'), 'must look like "<namespace or organization id>:<module name>"');
    }
    const version = requiredStr(item, 'version', path);
    if (!MODULE_VERSION_WORDS.includes(version) && parseSemVer(version) === undefined) {
      fail(
        child(path, 'version'),
        'must be a semantic version such as 1.2.3 (no "v"), "latest" or "latest-with-prerelease"',
      );
    }
  } else if (!executablePath) {
    fail(child(path, 'executable_path'), 'must be a non-empty string for a local module');
  }
  put(out, 'path', executablePath);
  put(out, 'logLevel', logLevel(item, 'log_level', path, true));
  put(out, 'type', str(item, 'type', path));
  put(out, 'moduleId', str(item, 'module_id', path));
  put(out, 'env', strMap(item, 'env', path));
  put(out, 'firstRunTimeout', duration(item, 'first_run_timeout', path));
  put(out, 'tcpMode', bool(item, 'tcp_mode', path));
  return out;
}

/** Package types viam-server accepts (rdk config/config.go SupportedPackageTypes). */
const PACKAGE_TYPES = ['ml_model', 'module', 'slam_map', 'archive'];
/** A package without a version means the latest one (rdk config/config.go DefaultPackageVersionValue). */
export const DEFAULT_PACKAGE_VERSION = 'latest';

/** rdk config/config.go PackageConfig.validate: name, package id and a supported type; version optional. */
function packageConfig(item: JsonObject, path: string): ProtoJson {
  const name = nameOf(item, path, 'package');
  const pkg = requiredStr(item, 'package', path);
  const type = get(item, 'type');
  if (typeof type !== 'string' || !PACKAGE_TYPES.includes(type)) {
    fail(child(path, 'type'), `must be one of ${PACKAGE_TYPES.join(', ')}`);
  }
  const version = str(item, 'version', path) || DEFAULT_PACKAGE_VERSION;
  return { name, package: pkg, version, type };
}

// ---------------------------------------------------------------------------------------------
// Network and auth (viam-server refuses the whole config when these are malformed)

const HOST_PORT = /^(?:\[[^\]]*\]|[^:[\]]*):[^:[\]]*$/;

function network(item: JsonObject, path: string): ProtoJson {
  const out: ProtoJson = {};
  put(out, 'fqdn', str(item, 'fqdn', path));
  const bindAddress = str(item, 'bind_address', path);
  if (bindAddress && !HOST_PORT.test(bindAddress)) {
    fail(child(path, 'bind_address'), 'must look like "host:port"');
  }
  put(out, 'bindAddress', bindAddress);
  const certFile = str(item, 'tls_cert_file', path);
  const keyFile = str(item, 'tls_key_file', path);
  if (!certFile !== !keyFile) fail(path, 'give both tls_cert_file and tls_key_file, or neither');
  put(out, 'tlsCertFile', certFile);
  put(out, 'tlsKeyFile', keyFile);
  put(out, 'noTls', bool(item, 'no_tls', path));
  put(out, 'sessions', section(item, 'sessions', path, sessions));
  put(out, 'trafficTunnelEndpoints', list(item, 'traffic_tunnel_endpoints', path, trafficTunnelEndpoint));
  return out;
}

function sessions(item: JsonObject, path: string): ProtoJson {
  const out: ProtoJson = {};
  const window = durationNanos(item, 'heartbeat_window', path);
  if (window !== undefined && window !== 0n && (window < 30_000_000n || window > 60_000_000_000n)) {
    fail(child(path, 'heartbeat_window'), 'must be between 30ms and 1m');
  }
  if (window !== undefined) out.heartbeatWindow = formatProtoDuration(window);
  return out;
}

function trafficTunnelEndpoint(item: JsonObject, path: string): ProtoJson {
  const port = get(item, 'port');
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    fail(child(path, 'port'), 'must be a port number (1-65535)');
  }
  const out: ProtoJson = { port };
  put(out, 'connectionTimeout', duration(item, 'connection_timeout', path));
  return out;
}

/**
 * rdk config/config.go AuthConfig.Validate: one handler per type, and viam-server handles only
 * `api-key` handlers (AuthHandlerConfig.Validate); an external auth config must hold a usable JWKS
 * (ExternalAuthConfig.Validate; an external_auth_config without `jwks` makes viam-server panic
 * reading it, rdk config/proto_conversions.go AuthConfigFromProto).
 */
function auth(item: JsonObject, path: string): ProtoJson {
  const out: ProtoJson = {};
  put(out, 'handlers', list(item, 'handlers', path, authHandler));
  put(out, 'tlsAuthEntities', strList(item, 'tls_auth_entities', path));
  put(out, 'externalAuthConfig', section(item, 'external_auth_config', path, externalAuth));
  const handlers = items(item, 'handlers', path) ?? [];
  if (handlers.length > 1) fail(`${child(path, 'handlers')}[1].type`, 'duplicate handler type');
  return out;
}

/**
 * An `api-key` handler: `config.keys` lists key ids, each of which maps to its key in `config`
 * (`{"keys": ["id1"], "id1": "secret"}`). viam-server refuses an empty `keys`, panics on a `keys`
 * that is not a list of strings and on any other entry that is not a string (rdk config/config.go
 * AuthHandlerConfig.Validate, ParseAPIKeys; utils/attribute_map.go StringSlice, String), and
 * cannot serve a listed id without a key (robot/web/web.go).
 */
function authHandler(handler: JsonObject, path: string): ProtoJson {
  const type = get(handler, 'type');
  if (type !== 'api-key')
    fail(child(path, 'type'), 'must be "api-key" (viam-server accepts no other handler)');
  const configPath = child(path, 'config');
  const config = object(handler, 'config', path);
  if (config === undefined) fail(configPath, 'must be an object with "keys" and a key for each id listed');
  const keysPath = child(configPath, 'keys');
  const keys = get(config, 'keys');
  if (!Array.isArray(keys) || keys.length === 0) fail(keysPath, 'must be a non-empty list of key ids');
  keys.forEach((id: unknown, i) => {
    if (typeof id !== 'string' || id === '') fail(`${keysPath}[${i}]`, 'must be a non-empty string');
    if (id === 'keys' || id === 'key') fail(`${keysPath}[${i}]`, `"${id}" cannot be a key id`);
    const key = get(config, id);
    if (typeof key !== 'string' || key === '') {
      fail(child(configPath, id), 'must be the key for this id, a non-empty string');
    }
  });
  for (const [id, value] of Object.entries(config)) {
    if (id === 'keys' || id === 'key' || value === null || typeof value === 'string') continue;
    fail(child(configPath, id), 'must be a string');
  }
  const out: ProtoJson = { type: CREDENTIALS_TYPES['api-key'] };
  put(out, 'config', struct(handler, 'config', path));
  return out;
}

const JWK_ALGORITHMS = ['RS256', 'RS384', 'RS512'];

/** rdk config/config.go ExternalAuthConfig.Validate: at least one key, each RSA with an RS* alg. */
function externalAuth(external: JsonObject, path: string): ProtoJson {
  const jwksPath = child(path, 'jwks');
  const jwks = object(external, 'jwks', path);
  if (jwks === undefined) fail(jwksPath, 'must be a JSON Web Key Set: {"keys": [...]}');
  const keys = items(jwks, 'keys', jwksPath);
  if (keys === undefined || keys.length === 0) fail(child(jwksPath, 'keys'), 'must hold at least one key');
  for (const [key, keyPath] of keys) {
    if (get(key, 'kty') !== 'RSA') fail(child(keyPath, 'kty'), 'must be "RSA" (the only key type supported)');
    const alg = get(key, 'alg');
    if (typeof alg !== 'string' || !JWK_ALGORITHMS.includes(alg)) {
      fail(child(keyPath, 'alg'), `must be one of ${JWK_ALGORITHMS.join(', ')}`);
    }
    for (const member of ['n', 'e']) {
      const value = get(key, member);
      if (typeof value !== 'string' || !BASE64URL.test(value)) {
        fail(child(keyPath, member), 'must be a non-empty base64url string');
      }
    }
  }
  return { jwks: { json: deepCopy(jwks) } };
}

/** Base64 of either alphabet, padded or not, as JWK parsers read `n` and `e`. */
const BASE64URL = /^[A-Za-z0-9_+/-]+={0,2}$/;

// ---------------------------------------------------------------------------------------------
// Jobs, log patterns, maintenance, tracing

/**
 * A job (rdk config/config.go JobConfig.Validate): name, schedule, resource and method are
 * required. The schedule is what viam-server's job manager can run (rdk robot/jobmanager
 * scheduleJob): "continuous", a positive Go duration ("30s"), or a cron expression.
 */
function job(item: JsonObject, path: string): ProtoJson {
  const out: ProtoJson = { name: requiredStr(item, 'name', path) };
  const schedule = requiredStr(item, 'schedule', path);
  if (!isSchedule(schedule)) {
    fail(
      child(path, 'schedule'),
      'must be "continuous", a duration like "30s", or a cron expression like "0 * * * *"',
    );
  }
  out.schedule = schedule;
  out.resource = requiredStr(item, 'resource', path);
  out.method = requiredStr(item, 'method', path);
  put(out, 'command', struct(item, 'command', path));
  put(out, 'logConfiguration', section(item, 'log_configuration', path, logConfiguration));
  return out;
}

/** One cron field: numbers, names (JAN, MON), `*`, `?`, ranges, lists and steps. */
const CRON_FIELD =
  /^(?:\*|\?|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:\/[0-9]+)?(?:,(?:\*|\?|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:\/[0-9]+)?)*$/;
const CRON_DESCRIPTORS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/**
 * Whether viam-server can schedule this: "continuous" (any case); else a Go duration, which must
 * be positive; else a cron expression of 5 fields, or 6 with seconds first, or a descriptor
 * ("@hourly", "@every 10m"), as the job scheduler parses it.
 */
function isSchedule(schedule: string): boolean {
  if (schedule.toLowerCase() === 'continuous') return true;
  const nanos = parseGoDuration(schedule);
  if (nanos !== undefined) return nanos > 0n;
  // A cron expression may start with its time zone ("CRON_TZ=Europe/Rome 0 3 * * *").
  const cron = schedule.trim().replace(/^(?:CRON_)?TZ=\S+\s+/, '');
  if (cron.startsWith('@every ')) {
    const every = parseGoDuration(cron.slice('@every '.length).trim());
    return every !== undefined && every > 0n;
  }
  if (CRON_DESCRIPTORS.includes(cron)) return true;
  const fields = cron.split(/\s+/);
  return (fields.length === 5 || fields.length === 6) && fields.every((f) => CRON_FIELD.test(f));
}

/** A log pattern (rdk logging LoggerPatternConfig): viam-server ignores one whose level it cannot read. */
function logPattern(item: JsonObject, path: string): ProtoJson {
  return {
    pattern: str(item, 'pattern', path) ?? '',
    level:
      logLevel(item, 'level', path, false) ??
      fail(child(path, 'level'), `must be one of ${LOG_LEVELS.join(', ')}`),
  };
}

const RESOURCE_NAME = /^([^:/]+):([^:/]+):([^:/]+)\/(.+)$/;

/** `sensor_name` is a resource name string; a bare name means a sensor component. */
function maintenance(item: JsonObject, path: string): ProtoJson {
  const out: ProtoJson = {};
  const sensorName = str(item, 'sensor_name', path);
  if (sensorName) {
    const match = RESOURCE_NAME.exec(sensorName);
    if (match) {
      const [, namespace, type, subtype, name] = match;
      out.sensorName = { namespace, type, subtype, name };
    } else if (sensorName.includes('/')) {
      fail(child(path, 'sensor_name'), 'must be a resource name like "rdk:component:sensor/name"');
    } else {
      out.sensorName = { namespace: 'rdk', type: 'component', subtype: 'sensor', name: sensorName };
    }
  }
  put(out, 'maintenanceAllowedKey', str(item, 'maintenance_allowed_key', path));
  return out;
}

function tracing(item: JsonObject, path: string): ProtoJson {
  const out: ProtoJson = {};
  put(out, 'enabled', bool(item, 'enabled', path));
  put(out, 'disk', bool(item, 'disk', path));
  put(out, 'console', bool(item, 'console', path));
  // viam-server's key is `otlpendpoint`; `otlp_endpoint` (the proto name) is accepted too.
  put(out, 'otlpEndpoint', str(item, 'otlpendpoint', path) ?? str(item, 'otlp_endpoint', path));
  return out;
}
