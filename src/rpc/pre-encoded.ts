import type { BinaryWriteOptions, JsonWriteOptions, Message, MessageType } from '@bufbuild/protobuf';

/**
 * A reply that encodes itself one way for binary wires (gRPC, gRPC-web, Connect with protobuf)
 * and another for JSON (Connect with JSON): the framework calls `toBinary` or `toJson*` on the
 * message a handler returns, and this one hands each to the message built for it. Binary replies
 * can then carry fields the fast Struct codec encoded (struct-splicing.ts), which JSON does not
 * see.
 */
export function replyFor<T extends Message<T>>(type: MessageType<T>, binary: () => T, json: () => T): T {
  const message = new type();
  Object.defineProperties(message, {
    toBinary: { value: (options?: Partial<BinaryWriteOptions>) => binary().toBinary(options) },
    toJson: { value: (options?: Partial<JsonWriteOptions>) => json().toJson(options) },
    toJsonString: { value: (options?: Partial<JsonWriteOptions>) => json().toJsonString(options) },
  });
  return message;
}

const ENCODED = Symbol('encoded bytes');

interface Encoded {
  [ENCODED]: Uint8Array;
}

/** Per message type, a prototype whose messages encode as the bytes they hold (see preEncoded). */
const encodedPrototypes = new WeakMap<MessageType, object>();

function encodedPrototype<T extends Message<T>>(type: MessageType<T>): object {
  let proto = encodedPrototypes.get(type);
  if (!proto) {
    proto = Object.create(type.prototype as object, {
      toBinary: {
        value(this: Encoded) {
          return this[ENCODED];
        },
      },
      toJson: {
        value(this: Encoded, options?: Partial<JsonWriteOptions>) {
          return type.fromBinary(this[ENCODED]).toJson(options);
        },
      },
      toJsonString: {
        value(this: Encoded, options?: Partial<JsonWriteOptions>) {
          return type.fromBinary(this[ENCODED]).toJsonString(options);
        },
      },
    }) as object;
    encodedPrototypes.set(type, proto);
  }
  return proto;
}

/**
 * A reply whose binary encoding is already known: the framework gets those bytes as they are,
 * with no encoding at all. JSON replies decode the bytes first, so they read the same message.
 * It is an instance of `type` (the framework checks) made without running its constructor: only
 * its encodings are ever read.
 */
export function preEncoded<T extends Message<T>>(type: MessageType<T>, bytes: Uint8Array): T {
  const message = Object.create(encodedPrototype(type)) as T & Encoded;
  message[ENCODED] = bytes;
  return message;
}
