import type { JsonReadOptions } from '@bufbuild/protobuf';
import { appRobotApi } from '@viamrobotics/sdk';
import type { PushedLogEntry } from '../domain/models.js';
import { isTimestampInRange } from '../domain/timestamp-range.js';
import { structToObject } from './wire-values.js';

/*
 * RobotService.Log is the busiest call a fleet makes (every machine, every 100 ms, up to
 * hundreds of entries), and decoding it through the generated classes costs about 20 µs per
 * entry, mostly in building google.protobuf.Struct messages only to turn them into JSON again.
 * This decoder reads the protobuf wire format of `viam.app.v1.LogRequest` straight into the
 * domain's entries. It is used only on the server, for binary (gRPC, gRPC-web) requests; Connect
 * JSON requests go through the generated class.
 *
 * Field numbers (viam.app.v1.LogRequest, common.v1.LogEntry, google.protobuf.*):
 *   LogRequest: 1 id, 2 logs (repeated LogEntry)
 *   LogEntry:   1 host, 2 level, 3 time (Timestamp), 4 logger_name, 5 message, 6 caller (Struct),
 *               7 stack, 8 fields (repeated Struct)
 *   Timestamp:  1 seconds (int64), 2 nanos (int32)
 *   Struct:     1 fields (map<string, Value>: entry 1 key, 2 value)
 *   Value:      1 null, 2 number (double), 3 string, 4 bool, 5 struct, 6 list (ListValue: 1 values)
 */

/** A decoded Log request: the part's id and its entries (time undefined when not sent). */
export interface DecodedLogRequest {
  id: string;
  logs: PushedLogEntry[];
}

/** Nested Structs deeper than this are refused, as the generated decoder's recursion would be. */
const MAX_DEPTH = 64;

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

class WireReader {
  pos: number;

  constructor(
    private readonly buf: Buffer,
    start: number,
    readonly end: number,
    /** Shared by every reader of one request (doubles are rare; made on first need). */
    private view?: DataView,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** An unsigned varint of up to 64 bits, as a number (exact up to 2^53). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const byte = this.buf[this.pos++] as number;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    throw new Error('varint longer than 10 bytes');
  }

  /** A signed 64-bit varint (two's complement), as a number (exact up to 2^53 in magnitude). */
  int64(): number {
    const start = this.pos;
    const n = this.varint();
    // Negative values arrive as ten-byte varints: read those exactly.
    return n < 2 ** 53 ? n : Number(BigInt.asIntN(64, this.exactVarint(start)));
  }

  /** A signed 32-bit varint: its low 32 bits, as protobuf reads it (-1 arrives as ten bytes). */
  int32(): number {
    const start = this.pos;
    const n = this.varint();
    return n < 2 ** 53 ? n | 0 : Number(BigInt.asIntN(32, this.exactVarint(start)));
  }

  /** The varint just read from `start`, exactly. */
  private exactVarint(start: number): bigint {
    let value = 0n;
    for (let p = start, shift = 0n; p < this.pos; p++, shift += 7n) {
      value |= BigInt((this.buf[p] as number) & 0x7f) << shift;
    }
    return value;
  }

  double(): number {
    if (this.pos + 8 > this.end) throw new Error('truncated double');
    this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    const value = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return value;
  }

  /** The bounds of a length-delimited field's bytes; advances past them. */
  bytes(): [number, number] {
    const length = this.varint();
    const start = this.pos;
    const end = start + length;
    if (end > this.end) throw new Error('truncated length-delimited field');
    this.pos = end;
    return [start, end];
  }

  string(): string {
    const [start, end] = this.bytes();
    return this.buf.toString('utf8', start, end);
  }

  sub(): WireReader {
    const [start, end] = this.bytes();
    return new WireReader(this.buf, start, end, this.view);
  }

  skip(wireType: number): void {
    if (wireType === VARINT) this.varint();
    else if (wireType === FIXED64) this.pos += 8;
    else if (wireType === LEN) this.bytes();
    else if (wireType === FIXED32) this.pos += 4;
    else throw new Error(`unsupported wire type ${wireType}`);
    if (this.pos > this.end) throw new Error('truncated field');
  }
}

function struct(r: WireReader, depth: number): Record<string, unknown> {
  if (depth > MAX_DEPTH) throw new Error('Struct nested too deeply');
  const out: Record<string, unknown> = {};
  while (!r.done) {
    const tag = r.varint();
    if (tag >>> 3 !== 1 || (tag & 7) !== LEN) {
      r.skip(tag & 7);
      continue;
    }
    const entry = r.sub();
    let key = '';
    let value: unknown = null;
    while (!entry.done) {
      const t = entry.varint();
      if (t === (1 << 3) + LEN) key = entry.string();
      else if (t === (2 << 3) + LEN) value = structValue(entry.sub(), depth + 1);
      else entry.skip(t & 7);
    }
    // As an ordinary key, `__proto__` would set the object's prototype: refused, as in configs.
    if (key === '__proto__') throw new Error('a Struct key "__proto__" is not allowed');
    out[key] = value;
  }
  return out;
}

function structValue(r: WireReader, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new Error('Struct nested too deeply');
  let value: unknown = null;
  while (!r.done) {
    const tag = r.varint();
    switch (tag) {
      case (1 << 3) + VARINT:
        r.varint();
        value = null;
        break;
      case (2 << 3) + FIXED64:
        value = r.double();
        if (!Number.isFinite(value))
          throw new Error('a Struct number is NaN or infinite, which JSON cannot hold');
        break;
      case (3 << 3) + LEN:
        value = r.string();
        break;
      case (4 << 3) + VARINT:
        value = r.varint() !== 0;
        break;
      case (5 << 3) + LEN:
        value = struct(r.sub(), depth + 1);
        break;
      case (6 << 3) + LEN: {
        const list = r.sub();
        const values: unknown[] = [];
        while (!list.done) {
          const t = list.varint();
          if (t === (1 << 3) + LEN) values.push(structValue(list.sub(), depth + 1));
          else list.skip(t & 7);
        }
        value = values;
        break;
      }
      default:
        r.skip(tag & 7);
    }
  }
  return value;
}

function timestampMicros(r: WireReader): bigint {
  let seconds = 0;
  let nanos = 0;
  while (!r.done) {
    const tag = r.varint();
    if (tag === (1 << 3) + VARINT) seconds = r.int64();
    else if (tag === (2 << 3) + VARINT) nanos = r.int32();
    else r.skip(tag & 7);
  }
  return logTimeMicros(seconds, nanos);
}

/**
 * A log entry's time as microseconds since the epoch, exact over Timestamp's whole range (years
 * 1 to 9999); a time outside it is refused rather than stored altered. `seconds` may be a number:
 * every second of the range is a safe integer, and one far outside stays outside when rounded.
 */
function logTimeMicros(seconds: number, nanos: number): bigint {
  if (!isTimestampInRange(seconds, nanos)) {
    throw new Error('a log time is outside the range of google.protobuf.Timestamp (years 1 to 9999)');
  }
  const micros = Math.floor(nanos / 1000);
  // Within about ±285 years of 1970 (every time a fleet sends) the sum is exact as a number and
  // converts once; further out it is computed as a bigint.
  const us = seconds * 1_000_000 + micros;
  return Number.isSafeInteger(us) ? BigInt(us) : BigInt(seconds) * 1_000_000n + BigInt(micros);
}

function logEntry(r: WireReader): PushedLogEntry {
  const entry: PushedLogEntry = {
    host: '',
    level: '',
    timeUs: undefined,
    loggerName: '',
    message: '',
    caller: undefined,
    stack: '',
    fields: [],
  };
  while (!r.done) {
    const tag = r.varint();
    switch (tag) {
      case (1 << 3) + LEN:
        entry.host = r.string();
        break;
      case (2 << 3) + LEN:
        entry.level = r.string();
        break;
      case (3 << 3) + LEN:
        entry.timeUs = timestampMicros(r.sub());
        break;
      case (4 << 3) + LEN:
        entry.loggerName = r.string();
        break;
      case (5 << 3) + LEN:
        entry.message = r.string();
        break;
      case (6 << 3) + LEN:
        entry.caller = struct(r.sub(), 1);
        break;
      case (7 << 3) + LEN:
        entry.stack = r.string();
        break;
      case (8 << 3) + LEN:
        entry.fields.push(struct(r.sub(), 1));
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return entry;
}

/** Decodes a binary `viam.app.v1.LogRequest`. Throws on malformed input. */
export function decodeLogRequest(bytes: Uint8Array): DecodedLogRequest {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new WireReader(buf, 0, buf.length);
  const request: DecodedLogRequest = { id: '', logs: [] };
  while (!r.done) {
    const tag = r.varint();
    if (tag === (1 << 3) + LEN) request.id = r.string();
    else if (tag === (2 << 3) + LEN) request.logs.push(logEntry(r.sub()));
    else r.skip(tag & 7);
  }
  return request;
}

/** The same shape from a request the generated class decoded (Connect JSON). */
function fromGenerated(req: appRobotApi.LogRequest): DecodedLogRequest {
  return {
    id: req.id,
    logs: req.logs.map((l) => ({
      host: l.host,
      level: l.level,
      timeUs: l.time ? logTimeMicros(Number(l.time.seconds), l.time.nanos) : undefined,
      loggerName: l.loggerName,
      message: l.message,
      caller: l.caller ? structToObject(l.caller) : undefined,
      stack: l.stack,
      fields: l.fields.map((f) => structToObject(f)),
    })),
  };
}

/**
 * Stands in for `LogRequest` as the input type of the server's Log method: connect calls
 * `fromBinary` for gRPC and gRPC-web, `fromJsonString` for Connect JSON.
 */
export const LogRequestDecoder = {
  typeName: appRobotApi.LogRequest.typeName,
  fromBinary: (bytes: Uint8Array): DecodedLogRequest => decodeLogRequest(bytes),
  fromJsonString: (json: string, options?: Partial<JsonReadOptions>): DecodedLogRequest =>
    fromGenerated(appRobotApi.LogRequest.fromJsonString(json, options)),
};
