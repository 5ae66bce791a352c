import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appRobotApi } from '@viamrobotics/sdk';
import { encodeNeedsRestartReply, needsRestartReply } from '../src/rpc/needs-restart-reply.js';
import { seededRandom } from './support/random.js';

const IDS = [
  '',
  'a',
  '5f1c4a0e-1b7d-4a63-9b0e-2f1f5a3c9d10',
  'é',
  '日本',
  '😀',
  'x'.repeat(127),
  'y'.repeat(128),
  'z'.repeat(20_000),
];
const SECONDS = [0, 1, 5, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32 + 3, Number.MAX_SAFE_INTEGER];

const reference = (id: string, mustRestart: boolean, seconds: number) =>
  new appRobotApi.NeedsRestartResponse({
    id,
    mustRestart,
    restartCheckInterval: { seconds: BigInt(seconds), nanos: 0 },
  }).toBinary();

test('the hand-encoded NeedsRestart reply is byte for byte what protobuf-es writes', () => {
  for (const id of IDS) {
    for (const seconds of SECONDS) {
      for (const mustRestart of [false, true]) {
        assert.deepEqual(
          encodeNeedsRestartReply(id, mustRestart, seconds),
          reference(id, mustRestart, seconds),
          `${JSON.stringify(id.slice(0, 10))} ${mustRestart} ${seconds}`,
        );
      }
    }
  }
  const random = seededRandom(15);
  for (let i = 0; i < 500; i++) {
    const id = Array.from({ length: Math.floor(random() * 40) }, () =>
      String.fromCodePoint(Math.floor(random() * 0xd7ff)),
    ).join('');
    const seconds = Math.floor(random() * 2 ** (random() * 53));
    const mustRestart = random() < 0.5;
    assert.deepEqual(encodeNeedsRestartReply(id, mustRestart, seconds), reference(id, mustRestart, seconds));
  }
});

test('the reply reads back the same through JSON, and bad intervals are refused', () => {
  const reply = needsRestartReply('part-1', true, 5);
  assert.deepEqual(reply.toJson(), { id: 'part-1', mustRestart: true, restartCheckInterval: '5s' });
  assert.throws(() => encodeNeedsRestartReply('p', false, -1), RangeError);
  assert.throws(() => encodeNeedsRestartReply('p', false, 1.5), RangeError);
});
