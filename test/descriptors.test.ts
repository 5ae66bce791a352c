import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MethodKind } from '@bufbuild/protobuf';
import { appApi, appRobotApi } from '@viamrobotics/sdk';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import * as packagesApi from '../src/rpc/package-service.generated.js';
import { AppService, RobotService } from '../src/rpc/service-descriptors.generated.js';

/** One method as the SDK's generated connect `.d.ts` declares it. */
interface DeclaredMethod {
  local: string;
  name: string;
  input: string;
  output: string;
  kind: string;
}

interface DescriptorShape {
  typeName: string;
  methods: Record<
    string,
    { name: string; I: { typeName: string }; O: { typeName: string }; kind: MethodKind }
  >;
}

const sdkDist = path.dirname(createRequire(import.meta.url).resolve('@viamrobotics/sdk'));

/**
 * Parses a connect `.d.ts` independently of scripts/generate-descriptors.mjs: each method is
 * anchored on its `@generated from rpc <service>.<Name>` comment, and its fields are read one by
 * one from the declaration that follows it.
 */
function parseConnectDts(file: string): { typeName: string; methods: DeclaredMethod[]; nameCount: number } {
  const src = readFileSync(path.join(sdkDist, 'gen/app/v1', file), 'utf8');
  const typeName = /readonly typeName: "([\w.]+)"/.exec(src)?.[1];
  assert.ok(typeName, `no typeName in ${file}`);
  const anchors = src.split(`@generated from rpc ${typeName}.`).slice(1);
  const methods = anchors.map((chunk) => {
    const rpcName = /^(\w+)/.exec(chunk)?.[1];
    const local = /readonly (\w+): \{/.exec(chunk)?.[1];
    const name = /readonly name: "(\w+)"/.exec(chunk)?.[1];
    const input = /readonly I: typeof (\w+)/.exec(chunk)?.[1];
    const output = /readonly O: typeof (\w+)/.exec(chunk)?.[1];
    const kind = /readonly kind: MethodKind\.(\w+)/.exec(chunk)?.[1];
    assert.ok(rpcName && local && name && input && output && kind, `unparsed method in ${file}: ${chunk}`);
    assert.equal(name, rpcName, `${file}: declared name ${name} under rpc ${rpcName}`);
    return { local, name, input, output, kind };
  });
  const nameCount = [...src.matchAll(/readonly name: "\w+"/g)].length;
  return { typeName, methods, nameCount };
}

function kindName(kind: MethodKind): string {
  const name = MethodKind[kind];
  assert.equal(typeof name, 'string', `unknown MethodKind ${String(kind)}`);
  return name;
}

function checkService(
  file: string,
  descriptor: DescriptorShape,
  sdkClasses: Record<string, unknown>,
  expectedCount: number,
) {
  const parsed = parseConnectDts(file);

  it(`parses every method of ${file}`, () => {
    assert.equal(parsed.typeName, descriptor.typeName);
    assert.equal(parsed.methods.length, parsed.nameCount, 'every `readonly name` was parsed as a method');
    assert.equal(parsed.methods.length, expectedCount);
    assert.equal(new Set(parsed.methods.map((m) => m.name)).size, expectedCount, 'method names are unique');
  });

  it(`${descriptor.typeName} has ${expectedCount} methods`, () => {
    const methods = Object.values(descriptor.methods);
    assert.equal(methods.length, expectedCount);
    assert.equal(new Set(methods.map((m) => m.name)).size, expectedCount, 'method names are unique');
  });

  it(`${descriptor.typeName} names the same methods with the same kinds as the SDK (both directions)`, () => {
    const fromSdk = parsed.methods.map((m) => `${m.name}:${m.kind}`).sort();
    const fromDescriptor = Object.values(descriptor.methods)
      .map((m) => `${m.name}:${kindName(m.kind)}`)
      .sort();
    const missing = fromSdk.filter((m) => !fromDescriptor.includes(m));
    const extra = fromDescriptor.filter((m) => !fromSdk.includes(m));
    assert.deepEqual(missing, [], 'methods of the SDK missing from the descriptor');
    assert.deepEqual(extra, [], 'methods of the descriptor the SDK does not declare');
    assert.deepEqual(fromDescriptor, fromSdk);
  });

  it(`${descriptor.typeName} uses the SDK's local names, and its own message classes for I/O`, () => {
    for (const m of parsed.methods) {
      const d = descriptor.methods[m.local];
      assert.ok(d, `descriptor has no method under the local name ${m.local}`);
      assert.equal(d.name, m.name);
      assert.equal(kindName(d.kind), m.kind, `${m.name} kind`);
      assert.equal(d.I.typeName, `viam.app.v1.${m.input}`, `${m.name} input type`);
      assert.equal(d.O.typeName, `viam.app.v1.${m.output}`, `${m.name} output type`);
      assert.equal(d.I, sdkClasses[m.input], `${m.name} input is the SDK's class ${m.input}`);
      assert.equal(d.O, sdkClasses[m.output], `${m.name} output is the SDK's class ${m.output}`);
    }
  });
}

describe('service descriptors match the SDK', () => {
  describe('AppService', () => {
    checkService('app_connect.d.ts', AppService, appApi, 109);

    it('has the streaming kinds the SDK declares', () => {
      assert.equal(AppService.methods.tailRobotPartLogs.kind, MethodKind.ServerStreaming);
      assert.equal(AppService.methods.uploadModuleFile.kind, MethodKind.ClientStreaming);
      assert.equal(AppService.methods.getOrganization.kind, MethodKind.Unary);
    });
  });

  describe('RobotService', () => {
    checkService('robot_connect.d.ts', RobotService, appRobotApi, 4);

    it('names Config, Certificate, Log and NeedsRestart', () => {
      assert.deepEqual(
        Object.values(RobotService.methods)
          .map((m) => m.name)
          .sort(),
        ['Certificate', 'Config', 'Log', 'NeedsRestart'],
      );
    });
  });

  describe('AuthService', () => {
    it('is proto.rpc.v1.AuthService with the unary Authenticate', () => {
      assert.equal(AuthService.typeName, 'proto.rpc.v1.AuthService');
      const m = AuthService.methods.authenticate;
      assert.equal(m.name, 'Authenticate');
      assert.equal(m.kind, MethodKind.Unary);
      assert.equal(m.I.typeName, 'proto.rpc.v1.AuthenticateRequest');
      assert.equal(m.O.typeName, 'proto.rpc.v1.AuthenticateResponse');
    });

    it('encodes Authenticate with goutils field numbers', () => {
      const bytes = new AuthService.methods.authenticate.I({
        entity: 'e',
        credentials: { type: 't', payload: 'p' },
      }).toBinary();
      // field 1 (entity) "e"; field 2 (credentials) { 1: "t", 2: "p" }
      assert.deepEqual([...bytes], [0x0a, 1, 0x65, 0x12, 6, 0x0a, 1, 0x74, 0x12, 1, 0x70]);
      const out = new AuthService.methods.authenticate.O({ accessToken: 'x' }).toBinary();
      assert.deepEqual([...out], [0x0a, 1, 0x78]);
    });
  });

  describe('PackageService (messages built from the SDK declarations, which the SDK does not bundle)', () => {
    const dts = readFileSync(path.join(sdkDist, 'gen/app/packages/v1/packages_pb.d.ts'), 'utf8');
    const connect = readFileSync(path.join(sdkDist, 'gen/app/packages/v1/packages_connect.d.ts'), 'utf8');

    it('names the four methods with the kinds the SDK declares', () => {
      const declared = [...connect.matchAll(/readonly name: "(\w+)",[^}]*?MethodKind\.(\w+)/gs)]
        .map(([, name, kind]) => `${name}:${kind}`)
        .sort();
      const ours = Object.values(packagesApi.PackageService.methods)
        .map((m) => `${m.name}:${kindName(m.kind)}`)
        .sort();
      assert.deepEqual(ours, declared);
      assert.deepEqual(ours, [
        'CreatePackage:ClientStreaming',
        'DeletePackage:Unary',
        'GetPackage:Unary',
        'ListPackages:Unary',
      ]);
    });

    it('every message has exactly the fields, numbers and labels of its declaration', () => {
      const chunks = dts.split('@generated from message viam.app.packages.v1.').slice(1);
      assert.equal(chunks.length, 11);
      for (const chunk of chunks) {
        const name = /^(\w+)/.exec(chunk)?.[1] ?? '';
        const declared = [
          ...chunk.matchAll(/@generated from field: (optional |repeated )?[\w.]+ (\w+) = (\d+);/g),
        ]
          .map(([, label, field, no]) => `${no} ${field} ${(label ?? '').trim()}`)
          .sort();
        const type = (
          packagesApi as unknown as Record<
            string,
            { fields?: { list(): { no: number; name: string; repeated: boolean; opt: boolean }[] } }
          >
        )[name];
        assert.ok(type?.fields, `no message type ${name}`);
        const built = type.fields
          .list()
          .map((f) => `${f.no} ${f.name} ${f.repeated ? 'repeated' : f.opt ? 'optional' : ''}`)
          .sort();
        assert.deepEqual(built, declared, name);
      }
    });

    it('encodes GetPackageRequest with packages.proto field numbers', () => {
      const bytes = new packagesApi.GetPackageRequest({
        id: 'a',
        version: 'b',
        includeUrl: true,
        type: packagesApi.PackageType.MODULE,
        platform: 'c',
      }).toBinary();
      // 1: "a", 2: "b", 3: true, 4: 3 (PACKAGE_TYPE_MODULE), 5: "c"
      assert.deepEqual([...bytes], [0x0a, 1, 0x61, 0x12, 1, 0x62, 0x18, 1, 0x20, 3, 0x2a, 1, 0x63]);
    });
  });
});
