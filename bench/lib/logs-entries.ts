/*
 * The log entries the logs benchmark sends, and how a Log request is put together cheaply.
 *
 * A pool of distinct entries is encoded once with the SDK (`commonApi.LogEntry.toBinary()`),
 * without host and time. A request is then assembled from bytes: the part id, and per entry the
 * part's host field, a pooled entry and a fresh timestamp field (protobuf fields may come in any
 * order). So every entry carries the current time, increasing, and the load generator spends
 * almost nothing per entry. `checkAssembly` decodes an assembled request with the SDK to prove
 * the bytes mean what they should.
 *
 * The pool is deterministic. Among its entries, exactly 1 in 10 contains the COMMON_TERM and
 * 1 in 10,000 the RARE_TERM; nothing contains the ABSENT_TERM. Sending the pool in order, a
 * whole number of times, gives exact match counts for the search measurements.
 */
import { Struct } from '@bufbuild/protobuf';
import { appRobotApi, commonApi } from '@viamrobotics/sdk';

export const POOL_SIZE = 20_000;
export const COMMON_TERM = 'heartbeat';
export const RARE_TERM = 'checksum mismatch';
export const ABSENT_TERM = 'quantum flux capacitor';
/** Pool positions of the common and rare entries. */
export const isCommon = (i: number): boolean => i % 10 === 3;
export const isRare = (i: number): boolean => i % 10_000 === 4321;

/** An entry as it is stored (what the raw-insert baseline inserts). */
export interface PlainEntry {
  level: string;
  loggerName: string;
  message: string;
  caller: { defined: true; file: string; line: number; function: string };
}

/** A small deterministic PRNG (mulberry32), so every run sends the same entries. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LOGGERS = [
  'rdk.resource_manager',
  'rdk.modmanager',
  'rdk.networking',
  'rdk.components.motor.left',
  'rdk.components.camera.front',
  'rdk.services.navigation',
  'rdk.webrtc',
  'rdk.config',
  'rdk.module.sensor-hub',
];
const NAMES = [
  'left-motor',
  'right-motor',
  'front-cam',
  'lidar',
  'imu',
  'gps',
  'arm',
  'gripper',
  'base',
  'board',
  'encoder-2',
  'nav',
  'slam',
  'vision',
  'sensor-hub',
];
const STATES = ['new', 'checking', 'connected', 'disconnected', 'failed', 'closed'];
const METHODS = [
  '/viam.component.motor.v1.MotorService/GoFor',
  '/viam.component.camera.v1.CameraService/GetImage',
  '/viam.service.navigation.v1.NavigationService/GetLocation',
  '/viam.robot.v1.RobotService/GetStatus',
];
const CALLERS = [
  { file: 'resource/graph_node.go', function: 'go.viam.com/rdk/resource.(*GraphNode).SetLastError' },
  {
    file: 'robot/impl/resource_manager.go',
    function: 'go.viam.com/rdk/robot/impl.(*resourceManager).updateResources',
  },
  { file: 'module/modmanager/manager.go', function: 'go.viam.com/rdk/module/modmanager.(*Manager).Add' },
  { file: 'grpc/conn.go', function: 'go.viam.com/rdk/grpc.(*ReconfigurableClientConn).Connect' },
  {
    file: 'components/motor/gpio/basic.go',
    function: 'go.viam.com/rdk/components/motor/gpio.(*Motor).GoFor',
  },
];
/** Words for padding; none contains the search terms or their trigram sets. */
const WORDS = [
  'resource',
  'graph',
  'node',
  'updated',
  'pending',
  'retry',
  'stream',
  'session',
  'frame',
  'pose',
  'transform',
  'latency',
  'buffer',
  'queue',
  'worker',
  'deadline',
  'context',
  'status',
  'module',
  'process',
  'signal',
  'peer',
  'route',
  'packet',
  'encoder',
  'velocity',
  'torque',
  'voltage',
  'reading',
  'sample',
];

const hex = (rand: () => number, n: number) =>
  Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
const pick = <T>(rand: () => number, list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T;
const int = (rand: () => number, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

function messageFor(i: number, rand: () => number): string {
  const name = pick(rand, NAMES);
  let text: string;
  if (isRare(i)) {
    text = `firmware upload to ${name} failed: ${RARE_TERM} at block ${int(rand, 1, 4096)} (expected ${hex(rand, 8)}, got ${hex(rand, 8)})`;
  } else if (isCommon(i)) {
    text = `module ${name} ${COMMON_TERM} ok, uptime ${int(rand, 10, 999_999)}s, rss ${int(rand, 20, 900)}MB, goroutines ${int(rand, 8, 400)}`;
  } else {
    switch (int(rand, 0, 5)) {
      case 0:
        text = `resource ${name} reconfigured in ${int(rand, 1, 2500)}ms (generation ${int(rand, 1, 90_000)})`;
        break;
      case 1:
        text = `motor ${name} position ${(rand() * 1000).toFixed(3)} target ${(rand() * 1000).toFixed(3)} error ${(rand() * 5).toFixed(4)}`;
        break;
      case 2:
        text = `connection to 10.${int(rand, 0, 255)}.${int(rand, 0, 255)}.${int(rand, 1, 254)}:${int(rand, 1024, 65535)} established after ${int(rand, 1, 9)} attempts`;
        break;
      case 3:
        text = `webrtc peer ${hex(rand, 12)} ice state changed to ${pick(rand, STATES)}`;
        break;
      case 4:
        text = `slow request ${pick(rand, METHODS)} took ${int(rand, 200, 9000)}ms`;
        break;
      default:
        text = `sensor ${name} readings temp=${(rand() * 80).toFixed(2)}C humidity=${int(rand, 5, 95)}% battery=${(11 + rand() * 2).toFixed(2)}V`;
    }
  }
  // Pad (or trim) to 80-120 bytes with more varying words and numbers.
  const target = int(rand, 80, 120);
  while (text.length < target) text += ` ${pick(rand, WORDS)}=${int(rand, 0, 99_999)}`;
  return text.length > 120 ? text.slice(0, 120) : text;
}

function levelFor(i: number, rand: () => number): string {
  if (isRare(i)) return 'error';
  const r = rand();
  return r < 0.9 ? 'info' : r < 0.97 ? 'warn' : 'error';
}

/** The pool's entries, as plain values (deterministic). */
export function plainPool(size = POOL_SIZE): PlainEntry[] {
  const rand = prng(0x5eed);
  return Array.from({ length: size }, (_, i) => {
    const caller = pick(rand, CALLERS);
    return {
      level: levelFor(i, rand),
      loggerName: pick(rand, LOGGERS),
      message: messageFor(i, rand),
      caller: { defined: true, file: caller.file, line: int(rand, 20, 1800), function: caller.function },
    };
  });
}

// ---- protobuf bytes ----

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Buffer.from(out);
}

/** A length-delimited field: tag byte (field < 16, wire type 2), length, bytes. */
const lengthDelimited = (field: number, bytes: Uint8Array): Buffer =>
  Buffer.concat([Buffer.from([(field << 3) | 2]), varint(bytes.length), bytes]);

/** `time` (field 3 of LogEntry): a Timestamp {seconds = 1, nanos = 2}. */
function timeField(timeUs: number): Buffer {
  const seconds = Math.floor(timeUs / 1e6);
  const nanos = (timeUs - seconds * 1e6) * 1000;
  const ts =
    nanos === 0
      ? Buffer.concat([Buffer.from([0x08]), varint(seconds)])
      : Buffer.concat([Buffer.from([0x08]), varint(seconds), Buffer.from([0x10]), varint(nanos)]);
  return lengthDelimited(3, ts);
}

/** The pool, encoded once: each entry's LogEntry bytes without host and time. */
export function encodePool(pool: readonly PlainEntry[]): Buffer[] {
  return pool.map((e) =>
    Buffer.from(
      new commonApi.LogEntry({
        level: e.level,
        loggerName: e.loggerName,
        message: e.message,
        caller: Struct.fromJson(e.caller),
        stack: '',
        fields: [],
      }).toBinary(),
    ),
  );
}

/** Microseconds since the epoch, strictly increasing within this process. */
let lastUs = 0;
export function nowUs(): number {
  const us = Math.max(Date.now() * 1000, lastUs + 1);
  lastUs = us;
  return us;
}

/**
 * Builds framed gRPC Log requests (5-byte prefix included) for one part: `count` consecutive
 * pool entries from `start`, each stamped with the current time.
 */
export class LogRequestAssembler {
  private readonly idField: Buffer;
  private readonly hostField: Buffer;

  constructor(
    partId: string,
    host: string,
    private readonly encoded: readonly Buffer[],
  ) {
    this.idField = lengthDelimited(1, Buffer.from(partId));
    this.hostField = lengthDelimited(1, Buffer.from(host));
  }

  /** A framed request with pool entries start, start+1, ... (wrapping). */
  framed(start: number, count: number): Buffer {
    const parts: Buffer[] = [Buffer.alloc(5), this.idField];
    for (let k = 0; k < count; k++) {
      const body = this.encoded[(start + k) % this.encoded.length] as Buffer;
      const time = timeField(nowUs());
      const length = this.hostField.length + body.length + time.length;
      parts.push(Buffer.from([0x12]), varint(length), this.hostField, body, time);
    }
    const frame = Buffer.concat(parts);
    frame.writeUInt32BE(frame.length - 5, 1);
    return frame;
  }
}

/** A framed Log request built the ordinary way (for the few entries the probes send). */
export function framedLogRequest(
  partId: string,
  entries: { host: string; level: string; message: string; loggerName: string }[],
): Buffer {
  const body = new appRobotApi.LogRequest({
    id: partId,
    logs: entries.map((e) => {
      const us = nowUs();
      return new commonApi.LogEntry({
        ...e,
        time: { seconds: BigInt(Math.floor(us / 1e6)), nanos: (us % 1e6) * 1000 },
        caller: Struct.fromJson({ defined: true, file: 'bench/probe.go', line: 1, function: 'bench.probe' }),
        stack: '',
        fields: [],
      });
    }),
  }).toBinary();
  return frame(body);
}

/** A message with its gRPC length prefix (uncompressed). */
export function frame(body: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out.writeUInt32BE(body.length, 1);
  out.set(body, 5);
  return out;
}

/**
 * Decodes an assembled request with the SDK and checks it against the plain pool: throws if the
 * bytes do not say what they should.
 */
export function checkAssembly(partId: string, host: string, pool: readonly PlainEntry[]): void {
  const assembler = new LogRequestAssembler(partId, host, encodePool(pool.slice(0, 20)));
  const before = Date.now() * 1000;
  const framed = assembler.framed(15, 10);
  const req = appRobotApi.LogRequest.fromBinary(framed.subarray(5));
  if (framed.readUInt32BE(1) !== framed.length - 5) throw new Error('assembly: bad length prefix');
  if (req.id !== partId || req.logs.length !== 10) throw new Error('assembly: wrong id or entry count');
  let previous = 0;
  req.logs.forEach((log, k) => {
    const want = pool[(15 + k) % 20] as PlainEntry;
    const us = Number(log.time?.seconds ?? 0n) * 1e6 + Math.round((log.time?.nanos ?? 0) / 1000);
    const caller = log.caller?.toJson() as Record<string, unknown> | undefined;
    if (
      log.host !== host ||
      log.level !== want.level ||
      log.message !== want.message ||
      log.loggerName !== want.loggerName ||
      caller?.line !== want.caller.line ||
      caller.function !== want.caller.function ||
      us < before ||
      us <= previous
    ) {
      throw new Error(`assembly: entry ${k} does not decode to what was meant`);
    }
    previous = us;
  });
}
