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

/**
 * A reply whose binary encoding is already known: the framework gets those bytes as they are,
 * with no encoding at all. JSON replies decode the bytes first, so they read the same message.
 */
export function preEncoded<T extends Message<T>>(type: MessageType<T>, bytes: Uint8Array): T {
  const message = new type();
  Object.defineProperties(message, {
    toBinary: { value: () => bytes },
    toJson: { value: (options?: Partial<JsonWriteOptions>) => type.fromBinary(bytes).toJson(options) },
    toJsonString: {
      value: (options?: Partial<JsonWriteOptions>) => type.fromBinary(bytes).toJsonString(options),
    },
  });
  return message;
}
