import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appRobotApi } from '@viamrobotics/sdk';
import { decodeLogRequest, LogRequestDecoder } from '../src/rpc/log-request-codec.js';
import { structFromObject } from '../src/rpc/wire-values.js';

/** What the generated classes make of the same bytes, in the decoder's shape. */
function generated(bytes: Uint8Array) {
  const req = appRobotApi.LogRequest.fromBinary(bytes);
  return {
    id: req.id,
    logs: req.logs.map((l) => ({
      host: l.host,
      level: l.level,
      timeUs: l.time ? l.time.seconds * 1_000_000n + BigInt(Math.floor(l.time.nanos / 1000)) : undefined,
      loggerName: l.loggerName,
      message: l.message,
      caller: l.caller?.toJson(),
      stack: l.stack,
      fields: l.fields.map((f) => f.toJson()),
    })),
  };
}

const CALLER = { defined: true, file: 'robot/impl/local_robot.go', line: 1234, function: 'reconfigure' };
const NESTED = {
  text: 'ünïcödé ✓ 日本語',
  n: -12.5,
  big: 2 ** 40,
  yes: true,
  no: false,
  nothing: null,
  list: [1, 'two', [3, { four: 4 }], null, false],
  deep: { a: { b: { c: {} } } },
  '': 'empty key',
};

describe('Log request wire decoder', () => {
  it('decodes what the generated classes encode, exactly as they decode it', () => {
    const req = new appRobotApi.LogRequest({
      id: 'part-0c5e',
      logs: [
        {
          host: 'rover.lan',
          level: 'Info',
          time: { seconds: 1_764_000_000n, nanos: 123_456_789 },
          loggerName: 'rdk.resource_manager',
          message: 'motor "left" stalled at 50% — retrying',
          caller: structFromObject(CALLER),
          stack: 'goroutine 1 [running]:\nmain.main()',
          fields: [structFromObject(NESTED), structFromObject({})],
        },
        { level: 'error', message: '' },
        { time: { seconds: -2n, nanos: 500_000 }, message: 'before the epoch' },
      ],
    });
    const bytes = req.toBinary();
    const decoded = decodeLogRequest(bytes);
    assert.deepEqual(decoded, generated(bytes));
    assert.equal(decoded.logs[0]?.timeUs, 1_764_000_000_123_456n);
    assert.equal(decoded.logs[1]?.timeUs, undefined);
    assert.equal(decoded.logs[2]?.timeUs, -1_999_500n);
    assert.deepEqual(decoded.logs[0]?.fields[0], NESTED);
  });

  it('keeps times to the microsecond over the whole Timestamp range, and refuses times outside it', () => {
    const times: [{ seconds: bigint; nanos: number }, bigint][] = [
      // 9999-12-31T23:59:59.999999999Z and 0001-01-01T00:00:00.000001Z: the ends of the range.
      [{ seconds: 253_402_300_799n, nanos: 999_999_999 }, 253_402_300_799_999_999n],
      [{ seconds: -62_135_596_800n, nanos: 1000 }, -62_135_596_799_999_999n],
      [{ seconds: -62_135_596_800n, nanos: 0 }, -62_135_596_800_000_000n],
      // Just beyond what a number holds to the microsecond (2^53 µs), on either side of 1970.
      [{ seconds: 9_007_199_254n, nanos: 740_993_000 }, 9_007_199_254_740_993n],
      [{ seconds: -9_007_199_255n, nanos: 259_007_000 }, -9_007_199_254_740_993n],
    ];
    for (const [time, us] of times) {
      const req = new appRobotApi.LogRequest({ id: 'p', logs: [{ level: 'info', time }] });
      assert.equal(decodeLogRequest(req.toBinary()).logs[0]?.timeUs, us, `${time.seconds}.${time.nanos}`);
      assert.equal(LogRequestDecoder.fromJsonString(req.toJsonString()).logs[0]?.timeUs, us);
    }
    for (const time of [
      { seconds: 253_402_300_800n, nanos: 0 },
      { seconds: -62_135_596_801n, nanos: 999_999_999 },
      { seconds: 1_700_000_000n, nanos: 1_000_000_000 },
      { seconds: 1_700_000_000n, nanos: -1 },
      { seconds: -(2n ** 63n), nanos: 0 },
      { seconds: 2n ** 63n - 1n, nanos: 0 },
    ]) {
      const bytes = new appRobotApi.LogRequest({ id: 'p', logs: [{ level: 'info', time }] }).toBinary();
      assert.throws(() => decodeLogRequest(bytes), /outside the range of google\.protobuf\.Timestamp/);
    }
  });

  it('skips unknown fields and decodes from an offset into a larger buffer', () => {
    const known = new appRobotApi.LogRequest({ id: 'p', logs: [{ level: 'warn', message: 'm' }] }).toBinary();
    // Field 15 as a varint, field 14 as length-delimited, field 13 as fixed32: all unknown.
    const unknown = Uint8Array.from([0x78, 0x96, 0x01, 0x72, 0x02, 0x68, 0x69, 0x6d, 1, 2, 3, 4]);
    const framed = new Uint8Array(7 + unknown.length + known.length);
    framed.set(unknown, 7);
    framed.set(known, 7 + unknown.length);
    const decoded = decodeLogRequest(framed.subarray(7));
    assert.deepEqual(decoded, { id: 'p', logs: [{ ...generated(known).logs[0] }] });
  });

  it('refuses truncated input', () => {
    const bytes = new appRobotApi.LogRequest({ id: 'p', logs: [{ message: 'hello' }] }).toBinary();
    assert.throws(() => decodeLogRequest(bytes.subarray(0, bytes.length - 2)), /truncated/);
  });

  it('Connect JSON requests decode to the same shape through the generated class', () => {
    const req = new appRobotApi.LogRequest({
      id: 'p',
      logs: [{ level: 'debug', time: { seconds: 5n, nanos: 7000 }, caller: structFromObject(CALLER) }],
    });
    assert.deepEqual(LogRequestDecoder.fromJsonString(req.toJsonString()), generated(req.toBinary()));
  });
});
