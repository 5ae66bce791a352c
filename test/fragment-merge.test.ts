import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainError, notFound } from '../src/domain/errors.js';
import {
  MAX_FRAGMENT_DEPTH,
  RESOURCE_SECTIONS,
  mergeFragments,
  parseFragmentMods,
  parseFragmentRefs,
  resolveFragmentTree,
  type FragmentRef,
  type LoadedFragment,
  type ResolvedFragment,
} from '../src/domain/config/fragment-merge.js';

type Json = Record<string, unknown>;

function expectInvalid(fn: () => unknown, message: string | RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DomainError, `expected a DomainError, got ${String(e)}`);
    assert.equal(e.kind, 'invalid_argument');
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

async function expectInvalidAsync(p: Promise<unknown>, message: string | RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DomainError, `expected a DomainError, got ${String(e)}`);
    assert.equal(e.kind, 'invalid_argument');
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

/**
 * A fake fragment store: `store[id]` is the latest config, `store['id@v']` a pinned version or tag.
 * Revisions are `<id>@<version or "latest">`. Records each load call.
 */
function fakeLoader(store: Record<string, Json>) {
  const calls: { id: string; version: string | undefined; depth: number }[] = [];
  const load = (ref: FragmentRef, depth: number): Promise<LoadedFragment> => {
    calls.push({ id: ref.id, version: ref.version, depth });
    const key = ref.version === undefined ? ref.id : `${ref.id}@${ref.version}`;
    const config = store[key];
    if (config === undefined) return Promise.reject(notFound(`fragment ${key} not found`));
    return Promise.resolve({ id: ref.id, revision: `${ref.id}@${ref.version ?? 'latest'}`, config });
  };
  return { load, calls };
}

const refs = (...ids: string[]) => ids.map((id) => ({ id, version: undefined }));
const includes = (...ids: string[]): Json => ({ fragments: ids });
const order = (resolved: ResolvedFragment[]) => resolved.map((f) => `${f.id}:${f.depth}`);
const frag = (id: string, config: Json, depth = 1): ResolvedFragment => ({
  id,
  revision: '1',
  depth,
  config,
});
const mod = (fragmentId: string, ...mods: Json[]) => ({ fragment_id: fragmentId, mods });

describe('parseFragmentRefs', () => {
  it('returns no references when the key is absent or null', () => {
    assert.deepEqual(parseFragmentRefs({}), []);
    assert.deepEqual(parseFragmentRefs({ fragments: null }), []);
    assert.deepEqual(parseFragmentRefs({ fragments: [] }), []);
  });

  it('reads ids and {id, version} objects; an empty or null version means the latest', () => {
    const parsed = parseFragmentRefs({
      fragments: [
        'a',
        { id: 'b' },
        { id: 'c', version: '3' },
        { id: 'd', version: 'stable', extra: true },
        { id: 'e', version: '' },
        { id: 'f', version: null },
      ],
    });
    assert.deepEqual(parsed, [
      { id: 'a', version: undefined },
      { id: 'b', version: undefined },
      { id: 'c', version: '3' },
      { id: 'd', version: 'stable' },
      { id: 'e', version: undefined },
      { id: 'f', version: undefined },
    ]);
  });

  it('refuses malformed lists, naming the key path', () => {
    const cases: [unknown, string][] = [
      ['a', 'fragments: must be a list of fragment ids or {"id", "version"} objects'],
      [{ id: 'a' }, 'fragments: must be a list of fragment ids or {"id", "version"} objects'],
      [['a', ''], 'fragments[1]: must be a non-empty string'],
      [['a', 7], 'fragments[1]: must be a fragment id or an object with an "id"'],
      [[null], 'fragments[0]: must be a fragment id or an object with an "id"'],
      [[['a']], 'fragments[0]: must be a fragment id or an object with an "id"'],
      [['a', { version: '1' }], 'fragments[1].id: must be a non-empty string'],
      [[{ id: '' }], 'fragments[0].id: must be a non-empty string'],
      [[{ id: 5 }], 'fragments[0].id: must be a non-empty string'],
      [[{ id: 'a', version: 2 }], 'fragments[0].version: must be a string'],
      [['a', 'b', 'a'], 'fragments[2]: fragment a is listed twice (also at fragments[0])'],
      [
        [{ id: 'a', version: '1' }, 'b', { id: 'a', version: '2' }],
        'fragments[2]: fragment a is listed twice (also at fragments[0])',
      ],
    ];
    for (const [fragments, message] of cases) expectInvalid(() => parseFragmentRefs({ fragments }), message);
  });

  it('prefixes messages with the given path', () => {
    expectInvalid(
      () => parseFragmentRefs({ fragments: ['x', { id: '' }] }, 'fragment f1 fragments'),
      'fragment f1 fragments[1].id: must be a non-empty string',
    );
  });
});

describe('parseFragmentMods', () => {
  it('returns no mods when the key is absent or null', () => {
    assert.deepEqual(parseFragmentMods({}), []);
    assert.deepEqual(parseFragmentMods({ fragment_mods: null }), []);
  });

  it('flattens each $set / $unset object into one mod per path, in order', () => {
    const value = { deep: [1, 2] };
    const config = {
      fragment_mods: [
        mod(
          'f1',
          { $set: { 'components.motor1.attributes.max_rpm': 200, 'network.fqdn': 'x' } },
          { $unset: { 'components.motor1.attributes.pins': '' } },
        ),
        mod('f2'),
        mod('f3', { $set: { 'services.nav.attributes': value } }),
      ],
    };
    const parsed = parseFragmentMods(config);
    assert.deepEqual(parsed, [
      {
        fragmentId: 'f1',
        mods: [
          { op: '$set', path: 'components.motor1.attributes.max_rpm', value: 200 },
          { op: '$set', path: 'network.fqdn', value: 'x' },
          { op: '$unset', path: 'components.motor1.attributes.pins' },
        ],
      },
      { fragmentId: 'f2', mods: [] },
      { fragmentId: 'f3', mods: [{ op: '$set', path: 'services.nav.attributes', value: { deep: [1, 2] } }] },
    ]);
    // The parsed value is a copy.
    value.deep.push(3);
    assert.deepEqual(parsed[2]!.mods[0], {
      op: '$set',
      path: 'services.nav.attributes',
      value: { deep: [1, 2] },
    });
  });

  it('refuses malformed mods, naming the key path', () => {
    const cases: [unknown, string][] = [
      [{}, 'fragment_mods: must be a list of {"fragment_id", "mods"} objects'],
      [['f1'], 'fragment_mods[0]: must be an object with "fragment_id" and "mods"'],
      [[{ mods: [] }], 'fragment_mods[0].fragment_id: must be a non-empty string'],
      [
        [mod('f1'), { fragment_id: '', mods: [] }],
        'fragment_mods[1].fragment_id: must be a non-empty string',
      ],
      [[{ fragment_id: 3, mods: [] }], 'fragment_mods[0].fragment_id: must be a non-empty string'],
      [
        [{ fragment_id: 'f1' }],
        'fragment_mods[0].mods: must be a list of {"$set": ...} or {"$unset": ...} objects',
      ],
      [
        [{ fragment_id: 'f1', mods: { $set: {} } }],
        'fragment_mods[0].mods: must be a list of {"$set": ...} or {"$unset": ...} objects',
      ],
      [
        [mod('f1', { $set: {} }, 'x' as never)],
        'fragment_mods[0].mods[1]: must be an object with one key, "$set" or "$unset"',
      ],
      [[mod('f1', {})], 'fragment_mods[0].mods[0]: must have exactly one key, "$set" or "$unset"'],
      [
        [mod('f1', { $set: {}, $unset: {} })],
        'fragment_mods[0].mods[0]: must have exactly one key, "$set" or "$unset"',
      ],
      [
        [mod('f1', { $inc: { a: 1 } })],
        'fragment_mods[0].mods[0].$inc: unknown operator; only "$set" and "$unset" are supported',
      ],
      [
        [mod('f1', { $set: 'a.b' })],
        'fragment_mods[0].mods[0].$set: must be an object of dotted paths to values',
      ],
      [
        [mod('f1', { $unset: ['a.b'] })],
        'fragment_mods[0].mods[0].$unset: must be an object of dotted paths to values',
      ],
      [
        [mod('f1', { $set: { 'a..b': 1 } })],
        'fragment_mods[0].mods[0].$set["a..b"]: must be a dotted path of non-empty segments',
      ],
      [
        [mod('f1', { $set: { '': 1 } })],
        'fragment_mods[0].mods[0].$set[""]: must be a dotted path of non-empty segments',
      ],
      [
        [mod('f1', { $unset: { 'a.': '' } })],
        'fragment_mods[0].mods[0].$unset["a."]: must be a dotted path of non-empty segments',
      ],
      [
        [mod('f1', { $set: { 'network.__proto__.x': 1 } })],
        'fragment_mods[0].mods[0].$set["network.__proto__.x"]: the segment "__proto__" is not allowed',
      ],
      [
        [mod('f1', { $set: { 'fragments.0': 'x' } })],
        'fragment_mods[0].mods[0].$set["fragments.0"]: fragments cannot be modified by a mod',
      ],
      [
        [mod('f1', { $unset: { fragment_mods: '' } })],
        'fragment_mods[0].mods[0].$unset.fragment_mods: fragment_mods cannot be modified by a mod',
      ],
      // Keys from the request are echoed quoted and cut to 64 characters.
      [
        [mod('f1', { [`$${'x'.repeat(99)}`]: {} })],
        `fragment_mods[0].mods[0]["$${'x'.repeat(63)}"...]: unknown operator; only "$set" and "$unset" are supported`,
      ],
      [
        [mod('f1', { $set: { [`${'a'.repeat(100)}..b`]: 1 } })],
        `fragment_mods[0].mods[0].$set["${'a'.repeat(64)}"...]: must be a dotted path of non-empty segments`,
      ],
    ];
    for (const [fragmentMods, message] of cases) {
      expectInvalid(() => parseFragmentMods({ fragment_mods: fragmentMods }), message);
    }
  });
});

describe('resolveFragmentTree', () => {
  it('allows 5 levels', () => {
    assert.equal(MAX_FRAGMENT_DEPTH, 5);
  });

  it('flattens depth-first in listed order, each fragment followed by the ones it includes', async () => {
    const { load, calls } = fakeLoader({
      a: { fragments: ['c', { id: 'd', version: '2' }], components: [{ name: 'from-a' }], fragment_mods: [] },
      b: { ...includes('f'), debug: true },
      c: includes('e'),
      'd@2': {},
      e: {},
      f: {},
    });
    const resolved = await resolveFragmentTree(refs('a', 'b'), load);
    assert.deepEqual(order(resolved), ['a:1', 'c:2', 'e:3', 'd:2', 'b:1', 'f:2']);
    assert.deepEqual(
      calls.map((c) => [c.id, c.version, c.depth]),
      [
        ['a', undefined, 1],
        ['c', undefined, 2],
        ['e', undefined, 3],
        ['d', '2', 2],
        ['b', undefined, 1],
        ['f', undefined, 2],
      ],
    );
    // Configs lose their fragments and fragment_mods keys; revisions come from the loader.
    assert.deepEqual(resolved[0], {
      id: 'a',
      revision: 'a@latest',
      depth: 1,
      config: { components: [{ name: 'from-a' }] },
    });
    assert.deepEqual(resolved[3], { id: 'd', revision: 'd@2', depth: 2, config: {} });
    assert.deepEqual(resolved[4]!.config, { debug: true });
  });

  it('returns nothing for no references', async () => {
    const { load, calls } = fakeLoader({});
    assert.deepEqual(await resolveFragmentTree([], load), []);
    assert.equal(calls.length, 0);
  });

  it('refuses a fragment that includes itself directly', async () => {
    const { load } = fakeLoader({ a: includes('a') });
    await expectInvalidAsync(
      resolveFragmentTree(refs('a'), load),
      'fragment a includes itself through a -> a',
    );
  });

  it('refuses a fragment that includes itself through others, naming the cycle', async () => {
    const { load } = fakeLoader({ x: includes('a'), a: includes('b'), b: includes('c'), c: includes('a') });
    await expectInvalidAsync(
      resolveFragmentTree(refs('x'), load),
      'fragment a includes itself through a -> b -> c -> a',
    );
  });

  it('refuses a cycle through another version of the same fragment', async () => {
    const { load } = fakeLoader({
      a: includes('b'),
      b: { fragments: [{ id: 'a', version: '1' }] },
      'a@1': {},
    });
    await expectInvalidAsync(
      resolveFragmentTree(refs('a'), load),
      'fragment a includes itself through a -> b -> a',
    );
  });

  it('accepts 5 levels of nesting and refuses a 6th without loading it', async () => {
    const five = { f1: includes('f2'), f2: includes('f3'), f3: includes('f4'), f4: includes('f5'), f5: {} };
    const ok = await resolveFragmentTree(refs('f1'), fakeLoader(five).load);
    assert.deepEqual(order(ok), ['f1:1', 'f2:2', 'f3:3', 'f4:4', 'f5:5']);

    const six = fakeLoader({ ...five, f5: includes('f6'), f6: {} });
    await expectInvalidAsync(
      resolveFragmentTree(refs('f1'), six.load),
      'fragments nest at most 5 levels deep: f1 -> f2 -> f3 -> f4 -> f5 -> f6',
    );
    assert.ok(!six.calls.some((c) => c.id === 'f6'), 'the 6th level is not loaded');
  });

  it('merges a fragment reached through two paths once, where it is first reached', async () => {
    const { load, calls } = fakeLoader({
      a: includes('c'),
      b: includes('x', 'c'),
      x: {},
      c: includes('d'),
      d: {},
    });
    const resolved = await resolveFragmentTree(refs('a', 'b', 'd'), load);
    assert.deepEqual(order(resolved), ['a:1', 'c:2', 'd:3', 'b:1', 'x:2']);
    assert.equal(calls.filter((c) => c.id === 'c').length, 1, 'c is loaded once');
    assert.equal(calls.filter((c) => c.id === 'd').length, 1, 'd is loaded once');
  });

  it('checks the depth of a shared fragment along every path', async () => {
    const store = {
      a: includes('c'),
      c: includes('d'),
      d: includes('e'),
      e: {},
      b: includes('x'),
      x: includes('y'),
      y: includes('c'),
    };
    // Through a, c sits at level 2 (e at 4); through b -> x -> y it sits at level 4, so e at 6.
    await expectInvalidAsync(
      resolveFragmentTree(refs('a', 'b'), fakeLoader(store).load),
      'fragments nest at most 5 levels deep: b -> x -> y -> c -> d -> e',
    );
    const ok = await resolveFragmentTree(refs('a', 'b'), fakeLoader({ ...store, d: {} }).load);
    assert.deepEqual(order(ok), ['a:1', 'c:2', 'd:3', 'b:1', 'x:2', 'y:3']);
  });

  it('finds a cycle through a fragment already walked from elsewhere', async () => {
    // a includes y@2 (a leaf); later y (latest) includes a: y -> a -> y.
    const { load } = fakeLoader({
      a: { fragments: [{ id: 'y', version: '2' }] },
      'y@2': {},
      y: includes('a'),
    });
    await expectInvalidAsync(
      resolveFragmentTree(refs('a', 'y'), load),
      'fragment y includes itself through y -> a -> y',
    );
  });

  it('uses the first version reached of a fragment, but loads and checks the others', async () => {
    const { load, calls } = fakeLoader({
      a: { fragments: [{ id: 'c', version: '1' }] },
      b: { fragments: [{ id: 'c', version: '2' }] },
      'c@1': { debug: true },
      'c@2': includes('d'),
      d: {},
    });
    const resolved = await resolveFragmentTree(refs('a', 'b'), load);
    assert.deepEqual(order(resolved), ['a:1', 'c:2', 'b:1']);
    assert.equal(resolved[1]!.revision, 'c@1');
    assert.deepEqual(resolved[1]!.config, { debug: true });
    assert.deepEqual(
      calls.map((c) => `${c.id}@${c.version ?? ''}`),
      ['a@', 'c@1', 'b@', 'c@2', 'd@'],
    );
  });

  it('merges a fragment first reached under a repeated one where it is next reached, loading it once', async () => {
    const { load, calls } = fakeLoader({
      a: { fragments: [{ id: 'c', version: '1' }] },
      b: { fragments: [{ id: 'c', version: '2' }] },
      'c@1': {},
      'c@2': includes('d'),
      d: includes('e'),
      e: {},
    });
    const resolved = await resolveFragmentTree(refs('a', 'b', 'd'), load);
    assert.deepEqual(order(resolved), ['a:1', 'c:2', 'b:1', 'd:1', 'e:2']);
    assert.deepEqual(
      calls.map((c) => `${c.id}@${c.version ?? ''}:${c.depth}`),
      ['a@:1', 'c@1:2', 'b@:1', 'c@2:2', 'd@:3', 'e@:4'],
    );
  });

  it("passes the loader's errors through unchanged", async () => {
    const { load } = fakeLoader({ a: includes('missing') });
    await assert.rejects(resolveFragmentTree(refs('a'), load), (e: unknown) => {
      assert.ok(e instanceof DomainError);
      assert.equal(e.kind, 'not_found');
      assert.equal(e.message, 'fragment missing not found');
      return true;
    });
  });

  it('refuses a fragment whose own fragments key is invalid, naming the fragment', async () => {
    const { load } = fakeLoader({ a: includes('b'), b: { fragments: ['c', 'c'] }, c: {} });
    await expectInvalidAsync(
      resolveFragmentTree(refs('a'), load),
      'fragment b: fragments[1]: fragment c is listed twice (also at fragments[0])',
    );
    const bad = fakeLoader({ a: { fragments: 'b' } });
    await expectInvalidAsync(
      resolveFragmentTree(refs('a'), bad.load),
      'fragment a: fragments: must be a list of fragment ids or {"id", "version"} objects',
    );
  });

  it('does not modify the loaded configs and returns copies of them', async () => {
    const store = {
      a: { fragments: ['b'], fragment_mods: [], components: [{ name: 'm', attributes: { x: 1 } }] },
      b: { services: [{ name: 's' }] },
    };
    const before = structuredClone(store);
    const resolved = await resolveFragmentTree(refs('a'), fakeLoader(store).load);
    assert.deepEqual(store, before);
    (resolved[0]!.config.components as Json[])[0]!.attributes = { x: 2 };
    (resolved[1]!.config.services as Json[]).push({ name: 't' });
    assert.deepEqual(store, before);
  });
});

describe('mergeFragments: resources', () => {
  it('keeps the part, then the first fragment, then later ones, and reports each dropped resource', () => {
    const part = {
      components: [{ name: 'motor1', model: 'part-motor' }],
      fragments: ['A', 'B'],
    };
    const A = frag('A', {
      components: [
        { name: 'motor1', model: 'a-motor' },
        { name: 'arm', model: 'a-arm' },
      ],
    });
    const B = frag('B', {
      components: [
        { name: 'arm', model: 'b-arm' },
        { name: 'cam', model: 'b-cam' },
      ],
    });
    const { config, statuses } = mergeFragments(part, [A, B]);
    assert.deepEqual(config, {
      components: [
        { name: 'motor1', model: 'part-motor' },
        { name: 'arm', model: 'a-arm' },
        { name: 'cam', model: 'b-cam' },
      ],
    });
    assert.deepEqual(statuses, [
      { fragmentId: 'A', error: 'components "motor1" from fragment A was dropped: the part defines it' },
      { fragmentId: 'B', error: 'components "arm" from fragment B was dropped: fragment A defines it' },
    ]);
  });

  it('merges every named section; processes by id; sections the part lacks are created', () => {
    const part = {
      services: [{ name: 'nav', model: 'part' }],
      processes: [{ id: 'p1', name: 'echo' }],
    };
    const F = frag('F', {
      services: [
        { name: 'nav', model: 'f' },
        { name: 'slam', model: 'f' },
      ],
      modules: [{ name: 'mod1', executable_path: '/m' }],
      remotes: [{ name: 'r1', address: 'r1.local' }],
      packages: [{ name: 'pkg', package: 'org/pkg', version: '1' }],
      processes: [
        { id: 'p1', name: 'other' },
        { id: 'p2', name: 'sleep' },
      ],
    });
    const G = frag(
      'G',
      { modules: [{ name: 'mod1', executable_path: '/g' }], remotes: [{ name: 'r2', address: 'r2' }] },
      2,
    );
    const { config, statuses } = mergeFragments(part, [F, G]);
    assert.deepEqual(config, {
      services: [
        { name: 'nav', model: 'part' },
        { name: 'slam', model: 'f' },
      ],
      processes: [
        { id: 'p1', name: 'echo' },
        { id: 'p2', name: 'sleep' },
      ],
      modules: [{ name: 'mod1', executable_path: '/m' }],
      remotes: [
        { name: 'r1', address: 'r1.local' },
        { name: 'r2', address: 'r2' },
      ],
      packages: [{ name: 'pkg', package: 'org/pkg', version: '1' }],
    });
    assert.deepEqual(
      statuses.map((s) => s.error),
      [
        'services "nav" from fragment F was dropped: the part defines it',
        'processes "p1" from fragment F was dropped: the part defines it',
        'modules "mod1" from fragment G was dropped: fragment F defines it',
      ],
    );
    assert.deepEqual(
      statuses.map((s) => s.fragmentId),
      ['F', 'F', 'G'],
    );
    assert.deepEqual([...RESOURCE_SECTIONS.keys()].sort(), [
      'components',
      'modules',
      'packages',
      'processes',
      'remotes',
      'services',
    ]);
  });

  it('drops resources without a name, and a section that is not a list, with a status', () => {
    const { config, statuses } = mergeFragments({ services: { not: 'a list' } }, [
      frag('F', { components: [{ model: 'x' }, 'motor', { name: 'ok' }], services: [{ name: 's' }] }),
      frag('G', { modules: { name: 'm' } }),
    ]);
    assert.deepEqual(config, { services: { not: 'a list' }, components: [{ name: 'ok' }] });
    assert.deepEqual(statuses, [
      { fragmentId: 'F', error: 'components[0] from fragment F was dropped: it has no name' },
      { fragmentId: 'F', error: 'components[1] from fragment F was dropped: it has no name' },
      { fragmentId: 'F', error: "services from fragment F was dropped: the part's services is not a list" },
      { fragmentId: 'G', error: 'modules from fragment G was dropped: it is not a list' },
    ]);
  });

  it('takes other top-level keys from the part, else from the first fragment that sets them', () => {
    const part = { network: { fqdn: 'part' }, debug: false, auth: null, jobs: [{ name: 'j-part' }] };
    const { config, statuses } = mergeFragments(part, [
      frag('A', { network: { fqdn: 'a' }, debug: true, log: [{ pattern: 'a', level: 'debug' }] }),
      frag('B', { auth: { handlers: [] }, jobs: [{ name: 'j-b' }], log: [{ pattern: 'b', level: 'info' }] }),
      frag('C', { auth: { handlers: ['c'] }, tracing: null, disable_partial_start: true }),
    ]);
    assert.deepEqual(config, {
      network: { fqdn: 'part' },
      debug: false,
      auth: { handlers: [] },
      jobs: [{ name: 'j-part' }],
      log: [{ pattern: 'a', level: 'debug' }],
      disable_partial_start: true,
    });
    assert.deepEqual(statuses, []);
  });

  it("drops the part's fragments and fragment_mods keys and ignores those of fragments", () => {
    const { config } = mergeFragments({ fragments: ['A'], fragment_mods: [], debug: true }, [
      frag('A', { fragments: ['B'], fragment_mods: [mod('B')], components: [{ name: 'm' }] }),
    ]);
    assert.deepEqual(config, { debug: true, components: [{ name: 'm' }] });
  });

  it('returns the part config alone when there are no fragments', () => {
    const part = { components: [{ name: 'm' }] };
    assert.deepEqual(mergeFragments(part, []), { config: { components: [{ name: 'm' }] }, statuses: [] });
  });

  it('keeps "__proto__" keys as plain data', () => {
    const fragmentConfig = JSON.parse('{"__proto__": {"polluted": true}, "components": []}') as Json;
    const { config } = mergeFragments({}, [frag('F', fragmentConfig)]);
    assert.equal(Object.getPrototypeOf(config), Object.prototype);
    assert.ok(Object.hasOwn(config, '__proto__'));
    assert.equal(({} as Json).polluted, undefined);
  });
});

describe('mergeFragments: fragment_mods', () => {
  const fragmentF = () =>
    frag('F', {
      components: [
        {
          name: 'motor1',
          model: 'gpio',
          attributes: { max_rpm: 100, pins: { a: '1', b: '2' }, list: [10, 20, 30] },
        },
        { name: 'motor2', model: 'gpio' },
      ],
      services: [{ name: 'nav', model: 'x' }],
      processes: [{ id: 'p1', name: 'echo', args: ['a', 'b'] }],
    });

  it('applies $set and $unset on named resources, nested keys and list items', () => {
    const part = {
      fragments: ['F'],
      fragment_mods: [
        mod(
          'F',
          { $set: { 'components.motor1.attributes.max_rpm': 200 } },
          { $unset: { 'components.motor1.attributes.pins': '' } },
          {
            $set: { 'components.motor1.attributes.list.1': 21, 'components.motor2.attributes.new.deep': 'x' },
          },
          { $unset: { 'components.motor1.attributes.list.0': '' } },
          { $set: { 'processes.p1.args.0': 'z', 'network.fqdn': 'robot.local' } },
          { $unset: { 'services.nav': '' } },
          { $set: { 'components.motor2': { model: 'fake' } } },
        ),
      ],
    };
    const { config, statuses } = mergeFragments(part, [fragmentF()]);
    assert.deepEqual(statuses, []);
    assert.deepEqual(config, {
      components: [
        { name: 'motor1', model: 'gpio', attributes: { max_rpm: 200, list: [21, 30] } },
        { model: 'fake', name: 'motor2' },
      ],
      services: [],
      processes: [{ id: 'p1', name: 'echo', args: ['z', 'b'] }],
      network: { fqdn: 'robot.local' },
    });
  });

  it('applies mods in order', () => {
    const part = {
      fragment_mods: [
        mod(
          'F',
          { $set: { 'components.motor2.attributes.a': 1 } },
          { $unset: { 'components.motor2.attributes.a': '' } },
        ),
        mod(
          'F',
          { $unset: { 'components.motor1.model': '' } },
          { $set: { 'components.motor1.model': 'new' } },
        ),
      ],
    };
    const { config, statuses } = mergeFragments(part, [fragmentF()]);
    assert.deepEqual(statuses, []);
    const components = config.components as Json[];
    assert.deepEqual(components[1], { name: 'motor2', model: 'gpio', attributes: {} });
    assert.equal(components[0]!.model, 'new');
  });

  it('applies mods to resources that came from the part or from a nested fragment', () => {
    const part = {
      components: [{ name: 'own', model: 'x' }],
      fragment_mods: [mod('N', { $set: { 'components.own.model': 'y', 'services.deep.model': 'z' } })],
    };
    const { config, statuses } = mergeFragments(part, [
      frag('F', {}),
      frag('N', { services: [{ name: 'deep', model: 'n' }] }, 2),
    ]);
    assert.deepEqual(statuses, []);
    assert.deepEqual(config, {
      components: [{ name: 'own', model: 'y' }],
      services: [{ name: 'deep', model: 'z' }],
    });
  });

  it('reports mods that cannot be applied and applies the rest', () => {
    const part = {
      fragment_mods: [
        mod(
          'F',
          { $set: { 'components.motor1.model.kind': 'x' } }, // through a string
          { $set: { 'components.motor9.attributes.max_rpm': 1 } }, // missing named resource
          { $unset: { 'components.motor9': '' } }, // missing named resource
          { $set: { 'components.motor1.attributes.list.3': 1 } }, // index out of range
          { $unset: { 'components.motor1.attributes.list.first': '' } }, // not an index
          { $set: { 'components.motor1.attributes.max_rpm.x': 1 } }, // through a number
          { $set: { 'components.motor2': 'gone' } }, // a resource replaced by a non-object
          { $set: { 'components.motor2': { name: 'motor3' } } }, // a resource renamed
          { $set: { 'remotes.r1.address': 'x' } }, // a section the config lacks
          { $set: { 'components.motor1.attributes.max_rpm': 300 } }, // fine
          { $set: { 'components.0.model': 'x' } }, // a resource list is addressed by name
        ),
      ],
    };
    const { config, statuses } = mergeFragments(part, [fragmentF()]);
    const prefix = 'fragment_mods for fragment F: ';
    assert.deepEqual(statuses, [
      {
        fragmentId: 'F',
        error: `${prefix}$set "components.motor1.model.kind" was not applied: components.motor1.model is a string, not an object`,
        failedMod: true,
      },
      {
        fragmentId: 'F',
        error: `${prefix}$set "components.motor9.attributes.max_rpm" was not applied: components has no "motor9"`,
        failedMod: true,
      },
      {
        fragmentId: 'F',
        error: `${prefix}$unset "components.motor9" was not applied: components has no "motor9"`,
        failedMod: true,
      },
      {
        fragmentId: 'F',
        error: `${prefix}$set "components.motor1.attributes.list.3" was not applied: components.motor1.attributes.list is a list of 3, which has no index "3"`,
        failedMod: true,
      },
      {
        fragmentId: 'F',
        error: `${prefix}$unset "components.motor1.attributes.list.first" was not applied: components.motor1.attributes.list is a list of 3, which has no index "first"`,
        failedMod: true,
      },
      {
        fragmentId: 'F',
        error: `${prefix}$set "components.motor1.attributes.max_rpm.x" was not applied: components.motor1.attributes.max_rpm is a number, not an object`,
        failedMod: true,
      },
      {
        fragmentId: 'F',
        error: `${prefix}$set "components.motor2" was not applied: an entry of components can only be replaced by an object`,
        failedMod: true,
      },
      {
        fragmentId: 'F',
        error: `${prefix}$set "components.motor2" was not applied: the new value's name is not "motor2"`,
        failedMod: true,
      },
      {
        fragmentId: 'F',
        error: `${prefix}$set "remotes.r1.address" was not applied: the config has no remotes`,
        failedMod: true,
      },
      {
        fragmentId: 'F',
        error: `${prefix}$set "components.0.model" was not applied: components has no "0"`,
        failedMod: true,
      },
    ]);
    // Only the applicable mod changed anything.
    const expected = fragmentF().config;
    ((expected.components as Json[])[0]!.attributes as Json).max_rpm = 300;
    assert.deepEqual(config, expected);
  });

  it('reports a section that is not a list and leaves everything as it was', () => {
    const part = {
      network: { fqdn: 'x' },
      fragment_mods: [
        mod(
          'F',
          { $set: { 'services.nav.model': 'y', 'network.fqdn.more': 1 } },
          { $unset: { 'debug.x': '' } },
        ),
      ],
    };
    const { config, statuses } = mergeFragments(part, [frag('F', { services: [], debug: true })]);
    // The part's services is not a list: F's services is merged into nothing; set via a mod it fails.
    assert.deepEqual(
      statuses.map((s) => s.error),
      [
        'fragment_mods for fragment F: $set "services.nav.model" was not applied: services has no "nav"',
        'fragment_mods for fragment F: $set "network.fqdn.more" was not applied: network.fqdn is a string, not an object',
        'fragment_mods for fragment F: $unset "debug.x" was not applied: debug is a boolean, not an object',
      ],
    );
    assert.deepEqual(config, { network: { fqdn: 'x' }, services: [], debug: true });

    const odd = mergeFragments(
      { components: { motor1: {} }, fragment_mods: [mod('F', { $set: { 'components.motor1.x': 1 } })] },
      [frag('F', {})],
    );
    assert.deepEqual(odd.statuses, [
      {
        fragmentId: 'F',
        error:
          'fragment_mods for fragment F: $set "components.motor1.x" was not applied: components is an object, not a list',
        failedMod: true,
      },
    ]);
    assert.deepEqual(odd.config, { components: { motor1: {} } });
  });

  it('treats $unset under a missing key as done, changing nothing', () => {
    const part = {
      fragment_mods: [mod('F', { $unset: { 'components.motor2.attributes.pins.a': '', 'network.x.y': '' } })],
    };
    const { config, statuses } = mergeFragments(part, [fragmentF()]);
    assert.deepEqual(statuses, []);
    assert.deepEqual(config, fragmentF().config);
  });

  it('sets whole top-level keys and null intermediates', () => {
    const part = {
      network: null,
      fragment_mods: [
        mod('F', { $set: { 'network.bind_address': ':8080', debug: true, 'components.motor2.frame': null } }),
      ],
    };
    const { config, statuses } = mergeFragments(part, [fragmentF()]);
    assert.deepEqual(statuses, []);
    assert.deepEqual(config.network, { bind_address: ':8080' });
    assert.equal(config.debug, true);
    assert.deepEqual((config.components as Json[])[1], { name: 'motor2', model: 'gpio', frame: null });
  });

  it('reports mods for a fragment the part does not use, without applying them', () => {
    const part = {
      fragment_mods: [
        mod('ghost', { $set: { 'components.motor1.model': 'ghost' } }),
        mod('F', { $set: { 'components.motor2.model': 'f' } }),
      ],
    };
    const { config, statuses } = mergeFragments(part, [fragmentF()]);
    assert.deepEqual(statuses, [
      {
        fragmentId: 'ghost',
        error: 'fragment_mods for fragment ghost were not applied: the part does not use that fragment',
        failedMod: true,
      },
    ]);
    const components = config.components as Json[];
    assert.equal(components[0]!.model, 'gpio');
    assert.equal(components[1]!.model, 'f');
  });

  it('refuses a malformed fragment_mods key', () => {
    expectInvalid(
      () => mergeFragments({ fragment_mods: [{ fragment_id: 'F', mods: [{ $set: 1 }] }] }, [fragmentF()]),
      'fragment_mods[0].mods[0].$set: must be an object of dotted paths to values',
    );
  });

  it('never modifies its inputs, and shares no objects with them', () => {
    const setValue = { nested: { v: 1 } };
    const part = {
      components: [{ name: 'own', attributes: { a: 1 } }],
      network: { fqdn: 'p' },
      fragments: ['F', 'G'],
      fragment_mods: [
        mod(
          'F',
          { $set: { 'components.motor1.attributes.max_rpm': 1, 'components.own.attributes.a': 2 } },
          { $set: { 'components.motor1.attributes.obj': setValue } },
          { $unset: { 'components.motor1.attributes.pins.a': '', 'processes.p1': '' } },
          { $unset: { 'components.motor1.attributes.list.0': '' } },
        ),
      ],
    };
    const F = fragmentF();
    const G = frag('G', { auth: { handlers: [{ type: 'api-key' }] }, components: [{ name: 'g1' }] }, 2);
    const inputs = [part, F, G, setValue] as const;
    const before = structuredClone(inputs);
    const { config, statuses } = mergeFragments(part, [F, G]);
    assert.deepEqual(statuses, []);
    assert.deepEqual(inputs, before);

    // Changing the result changes no input.
    const components = config.components as Json[];
    (components[0]!.attributes as Json).a = 99;
    (components[1]!.attributes as Json).max_rpm = 99;
    ((components[1]!.attributes as Json).obj as Json).nested = 'changed';
    (components[3] as Json).name = 'changed';
    ((config.auth as Json).handlers as Json[]).push({ type: 'x' });
    (config.network as Json).fqdn = 'changed';
    assert.deepEqual(inputs, before);

    // And a second merge of the same inputs gives the same result.
    const again = mergeFragments(part, [F, G]);
    assert.deepEqual((again.config.components as Json[])[1], {
      name: 'motor1',
      model: 'gpio',
      attributes: { max_rpm: 1, pins: { b: '2' }, list: [20, 30], obj: { nested: { v: 1 } } },
    });
  });
});

describe('resolve then merge', () => {
  it('serves a part with two fragments, one nested and one pinned by tag, with $set and $unset mods', async () => {
    const store: Record<string, Json> = {
      base: {
        fragments: ['drive'],
        components: [
          { name: 'motor1', model: 'gpio', attributes: { max_rpm: 100, pins: { pwm: '12' } } },
          { name: 'cam', model: 'webcam' },
        ],
        network: { fqdn: 'base' },
      },
      drive: {
        components: [
          { name: 'motor1', model: 'other' },
          { name: 'base1', model: 'wheeled' },
        ],
        services: [{ name: 'nav', model: 'builtin' }],
      },
      'arm@stable': {
        components: [{ name: 'arm', model: 'xarm6' }],
        services: [{ name: 'nav', model: 'arm-nav' }],
      },
      arm: { components: [{ name: 'arm', model: 'xarm7' }] },
    };
    const part: Json = {
      components: [{ name: 'cam', model: 'usb' }],
      fragments: ['base', { id: 'arm', version: 'stable' }],
      fragment_mods: [
        mod(
          'base',
          { $set: { 'components.motor1.attributes.max_rpm': 200 } },
          { $unset: { 'components.motor1.attributes.pins': '' } },
        ),
        mod('drive', { $set: { 'components.base1.attributes.width_mm': 400 } }),
      ],
    };
    const resolved = await resolveFragmentTree(parseFragmentRefs(part), fakeLoader(store).load);
    assert.deepEqual(
      resolved.map((f) => [f.id, f.revision, f.depth]),
      [
        ['base', 'base@latest', 1],
        ['drive', 'drive@latest', 2],
        ['arm', 'arm@stable', 1],
      ],
    );
    const { config, statuses } = mergeFragments(part, resolved);
    assert.deepEqual(config, {
      components: [
        { name: 'cam', model: 'usb' },
        { name: 'motor1', model: 'gpio', attributes: { max_rpm: 200 } },
        { name: 'base1', model: 'wheeled', attributes: { width_mm: 400 } },
        { name: 'arm', model: 'xarm6' },
      ],
      network: { fqdn: 'base' },
      services: [{ name: 'nav', model: 'builtin' }],
    });
    assert.deepEqual(statuses, [
      { fragmentId: 'base', error: 'components "cam" from fragment base was dropped: the part defines it' },
      {
        fragmentId: 'drive',
        error: 'components "motor1" from fragment drive was dropped: fragment base defines it',
      },
      { fragmentId: 'arm', error: 'services "nav" from fragment arm was dropped: fragment drive defines it' },
    ]);
  });
});
