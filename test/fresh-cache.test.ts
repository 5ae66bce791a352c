import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FreshCache } from '../src/services/fresh-cache.js';
import { ChangeTracker } from '../src/store/change-tracker.js';
import type { Db } from '../src/store/db.js';

// Outside a transaction a change is announced at once; any object stands for the database.
const db = {} as Db;

test('an entry is returned until something it was computed from changes', async () => {
  const changes = new ChangeTracker();
  const cache = new FreshCache<string, string>(changes, 10);
  cache.set('a', 'A', cache.stamp(), ['part:1', 'fragment:9']);
  assert.equal(cache.get('a'), 'A');
  await changes.changed(db, 'part:2');
  assert.equal(cache.get('a'), 'A', 'a change elsewhere leaves it');
  await changes.changed(db, 'fragment:9');
  assert.equal(cache.get('a'), undefined);
  assert.equal(cache.get('a'), undefined, 'a stale entry is gone for good');
});

test('a value computed while what it read changed is never kept', async () => {
  const changes = new ChangeTracker();
  const cache = new FreshCache<string, string>(changes, 10);
  const stamp = cache.stamp();
  await changes.changed(db, 'part:1');
  cache.set('a', 'old', stamp, ['part:1']);
  assert.equal(cache.get('a'), undefined);
});

test('when full, the oldest entry not read since it was stored goes first', () => {
  const changes = new ChangeTracker();
  const cache = new FreshCache<number, number>(changes, 3);
  for (const k of [1, 2, 3]) cache.set(k, k, cache.stamp(), []);
  assert.equal(cache.get(1), 1); // 1 is read: spared once
  cache.set(4, 4, cache.stamp(), []);
  assert.equal(cache.get(2), undefined, '2 was the oldest unread');
  assert.deepEqual(
    [1, 3, 4].map((k) => cache.get(k)),
    [1, 3, 4],
  );
  // All three were just read, 1 last in line (it was spared): each is spared once more, in
  // line order, and the first of the line, 3, goes.
  cache.set(5, 5, cache.stamp(), []);
  assert.equal(cache.get(3), undefined);
  assert.deepEqual(
    [1, 4, 5].map((k) => cache.get(k)),
    [1, 4, 5],
  );
});

test('a cache of capacity 0 keeps nothing', () => {
  const changes = new ChangeTracker();
  const cache = new FreshCache<string, string>(changes, 0);
  cache.set('a', 'A', cache.stamp(), []);
  assert.equal(cache.get('a'), undefined);
});

test('with replicas: a write outside a transaction is broadcast before changed() resolves', async () => {
  const changes = new ChangeTracker();
  const sent: { db: Db; keys: readonly string[] }[] = [];
  let release: () => void = () => {};
  changes.broadcastWith((on, keys) => {
    sent.push({ db: on, keys });
    return new Promise<void>((resolve) => (release = resolve));
  });
  let resolved = false;
  const changed = changes.changed(db, 'part:1', 'restart:1').then(() => (resolved = true));
  await Promise.resolve();
  assert.deepEqual(sent, [{ db, keys: ['part:1', 'restart:1'] }]);
  assert.equal(resolved, false, 'changed() waits for the broadcast');
  release();
  await changed;
  assert.equal(resolved, true);
});

test("with replicas: another replica's change makes entries stale; an unknown change makes them all stale", () => {
  const changes = new ChangeTracker();
  const cache = new FreshCache<string, string>(changes, 10);
  cache.set('a', 'A', cache.stamp(), ['part:1']);
  cache.set('b', 'B', cache.stamp(), ['part:2']);
  changes.received(['part:1']);
  assert.equal(cache.get('a'), undefined);
  assert.equal(cache.get('b'), 'B');
  changes.received(undefined);
  assert.equal(cache.get('b'), undefined, 'anything may have changed');
});

test('with replicas: nothing is fresh while the others cannot be heard, nor what was computed before', () => {
  const changes = new ChangeTracker();
  const cache = new FreshCache<string, string>(changes, 10);
  cache.set('a', 'A', cache.stamp(), ['part:1']);
  changes.setListening(false);
  assert.equal(cache.get('a'), undefined);
  cache.set('b', 'B', cache.stamp(), ['part:2']);
  assert.equal(cache.get('b'), undefined, 'nothing is kept while deaf');
  const stampWhileDeaf = cache.stamp();
  changes.setListening(true);
  cache.set('c', 'C', stampWhileDeaf, ['part:3']);
  assert.equal(cache.get('c'), undefined, 'computed while deaf: never trusted');
  cache.set('d', 'D', cache.stamp(), ['part:4']);
  assert.equal(cache.get('d'), 'D');
});
