import { WireType, type Message } from '@bufbuild/protobuf';

/*
 * A binary encoder for google.protobuf.Struct / Value / ListValue straight from plain JSON
 * values. Replies that carry machine configs (RobotService.Config, GetRobotPart) spend most of
 * their encoding time in protobuf-es building a Value object per JSON node and then walking it
 * again with a chunked writer; this writes the same bytes in two passes over the JSON itself:
 * the first computes every length-delimited size (kept in a reused Int32Array, in the order the
 * second pass needs them), the second writes into one buffer of exactly the right size.
 *
 * The output is byte-for-byte what `Struct.fromJson(value).toBinary()` writes in protobuf-es
 * 1.10.1 for every input protobuf-es accepts and can turn back into JSON. Where they differ:
 * - `undefined` in an object is skipped and in an array written as null (as JSON.stringify
 *   does); protobuf-es throws.
 * - NaN and ±Infinity throw. protobuf-es's fromJson accepts them and toBinary writes them, but
 *   its toJson then throws, and JSON cannot hold them, so a reply carrying one is refused here.
 * - A key `__proto__` that is an own property (JSON.parse makes those) is written as a key;
 *   protobuf-es's fromJson assigns it into a plain object, which sets the prototype instead.
 *
 * Field numbers: Struct 1 fields (map entry: 1 key, 2 value); Value 1 null_value (enum),
 * 2 number_value (double), 3 string_value, 4 bool_value, 5 struct_value, 6 list_value;
 * ListValue 1 values.
 */

/** Nesting deeper than this is refused: it is almost surely a cycle, and decoders limit it too. */
const MAX_DEPTH = 1000;

// Tags, precomputed: (field number << 3) | wire type.
const TAG_ENTRY = 0x0a; // Struct.fields, ListValue.values, map key: field 1, length-delimited
const TAG_ENTRY_VALUE = 0x12; // map value: field 2, length-delimited
const TAG_NULL = 0x08; // Value.null_value: field 1, varint
const TAG_NUMBER = 0x11; // Value.number_value: field 2, fixed64
const TAG_STRING = 0x1a; // Value.string_value: field 3, length-delimited
const TAG_BOOL = 0x20; // Value.bool_value: field 4, varint
const TAG_STRUCT = 0x2a; // Value.struct_value: field 5, length-delimited
const TAG_LIST = 0x32; // Value.list_value: field 6, length-delimited

/** Below this many UTF-16 units a string is measured and copied in JS; above, by Buffer's C++. */
const SHORT_STRING = 48;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

const varintSize = (n: number): number =>
  n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;

/** UTF-8 length as TextEncoder would write it: a lone surrogate becomes U+FFFD (3 bytes). */
function utf8Length(s: string): number {
  const n = s.length;
  if (n > SHORT_STRING) return Buffer.byteLength(s, 'utf8');
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if ((c & 0xfc00) === 0xd800 && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a pair: 2 units, 4 bytes
      i++;
    } else bytes += 2;
  }
  return bytes;
}

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'bigint') return `bigint ${value}n`;
  return typeof value;
}

/**
 * Thrown inside the size pass for a value with no Struct form; each container on the way out
 * adds its key or index, so the walk builds no path strings unless something is wrong.
 */
class UnencodableValue extends Error {
  /** Keys and indexes, innermost first. */
  readonly path: (string | number)[] = [];

  constructor(readonly value: unknown) {
    super('unencodable value');
  }

  toError(): Error {
    let where = '';
    for (let i = this.path.length - 1; i >= 0; i--) {
      const p = this.path[i];
      where +=
        typeof p === 'number'
          ? `[${p}]`
          : /^[A-Za-z_$][\w$]*$/.test(p as string)
            ? `.${p}`
            : `[${JSON.stringify(p)}]`;
    }
    return new Error(
      `cannot encode ${describe(this.value)} at ${where || '(top)'} as a google.protobuf.Value`,
    );
  }
}

const tooDeep = (): Error => new Error(`value nested deeper than ${MAX_DEPTH} levels (a cycle?)`);

/**
 * The state of one encoding. The size pass appends to `sizes` (a container's body length, then
 * per map entry its length and key length, per string its UTF-8 length), in the order the write
 * pass reads them back.
 */
class StructWriter {
  sizes = new Int32Array(256);
  count = 0;
  read = 0;
  buf: Buffer = Buffer.alloc(0);
  pos = 0;

  private slot(): number {
    if (this.count === this.sizes.length) {
      const grown = new Int32Array(this.sizes.length * 2);
      grown.set(this.sizes);
      this.sizes = grown;
    }
    return this.count++;
  }

  private record(n: number): number {
    const at = this.slot(); // before reading this.sizes: slot() may replace it
    this.sizes[at] = n;
    return n;
  }

  /** The body length of a Struct; records it first, then its entries. */
  sizeStruct(obj: Record<string, unknown>, depth: number): number {
    if (depth > MAX_DEPTH) throw tooDeep();
    const at = this.slot();
    let total = 0;
    let key = '';
    try {
      const keys = Object.keys(obj);
      for (let i = 0; i < keys.length; i++) {
        key = keys[i] as string;
        const v = obj[key];
        if (v === undefined) continue;
        const entryAt = this.slot();
        const k = this.record(utf8Length(key));
        const valueLen = this.sizeValue(v, depth);
        const entryLen = 1 + varintSize(k) + k + 1 + varintSize(valueLen) + valueLen;
        this.sizes[entryAt] = entryLen;
        total += 1 + varintSize(entryLen) + entryLen;
      }
    } catch (error) {
      if (error instanceof UnencodableValue) error.path.push(key);
      throw error;
    }
    this.sizes[at] = total;
    return total;
  }

  /** The body length of a ListValue; records it first. */
  sizeList(arr: readonly unknown[], depth: number): number {
    if (depth > MAX_DEPTH) throw tooDeep();
    const at = this.slot();
    let total = 0;
    let i = 0;
    try {
      for (; i < arr.length; i++) {
        const v = arr[i];
        const valueLen = v === undefined ? 2 : this.sizeValue(v, depth);
        total += 1 + varintSize(valueLen) + valueLen;
      }
    } catch (error) {
      if (error instanceof UnencodableValue) error.path.push(i);
      throw error;
    }
    this.sizes[at] = total;
    return total;
  }

  /** The length of a Value message; records a string's or a container's body length. */
  sizeValue(v: unknown, depth: number): number {
    switch (typeof v) {
      case 'string': {
        const n = this.record(utf8Length(v));
        return 1 + varintSize(n) + n;
      }
      case 'number':
        if (!Number.isFinite(v)) throw new UnencodableValue(v);
        return 9;
      case 'boolean':
        return 2;
      case 'object': {
        if (v === null) return 2;
        const n = Array.isArray(v)
          ? this.sizeList(v, depth + 1)
          : this.sizeStruct(v as Record<string, unknown>, depth + 1);
        return 1 + varintSize(n) + n;
      }
      case 'undefined':
      case 'bigint':
      case 'function':
      case 'symbol':
        throw new UnencodableValue(v);
    }
  }

  private varint(n: number): void {
    const buf = this.buf;
    let pos = this.pos;
    while (n > 0x7f) {
      buf[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[pos++] = n;
    this.pos = pos;
  }

  private string(s: string, bytes: number): void {
    const buf = this.buf;
    const pos = this.pos;
    if (bytes === s.length) {
      if (bytes <= SHORT_STRING) for (let i = 0; i < bytes; i++) buf[pos + i] = s.charCodeAt(i);
      else buf.write(s, pos, bytes, 'latin1');
    } else buf.write(s, pos, bytes, 'utf8');
    this.pos = pos + bytes;
  }

  private double(v: number): void {
    const buf = this.buf;
    const pos = this.pos;
    f64[0] = v;
    if (LITTLE_ENDIAN) {
      buf[pos] = f64Bytes[0] as number;
      buf[pos + 1] = f64Bytes[1] as number;
      buf[pos + 2] = f64Bytes[2] as number;
      buf[pos + 3] = f64Bytes[3] as number;
      buf[pos + 4] = f64Bytes[4] as number;
      buf[pos + 5] = f64Bytes[5] as number;
      buf[pos + 6] = f64Bytes[6] as number;
      buf[pos + 7] = f64Bytes[7] as number;
    } else {
      for (let i = 0; i < 8; i++) buf[pos + i] = f64Bytes[7 - i] as number;
    }
    this.pos = pos + 8;
  }

  /** A Struct's entries (its body length was read by the caller). */
  writeStruct(obj: Record<string, unknown>): void {
    const sizes = this.sizes;
    const keys = Object.keys(obj);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const v = obj[key];
      if (v === undefined) continue;
      const entryLen = sizes[this.read++] as number;
      const keyLen = sizes[this.read++] as number;
      this.buf[this.pos++] = TAG_ENTRY;
      this.varint(entryLen);
      this.buf[this.pos++] = TAG_ENTRY;
      this.varint(keyLen);
      this.string(key, keyLen);
      this.buf[this.pos++] = TAG_ENTRY_VALUE;
      this.writeValue(v);
    }
  }

  /** A ListValue's items (its body length was read by the caller). */
  writeList(arr: readonly unknown[]): void {
    for (let i = 0; i < arr.length; i++) {
      this.buf[this.pos++] = TAG_ENTRY;
      const v = arr[i];
      this.writeValue(v === undefined ? null : v);
    }
  }

  /** A Value's length, then the Value; the size pass has checked its type. */
  writeValue(v: unknown): void {
    const buf = this.buf;
    switch (typeof v) {
      case 'string': {
        const n = this.sizes[this.read++] as number;
        this.varint(1 + varintSize(n) + n);
        buf[this.pos++] = TAG_STRING;
        this.varint(n);
        this.string(v, n);
        return;
      }
      case 'number':
        buf[this.pos] = 9;
        buf[this.pos + 1] = TAG_NUMBER;
        this.pos += 2;
        this.double(v);
        return;
      case 'boolean':
        buf[this.pos] = 2;
        buf[this.pos + 1] = TAG_BOOL;
        buf[this.pos + 2] = v ? 1 : 0;
        this.pos += 3;
        return;
      case 'object': {
        if (v === null) {
          buf[this.pos] = 2;
          buf[this.pos + 1] = TAG_NULL;
          buf[this.pos + 2] = 0;
          this.pos += 3;
          return;
        }
        const n = this.sizes[this.read++] as number;
        this.varint(1 + varintSize(n) + n);
        if (Array.isArray(v)) {
          buf[this.pos++] = TAG_LIST;
          this.varint(n);
          this.writeList(v);
        } else {
          buf[this.pos++] = TAG_STRUCT;
          this.varint(n);
          this.writeStruct(v as Record<string, unknown>);
        }
        return;
      }
      case 'undefined':
      case 'bigint':
      case 'function':
      case 'symbol':
        throw new Error(`unexpected ${typeof v} in the write pass`); // the size pass refused it
    }
  }

  /** Starts the write pass into a buffer of `total` bytes. */
  begin(total: number): void {
    this.buf = Buffer.allocUnsafe(total);
    this.pos = 0;
    this.read = 0;
  }

  /** Ends the write pass: the buffer, once every byte the size pass planned is written. */
  finish(): Buffer {
    if (this.pos !== this.buf.length || this.read !== this.count) {
      // Only a getter or a proxy answering differently between the passes gets here.
      throw new Error('the value changed while it was being encoded');
    }
    const buf = this.buf;
    this.buf = Buffer.alloc(0);
    return buf;
  }
}

/** One writer kept between calls; a call that finds it taken (re-entry) makes its own. */
let idleWriter: StructWriter | undefined = new StructWriter();

function withWriter<T>(encode: (w: StructWriter) => T): T {
  const w = idleWriter ?? new StructWriter();
  idleWriter = undefined;
  w.count = 0;
  try {
    return encode(w);
  } catch (error) {
    throw error instanceof UnencodableValue ? error.toError() : error;
  } finally {
    if (w.sizes.length > 1 << 16) w.sizes = new Int32Array(256); // do not keep a huge scratch
    idleWriter = w;
  }
}

function requireObject(value: unknown): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const what = value === null ? 'null' : Array.isArray(value) ? 'an array' : describe(value);
    throw new Error(`a google.protobuf.Struct must be made from an object, not ${what}`);
  }
}

/**
 * A Struct's bytes behind a prefix: `prefixFor(bodyLen)` says how many bytes the prefix takes,
 * and `header` writes them (a tag, a length) at the start of the buffer.
 */
function encodeStructWith(
  value: Record<string, unknown>,
  prefixFor: (bodyLen: number) => number,
  header: (buf: Buffer, bodyLen: number) => void,
): Buffer {
  requireObject(value);
  return withWriter((w) => {
    const bodyLen = w.sizeStruct(value, 0);
    w.begin(prefixFor(bodyLen) + bodyLen);
    header(w.buf, bodyLen);
    w.pos = w.buf.length - bodyLen;
    w.read = 1; // the body length, known already
    w.writeStruct(value);
    return w.finish();
  });
}

function putVarint(buf: Buffer, pos: number, n: number): number {
  while (n > 0x7f) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[pos++] = n;
  return pos;
}

const noPrefix = (): number => 0;
const noHeader = (): void => {};

/**
 * The bytes of a google.protobuf.Struct message made from a JSON object (no tag, no length),
 * the same as protobuf-es's `Struct.fromJson(value).toBinary()`.
 *
 * @example
 * const bytes = encodeStruct({ components: [{ name: 'arm-1', attributes: { speed: 0.5 } }] });
 * @param value a JSON object: own enumerable keys in insertion order; `undefined` members skipped
 * @returns the message bytes (a Buffer, possibly sharing Node's pool)
 * @throws Error for NaN, ±Infinity, bigint, functions, symbols, or nesting deeper than 1000
 */
export function encodeStruct(value: Record<string, unknown>): Uint8Array {
  return encodeStructWith(value, noPrefix, noHeader);
}

/**
 * The bytes of a google.protobuf.Value message made from any JSON value (null, number, string,
 * boolean, array, object), the same as protobuf-es's `Value.fromJson(value).toBinary()`.
 *
 * @throws Error for undefined at the top, NaN, ±Infinity, bigint, functions and symbols
 */
export function encodeValue(value: unknown): Uint8Array {
  return withWriter((w) => {
    if (value === undefined) throw new UnencodableValue(value);
    const valueLen = w.sizeValue(value, 0);
    // writeValue starts with the Value's length, as a field needs; write it and leave it out.
    const lenBytes = varintSize(valueLen);
    w.begin(lenBytes + valueLen);
    w.writeValue(value);
    return w.finish().subarray(lenBytes);
  });
}

function checkFieldNo(fieldNo: number): void {
  if (
    !Number.isInteger(fieldNo) ||
    fieldNo < 1 ||
    fieldNo > 0x1fffffff ||
    (fieldNo >= 19000 && fieldNo <= 19999)
  ) {
    throw new Error(`invalid protobuf field number ${fieldNo}`);
  }
}

/**
 * A complete encoded message field holding a Struct: its tag (field `fieldNo`, length-delimited),
 * the length, then the Struct's bytes. Appended to an encoded message, it sets that field.
 *
 * @example
 * // viam.app.v1.ComponentConfig.attributes is field 8
 * const field = encodeStructField(8, { pin: '37' });
 */
export function encodeStructField(fieldNo: number, value: Record<string, unknown>): Uint8Array {
  checkFieldNo(fieldNo);
  const tag = ((fieldNo << 3) | WireType.LengthDelimited) >>> 0;
  return encodeStructWith(
    value,
    (bodyLen) => varintSize(tag) + varintSize(bodyLen),
    (buf, bodyLen) => putVarint(buf, putVarint(buf, 0, tag), bodyLen),
  );
}

/**
 * Puts a Struct into a protobuf-es (v1) message as pre-encoded bytes: field `fieldNo` is left
 * unset on the message and the encoded Struct is recorded as an unknown field instead, which
 * `toBinary()` writes after the known fields. A decoder sees the field set to `value`.
 *
 * Only binary serialization carries it: `toJson()` (the Connect JSON codec) leaves unknown
 * fields out, and `toBinary({ writeUnknownFields: false })` drops it. A field of that number
 * already set or spliced is replaced.
 *
 * @example
 * const part = new appApi.RobotPart({ id, name: 'main' });
 * spliceStruct(part, 5, config); // viam.app.v1.RobotPart.robot_config = 5
 * @throws Error when field `fieldNo` of the message exists but is not a singular
 * google.protobuf.Struct outside a oneof
 */
export function spliceStruct(message: Message, fieldNo: number, value: Record<string, unknown>): void {
  checkFieldNo(fieldNo);
  const type = message.getType();
  const field = type.fields.find(fieldNo);
  if (field) {
    if (
      field.kind !== 'message' ||
      field.T.typeName !== 'google.protobuf.Struct' ||
      field.repeated ||
      field.oneof
    ) {
      throw new Error(
        `${type.typeName} field ${fieldNo} (${field.name}) is not a singular google.protobuf.Struct`,
      );
    }
  }
  // For a length-delimited unknown field, protobuf-es keeps everything after the tag: the
  // length, then the bytes (what its reader's skip() returns), and writes it back after the tag.
  const data = encodeStructWith(
    value,
    (n) => varintSize(n),
    (buf, n) => putVarint(buf, 0, n),
  );
  if (field) (message as unknown as Record<string, unknown>)[field.localName] = undefined;
  const bin = type.runtime.bin;
  const unknown = bin.listUnknownFields(message);
  if (unknown.some((f) => f.no === fieldNo)) {
    const kept = unknown.filter((f) => f.no !== fieldNo);
    bin.discardUnknownFields(message);
    for (const f of kept) bin.onUnknownField(message, f.no, f.wireType, f.data);
  }
  bin.onUnknownField(message, fieldNo, WireType.LengthDelimited, data);
}
