import type { Fragment, MachinePart } from './models.js';

/*
 * How large a reply may grow. gRPC C-core, grpc-go and grpc-java refuse a received message over
 * 4 MiB by default, so a reply past that cannot be read at all by most clients. Replies that list
 * entries of unbounded size (log pages, part and fragment history) stop before this budget, and
 * an entry that alone would exceed it is cut down (see the callers for how).
 *
 * Sizes here are upper bounds of the protobuf encoding, computed from the UTF-8 lengths of the
 * strings and a walk of the JSON values (google.protobuf.Struct), without encoding anything:
 * every field is counted with the largest tag and length prefix it could have.
 */

/** What the entries of one reply may add up to: 3.5 MiB, half a MiB under gRPC's usual 4 MiB limit. */
export const REPLY_BUDGET_BYTES = 3.5 * 1024 * 1024;

/** Kept free in every reply for what is not an entry: the page token and the gRPC frame header. */
export const REPLY_RESERVE_BYTES = 4 * 1024;

/** The most one entry may take: an entry over this is cut down before it is counted. */
export const MAX_REPLY_ENTRY_BYTES = REPLY_BUDGET_BYTES - REPLY_RESERVE_BYTES;

/** A field's tag (field numbers below 2^14) and length prefix (lengths below 2^35), at most. */
const FIELD_BYTES = 8;

/** Fixed-size fields of one message (timestamps, numbers, enums, flags), generously. */
const FIXED_FIELDS_BYTES = 128;

/** Bytes of a varint. */
const varintBytes = (n: number): number =>
  n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;

/** A length-delimited field holding `n` bytes: tag (fields 1 to 15), length, payload. */
const delimited = (n: number): number => 1 + varintBytes(n) + n;

/** UTF-8 bytes of a string (a lone surrogate counts as the 3 bytes it is encoded as). */
export const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** A string field, at most. */
export const textFieldBytes = (s: string): number => FIELD_BYTES + utf8Bytes(s);

/** Encoded google.protobuf.Value holding a JSON value (exact for what JSON.parse returns). */
function valueBytes(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return delimited(utf8Bytes(value));
    case 'number':
      return 9; // double
    case 'boolean':
      return 2;
    case 'object':
      if (value === null) return 2;
      if (Array.isArray(value)) {
        let list = 0;
        for (const item of value) list += delimited(valueBytes(item));
        return delimited(list);
      }
      return delimited(structBytes(value as Record<string, unknown>));
    case 'undefined':
    case 'bigint':
    case 'function':
    case 'symbol':
      return 9; // not from JSON.parse; at most a number or a null
  }
}

/** Encoded google.protobuf.Struct holding a JSON object (its map entries, no outer tag). */
export function structBytes(object: Record<string, unknown>): number {
  let bytes = 0;
  for (const key of Object.keys(object)) {
    bytes += delimited(delimited(utf8Bytes(key)) + delimited(valueBytes(object[key])));
  }
  return bytes;
}

/** A google.protobuf.Struct field, at most. */
export const structFieldBytes = (object: Record<string, unknown>): number =>
  FIELD_BYTES + structBytes(object);

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes (never inside a character), ending with a visible
 * marker that gives the original size. Unchanged when it fits.
 */
export function cutText(text: string, maxBytes: number): string {
  const bytes = utf8Bytes(text);
  if (bytes <= maxBytes) return text;
  const marker = `… [truncated by Flotilla: ${bytes} bytes]`;
  const buffer = Buffer.from(text, 'utf8');
  let end = Math.max(0, maxBytes - utf8Bytes(marker));
  while (end > 0 && ((buffer[end] ?? 0) & 0xc0) === 0x80) end--;
  return buffer.toString('utf8', 0, end) + marker;
}

/**
 * Counts the entries of one reply: `take` says whether one more fits. Entries are counted in the
 * order they are returned; the first one that does not fit ends the reply.
 */
export class ReplyBudget {
  private used = 0;

  constructor(private readonly limit = MAX_REPLY_ENTRY_BYTES) {}

  /** Counts an entry of `bytes` (as measured here) if it fits; false, counting nothing, if not. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }
}

/** A RobotPart message (with its config, agent info and secrets when present), at most. */
export function partBytes(part: MachinePart): number {
  let bytes = FIXED_FIELDS_BYTES;
  for (const s of [
    part.id,
    part.name,
    part.dnsName,
    part.machineId,
    part.locationId,
    part.fqdn,
    part.localFqdn,
  ])
    bytes += textFieldBytes(s);
  for (const secret of part.secrets ?? [])
    bytes += FIELD_BYTES + FIXED_FIELDS_BYTES + textFieldBytes(secret.id) + 2 * textFieldBytes(secret.secret);
  if (part.agentInfo) bytes += structFieldBytes({ ...part.agentInfo });
  if (part.config) bytes += structFieldBytes(part.config);
  return bytes;
}

/** A Fragment message, at most. */
export function fragmentBytes(fragment: Fragment): number {
  let bytes = FIXED_FIELDS_BYTES + structFieldBytes(fragment.config);
  for (const s of [
    fragment.id,
    fragment.name,
    fragment.organizationId,
    fragment.organizationName,
    fragment.revision,
  ])
    bytes += textFieldBytes(s);
  return bytes;
}

/** One entry of a repeated message field: its tag and length, plus what else it carries. */
export const entryBytes = (payload: number, ...texts: string[]): number =>
  FIELD_BYTES + FIXED_FIELDS_BYTES + payload + texts.reduce((sum, s) => sum + textFieldBytes(s), 0);

/**
 * What replaces a JSON object (a config, a log entry's caller) too large for a reply. The key
 * starts with an underscore so it reads as a note, not as configuration.
 */
export const omittedObject = (what: string, jsonBytes: number, why: string): Record<string, unknown> => ({
  _truncated: `${what} of ${jsonBytes} bytes omitted by Flotilla: ${why}`,
});

/** Bytes of a JSON value's text, as users know sizes (MAX_CONFIG_BYTES counts these). */
export const jsonBytes = (value: unknown): number => utf8Bytes(JSON.stringify(value) ?? '');
