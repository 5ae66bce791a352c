import assert from 'node:assert/strict';
import { it } from 'node:test';
import { appApi, appRobotApi } from '@viamrobotics/sdk';
import { toRobotConfigJson } from '../src/domain/config/robot-config.js';
import { encodeConfigReply } from '../src/rpc/config-reply.js';
import { partToProto } from '../src/rpc/machine-handlers.js';
import { preEncoded, replyFor } from '../src/rpc/pre-encoded.js';
import { fromJsonWithFastStructs } from '../src/rpc/struct-splicing.js';
import { seededRandom } from './support/random.js';

/*
 * Replies encoded with the fast Struct codec (struct-splicing.ts, pre-encoded.ts) decode, with
 * protobuf-es, to exactly the message the plain conversion builds.
 */

function randomAttributes(random: () => number, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const n = Math.floor(random() * 5);
  for (let i = 0; i < n; i++) {
    const roll = random();
    out[`k${i}_${Math.floor(random() * 100)}`] =
      roll < 0.2
        ? Math.round(random() * 1e6) / 100
        : roll < 0.4
          ? `värde ${Math.floor(random() * 1e4)} ✓`
          : roll < 0.5
            ? random() < 0.5
            : roll < 0.6
              ? null
              : roll < 0.8 && depth < 4
                ? randomAttributes(random, depth + 1)
                : [1, 'two', { three: [] }, {}];
  }
  return out;
}

function randomConfig(random: () => number): Record<string, unknown> {
  const components = Array.from({ length: 1 + Math.floor(random() * 6) }, (_, i) => ({
    name: `c${i}`,
    api: 'rdk:component:motor',
    model: 'fake',
    attributes: randomAttributes(random),
    ...(random() < 0.5
      ? {
          frame: {
            parent: 'world',
            translation: { x: 1, y: 2, z: 3 },
            orientation: { type: 'ov_degrees', value: { th: 90, x: 0, y: 0, z: 1 } },
          },
        }
      : {}),
    ...(random() < 0.3
      ? { service_configs: [{ type: 'data_manager', attributes: randomAttributes(random) }] }
      : {}),
  }));
  const services = Array.from({ length: Math.floor(random() * 3) }, (_, i) => ({
    name: `s${i}`,
    api: 'rdk:service:navigation',
    model: 'builtin',
    attributes: randomAttributes(random),
  }));
  return {
    components,
    services,
    modules: [{ type: 'local', name: 'm', executable_path: '/bin/m' }],
    ...(random() < 0.5 ? { remotes: [{ name: 'r', address: 'r.local:8080' }] } : {}),
  };
}

it('Config replies with fast Structs decode to the plain conversion (200 random configs)', () => {
  const random = seededRandom(4242);
  for (let i = 0; i < 200; i++) {
    const body = toRobotConfigJson(randomConfig(random));
    const served = {
      body,
      revision: `rev${i}`,
      fragmentStatuses: i % 3 === 0 ? [{ fragmentId: 'f', error: 'no' }] : [],
      cloud: {
        id: 'p',
        fqdn: 'p.l.local',
        localFqdn: 'p.l.local.local',
        secret: 's',
        locationSecrets: [{ id: 'ls', secret: 'x' }],
        locationId: 'l',
        machineId: 'm',
        primaryOrgId: 'o',
        signalingInsecure: true,
      },
    };
    const fast = appRobotApi.ConfigResponse.fromBinary(encodeConfigReply(served));
    const plain = appRobotApi.ConfigResponse.fromJson({
      config: {
        ...body,
        revision: served.revision,
        overwriteFragmentStatus: served.fragmentStatuses.map((s) => ({
          error: `fragment ${s.fragmentId}: ${s.error}`,
        })),
        cloud: {
          ...served.cloud,
          locationSecret: 'x',
        },
      },
    });
    assert.deepEqual(fast.toJson(), plain.toJson(), `config ${i}`);
    assert.ok(fast.equals(plain), `config ${i} (equals)`);
  }
});

it('fromJsonWithFastStructs splices nested Structs and leaves the rest to protobuf-es', () => {
  const json = {
    components: [
      { name: 'a', api: 'x:y:z', attributes: { deep: { list: [1, { x: null }] } } },
      { name: 'b', api: 'x:y:z' },
    ],
    services: [{ name: 's', api: 'x:y:z', attributes: {} }],
  };
  const message = fromJsonWithFastStructs(appRobotApi.RobotConfig, json);
  // The Structs are not set as fields: they travel as pre-encoded bytes.
  assert.equal(message.components[0]?.attributes, undefined);
  const decoded = appRobotApi.RobotConfig.fromBinary(message.toBinary());
  assert.ok(decoded.equals(appRobotApi.RobotConfig.fromJson(json as never)));
  assert.deepEqual(decoded.components[0]?.attributes?.toJson(), { deep: { list: [1, { x: null }] } });
});

it('a part with fast Structs: binary carries them, JSON through replyFor gets the plain part', () => {
  const part = {
    id: 'p',
    name: 'main',
    dnsName: 'main',
    machineId: 'm',
    locationId: 'l',
    mainPart: true,
    fqdn: 'f',
    localFqdn: 'lf',
    createdOn: new Date(0),
    lastUpdated: new Date(1000),
    lastAccess: undefined,
    onlineState: 'awaiting_setup' as const,
    secondsSinceOnline: 0,
    agentInfo: { host: 'h', platform: 'linux/arm64' },
    config: { components: [{ name: 'c', attributes: { a: [1, 2, { b: 'ü' }] } }] },
    secrets: [],
  };
  const plain = partToProto(part as never);
  const fast = partToProto(part as never, true);
  assert.ok(appApi.RobotPart.fromBinary(fast.toBinary()).equals(plain));
  const reply = replyFor(
    appApi.GetRobotPartResponse,
    () => new appApi.GetRobotPartResponse({ part: fast, configJson: '{}' }),
    () => new appApi.GetRobotPartResponse({ part: plain, configJson: '{}' }),
  );
  const expected = new appApi.GetRobotPartResponse({ part: plain, configJson: '{}' });
  assert.ok(appApi.GetRobotPartResponse.fromBinary(reply.toBinary()).equals(expected));
  assert.deepEqual(reply.toJson(), expected.toJson());
  assert.equal(reply.toJsonString(), expected.toJsonString());
  const bytes = expected.toBinary();
  const canned = preEncoded(appApi.GetRobotPartResponse, bytes);
  assert.equal(canned.toBinary(), bytes);
  assert.deepEqual(canned.toJson(), expected.toJson());
  assert.equal(canned.toJsonString(), expected.toJsonString());
  // The framework takes an instance of the method's output type as it is.
  assert.ok(canned instanceof appApi.GetRobotPartResponse);
});
