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
      timeUs: l.time ? Number(l.time.seconds) * 1_000_000 + Math.floor(l.time.nanos / 1000) : undefined,
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
    assert.equal(decoded.logs[0]?.timeUs, 1_764_000_000_123_456);
    assert.equal(decoded.logs[1]?.timeUs, undefined);
    assert.equal(decoded.logs[2]?.timeUs, -1_999_500);
    assert.deepEqual(decoded.logs[0]?.fields[0], NESTED);
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
