import type { FieldInfo, JsonValue, Message, MessageType } from '@bufbuild/protobuf';
import { spliceStruct } from './struct-codec.js';

const STRUCT = 'google.protobuf.Struct';

/** Where a Struct sits in the JSON: the keys and list indexes down to the message holding it. */
interface StructAt {
  path: (string | number)[];
  fieldNo: number;
  value: Record<string, unknown>;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * `type.fromJson(json)` for binary replies, with every google.protobuf.Struct at any depth
 * (component attributes, a part's config) encoded by the fast codec (struct-codec.ts) instead of
 * protobuf-es, which spends most of a config reply's encoding time on them. The message encodes
 * (`toBinary`) to what the plain conversion would, field order aside; it is for binary replies
 * only (its Structs are invisible to `toJson`).
 */
export function fromJsonWithFastStructs<T extends Message<T>>(
  type: MessageType<T>,
  json: Record<string, unknown>,
): T {
  const structs: StructAt[] = [];
  const stripped = strip(type, json, [], structs);
  const message = type.fromJson(stripped as JsonValue);
  for (const { path, fieldNo, value } of structs) {
    spliceStruct(messageAt(message, type, path), fieldNo, value);
  }
  return message;
}

/** A copy of `json` with each singular Struct field (outside oneofs) left out and recorded. */
function strip(
  type: MessageType,
  json: Record<string, unknown>,
  path: (string | number)[],
  structs: StructAt[],
): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const field = type.fields.findJsonName(key);
    if (!field || field.kind !== 'message' || value === null || value === undefined) {
      copy[key] = value;
      continue;
    }
    if (field.T.typeName === STRUCT && !field.repeated && !field.oneof && isObject(value)) {
      structs.push({ path, fieldNo: field.no, value });
      continue;
    }
    if (field.T.typeName.startsWith('google.protobuf.') || field.oneof) {
      copy[key] = value;
      continue;
    }
    copy[key] = stripNested(field, value, [...path, field.localName], structs);
  }
  return copy;
}

function stripNested(
  field: FieldInfo & { kind: 'message' },
  value: unknown,
  path: (string | number)[],
  structs: StructAt[],
): unknown {
  if (field.repeated && Array.isArray(value)) {
    return value.map((item: unknown, i) =>
      isObject(item) ? strip(field.T, item, [...path, i], structs) : item,
    );
  }
  return isObject(value) ? strip(field.T, value, path, structs) : value;
}

/** The sub-message at `path` (local field names and list indexes) of a decoded message. */
function messageAt(message: Message, type: MessageType, path: (string | number)[]): Message {
  let current: unknown = message;
  for (const step of path) current = (current as Record<string | number, unknown>)[step];
  if (typeof current !== 'object' || current === null) {
    throw new Error(`${type.typeName}: no message at ${path.join('.')}`);
  }
  return current as Message;
}
