import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appRobotApi } from '@viamrobotics/sdk';
import { DomainError } from '../src/domain/errors.js';
import { formatProtoDuration, parseGoDuration } from '../src/domain/config/durations.js';
import { MAX_CONFIG_DEPTH, child, deepCopy } from '../src/domain/config/json.js';
import { toRobotConfigJson } from '../src/domain/config/robot-config.js';
import { seededRandom } from './support/random.js';

const { RobotConfig, CredentialsType } = appRobotApi;

/** Converts, then decodes with protobuf-es exactly as the service will (unknown fields refused). */
function decode(config: unknown): InstanceType<typeof RobotConfig> {
  return RobotConfig.fromJson(toRobotConfigJson(config) as never);
}

function expectInvalid(config: unknown, message: string | RegExp) {
  assert.throws(
    () => toRobotConfigJson(config),
    (e: unknown) => {
      assert.ok(e instanceof DomainError, `expected a DomainError, got ${String(e)}`);
      assert.equal(e.kind, 'invalid_argument');
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      return true;
    },
  );
}

const close = (actual: number | undefined, expected: number, what: string) =>
  assert.ok(Math.abs((actual ?? NaN) - expected) < 1e-9, `${what}: ${actual} is not ${expected}`);

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

const BASE_ATTRIBUTES = {
  left: ['left-motor'],
  right: ['right-motor'],
  wheel_circumference_mm: 217,
  width_mm: 260,
};
const CAPTURE = {
  capture_methods: [
    { method: 'ReadImage', capture_frequency_hz: 0.5, additional_params: { mime_type: 'image/jpeg' } },
  ],
};
const API_KEY_CONFIG = { keys: ['key-id-1'], 'key-id-1': 'key-value-1' };
const JWKS = { keys: [{ kty: 'RSA', alg: 'RS256', kid: 'k1', n: 'abc', e: 'AQAB', use: 'sig' }] };

/** A part config as a user would paste it into the config editor. */
function realisticConfig() {
  return {
    components: [
      {
        name: 'base',
        api: 'rdk:component:base',
        model: 'rdk:builtin:wheeled',
        attributes: BASE_ATTRIBUTES,
        depends_on: ['left-motor', 'right-motor'],
        frame: {
          parent: 'world',
          translation: { x: 0, y: 0, z: 100 },
          orientation: { type: 'ov_degrees', value: { th: 90, x: 0, y: 0, z: 1 } },
          geometry: { type: 'box', x: 300, y: 200, z: 100, label: 'chassis' },
        },
      },
      {
        name: 'left-motor',
        type: 'motor',
        model: 'gpio',
        attributes: { pins: { a: '11', b: '13', pwm: '15' }, board: 'local', max_rpm: 200 },
        frame: {
          parent: 'base',
          translation: { x: -130, y: 0, z: 0 },
          orientation: { type: 'euler_angles', value: { roll: 0, pitch: 0.25, yaw: 1.5 } },
        },
      },
      {
        name: 'right-motor',
        namespace: 'rdk',
        type: 'motor',
        model: 'gpio',
        attributes: { pins: { a: '16', b: '18', pwm: '22' }, board: 'local', max_rpm: 200, dir_flip: true },
        frame: {
          parent: 'base',
          translation: { x: 130, y: 0, z: 0 },
          orientation: { type: 'quaternion', value: { w: 1, x: 0, y: 0, z: 0 } },
        },
      },
      {
        name: 'cam',
        api: 'rdk:component:camera',
        model: 'webcam',
        attributes: { video_path: '/dev/video0', width_px: 640, height_px: 480 },
        service_configs: [{ type: 'data_manager', attributes: CAPTURE }],
        log_configuration: { level: 'debug' },
        frame: {
          parent: 'base',
          translation: { x: 0, y: 50, z: 80 },
          orientation: { type: 'axis_angles', value: { th: 0.5, x: 0, y: 1, z: 0 } },
          geometry: { type: 'sphere', r: 25 },
        },
      },
      { name: 'local', type: 'board', model: 'pi' },
      {
        name: 'gripper',
        api: 'acme:component:gripper',
        model: 'acme:grippers:soft',
        frame: {
          parent: 'arm-pi:arm',
          orientation: { type: 'ov_radians', value: { th: 3.14, x: 0, y: 0, z: -1 } },
          geometry: { type: 'capsule', r: 10, l: 60, translation: { x: 0, y: 0, z: 30 } },
        },
      },
    ],
    services: [
      {
        name: 'slam',
        type: 'slam',
        model: 'viam:slam:cartographer',
        attributes: { camera: { name: 'cam', data_frequency_hz: '5' }, enable_mapping: true },
        depends_on: ['cam'],
      },
      {
        name: 'dm',
        api: 'rdk:service:data_manager',
        model: 'rdk:builtin:builtin',
        attributes: { sync_interval_mins: 0.1, capture_dir: '', tags: [] },
      },
      { name: 'nav', namespace: 'acme', type: 'navigation', model: 'acme:nav:custom' },
      // Same name as a component: names are unique within each section only.
      { name: 'cam', type: 'vision', model: 'mlmodel', attributes: { mlmodel_name: 'yolo' } },
    ],
    remotes: [
      {
        name: 'arm-pi',
        address: 'arm-pi.abc.viam.cloud',
        auth: {
          entity: 'arm-pi.abc.viam.cloud',
          credentials: { type: 'robot-location-secret', payload: 's3cret' },
        },
        frame: { parent: 'world', translation: { x: 500, y: 0, z: 0 } },
        insecure: false,
        connection_check_interval: '5s',
        reconnect_interval: '1m30s',
        managed_by: 'cloud',
        prefix: 'arm-',
        service_configs: [{ type: 'rdk:service:data_manager', attributes: { capture_methods: [] } }],
      },
    ],
    processes: [
      {
        id: 'cam-stream',
        name: '/usr/bin/streamer',
        args: ['--port', '8554'],
        cwd: '/opt/streamer',
        one_shot: false,
        log: true,
        stop_signal: 'SIGINT',
        stop_timeout: '10s',
        env: { RUST_LOG: 'info' },
        username: 'pi',
      },
      { id: 'setup', name: 'bash', args: ['-c', 'echo hi'], one_shot: true, stop_timeout: '500ms' },
    ],
    modules: [
      {
        name: 'viam_cartographer',
        type: 'registry',
        module_id: 'viam:cartographer',
        version: '1.4.0',
        executable_path: '${packages.modules.viam_cartographer}/run.sh',
        log_level: 'debug',
        env: { CARTO_THREADS: '4' },
        first_run_timeout: '1h',
      },
      { name: 'local-mod', type: 'local', executable_path: '/home/pi/mod/run.sh', tcp_mode: true },
    ],
    packages: [{ name: 'yolo', package: 'org-id/yolo', version: '1.2.0', type: 'ml_model' }],
    network: {
      fqdn: 'rover.local',
      bind_address: '0.0.0.0:8080',
      tls_cert_file: '/etc/rover/cert.pem',
      tls_key_file: '/etc/rover/key.pem',
      sessions: { heartbeat_window: '2s' },
      traffic_tunnel_endpoints: [{ port: 22, connection_timeout: '20s' }, { port: 8554 }],
    },
    auth: {
      handlers: [{ type: 'api-key', config: API_KEY_CONFIG }],
      tls_auth_entities: ['rover.local'],
      external_auth_config: { jwks: JWKS },
    },
    debug: true,
    disable_partial_start: false,
    enable_web_profile: true,
    disable_log_deduplication: true,
    jobs: [
      {
        name: 'nightly-reset',
        schedule: '0 3 * * *',
        resource: 'base',
        method: 'DoCommand',
        command: { reset: true, speed: 0.5 },
        log_configuration: { level: 'warn' },
      },
    ],
    log: [
      { pattern: 'rdk.resource_manager.*', level: 'debug' },
      { pattern: 'rdk.networking', level: 'error' },
    ],
    maintenance: { sensor_name: 'rdk:component:sensor/maintenance-sensor', maintenance_allowed_key: 'ok' },
    tracing: { enabled: true, disk: true, console: false, otlpendpoint: 'localhost:4317' },
    // Accepted and ignored: fragments (a later feature), fields the service sets, unknown keys.
    fragments: ['frag-1'],
    fragment_mods: [
      { fragment_id: 'frag-1', mods: [{ $set: { 'components.base.attributes.width_mm': 1 } }] },
    ],
    cloud: { id: 'not-from-here', secret: 'x' },
    revision: 'not-from-here',
    package_path: '/opt/packages',
    some_future_key: { anything: [1, 2, 3] },
  };
}

describe('toRobotConfigJson', () => {
  it('converts a realistic config into a RobotConfig that carries every value', () => {
    const input = deepFreeze(realisticConfig());
    const json = toRobotConfigJson(input);
    assert.deepEqual(JSON.parse(JSON.stringify(json)), json, 'the result is plain JSON');
    const rc = RobotConfig.fromJson(json as never);

    // Fields the service owns are never produced here.
    assert.equal(rc.cloud, undefined);
    assert.equal(rc.revision, '');
    assert.deepEqual(rc.overwriteFragmentStatus, []);
    for (const key of ['cloud', 'revision', 'overwriteFragmentStatus', 'overwrite_fragment_status']) {
      assert.equal(key in json, false, key);
    }

    // Components: identity, api (given or derived), model, attributes, dependencies.
    assert.deepEqual(
      rc.components.map((c) => [c.name, c.api, c.namespace, c.type, c.model]),
      [
        ['base', 'rdk:component:base', 'rdk', 'base', 'rdk:builtin:wheeled'],
        ['left-motor', 'rdk:component:motor', 'rdk', 'motor', 'gpio'],
        ['right-motor', 'rdk:component:motor', 'rdk', 'motor', 'gpio'],
        ['cam', 'rdk:component:camera', 'rdk', 'camera', 'webcam'],
        ['local', 'rdk:component:board', 'rdk', 'board', 'pi'],
        ['gripper', 'acme:component:gripper', 'acme', 'gripper', 'acme:grippers:soft'],
      ],
    );
    const [base, left, right, cam, board, gripper] = rc.components;
    assert.deepEqual(base!.attributes?.toJson(), BASE_ATTRIBUTES);
    assert.deepEqual(base!.dependsOn, ['left-motor', 'right-motor']);
    assert.deepEqual(left!.attributes?.toJson(), {
      pins: { a: '11', b: '13', pwm: '15' },
      board: 'local',
      max_rpm: 200,
    });
    assert.equal(board!.attributes, undefined);
    assert.equal(board!.frame, undefined);

    // Frames: parent, translation, each orientation form, geometries.
    assert.equal(base!.frame?.parent, 'world');
    assert.deepEqual(
      [base!.frame?.translation?.x, base!.frame?.translation?.y, base!.frame?.translation?.z],
      [0, 0, 100],
    );
    const baseOrientation = base!.frame?.orientation?.type;
    assert.equal(baseOrientation?.case, 'vectorDegrees');
    assert.deepEqual(baseOrientation?.case === 'vectorDegrees' ? { ...baseOrientation.value } : undefined, {
      theta: 90,
      x: 0,
      y: 0,
      z: 1,
    });
    const baseGeometry = base!.frame?.geometry;
    assert.equal(baseGeometry?.label, 'chassis');
    assert.equal(baseGeometry?.geometryType.case, 'box');
    assert.deepEqual(baseGeometry?.geometryType.value?.toJson(), { dimsMm: { x: 300, y: 200, z: 100 } });
    assert.deepEqual(baseGeometry?.center?.toJson(), { oZ: 1 }, 'no offset: identity pose');

    assert.equal(left!.frame?.parent, 'base');
    assert.equal(left!.frame?.translation?.x, -130);
    assert.deepEqual(left!.frame?.orientation?.toJson(), { eulerAngles: { pitch: 0.25, yaw: 1.5 } });
    assert.deepEqual(right!.frame?.orientation?.toJson(), { quaternion: { w: 1 } });

    assert.deepEqual(cam!.frame?.orientation?.toJson(), { axisAngles: { theta: 0.5, y: 1 } });
    assert.equal(cam!.frame?.translation?.y, 50);
    assert.deepEqual(cam!.frame?.geometry?.toJson(), { center: { oZ: 1 }, sphere: { radiusMm: 25 } });
    assert.equal(cam!.serviceConfigs.length, 1);
    assert.equal(cam!.serviceConfigs[0]?.type, 'data_manager');
    assert.deepEqual(cam!.serviceConfigs[0]?.attributes?.toJson(), CAPTURE);
    assert.equal(cam!.logConfiguration?.level, 'debug');

    assert.equal(gripper!.frame?.parent, 'arm-pi:arm');
    assert.deepEqual(gripper!.frame?.translation?.toJson(), {}, 'translation defaults to the origin');
    assert.deepEqual(gripper!.frame?.orientation?.toJson(), { vectorRadians: { theta: 3.14, z: -1 } });
    assert.deepEqual(gripper!.frame?.geometry?.toJson(), {
      center: { z: 30, oZ: 1 },
      capsule: { radiusMm: 10, lengthMm: 60 },
    });

    // Services: api derived with the service type, attributes carried.
    assert.deepEqual(
      rc.services.map((s) => [s.name, s.api, s.namespace, s.type, s.model]),
      [
        ['slam', 'rdk:service:slam', 'rdk', 'slam', 'viam:slam:cartographer'],
        ['dm', 'rdk:service:data_manager', 'rdk', 'data_manager', 'rdk:builtin:builtin'],
        ['nav', 'acme:service:navigation', 'acme', 'navigation', 'acme:nav:custom'],
        ['cam', 'rdk:service:vision', 'rdk', 'vision', 'mlmodel'],
      ],
    );
    assert.deepEqual(rc.services[0]?.attributes?.toJson(), {
      camera: { name: 'cam', data_frequency_hz: '5' },
      enable_mapping: true,
    });
    assert.deepEqual(rc.services[0]?.dependsOn, ['cam']);
    assert.deepEqual(rc.services[1]?.attributes?.toJson(), {
      sync_interval_mins: 0.1,
      capture_dir: '',
      tags: [],
    });

    // Remote with auth, durations and a frame.
    assert.equal(rc.remotes.length, 1);
    const remote = rc.remotes[0]!;
    assert.equal(remote.name, 'arm-pi');
    assert.equal(remote.address, 'arm-pi.abc.viam.cloud');
    assert.equal(remote.auth?.entity, 'arm-pi.abc.viam.cloud');
    assert.equal(remote.auth?.credentials?.type, CredentialsType.ROBOT_LOCATION_SECRET);
    assert.equal(remote.auth?.credentials?.payload, 's3cret');
    assert.equal(remote.connectionCheckInterval?.seconds, 5n);
    assert.equal(remote.reconnectInterval?.seconds, 90n);
    assert.equal(remote.reconnectInterval?.nanos, 0);
    assert.equal(remote.frame?.parent, 'world');
    assert.equal(remote.frame?.translation?.x, 500);
    assert.equal(remote.managedBy, 'cloud');
    assert.equal(remote.prefix, 'arm-');
    assert.equal(remote.insecure, false);
    assert.equal(remote.serviceConfigs[0]?.type, 'rdk:service:data_manager');

    // Processes: stop_timeout as a Duration, stop_signal as its number.
    const [stream, setup] = rc.processes;
    assert.equal(stream?.id, 'cam-stream');
    assert.equal(stream?.name, '/usr/bin/streamer');
    assert.deepEqual(stream?.args, ['--port', '8554']);
    assert.equal(stream?.cwd, '/opt/streamer');
    assert.equal(stream?.log, true);
    assert.equal(stream?.oneShot, false);
    assert.equal(stream?.stopSignal, 2);
    assert.equal(stream?.stopTimeout?.seconds, 10n);
    assert.equal(stream?.stopTimeout?.nanos, 0);
    assert.deepEqual({ ...stream?.env }, { RUST_LOG: 'info' });
    assert.equal(stream?.username, 'pi');
    assert.equal(setup?.oneShot, true);
    assert.equal(setup?.stopTimeout?.seconds, 0n);
    assert.equal(setup?.stopTimeout?.nanos, 500_000_000);

    // Modules and packages.
    const [carto, localModule] = rc.modules;
    assert.equal(carto?.name, 'viam_cartographer');
    assert.equal(carto?.type, 'registry');
    assert.equal(carto?.moduleId, 'viam:cartographer');
    assert.equal(carto?.path, '${packages.modules.viam_cartographer}/run.sh');
    assert.equal(carto?.logLevel, 'debug');
    assert.deepEqual({ ...carto?.env }, { CARTO_THREADS: '4' });
    assert.equal(carto?.firstRunTimeout?.seconds, 3600n);
    assert.equal(localModule?.tcpMode, true);
    assert.equal(localModule?.path, '/home/pi/mod/run.sh');
    assert.deepEqual(
      rc.packages.map((p) => [p.name, p.package, p.version, p.type]),
      [['yolo', 'org-id/yolo', '1.2.0', 'ml_model']],
    );

    // Network and auth.
    assert.equal(rc.network?.fqdn, 'rover.local');
    assert.equal(rc.network?.bindAddress, '0.0.0.0:8080');
    assert.equal(rc.network?.tlsCertFile, '/etc/rover/cert.pem');
    assert.equal(rc.network?.tlsKeyFile, '/etc/rover/key.pem');
    assert.equal(rc.network?.sessions?.heartbeatWindow?.seconds, 2n);
    assert.deepEqual(
      rc.network?.trafficTunnelEndpoints.map((e) => [e.port, e.connectionTimeout?.seconds]),
      [
        [22, 20n],
        [8554, undefined],
      ],
    );
    assert.equal(rc.auth?.handlers.length, 1);
    assert.equal(rc.auth?.handlers[0]?.type, CredentialsType.API_KEY);
    assert.deepEqual(rc.auth?.handlers[0]?.config?.toJson(), API_KEY_CONFIG);
    assert.deepEqual(rc.auth?.tlsAuthEntities, ['rover.local']);
    assert.deepEqual(rc.auth?.externalAuthConfig?.jwks?.json?.toJson(), JWKS);

    // Flags, jobs, log patterns, maintenance, tracing.
    assert.equal(rc.debug, true);
    assert.equal(rc.disablePartialStart, false);
    assert.equal(rc.enableWebProfile, true);
    assert.equal(rc.disableLogDeduplication, true);
    assert.equal(rc.jobs.length, 1);
    assert.deepEqual(
      [rc.jobs[0]?.name, rc.jobs[0]?.schedule, rc.jobs[0]?.resource, rc.jobs[0]?.method],
      ['nightly-reset', '0 3 * * *', 'base', 'DoCommand'],
    );
    assert.deepEqual(rc.jobs[0]?.command?.toJson(), { reset: true, speed: 0.5 });
    assert.equal(rc.jobs[0]?.logConfiguration?.level, 'warn');
    assert.deepEqual(
      rc.log.map((l) => [l.pattern, l.level]),
      [
        ['rdk.resource_manager.*', 'debug'],
        ['rdk.networking', 'error'],
      ],
    );
    assert.deepEqual(rc.maintenance?.sensorName?.toJson(), {
      namespace: 'rdk',
      type: 'component',
      subtype: 'sensor',
      name: 'maintenance-sensor',
    });
    assert.equal(rc.maintenance?.maintenanceAllowedKey, 'ok');
    assert.deepEqual(rc.tracing?.toJson(), { enabled: true, disk: true, otlpEndpoint: 'localhost:4317' });

    // The input is left untouched (it was deeply frozen; compare to a fresh copy as well).
    assert.deepEqual(input, realisticConfig());
  });

  it('converts the empty config to an empty RobotConfig', () => {
    assert.deepEqual(toRobotConfigJson({}), {});
    assert.ok(decode({}).equals(new RobotConfig()));
    // Sections given as null or empty lists are just as empty.
    const rc = decode({ components: null, services: [], network: null, debug: null, fragments: null });
    assert.equal(rc.components.length, 0);
    assert.equal(rc.services.length, 0);
    assert.equal(rc.network, undefined);
    assert.equal(rc.debug, undefined);
  });

  it('ignores the service-owned fields, fragments and unknown keys', () => {
    const json = toRobotConfigJson({
      cloud: { id: 'x', fqdn: 'y' },
      revision: 'abc',
      overwrite_fragment_status: [{ error: 'x' }],
      fragments: [{ id: 'f' }],
      fragment_mods: 'anything',
      global_log_configuration: [],
      brand_new_section: { x: 1 },
      components: [{ name: 'm', type: 'motor', model: 'fake', some_future_field: 3 }],
    });
    assert.deepEqual(json, {
      components: [{ name: 'm', namespace: 'rdk', type: 'motor', api: 'rdk:component:motor', model: 'fake' }],
    });
  });

  it('derives api from namespace and type, and prefers an explicit api', () => {
    const rc = decode({
      components: [
        { name: 'a', type: 'arm', model: 'fake' },
        { name: 'b', namespace: 'acme', type: 'arm', model: 'acme:arms:x' },
        { name: 'c', api: 'viam:component:gantry', type: 'ignored-when-api-is-given', model: 'fake' },
        { name: 'd', api: '', type: 'sensor', model: 'fake' },
      ],
      services: [
        { name: 'm', type: 'motion', model: 'builtin' },
        { name: 'n', namespace: 'acme', type: 'navigation', model: 'acme:nav:x' },
        { name: 'o', api: 'acme:service:planner', model: 'acme:planner:y' },
      ],
    });
    assert.deepEqual(
      rc.components.map((c) => c.api),
      ['rdk:component:arm', 'acme:component:arm', 'viam:component:gantry', 'rdk:component:sensor'],
    );
    assert.deepEqual(
      rc.components.map((c) => c.type),
      ['arm', 'arm', 'gantry', 'sensor'],
    );
    assert.deepEqual(
      rc.services.map((s) => [s.api, s.namespace, s.type]),
      [
        ['rdk:service:motion', 'rdk', 'motion'],
        ['acme:service:navigation', 'acme', 'navigation'],
        ['acme:service:planner', 'acme', 'planner'],
      ],
    );
  });

  it('maps every orientation form to the proto oneof', () => {
    const orientation = (type: string, value?: unknown) =>
      decode({
        components: [
          { name: 'x', type: 'arm', model: 'fake', frame: { parent: 'world', orientation: { type, value } } },
        ],
      }).components[0]!.frame!.orientation!.type;
    assert.deepEqual(orientation('', undefined), {
      case: 'noOrientation',
      value: new appRobotApi.Orientation_NoOrientation(),
    });
    const ovd = orientation('ov_degrees', { th: 45, x: 1, y: 2, z: 3 });
    assert.equal(ovd.case, 'vectorDegrees');
    assert.deepEqual(ovd.value?.toJson(), { theta: 45, x: 1, y: 2, z: 3 });
    const ovr = orientation('ov_radians', { th: -1, x: 0, y: 1, z: 0 });
    assert.equal(ovr.case, 'vectorRadians');
    assert.deepEqual(ovr.value?.toJson(), { theta: -1, y: 1 });
    const euler = orientation('euler_angles', { roll: 0.1, pitch: 0.2, yaw: 0.3 });
    assert.equal(euler.case, 'eulerAngles');
    assert.deepEqual(euler.value?.toJson(), { roll: 0.1, pitch: 0.2, yaw: 0.3 });
    const aa = orientation('axis_angles', { th: 2, x: 0, y: 0, z: 1 });
    assert.equal(aa.case, 'axisAngles');
    assert.deepEqual(aa.value?.toJson(), { theta: 2, z: 1 });
    const quat = orientation('quaternion', { w: 0.5, x: 0.5, y: 0.5, z: 0.5 });
    assert.equal(quat.case, 'quaternion');
    assert.deepEqual(quat.value?.toJson(), { w: 0.5, x: 0.5, y: 0.5, z: 0.5 });
    // viam-server reads quaternion keys case-insensitively (its Go struct has no JSON tags).
    const upper = orientation('quaternion', { W: 0.5, X: -0.5, Y: 0.5, Z: 0.5 });
    assert.deepEqual(upper.value?.toJson(), { w: 0.5, x: -0.5, y: 0.5, z: 0.5 });
  });

  it('maps geometries to common.v1.Geometry, inferring a missing type as viam-server does', () => {
    const geometry = (g: Record<string, unknown>) =>
      decode({
        components: [{ name: 'x', type: 'arm', model: 'fake', frame: { parent: 'world', geometry: g } }],
      }).components[0]!.frame!.geometry!.toJson();
    assert.deepEqual(geometry({ type: 'box', x: 1, y: 2, z: 3, Label: 'legacy-label' }), {
      center: { oZ: 1 },
      box: { dimsMm: { x: 1, y: 2, z: 3 } },
      label: 'legacy-label',
    });
    assert.deepEqual(geometry({ type: 'point', translation: { x: 5 } }), {
      center: { x: 5, oZ: 1 },
      sphere: {},
    });
    assert.deepEqual(geometry({ type: 'mesh', mesh_data: 'cGx5', mesh_content_type: 'ply' }), {
      center: { oZ: 1 },
      mesh: { contentType: 'ply', mesh: 'cGx5' },
    });
    assert.deepEqual(geometry({ x: 4, y: 5, z: 6 }), {
      center: { oZ: 1 },
      box: { dimsMm: { x: 4, y: 5, z: 6 } },
    });
    assert.deepEqual(geometry({ r: 2, l: 8 }), { center: { oZ: 1 }, capsule: { radiusMm: 2, lengthMm: 8 } });
    assert.deepEqual(geometry({ r: 7 }), { center: { oZ: 1 }, sphere: { radiusMm: 7 } });
  });

  it('converts a geometry offset orientation to the orientation vector (degrees) of its center pose', () => {
    const center = (orientation: unknown) => {
      const geometry = { type: 'sphere', r: 1, translation: { x: 1, y: 2, z: 3 }, orientation };
      const pose = decode({
        components: [{ name: 'x', type: 'arm', model: 'fake', frame: { parent: 'world', geometry } }],
      }).components[0]!.frame!.geometry!.center!;
      assert.deepEqual([pose.x, pose.y, pose.z], [1, 2, 3]);
      return pose;
    };
    const expectOv = (orientation: unknown, [oX, oY, oZ, theta]: number[], what: string) => {
      const pose = center(orientation);
      close(pose.oX, oX!, `${what} oX`);
      close(pose.oY, oY!, `${what} oY`);
      close(pose.oZ, oZ!, `${what} oZ`);
      close(pose.theta, theta!, `${what} theta`);
    };
    const h = Math.SQRT1_2;
    expectOv({ type: 'ov_degrees', value: { th: 30, x: 0, y: 1, z: 0 } }, [0, 1, 0, 30], 'ov_degrees');
    expectOv({ type: 'ov_radians', value: { th: Math.PI, x: 1, y: 0, z: 0 } }, [1, 0, 0, 180], 'ov_radians');
    expectOv(
      { type: 'euler_angles', value: { roll: 0, pitch: 0, yaw: Math.PI / 2 } },
      [0, 0, 1, 90],
      'yaw 90',
    );
    expectOv({ type: 'axis_angles', value: { th: Math.PI / 2, x: 0, y: 2, z: 0 } }, [1, 0, 0, 0], 'about Y');
    expectOv({ type: 'quaternion', value: { w: h, x: h, y: 0, z: 0 } }, [0, -1, 0, 90], 'about X');
    expectOv({ type: 'quaternion', value: { w: 0, x: 1, y: 0, z: 0 } }, [0, 0, -1, 180], 'flipped');
    expectOv(
      { type: 'quaternion', value: { w: 2, x: 0, y: 0, z: 0 } },
      [0, 0, 1, 0],
      'identity, unnormalized',
    );

    // Property: the orientation vector describes the same rotation as the input quaternion.
    const random = seededRandom(7);
    for (let i = 0; i < 200; i++) {
      const q = [random() - 0.5, random() - 0.5, random() - 0.5, random() - 0.5];
      if (i % 10 === 0) q[1] = q[2] = 0; // rotations about Z only: the poles
      if (i % 10 === 1) q[0] = q[3] = 0; // half turns about an axis in the XY plane: the south pole
      const [w, x, y, z] = q as [number, number, number, number];
      const pose = center({ type: 'quaternion', value: { w, x, y, z } });
      const expected = quaternionMatrix(w, x, y, z);
      const actual = ovDegreesMatrix(pose.oX, pose.oY, pose.oZ, pose.theta);
      for (let k = 0; k < 9; k++) close(actual[k], expected[k]!, `rotation ${i} entry ${k}`);
    }
  });

  it('parses Go durations and writes protobuf JSON durations', () => {
    const cases: [string, string][] = [
      ['10s', '10s'],
      ['1m30s', '90s'],
      ['500ms', '0.5s'],
      ['1.5h', '5400s'],
      ['1h2m3.25s', '3723.25s'],
      ['0', '0s'],
      ['2us', '0.000002s'],
      ['2µs', '0.000002s'],
      ['2μs', '0.000002s'],
      ['1ns', '0.000000001s'],
      ['.5s', '0.5s'],
      ['1.s', '1s'],
      ['-1.5s', '-1.5s'],
      ['+3m', '180s'],
      ['2562047h47m16.854775807s', '9223372036.854775807s'],
    ];
    for (const [go, proto] of cases) {
      const nanos = parseGoDuration(go);
      assert.notEqual(nanos, undefined, go);
      assert.equal(formatProtoDuration(nanos!), proto, go);
    }
    for (const bad of [
      '',
      '10',
      's',
      '1d',
      '1 s',
      ' 1s',
      '1e3s',
      'abc',
      '1h-5m',
      '.s',
      '2562047h47m16.854775808s',
    ]) {
      assert.equal(parseGoDuration(bad), undefined, JSON.stringify(bad));
    }
    const process = decode({ processes: [{ id: 'p', name: 'p', stop_timeout: '1m30.25s' }] }).processes[0]!;
    assert.equal(process.stopTimeout?.seconds, 90n);
    assert.equal(process.stopTimeout?.nanos, 250_000_000);
    // An empty duration string means "not set", as in viam-server.
    assert.equal(
      decode({ processes: [{ id: 'p', name: 'p', stop_timeout: '' }] }).processes[0]?.stopTimeout,
      undefined,
    );
  });

  it('accepts every stop signal spelling viam-server accepts', () => {
    const signal = (stop_signal: unknown) =>
      decode({ processes: [{ id: 'p', name: 'p', stop_signal }] }).processes[0]!.stopSignal;
    assert.equal(signal('SIGTERM'), 15);
    assert.equal(signal('TERM'), 15);
    assert.equal(signal('terminate'), 15);
    assert.equal(signal('15'), 15);
    assert.equal(signal(9), 9);
    assert.equal(signal('HUP'), 1);
    assert.equal(signal('abort'), 6);
    assert.equal(signal('QUIT'), 3);
    assert.equal(signal(''), 0);
  });

  it('reads a bare maintenance sensor name as a sensor component', () => {
    const rc = decode({ maintenance: { sensor_name: 'door', maintenance_allowed_key: 'safe' } });
    assert.deepEqual(rc.maintenance?.sensorName?.toJson(), {
      namespace: 'rdk',
      type: 'component',
      subtype: 'sensor',
      name: 'door',
    });
  });

  it('refuses malformed configs with INVALID_ARGUMENT naming the key path', () => {
    const component = (extra: Record<string, unknown>) => ({
      components: [{ name: 'c', type: 'arm', model: 'fake', ...extra }],
    });
    const frame = (extra: Record<string, unknown>) => component({ frame: { parent: 'world', ...extra } });
    const geometry = (g: unknown) => frame({ geometry: g });
    const orientation = (o: unknown) => frame({ orientation: o });
    const process = (extra: Record<string, unknown>) => ({ processes: [{ id: 'p', name: 'p', ...extra }] });
    const oneOf = (types: string) => `must be one of ${types}`;
    const ORIENTATIONS = oneOf('ov_degrees, ov_radians, euler_angles, axis_angles, quaternion');
    const GEOMETRIES = oneOf('box, sphere, capsule, point, mesh');
    const CREDENTIALS = oneOf('api-key, robot-secret, robot-location-secret');

    const table: [string, unknown, string][] = [
      ['null', null, 'config must be a JSON object'],
      ['a list', [], 'config must be a JSON object'],
      ['a string', '{}', 'config must be a JSON object'],
      ['a number', 3, 'config must be a JSON object'],
      ['components not a list', { components: {} }, 'components: must be a list of objects'],
      ['services not a list', { services: 'x' }, 'services: must be a list of objects'],
      ['a service not an object', { services: [1] }, 'services[0]: must be an object'],
      ['remotes not a list', { remotes: { name: 'r' } }, 'remotes: must be a list of objects'],
      ['processes not a list', { processes: 1 }, 'processes: must be a list of objects'],
      ['modules not a list', { modules: true }, 'modules: must be a list of objects'],
      ['packages not a list', { packages: {} }, 'packages: must be a list of objects'],
      ['jobs not a list', { jobs: 'nightly' }, 'jobs: must be a list of objects'],
      ['log not a list', { log: { pattern: 'x' } }, 'log: must be a list of objects'],
      [
        'component without name',
        { components: [{ name: 'a', type: 'arm', model: 'fake' }, { type: 'arm' }] },
        'components[1].name: must be a non-empty string',
      ],
      [
        'component with empty name',
        component({ name: '' }),
        'components[0].name: must be a non-empty string',
      ],
      [
        'component with numeric name',
        component({ name: 7 }),
        'components[0].name: must be a non-empty string',
      ],
      [
        'duplicate component names',
        {
          components: [
            { name: 'a', type: 'arm', model: 'fake' },
            { name: 'b', type: 'arm', model: 'fake' },
            { name: 'a', type: 'motor', model: 'fake' },
          ],
        },
        'components[2].name: duplicate name "a" (also used by components[0])',
      ],
      [
        'duplicate service names',
        {
          services: [
            { name: 's', type: 'slam', model: 'builtin' },
            { name: 's', type: 'motion', model: 'builtin' },
          ],
        },
        'services[1].name: duplicate name "s" (also used by services[0])',
      ],
      [
        'service without name',
        { services: [{ type: 'slam' }] },
        'services[0].name: must be a non-empty string',
      ],
      [
        'component without api or type',
        { components: [{ name: 'c', model: 'fake' }] },
        'components[0].type: must be a non-empty string (or give "api")',
      ],
      [
        'malformed api',
        component({ api: 'motor' }),
        'components[0].api: must look like "namespace:type:subtype"',
      ],
      [
        'api with four parts',
        component({ api: 'a:b:c:d' }),
        'components[0].api: must look like "namespace:type:subtype"',
      ],
      ['api not a string', component({ api: { namespace: 'rdk' } }), 'components[0].api: must be a string'],
      [
        'full api in type',
        component({ type: 'rdk:component:arm' }),
        'components[0].type: must not contain ":" (use "api" for a full API)',
      ],
      [
        'namespace with a colon',
        component({ namespace: 'a:b' }),
        'components[0].namespace: must not contain ":"',
      ],
      ['model not a string', component({ model: { name: 'fake' } }), 'components[0].model: must be a string'],
      ['attributes a list', component({ attributes: [] }), 'components[0].attributes: must be an object'],
      [
        'service attributes a string',
        { services: [{ name: 's', type: 'slam', model: 'builtin', attributes: 'x' }] },
        'services[0].attributes: must be an object',
      ],
      [
        'depends_on a string',
        component({ depends_on: 'b' }),
        'components[0].depends_on: must be a list of strings',
      ],
      [
        'depends_on numbers',
        component({ depends_on: [1] }),
        'components[0].depends_on: must be a list of strings',
      ],
      [
        'service_configs entry without type',
        component({ service_configs: [{ attributes: {} }] }),
        'components[0].service_configs[0].type: must be a non-empty string',
      ],
      [
        'log_configuration level not a string',
        component({ log_configuration: { level: 1 } }),
        'components[0].log_configuration.level: must be a string',
      ],
      ['frame a list', component({ frame: [] }), 'components[0].frame: must be an object'],
      [
        'frame without parent',
        component({ frame: {} }),
        'components[0].frame.parent: must be a non-empty string',
      ],
      [
        'translation with a string',
        frame({ translation: { x: '1', y: 0, z: 0 } }),
        'components[0].frame.translation.x: must be a number',
      ],
      [
        'translation a list',
        frame({ translation: [1, 2, 3] }),
        'components[0].frame.translation: must be an object',
      ],
      [
        'unknown orientation type',
        orientation({ type: 'rpy', value: {} }),
        `components[0].frame.orientation.type: ${ORIENTATIONS}`,
      ],
      [
        'orientation without value',
        orientation({ type: 'ov_degrees' }),
        'components[0].frame.orientation.value: must be an object',
      ],
      [
        'orientation vector of zeros',
        orientation({ type: 'ov_degrees', value: { th: 10 } }),
        'components[0].frame.orientation.value: x, y and z must not all be 0',
      ],
      [
        'orientation theta as a string',
        orientation({ type: 'ov_radians', value: { th: '1', z: 1 } }),
        'components[0].frame.orientation.value.th: must be a number',
      ],
      [
        'zero quaternion',
        orientation({ type: 'quaternion', value: {} }),
        'components[0].frame.orientation.value: w, x, y and z must not all be 0',
      ],
      [
        'euler angle as a string',
        orientation({ type: 'euler_angles', value: { yaw: '90' } }),
        'components[0].frame.orientation.value.yaw: must be a number',
      ],
      [
        'unknown geometry type',
        geometry({ type: 'cone' }),
        `components[0].frame.geometry.type: ${GEOMETRIES}`,
      ],
      ['geometry with nothing', geometry({}), `components[0].frame.geometry.type: ${GEOMETRIES}`],
      ['geometry not an object', geometry('box'), 'components[0].frame.geometry: must be an object'],
      [
        'box with a zero side',
        geometry({ type: 'box', x: 1, y: 0, z: 1 }),
        'components[0].frame.geometry.y: must be a positive number',
      ],
      [
        'sphere without radius',
        geometry({ type: 'sphere' }),
        'components[0].frame.geometry.r: must be a positive number',
      ],
      [
        'capsule without length',
        geometry({ type: 'capsule', r: 1 }),
        'components[0].frame.geometry.l: must be a positive number',
      ],
      [
        'mesh without data',
        geometry({ type: 'mesh', mesh_content_type: 'ply' }),
        'components[0].frame.geometry.mesh_data: must be the mesh file as a non-empty base64 string',
      ],
      [
        'mesh with data that is not base64',
        geometry({ type: 'mesh', mesh_data: 'not base64!' }),
        'components[0].frame.geometry.mesh_data: must be the mesh file as a non-empty base64 string',
      ],
      [
        'geometry orientation of an unknown type',
        geometry({ type: 'sphere', r: 1, orientation: { type: 'matrix', value: {} } }),
        `components[0].frame.geometry.orientation.type: ${ORIENTATIONS}`,
      ],
      [
        'remote without address',
        { remotes: [{ name: 'r' }] },
        'remotes[0].address: must be a non-empty string',
      ],
      [
        'remote without name',
        { remotes: [{ address: 'a:8080' }] },
        'remotes[0].name: must be a non-empty string',
      ],
      [
        'remote credentials of an unknown type',
        { remotes: [{ name: 'r', address: 'a', auth: { credentials: { type: 'password', payload: 'x' } } }] },
        `remotes[0].auth.credentials.type: ${CREDENTIALS}`,
      ],
      [
        'remote interval without unit',
        { remotes: [{ name: 'r', address: 'a', connection_check_interval: '5' }] },
        'remotes[0].connection_check_interval: must be a duration like "10s"',
      ],
      [
        'remote frame without parent',
        { remotes: [{ name: 'r', address: 'a', frame: { translation: { x: 1 } } }] },
        'remotes[0].frame.parent: must be a non-empty string',
      ],
      ['process without name', { processes: [{ id: 'p' }] }, 'processes[0].name: must be a non-empty string'],
      ['process without id', { processes: [{ name: 'p' }] }, 'processes[0].id: must be a non-empty string'],
      [
        'stop_timeout without unit',
        process({ stop_timeout: '10' }),
        'processes[0].stop_timeout: must be a duration like "10s"',
      ],
      [
        'stop_timeout as a number',
        process({ stop_timeout: 10 }),
        'processes[0].stop_timeout: must be a duration like "10s"',
      ],
      [
        'stop_timeout in days',
        process({ stop_timeout: '1d' }),
        'processes[0].stop_timeout: must be a duration like "10s"',
      ],
      [
        'unsupported stop signal',
        process({ stop_signal: 'SIGSEGV' }),
        'processes[0].stop_signal: must be one of HUP, INT, QUIT, ABRT, KILL, TERM',
      ],
      ['env value a number', process({ env: { A: 1 } }), 'processes[0].env.A: must be a string'],
      ['env a list', process({ env: ['A=1'] }), 'processes[0].env: must be an object'],
      ['args a string', process({ args: '--flag' }), 'processes[0].args: must be a list of strings'],
      ['one_shot a string', process({ one_shot: 'yes' }), 'processes[0].one_shot: must be true or false'],
      [
        'module without name',
        { modules: [{ executable_path: '/x' }] },
        'modules[0].name: must be a non-empty string',
      ],
      [
        'module env with a non-string',
        { modules: [{ name: 'm', executable_path: '/x', env: { 'MY-VAR': true } }] },
        'modules[0].env.MY-VAR: must be a string',
      ],
      [
        'module first_run_timeout in words',
        { modules: [{ name: 'm', executable_path: '/x', first_run_timeout: 'soon' }] },
        'modules[0].first_run_timeout: must be a duration like "10s"',
      ],
      [
        'package without type',
        { packages: [{ name: 'p', package: 'org/p' }] },
        'packages[0].type: must be one of ml_model, module, slam_map, archive',
      ],
      [
        'package without package',
        { packages: [{ name: 'p', version: '1' }] },
        'packages[0].package: must be a non-empty string',
      ],
      ['network a list', { network: [] }, 'network: must be an object'],
      [
        'bind_address without port',
        { network: { bind_address: 'localhost' } },
        'network.bind_address: must look like "host:port"',
      ],
      [
        'a certificate without its key',
        { network: { tls_cert_file: '/cert.pem' } },
        'network: give both tls_cert_file and tls_key_file, or neither',
      ],
      [
        'heartbeat window too long',
        { network: { sessions: { heartbeat_window: '5m' } } },
        'network.sessions.heartbeat_window: must be between 30ms and 1m',
      ],
      [
        'heartbeat window too short',
        { network: { sessions: { heartbeat_window: '10ms' } } },
        'network.sessions.heartbeat_window: must be between 30ms and 1m',
      ],
      [
        'tunnel port out of range',
        { network: { traffic_tunnel_endpoints: [{ port: 70000 }] } },
        'network.traffic_tunnel_endpoints[0].port: must be a port number (1-65535)',
      ],
      [
        'auth handler of an unknown type',
        { auth: { handlers: [{ type: 'oauth-web-auth', config: {} }] } },
        'auth.handlers[0].type: must be "api-key" (viam-server accepts no other handler)',
      ],
      [
        'duplicate auth handler types',
        {
          auth: {
            handlers: [
              { type: 'api-key', config: API_KEY_CONFIG },
              { type: 'api-key', config: API_KEY_CONFIG },
            ],
          },
        },
        'auth.handlers[1].type: duplicate handler type',
      ],
      [
        'auth handler config a string',
        { auth: { handlers: [{ type: 'api-key', config: 'k' }] } },
        'auth.handlers[0].config: must be an object',
      ],
      [
        'tls_auth_entities a string',
        { auth: { tls_auth_entities: 'x' } },
        'auth.tls_auth_entities: must be a list of strings',
      ],
      ['debug a string', { debug: 'true' }, 'debug: must be true or false'],
      [
        'disable_partial_start a number',
        { disable_partial_start: 1 },
        'disable_partial_start: must be true or false',
      ],
      [
        'enable_web_profile a string',
        { enable_web_profile: 'no' },
        'enable_web_profile: must be true or false',
      ],
      [
        'disable_log_deduplication a list',
        { disable_log_deduplication: [] },
        'disable_log_deduplication: must be true or false',
      ],
      [
        'job command a list',
        { jobs: [{ name: 'j', schedule: '1h', resource: 'r', method: 'DoCommand', command: [] }] },
        'jobs[0].command: must be an object',
      ],
      ['log pattern a number', { log: [{ pattern: 1, level: 'info' }] }, 'log[0].pattern: must be a string'],
      [
        'malformed maintenance sensor name',
        { maintenance: { sensor_name: 'sensor/door' } },
        'maintenance.sensor_name: must be a resource name like "rdk:component:sensor/name"',
      ],
      ['tracing enabled a string', { tracing: { enabled: 'yes' } }, 'tracing.enabled: must be true or false'],
      ['tracing a list', { tracing: [] }, 'tracing: must be an object'],
      [
        'NaN in attributes',
        component({ attributes: { x: NaN } }),
        'components[0].attributes.x: must be a finite number',
      ],
      [
        'Infinity under an odd key',
        component({ attributes: { 'my key': [Infinity] } }),
        'components[0].attributes["my key"][0]: must be a finite number',
      ],
      [
        'a Date in attributes',
        component({ attributes: { when: new Date(0) } }),
        'components[0].attributes.when: must be a JSON value',
      ],
      [
        'a function in attributes',
        component({ attributes: { f: () => 1 } }),
        'components[0].attributes.f: must be a JSON value',
      ],
      ['a bigint in an unknown section', { future: { n: 1n } }, 'future.n: must be a JSON value'],
      [
        'a __proto__ key',
        { components: [JSON.parse('{"name":"c","type":"arm","attributes":{"__proto__":{"x":1}}}')] },
        'components[0].attributes: the key "__proto__" is not allowed',
      ],
    ];
    for (const [what, config, message] of table) {
      try {
        expectInvalid(config, message);
      } catch (e) {
        throw new Error(`${what}: ${(e as Error).message}`);
      }
    }
  });

  it(`bounds nesting at ${MAX_CONFIG_DEPTH} levels`, () => {
    // config (1) > components (2) > component (3) > attributes (4) > `levels` more objects.
    const nested = (levels: number): Record<string, unknown> =>
      levels === 0 ? {} : { a: nested(levels - 1) };
    const withAttributes = (levels: number) => ({
      components: [{ name: 'c', type: 'arm', model: 'fake', attributes: nested(levels) }],
    });
    const deepest = MAX_CONFIG_DEPTH - 4;
    const rc = decode(withAttributes(deepest));
    let attributes = rc.components[0]!.attributes!.toJson() as Record<string, unknown>;
    for (let i = 0; i < deepest; i++) attributes = attributes.a as Record<string, unknown>;
    assert.deepEqual(attributes, {});

    const tooDeep = `components[0].attributes${'.a'.repeat(deepest + 1)}: nested deeper than 64 levels`;
    expectInvalid(withAttributes(deepest + 1), tooDeep);
    expectInvalid(withAttributes(10_000), tooDeep);
    // Lists count as levels too.
    let list: unknown = [];
    for (let i = 0; i < MAX_CONFIG_DEPTH; i++) list = [list];
    expectInvalid({ some_key: list }, /^some_key(\[0\])+: nested deeper than 64 levels$/);
    // A cycle (not JSON, but reachable from JavaScript callers) ends at the bound, not in a stack overflow.
    const cycle: Record<string, unknown> = { name: 'c', type: 'arm' };
    cycle.attributes = cycle;
    expectInvalid({ components: [cycle] }, /nested deeper than 64 levels$/);
  });

  it('round trip: every generated valid config converts and decodes', () => {
    const random = seededRandom(2024);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
    const maybe = (p = 0.5) => random() < p;
    const n = (scale = 1000) => Math.round((random() - 0.5) * scale * 1000) / 1000;
    const duration = () => pick(['10s', '1m30s', '500ms', '1.5h', '250us', '2h45m', '0', '1ns', '']);
    const orientation = () =>
      pick([
        { type: 'ov_degrees', value: { th: n(360), x: n(), y: n(), z: 1 + random() } },
        { type: 'ov_radians', value: { th: n(6), x: 1 + random(), y: n(), z: n() } },
        { type: 'euler_angles', value: { roll: n(6), pitch: n(6), yaw: n(6) } },
        { type: 'axis_angles', value: { th: n(6), x: n(), y: 1 + random(), z: n() } },
        { type: 'quaternion', value: { w: 1 + random(), x: n(1), y: n(1), z: n(1) } },
        { type: '' },
      ]);
    const geometry = () =>
      pick([
        { type: 'box', x: 1 + random() * 100, y: 1 + random() * 100, z: 1 + random() * 100, label: 'g' },
        { type: 'sphere', r: 1 + random() * 10, orientation: orientation() },
        { type: 'capsule', r: 1 + random(), l: 5 + random(), translation: { x: n(), y: n(), z: n() } },
        { type: 'point' },
        { r: 3, orientation: orientation() },
      ]);
    const frame = () => ({
      parent: pick(['world', 'base', 'remote:arm']),
      ...(maybe() ? { translation: { x: n(), y: n(), z: n() } } : {}),
      ...(maybe() ? { orientation: orientation() } : {}),
      ...(maybe(0.3) ? { geometry: geometry() } : {}),
    });
    const attributes = () => ({
      str: 'v',
      num: n(),
      flag: maybe(),
      list: [1, 'two', null, { three: 3 }],
      nested: { deeper: { deepest: [n()] } },
    });
    const resource = (kind: 'component' | 'service', i: number) => ({
      name: `${kind}-${i}`,
      ...(maybe()
        ? { api: `${pick(['rdk', 'acme'])}:${kind}:${pick(['motor', 'camera', 'slam', 'x'])}` }
        : {}),
      ...(maybe() ? { namespace: pick(['rdk', 'acme']) } : {}),
      type: pick(['motor', 'camera', 'arm', 'sensor']),
      model: pick(['fake', 'rdk:builtin:fake', 'acme:family:model']),
      ...(maybe() ? { attributes: attributes() } : {}),
      ...(maybe() ? { depends_on: ['a', 'b'] } : {}),
      ...(maybe(0.2) ? { service_configs: [{ type: 'data_manager', attributes: attributes() }] } : {}),
      ...(maybe(0.2) ? { log_configuration: { level: pick(['debug', 'info', 'warn', 'error']) } } : {}),
      ...(maybe() ? { frame: frame() } : {}),
    });
    const times = (max: number) => Array.from({ length: Math.floor(random() * (max + 1)) }, (_, i) => i);

    for (let round = 0; round < 150; round++) {
      const config: Record<string, unknown> = {
        components: times(6).map((i) => resource('component', i)),
        services: times(4).map((i) => resource('service', i)),
        remotes: times(2).map((i) => ({
          name: `remote-${i}`,
          address: `remote-${i}.local:8080`,
          ...(maybe() ? { frame: frame() } : {}),
          ...(maybe()
            ? {
                auth: { entity: 'e', credentials: { type: pick(['api-key', 'robot-secret']), payload: 'p' } },
              }
            : {}),
          connection_check_interval: duration(),
          reconnect_interval: duration(),
          insecure: maybe(),
        })),
        processes: times(2).map((i) => ({
          id: `p${i}`,
          name: 'run',
          args: ['a'],
          stop_timeout: duration(),
          stop_signal: pick(['TERM', 'INT', 9, '']),
          env: { K: 'v' },
          one_shot: maybe(),
          log: maybe(),
        })),
        modules: times(2).map((i) => ({
          name: `m${i}`,
          executable_path: '/bin/m',
          ...pick([
            { type: 'local' },
            { type: 'registry', module_id: 'acme:m', version: pick(['1.0.0', 'latest']) },
          ]),
          env: { A: 'b' },
          first_run_timeout: duration(),
          tcp_mode: maybe(),
        })),
        packages: times(2).map((i) => ({
          name: `pk${i}`,
          package: 'org/pk',
          version: '1.0.0',
          type: 'ml_model',
        })),
        ...(maybe()
          ? {
              network: {
                bind_address: pick(['localhost:8080', '[::1]:9090', ':8080', '']),
                sessions: { heartbeat_window: pick(['30ms', '1m', '2s', '']) },
                traffic_tunnel_endpoints: [
                  { port: 1 + Math.floor(random() * 65535), connection_timeout: duration() },
                ],
              },
            }
          : {}),
        ...(maybe()
          ? { auth: { handlers: [{ type: 'api-key', config: { keys: ['k'], k: 'secret' } }] } }
          : {}),
        ...(maybe() ? { debug: maybe() } : {}),
        ...(maybe()
          ? { jobs: [{ name: 'j', schedule: '5m', resource: 'r', method: 'DoCommand', command: {} }] }
          : {}),
        ...(maybe() ? { log: [{ pattern: '*', level: 'info' }] } : {}),
        ...(maybe()
          ? {
              maintenance: {
                sensor_name: pick(['s', 'rdk:component:sensor/s', 'acme:component:sensor/r:s']),
              },
            }
          : {}),
        ...(maybe() ? { tracing: { enabled: maybe(), otlpendpoint: 'x:4317' } } : {}),
      };
      let rc: InstanceType<typeof RobotConfig>;
      try {
        rc = decode(config);
      } catch (e) {
        throw new Error(`round ${round}: ${(e as Error).message}\n${JSON.stringify(config)}`);
      }
      const names = (section: string) => (config[section] as { name: string }[]).map((c) => c.name);
      assert.deepEqual(
        rc.components.map((c) => c.name),
        names('components'),
      );
      assert.deepEqual(
        rc.services.map((s) => s.name),
        names('services'),
      );
      assert.deepEqual(
        rc.remotes.map((r) => r.name),
        names('remotes'),
      );
      assert.equal(rc.processes.length, (config.processes as unknown[]).length);
      // Binary round trip too: what the wire will carry decodes to the same message.
      assert.ok(RobotConfig.fromBinary(rc.toBinary()).equals(rc), `round ${round}: binary round trip`);
    }
  });
});

describe('config JSON helpers (src/domain/config/json.ts)', () => {
  it('names identifier keys bare (operators like "$set" included), quotes others, echoes at most 64 characters', () => {
    assert.equal(child('', 'components'), 'components');
    assert.equal(child('a', 'max_rpm-2'), 'a.max_rpm-2');
    // fragment-merge's old copy echoed keys uncut; robot-config's quoted "$" keys.
    assert.equal(child('mods[0]', '$set'), 'mods[0].$set');
    assert.equal(child('a', 'my key'), 'a["my key"]');
    assert.equal(child('a', 'k'.repeat(65)), `a[${JSON.stringify('k'.repeat(64))}...]`);
    assert.equal(child('a', 'k'.repeat(64)), `a.${'k'.repeat(64)}`);
  });

  it('deep-copies "__proto__" and "constructor" keys as own data, never through a prototype', () => {
    const source = JSON.parse(
      '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}},' +
        ' "list": [{"__proto__": {"polluted": true}}], "gone": null}',
    ) as Record<string, unknown>;
    const copy = deepCopy({ nested: source, skipped: undefined }) as Record<string, unknown>;
    const nested = copy.nested as Record<string, unknown>;
    for (const object of [copy, nested, (nested.list as object[])[0]!]) {
      assert.equal(Object.getPrototypeOf(object), Object.prototype);
      assert.equal((object as { polluted?: unknown }).polluted, undefined);
    }
    assert.ok(Object.hasOwn(nested, '__proto__'));
    assert.deepEqual(Object.getOwnPropertyDescriptor(nested, '__proto__'), {
      value: { polluted: true },
      enumerable: true,
      writable: true,
      configurable: true,
    });
    assert.ok(Object.hasOwn((nested.list as object[])[0]!, '__proto__'));
    assert.deepEqual(nested.constructor, { prototype: { polluted: true } });
    assert.equal(nested.gone, null);
    assert.ok(!Object.hasOwn(copy, 'skipped'));
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
    // A deep copy: changing it leaves the source alone.
    (nested.__proto__ as Record<string, unknown>).polluted = false;
    assert.deepEqual(Object.getOwnPropertyDescriptor(source, '__proto__')?.value, { polluted: true });
  });
});

/** Row-major rotation matrix of a (not necessarily unit) quaternion. */
function quaternionMatrix(w: number, x: number, y: number, z: number): number[] {
  const s = Math.hypot(w, x, y, z);
  [w, x, y, z] = [w / s, x / s, y / s, z / s];
  return [
    1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
    2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
    2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
  ]; // prettier-ignore
}

/** Rotation of an orientation vector in degrees, as viam-server defines it: Rz(lon)·Ry(lat)·Rz(theta). */
function ovDegreesMatrix(ox: number, oy: number, oz: number, thetaDegrees: number): number[] {
  const norm = Math.hypot(ox, oy, oz);
  const lat = Math.acos(oz / norm);
  const lon = 1 - Math.abs(oz / norm) > 1e-9 ? Math.atan2(oy, ox) : 0;
  const theta = (thetaDegrees * Math.PI) / 180;
  const rz = (a: number) => [Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a), 0, 0, 0, 1];
  const ry = (a: number) => [Math.cos(a), 0, Math.sin(a), 0, 1, 0, -Math.sin(a), 0, Math.cos(a)];
  const mul = (p: number[], q: number[]) =>
    Array.from({ length: 9 }, (_, k) => {
      const [r, c] = [Math.floor(k / 3), k % 3];
      return p[r * 3]! * q[c]! + p[r * 3 + 1]! * q[3 + c]! + p[r * 3 + 2]! * q[6 + c]!;
    });
  return mul(mul(rz(lon), ry(lat)), rz(theta));
}
