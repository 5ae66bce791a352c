import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeLogPageToken,
  encodeLogPageToken,
  likePatternFor,
  logFilterOf,
  logLevelOf,
  MAX_LOG_TIME_US,
  messageFilter,
  MIN_LOG_TIME_US,
  selectedLevels,
} from '../src/domain/log-query.js';
import { LogTailHub } from '../src/services/log-tail-hub.js';
import type { AppendedLogs, PartLogStore, StoredLogEntry } from '../src/store/part-log-store.js';
import { trigramQueryFor } from '../src/store/sqlite-log-search.js';

describe('log queries (pure)', () => {
  it('levels: matched case-insensitively, unknown ones refused; errors_only narrows to error and above', () => {
    assert.equal(logLevelOf('WARN'), 'warn');
    assert.equal(logLevelOf('DPanic'), 'dpanic');
    assert.equal(logLevelOf('warning'), undefined);
    assert.equal(selectedLevels([], false), undefined);
    assert.deepEqual(selectedLevels([], true), ['error', 'dpanic', 'panic', 'fatal']);
    assert.deepEqual(selectedLevels(['Info', 'ERROR', 'error'], false), ['info', 'error']);
    assert.deepEqual(selectedLevels(['info', 'fatal'], true), ['fatal']);
    assert.deepEqual(selectedLevels(['info'], true), []);
    assert.throws(() => selectedLevels(['info', 'loud'], false), /levels\[1\]: unknown level "loud"/);
    assert.equal(logFilterOf(''), undefined);
    assert.equal(logFilterOf('x'.repeat(1024)), 'x'.repeat(1024));
    assert.throws(() => logFilterOf('x'.repeat(1025)), /filter is longer than 1024/);
  });

  it('page tokens round-trip and anything else is refused', () => {
    const cursor = { timeUs: 1_764_000_000_123_456n, seq: 987_654 };
    const token = encodeLogPageToken(cursor);
    assert.match(token, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodeLogPageToken(token), cursor);
    // Times at both ends of Timestamp's range, beyond what a number holds exactly, round-trip too.
    for (const timeUs of [
      MAX_LOG_TIME_US,
      MIN_LOG_TIME_US,
      9_007_199_254_740_993n,
      -9_007_199_254_740_993n,
    ]) {
      assert.deepEqual(decodeLogPageToken(encodeLogPageToken({ timeUs, seq: 3 })), { timeUs, seq: 3 });
    }
    for (const bad of [
      '-',
      'garbage',
      Buffer.from('v1:1:x').toString('base64url'),
      Buffer.from('v2:1:2').toString('base64url'),
      Buffer.from(`v1:${MAX_LOG_TIME_US + 1n}:2`).toString('base64url'),
      Buffer.from(`v1:${MIN_LOG_TIME_US - 1n}:2`).toString('base64url'),
      Buffer.from('v1:1234567890123456789:2').toString('base64url'),
    ]) {
      assert.throws(() => decodeLogPageToken(bad), /page_token/);
    }
  });

  it('the message filter ignores the case of ASCII letters only, and LIKE patterns escape their wildcards', () => {
    const f = messageFilter('Motor_1%');
    assert.equal(f('left MOTOR_1% stalled'), true);
    assert.equal(f('left motorX1% stalled'), false);
    assert.equal(messageFilter('é')('É'), false);
    assert.equal(likePatternFor('50%_a\\b'), '%50\\%\\_a\\\\b%');
  });

  it('trigram queries: every distinct trigram, quoted; none for filters under three characters', () => {
    assert.equal(trigramQueryFor('ab'), undefined);
    assert.equal(trigramQueryFor('abcab'), '"abc" AND "bca" AND "cab"');
    assert.equal(trigramQueryFor('a"b'), '"a""b"');
    const long = trigramQueryFor('abcdefghijklmnopqrstuvwxyz0123456789') ?? '';
    assert.equal(long.split(' AND ').length, 16, 'a long filter asks for at most 16 trigrams');
    assert.ok(long.startsWith('"abc" AND '));
  });
});

/** A store that only relays batches the test hands it. */
function fakeStore() {
  let notify: ((batch: AppendedLogs) => void) | undefined;
  let watched: ((partId: string) => boolean) | undefined;
  const store = {
    onAppended(n: (batch: AppendedLogs) => void, w: (partId: string) => boolean) {
      notify = n;
      watched = w;
      return () => (notify = undefined);
    },
  } as unknown as PartLogStore;
  const push = (partId: string, entries: StoredLogEntry[]) => {
    if (watched?.(partId)) notify?.({ partId, entries });
  };
  return { store, push };
}

const row = (seq: number, level = 'info', message = `m${seq}`): StoredLogEntry =>
  ({
    seq,
    level,
    message,
    host: 'h',
    timeUs: BigInt(seq),
    loggerName: 'l',
    caller: undefined,
    stack: '',
    fields: [],
  }) as StoredLogEntry;

describe('live tails (hub)', () => {
  it('delivers matching entries of its own part in order, and ends cleanly', async () => {
    const { store, push } = fakeStore();
    const hub = new LogTailHub(store, 100);
    const tail = hub.open('p1', (r) => r.level === 'error');
    push('p1', [row(1), row(2, 'error')]);
    push('p2', [row(3, 'error')]);
    push('p1', [row(4, 'error'), row(5, 'error')]);
    assert.deepEqual(
      (await tail.next())?.map((r) => r.seq),
      [2],
    );
    assert.deepEqual(
      (await tail.next())?.map((r) => r.seq),
      [4, 5],
    );
    const pending = tail.next();
    hub.close();
    assert.equal(await pending, undefined);
    assert.equal(hub.openTails, 0);
  });

  it('a tail that falls behind its bound is dropped at once and fails with RESOURCE_EXHAUSTED; others go on', async () => {
    const { store, push } = fakeStore();
    const hub = new LogTailHub(store, 5);
    const slow = hub.open('p1', () => true);
    const fast = hub.open('p1', () => true);
    push('p1', [row(1), row(2), row(3)]);
    assert.deepEqual(
      (await fast.next())?.map((r) => r.seq),
      [1, 2, 3],
    );
    push('p1', [row(4), row(5), row(6)]);
    assert.equal(hub.openTails, 1, 'the slow tail is detached when it overflows');
    await assert.rejects(slow.next(), (e: Error & { kind?: string }) => e.kind === 'resource_exhausted');
    assert.deepEqual(
      (await fast.next())?.map((r) => r.seq),
      [4, 5, 6],
    );
    hub.close();
  });

  it('a tail with nothing waiting takes a batch larger than its bound', async () => {
    const { store, push } = fakeStore();
    const hub = new LogTailHub(store, 2);
    const tail = hub.open('p1', () => true);
    push('p1', [row(1), row(2), row(3)]);
    assert.deepEqual(
      (await tail.next())?.map((r) => r.seq),
      [1, 2, 3],
    );
    push('p1', [row(4), row(5), row(6)]);
    push('p1', [row(7)]);
    await assert.rejects(tail.next(), (e: Error & { kind?: string }) => e.kind === 'resource_exhausted');
    hub.close();
  });
});
