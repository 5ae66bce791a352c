import type { AnyMessage } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { invalidArgument } from '../domain/errors.js';

/*
 * What a client can get wrong before any handler runs, answered as the client's mistake rather
 * than as the server's failure: a message that does not decode (the framework reports its own
 * parse errors as INTERNAL), a list too long to handle, a compressed message without a named
 * encoding.
 */

/** Most items any repeated field of a request may hold (log batches have their own, smaller limit). */
export const MAX_REQUEST_LIST_ITEMS = 10_000;

/** Placeholders that stand for messages that did not decode, with the reason. */
const undecodable = new WeakMap<object, string>();

interface DecodableType {
  fromBinary(bytes: Uint8Array, options?: unknown): unknown;
}

/**
 * A message type whose `fromBinary` never throws: bytes that do not decode give a placeholder,
 * which `checkDecoded` refuses with INVALID_ARGUMENT once the call reaches the interceptors.
 */
function tolerant<T extends DecodableType>(type: T): T {
  const fromBinary = (bytes: Uint8Array, options?: unknown): unknown => {
    try {
      return type.fromBinary(bytes, options);
    } catch (error) {
      const placeholder = {};
      undecodable.set(placeholder, error instanceof Error ? error.message : String(error));
      return placeholder;
    }
  };
  return new Proxy(type, {
    get: (target, property, receiver) =>
      property === 'fromBinary' ? fromBinary : (Reflect.get(target, property, receiver) as unknown),
  });
}

/** A service descriptor whose request types decode tolerantly (see `tolerant`). */
export function withTolerantRequests<S extends { methods: Record<string, { I: DecodableType }> }>(
  service: S,
): S {
  const methods = Object.fromEntries(
    Object.entries(service.methods).map(([local, method]) => [local, { ...method, I: tolerant(method.I) }]),
  );
  return { ...service, methods };
}

/**
 * INVALID_ARGUMENT for a request that did not decode, or with a repeated field
 * longer than MAX_REQUEST_LIST_ITEMS (at any depth outside google.protobuf values).
 */
export function checkDecoded(message: unknown): void {
  if (typeof message !== 'object' || message === null) return;
  const reason = undecodable.get(message);
  if (reason !== undefined) {
    throw invalidArgument(`the request message could not be decoded: ${reason}`);
  }
  checkLists(message, '', 0);
}

function checkLists(message: object, path: string, depth: number): void {
  const type = (
    message as { getType?: () => { typeName: string; fields: { list(): FieldShape[] } } }
  ).getType?.();
  if (!type || type.typeName.startsWith('google.protobuf.') || depth > 8) return;
  for (const field of type.fields.list()) {
    const value = (message as Record<string, unknown>)[field.localName];
    const here = path === '' ? field.name : `${path}.${field.name}`;
    if (field.repeated && Array.isArray(value)) {
      if (value.length > MAX_REQUEST_LIST_ITEMS) {
        throw invalidArgument(
          `${here} lists ${value.length} items; at most ${MAX_REQUEST_LIST_ITEMS} are accepted`,
        );
      }
      if (field.kind === 'message') {
        for (const item of value as unknown[]) {
          if (typeof item === 'object' && item !== null) checkLists(item, here, depth + 1);
        }
      }
    } else if (field.kind === 'message' && typeof value === 'object' && value !== null) {
      checkLists(value, here, depth + 1);
    }
  }
}

interface FieldShape {
  name: string;
  localName: string;
  kind: string;
  repeated: boolean;
}

/** Each message of a client stream, checked as it is read. */
export async function* checkedStream(messages: AsyncIterable<AnyMessage>): AsyncIterable<AnyMessage> {
  for await (const message of messages) {
    checkDecoded(message);
    yield message;
  }
}

const COMPRESSED_FLAG = 0b0000_0001;

/**
 * For an enveloped request (gRPC, gRPC-web, Connect streaming) that names no encoding, makes the
 * request's body iterator refuse an envelope marked compressed with INVALID_ARGUMENT, where the
 * framework would answer INTERNAL. Other requests are left as they are.
 */
export function refuseUnnamedCompression(req: {
  headers: Record<string, string | string[] | undefined>;
  iterator?: (options?: { destroyOnReturn?: boolean }) => AsyncIterableIterator<unknown>;
}): void {
  const contentType = String(req.headers['content-type'] ?? '');
  const enveloped = /^application\/(grpc|grpc-web|connect\+)/.test(contentType);
  const encoding = String(req.headers['grpc-encoding'] ?? req.headers['connect-content-encoding'] ?? '');
  if (!enveloped || (encoding !== '' && encoding !== 'identity') || !req.iterator) return;
  const original = req.iterator.bind(req);
  req.iterator = (options) => envelopeChecker(original(options) as AsyncIterableIterator<Buffer>);
}

async function* envelopeChecker(chunks: AsyncIterableIterator<Buffer>): AsyncIterableIterator<Buffer> {
  // Bytes left in the current envelope's body; 0 while reading the next 5-byte prefix.
  let remaining = 0;
  let prefix: number[] = [];
  for await (const chunk of chunks) {
    let at = 0;
    while (at < chunk.length) {
      if (remaining > 0) {
        const take = Math.min(remaining, chunk.length - at);
        remaining -= take;
        at += take;
        continue;
      }
      prefix.push(chunk[at++]!);
      if (prefix.length < 5) continue;
      const [flags = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0] = prefix;
      if (flags & COMPRESSED_FLAG) {
        throw new ConnectError(
          'a message is marked compressed but the request names no encoding (grpc-encoding)',
          Code.InvalidArgument,
        );
      }
      remaining = ((b1 << 24) | (b2 << 16) | (b3 << 8) | b4) >>> 0;
      prefix = [];
    }
    yield chunk;
  }
}
