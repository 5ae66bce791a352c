import assert from 'node:assert/strict';
import { it } from 'node:test';
import { MethodKind } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { completeService } from '../src/rpc/routes.js';

/**
 * Every method of every served service has a handler: the implemented ones, and UNIMPLEMENTED
 * answers naming the method for the rest, streaming ones included. (All of the SDK's streaming
 * methods are implemented today, so a made-up service stands in for a future one.)
 */
const service = {
  typeName: 'test.v1.Shapes',
  methods: {
    unary: { name: 'Unary', kind: MethodKind.Unary },
    serverStream: { name: 'ServerStream', kind: MethodKind.ServerStreaming },
    clientStream: { name: 'ClientStream', kind: MethodKind.ClientStreaming },
    biDi: { name: 'BiDi', kind: MethodKind.BiDiStreaming },
    done: { name: 'Done', kind: MethodKind.Unary },
  },
};

type Stub = (...args: unknown[]) => unknown;

async function expectUnimplemented(result: unknown, method: string): Promise<void> {
  const settle = async (): Promise<unknown> => {
    if (result instanceof Promise) return (await result) as unknown;
    const iterable = result as AsyncIterable<unknown>;
    for await (const message of iterable) return message;
    return undefined;
  };
  await assert.rejects(settle(), (error: unknown) => {
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.Unimplemented);
    assert.ok(error.message.includes(`test.v1.Shapes.${method}`), error.message);
    return true;
  });
}

it('answers UNIMPLEMENTED, naming the method, for every method without a handler', async () => {
  const implemented = new Set<string>();
  const done = () => Promise.resolve('done');
  const impl = completeService(service, { done }, implemented) as unknown as Record<string, Stub>;
  assert.deepEqual([...implemented], ['test.v1.Shapes/Done']);
  assert.equal(impl.done, done);
  await expectUnimplemented(impl.unary?.({}), 'Unary');
  await expectUnimplemented(impl.serverStream?.({}), 'ServerStream');
  await expectUnimplemented(impl.clientStream?.({}), 'ClientStream');
  await expectUnimplemented(impl.biDi?.({}), 'BiDi');
});
