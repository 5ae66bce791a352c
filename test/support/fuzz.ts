import http2 from 'node:http2';
import { AuthService } from '../../src/rpc/auth-service-descriptor.js';
import { PackageService } from '../../src/rpc/package-service.generated.js';
import { AppService, RobotService } from '../../src/rpc/service-descriptors.generated.js';
import { seededRandom } from './random.js';

/*
 * A seeded generator of hostile and malformed requests for every method of the four services,
 * over Connect JSON, gRPC-web (HTTP/1.1) and gRPC (HTTP/2), and a runner that tallies the codes
 * the server answers with. Used by test/fuzz.test.ts (a few thousand requests) and by
 * `npm run fuzz` (100,000). Only 127.0.0.1 is ever addressed: the server under test.
 */

interface FieldInfo {
  name: string;
  localName: string;
  kind: 'scalar' | 'enum' | 'message' | 'map';
  T: unknown;
  repeated: boolean;
  oneof?: { localName: string };
  K?: number;
  V?: { kind: string; T: unknown };
}

interface MessageTypeLike {
  typeName: string;
  fields: { list(): readonly FieldInfo[] };
  fromJson?(json: unknown): unknown;
  new (data?: unknown): { toBinary(): Uint8Array; toJson(): unknown };
}

interface MethodLike {
  name: string;
  I: MessageTypeLike;
  kind: number;
}

interface ServiceLike {
  typeName: string;
  methods: Record<string, MethodLike>;
}

/** Every method of the four services. */
export function allMethods(): { service: string; method: MethodLike }[] {
  const services = [AppService, RobotService, AuthService, PackageService] as unknown as ServiceLike[];
  return services.flatMap((s) => Object.values(s.methods).map((method) => ({ service: s.typeName, method })));
}

const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  '__proto__',
  'constructor',
  "' OR 1=1 --",
  '%',
  '../../etc/passwd',
  '😀'.repeat(10),
  '00000000-0000-0000-0000-000000000000',
  'a:b',
  'a/b',
  'latest',
  'linux/arm64',
];

/** A random value for a field, from the field's type; deliberately wrong or extreme often. */
function scalar(random: () => number, t: number): unknown {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)] as T;
  switch (t) {
    case 9: {
      // string
      const r = random();
      if (r < 0.4) return pick(NASTY_STRINGS);
      if (r < 0.45) return 'x'.repeat(70_000);
      return random()
        .toString(36)
        .slice(2, 2 + Math.floor(random() * 12));
    }
    case 8:
      return random() < 0.5;
    case 1:
    case 2: // double, float
      return pick([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -1e308, 1e308]);
    case 12: // bytes
      return Uint8Array.from({ length: Math.floor(random() * 16) }, () => Math.floor(random() * 256));
    case 3:
    case 4:
    case 6:
    case 16:
    case 18: // 64-bit integers
      return pick([0n, 1n, -1n, 9_223_372_036_854_775_807n, -9_223_372_036_854_775_808n, 253_402_300_800n]);
    default: // 32-bit integers
      return pick([0, 1, -1, 2_147_483_647, -2_147_483_648, 100, 1000]);
  }
}

function randomJson(random: () => number, depth: number): unknown {
  const r = random();
  if (depth > 3 || r < 0.3) return scalar(random, 9);
  if (r < 0.45) return scalar(random, 1);
  if (r < 0.55) return random() < 0.5;
  if (r < 0.7) return Array.from({ length: Math.floor(random() * 4) }, () => randomJson(random, depth + 1));
  const out: Record<string, unknown> = {};
  for (let i = Math.floor(random() * 4); i > 0; i--) {
    Object.defineProperty(out, String(scalar(random, 9)), {
      value: randomJson(random, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** A random instance of a message type, as the partial object its constructor takes. */
function randomMessage(random: () => number, type: MessageTypeLike, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (depth > 3) return out;
  const oneofsSet = new Set<string>();
  for (const field of type.fields.list()) {
    if (random() < 0.4) continue;
    const value = () => fieldValue(random, field, depth);
    if (field.oneof) {
      if (oneofsSet.has(field.oneof.localName)) continue;
      oneofsSet.add(field.oneof.localName);
      out[field.oneof.localName] = { case: field.localName, value: value() };
      continue;
    }
    if (field.kind === 'map') {
      out[field.localName] = {
        [String(scalar(random, 9))]: field.V?.kind === 'scalar' ? scalar(random, field.V.T as number) : {},
      };
      continue;
    }
    if (field.repeated) {
      if (random() < 0.02) {
        // A very long list of small items (enum filters, ids): the list itself is the attack.
        const item =
          field.kind === 'enum' ? 1 : field.kind === 'scalar' ? scalar(random, field.T as number) : {};
        out[field.localName] = Array.from({ length: 40_000 }, () =>
          typeof item === 'string' ? item.slice(0, 8) : item,
        );
        continue;
      }
      out[field.localName] = Array.from({ length: Math.floor(random() * 4) }, value);
      continue;
    }
    out[field.localName] = value();
  }
  return out;
}

function fieldValue(random: () => number, field: FieldInfo, depth: number): unknown {
  if (field.kind === 'scalar') return scalar(random, field.T as number);
  if (field.kind === 'enum') return [0, 1, 2, 3, 99, -1][Math.floor(random() * 6)];
  const type = field.T as MessageTypeLike;
  if (type.typeName === 'google.protobuf.Struct') return type.fromJson?.(randomStructJson(random)) ?? {};
  if (type.typeName === 'google.protobuf.Timestamp') {
    return {
      seconds: scalar(random, 3),
      nanos: [0, 999_999_999, 1_000_000_000, -1][Math.floor(random() * 4)],
    };
  }
  return randomMessage(random, type, depth + 1);
}

function randomStructJson(random: () => number): Record<string, unknown> {
  const value = randomJson(random, 1);
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : { value: typeof value === 'number' && !Number.isFinite(value) ? 0 : value };
}

export type Protocol = 'connect' | 'grpc-web' | 'grpc';

/** One request as sent: where, how, with which body. */
export interface FuzzRequest {
  protocol: Protocol;
  path: string;
  headers: Record<string, string>;
  /** The body for Connect JSON; the message bytes (to be framed) otherwise. */
  body: Uint8Array;
  /** How to frame binary bodies: well-formed, with a wrong length, or marked compressed. */
  framing: 'ok' | 'bad-length' | 'compressed';
  description: string;
}

/** Credentials the generator chooses among; `valid` is a real token of the server under test. */
export interface FuzzCredentials {
  valid: string;
}

/** The n-th request of the sequence for `seed` (the sequence does not depend on the server's answers). */
export function* requests(seed: number, count: number, credentials: FuzzCredentials): Generator<FuzzRequest> {
  const random = seededRandom(seed);
  const methods = allMethods();
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)] as T;
  for (let i = 0; i < count; i++) {
    const { service, method } = pick(methods);
    const protocol = pick(['connect', 'grpc-web', 'grpc'] as const);
    const auth = random();
    const headers: Record<string, string> = {};
    if (auth < 0.6) headers.authorization = `Bearer ${credentials.valid}`;
    else if (auth < 0.7) headers.authorization = `Bearer ${credentials.valid.slice(0, -3)}abc`;
    else if (auth < 0.8)
      headers.authorization = `Bearer ${pick(['x', 'a.b.c', 'eyJ.eyJ.sig', '%00', '__proto__'])}`;
    else if (auth < 0.85) headers.authorization = 'Basic Zm9vOmJhcg==';
    let body: Uint8Array;
    let description: string;
    const shape = random();
    if (shape < 0.75) {
      const partial = randomMessage(random, method.I, 0);
      let message: { toBinary(): Uint8Array; toJson(): unknown } | undefined;
      try {
        message = new method.I(partial);
      } catch {
        message = new method.I();
      }
      if (protocol === 'connect') {
        let json: unknown;
        try {
          json = message.toJson();
        } catch {
          json = { unexpected: Number.NaN };
        }
        body = Buffer.from(JSON.stringify(json) ?? '{}');
        description = 'random fields (JSON)';
      } else {
        try {
          body = message.toBinary();
        } catch {
          body = new Uint8Array();
        }
        description = 'random fields';
      }
    } else if (shape < 0.9) {
      body = Uint8Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256));
      description = 'random bytes';
    } else {
      body = Buffer.from(pick(['{', '[]', 'null', '{"a":', '"x"', '{"id": {"$ne": 1}}']));
      description = 'broken JSON';
    }
    const framing = random() < 0.9 ? 'ok' : random() < 0.5 ? 'bad-length' : 'compressed';
    yield { protocol, path: `/${service}/${method.name}`, headers, body, framing, description };
  }
}

/** What the server answered: a status code name (or HTTP status) for the tally. */
export interface FuzzOutcome {
  /** gRPC status number, or undefined when the reply carried none. */
  grpcStatus: number | undefined;
  httpStatus: number;
  message: string;
}

function frame(body: Uint8Array, framing: FuzzRequest['framing']): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out[0] = framing === 'compressed' ? 1 : 0;
  out.writeUInt32BE(framing === 'bad-length' ? body.length + 7 : body.length, 1);
  out.set(body, 5);
  return out;
}

const CONNECT_CODES: Record<string, number> = {
  canceled: 1,
  unknown: 2,
  invalid_argument: 3,
  deadline_exceeded: 4,
  not_found: 5,
  already_exists: 6,
  permission_denied: 7,
  resource_exhausted: 8,
  failed_precondition: 9,
  aborted: 10,
  out_of_range: 11,
  unimplemented: 12,
  internal: 13,
  unavailable: 14,
  data_loss: 15,
  unauthenticated: 16,
};

/** Sends one request to the server at `baseUrl` (HTTP/2 through `session` for gRPC). */
export async function send(
  baseUrl: string,
  session: http2.ClientHttp2Session,
  req: FuzzRequest,
  /** Send HTTP/1.1 requests on a connection of their own, closed after the reply. */
  freshConnection = false,
): Promise<FuzzOutcome> {
  const close: Record<string, string> = freshConnection ? { connection: 'close' } : {};
  if (req.protocol === 'grpc') {
    return new Promise((resolve) => {
      const stream = session.request({
        ':method': 'POST',
        ':path': req.path,
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-timeout': '10S',
        ...req.headers,
      });
      let headers: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      stream.on('response', (h) => {
        headers = h;
      });
      stream.on('trailers', (t) => {
        trailers = t;
      });
      stream.on('data', () => {});
      stream.on('error', () => {});
      stream.on('close', () => {
        const status = headers['grpc-status'] ?? trailers['grpc-status'];
        const message = headers['grpc-message'] ?? trailers['grpc-message'];
        resolve({
          grpcStatus: status === undefined ? undefined : Number(status),
          httpStatus: Number(headers[':status'] ?? 0),
          message: decodeURIComponent(String(message ?? '')),
        });
      });
      stream.end(frame(req.body, req.framing));
    });
  }
  if (req.protocol === 'grpc-web') {
    const res = await fetch(`${baseUrl}${req.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', ...close, ...req.headers },
      body: frame(req.body, req.framing),
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    let status = res.headers.get('grpc-status') ?? undefined;
    let message = res.headers.get('grpc-message') ?? '';
    // Trailers travel in the body as a frame flagged 0x80.
    for (let at = 0; at + 5 <= bytes.length;) {
      const flags = bytes[at] ?? 0;
      const length = bytes.readUInt32BE(at + 1);
      if (flags & 0x80) {
        const text = bytes.subarray(at + 5, at + 5 + length).toString('utf8');
        status = /grpc-status:\s*(\d+)/i.exec(text)?.[1] ?? status;
        message = /grpc-message:\s*(.*)/i.exec(text)?.[1]?.trim() ?? message;
      }
      at += 5 + length;
    }
    return {
      grpcStatus: status === undefined ? undefined : Number(status),
      httpStatus: res.status,
      message: decodeURIComponent(message),
    };
  }
  const res = await fetch(`${baseUrl}${req.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...close, ...req.headers },
    body: req.body,
  });
  const text = await res.text();
  if (res.ok) return { grpcStatus: 0, httpStatus: res.status, message: '' };
  let parsed: { code?: string; message?: string } = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    parsed = {};
  }
  return {
    grpcStatus: parsed.code === undefined ? undefined : CONNECT_CODES[parsed.code],
    httpStatus: res.status,
    message: parsed.message ?? text.slice(0, 200),
  };
}

/** Runs `count` requests from `seed`, a few at a time; the tally by outcome and the failures. */
export async function runFuzz(
  baseUrl: string,
  seed: number,
  count: number,
  credentials: FuzzCredentials,
  concurrency = 8,
): Promise<{ tally: Map<string, number>; failures: { request: FuzzRequest; outcome: FuzzOutcome }[] }> {
  const session = http2.connect(baseUrl);
  session.on('error', () => {});
  const tally = new Map<string, number>();
  const failures: { request: FuzzRequest; outcome: FuzzOutcome }[] = [];
  const source = requests(seed, count, credentials);
  let current = session;
  const worker = async () => {
    for (;;) {
      const next = source.next();
      if (next.done) return;
      if (current.closed || current.destroyed) {
        current = http2.connect(baseUrl);
        current.on('error', () => {});
      }
      let outcome: FuzzOutcome;
      try {
        outcome = await send(baseUrl, current, next.value);
      } catch {
        // A pooled HTTP/1.1 connection can be closed by the server's keep-alive timeout just as
        // the client reuses it: sent once more on a fresh connection, the same request must get
        // an answer. A server that drops the connection for the request itself fails again.
        try {
          outcome = await send(baseUrl, current, next.value, true);
        } catch (error) {
          const cause = (error as { cause?: unknown }).cause;
          outcome = { grpcStatus: undefined, httpStatus: 599, message: `${String(error)} ${String(cause)}` };
        }
      }
      const key =
        outcome.grpcStatus === undefined ? `http ${outcome.httpStatus}` : codeName(outcome.grpcStatus);
      tally.set(key, (tally.get(key) ?? 0) + 1);
      if (isServerFailure(outcome)) failures.push({ request: next.value, outcome });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  current.close();
  session.close();
  return { tally, failures };
}

const CODE_NAMES = Object.fromEntries(Object.entries(CONNECT_CODES).map(([name, n]) => [n, name]));

export const codeName = (code: number): string => (code === 0 ? 'ok' : (CODE_NAMES[code] ?? `code ${code}`));

/**
 * INTERNAL, a broken connection (599 here), or an HTTP 5xx other than Connect's own mapping of
 * UNIMPLEMENTED (501): what a client's mistake must never produce.
 */
export const isServerFailure = (outcome: FuzzOutcome): boolean =>
  outcome.grpcStatus === 13 ||
  (outcome.httpStatus >= 500 && !(outcome.httpStatus === 501 && outcome.grpcStatus === 12));
