import { appRobotApi } from '@viamrobotics/sdk';
import { preEncoded } from './pre-encoded.js';

/*
 * RobotService.NeedsRestart's reply, encoded by hand: machines ask every few seconds, and the
 * reply is three fields (viam.app.v1.NeedsRestartResponse: string id = 1, bool must_restart = 2,
 * google.protobuf.Duration restart_check_interval = 3, whose int64 seconds = 1). The bytes are
 * those protobuf-es writes for the same message (test/needs-restart-reply.test.ts).
 */

const ID_TAG = (1 << 3) | 2;
const MUST_RESTART_TAG = (2 << 3) | 0;
const INTERVAL_TAG = (3 << 3) | 2;
const SECONDS_TAG = (1 << 3) | 0;

const utf8 = new TextEncoder();

function varintLength(n: number): number {
  let length = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    length++;
  }
  return length;
}

function writeVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[at++] = n;
  return at;
}

/** The encoded reply; `checkIntervalSeconds` is a whole number of seconds, 0 or more. */
export function encodeNeedsRestartReply(
  id: string,
  mustRestart: boolean,
  checkIntervalSeconds: number,
): Uint8Array {
  if (!Number.isSafeInteger(checkIntervalSeconds) || checkIntervalSeconds < 0) {
    throw new RangeError(`a restart check interval must be whole seconds, got ${checkIntervalSeconds}`);
  }
  const idBytes = utf8.encode(id);
  const intervalLength = checkIntervalSeconds > 0 ? 1 + varintLength(checkIntervalSeconds) : 0;
  const length =
    (idBytes.length > 0 ? 1 + varintLength(idBytes.length) + idBytes.length : 0) +
    (mustRestart ? 2 : 0) +
    2 +
    intervalLength;
  const out = new Uint8Array(length);
  let at = 0;
  if (idBytes.length > 0) {
    out[at++] = ID_TAG;
    at = writeVarint(out, at, idBytes.length);
    out.set(idBytes, at);
    at += idBytes.length;
  }
  if (mustRestart) {
    out[at++] = MUST_RESTART_TAG;
    out[at++] = 1;
  }
  out[at++] = INTERVAL_TAG;
  out[at++] = intervalLength;
  if (checkIntervalSeconds > 0) {
    out[at++] = SECONDS_TAG;
    writeVarint(out, at, checkIntervalSeconds);
  }
  return out;
}

/** The reply as a message the framework sends as these bytes (and as JSON, decoded from them). */
export function needsRestartReply(
  id: string,
  mustRestart: boolean,
  checkIntervalSeconds: number,
): appRobotApi.NeedsRestartResponse {
  return preEncoded(
    appRobotApi.NeedsRestartResponse,
    encodeNeedsRestartReply(id, mustRestart, checkIntervalSeconds),
  );
}
