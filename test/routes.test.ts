import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Empty, MethodKind } from '@bufbuild/protobuf';
import { Code, ConnectError, createPromiseClient, createRouterTransport } from '@connectrpc/connect';
import { createAsyncIterable } from '@connectrpc/connect/protocol';
import { createRoutes, implementedProcedures } from '../src/rpc/routes.js';
import type { ServedServices } from '../src/services/index.js';

/**
 * Methods without a handler answer UNIMPLEMENTED naming the method, streaming ones included:
 * the routes register partial implementations and connect-node answers for the rest. (All of the
 * SDK's streaming methods are implemented today, so a made-up service stands in for a future one.)
 */
const Shapes = {
  typeName: 'test.v1.Shapes',
  methods: {
    unary: { name: 'Unary', I: Empty, O: Empty, kind: MethodKind.Unary },
    serverStream: { name: 'ServerStream', I: Empty, O: Empty, kind: MethodKind.ServerStreaming },
    clientStream: { name: 'ClientStream', I: Empty, O: Empty, kind: MethodKind.ClientStreaming },
    biDi: { name: 'BiDi', I: Empty, O: Empty, kind: MethodKind.BiDiStreaming },
    done: { name: 'Done', I: Empty, O: Empty, kind: MethodKind.Unary },
  },
} as const;

async function expectUnimplemented(call: () => Promise<unknown>, method: string): Promise<void> {
  await assert.rejects(call(), (error: unknown) => {
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.Unimplemented);
    assert.ok(error.message.includes(`test.v1.Shapes.${method}`), error.message);
    return true;
  });
}

describe('partial implementations', () => {
  const handlers = { done: () => new Empty() };

  it('record only the procedures with a handler', () => {
    assert.deepEqual(implementedProcedures(Shapes, handlers), ['test.v1.Shapes/Done']);
  });

  it('answer UNIMPLEMENTED, naming the method, for every method without a handler', async () => {
    const client = createPromiseClient(
      Shapes,
      createRouterTransport((router) => router.service(Shapes, handlers)),
    );
    assert.ok((await client.done({})) instanceof Empty);
    await expectUnimplemented(() => client.unary({}), 'Unary');
    await expectUnimplemented(async () => {
      for await (const message of client.serverStream({})) return message;
    }, 'ServerStream');
    await expectUnimplemented(() => client.clientStream(createAsyncIterable([{}])), 'ClientStream');
    await expectUnimplemented(async () => {
      for await (const message of client.biDi(createAsyncIterable([{}]))) return message;
    }, 'BiDi');
  });
});

describe('createRoutes', () => {
  // The handlers only keep the services for later calls, so none are needed to build the routes.
  const routes = createRoutes({} as ServedServices);

  it('asks a caller of implemented methods only, and never of Authenticate', () => {
    assert.equal(routes.needsCaller('viam.app.v1.AppService/GetOrganization'), true);
    assert.equal(routes.needsCaller('viam.app.v1.RobotService/Config'), true);
    assert.equal(routes.needsCaller('viam.app.packages.v1.PackageService/GetPackage'), true);
    assert.equal(routes.needsCaller('proto.rpc.v1.AuthService/Authenticate'), false);
    assert.equal(routes.needsCaller('viam.app.v1.AppService/GetAppBranding'), false, 'not implemented');
    assert.equal(routes.needsCaller('test.v1.Shapes/Done'), false, 'not served');
  });

  it('serves every method of the four services, implemented or not', () => {
    assert.ok(routes.procedures.has('/viam.app.v1.AppService/GetOrganization'));
    assert.ok(routes.procedures.has('/viam.app.v1.AppService/GetAppBranding'));
    assert.ok(routes.procedures.has('/proto.rpc.v1.AuthService/Authenticate'));
    assert.ok(routes.procedures.has('/viam.app.v1.RobotService/Log'));
    assert.ok(routes.procedures.has('/viam.app.packages.v1.PackageService/CreatePackage'));
  });
});
