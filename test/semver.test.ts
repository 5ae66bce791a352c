import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainError, type ErrorKind } from '../src/domain/errors.js';
import {
  MAX_ITEM_NAME_LENGTH,
  MAX_MODELS,
  parseItemId,
  requireItemName,
  requireModels,
  requireModuleVersion,
  requirePlatform,
  type ModuleModel,
} from '../src/domain/registry.js';
import { compareSemVer, MAX_VERSION_LENGTH, parseSemVer, requireSemVer } from '../src/domain/semver.js';

/** Asserts that `run` throws a DomainError of this kind whose message matches `message`. */
function throwsDomain(run: () => unknown, kind: ErrorKind, message?: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof DomainError, `expected a DomainError, got ${String(error)}`);
    assert.equal(error.kind, kind);
    if (message) assert.match(error.message, message);
    return true;
  });
}

const sign = (n: number) => Math.sign(n);

/** semver.org §11, in ascending precedence. */
const PRECEDENCE = [
  '1.0.0-alpha',
  '1.0.0-alpha.1',
  '1.0.0-alpha.beta',
  '1.0.0-beta',
  '1.0.0-beta.2',
  '1.0.0-beta.11',
  '1.0.0-rc.1',
  '1.0.0',
  '2.0.0',
  '2.1.0',
  '2.1.1',
];

const INVALID_VERSIONS = [
  '',
  'v1.0.0',
  '1.0',
  '1',
  '1.0.0.0',
  '01.0.0',
  '1.01.0',
  '1.0.01',
  '1.0.0-',
  '1.0.0-01',
  '1.0.0-alpha..1',
  '1.0.0-alpha.',
  '1.0.0+',
  '1.0.0+build..1',
  '1.0.0-al pha',
  ' 1.0.0',
  '1.0.0 ',
  '1.0.0\n',
  '-1.0.0',
  '1.-1.0',
  'a.b.c',
  '1.0.0-é',
  '99999999999999999999.0.0',
];

describe('parseSemVer', () => {
  it('splits a release and a prerelease into numbers and identifiers', () => {
    assert.deepEqual(parseSemVer('1.2.3'), { major: 1, minor: 2, patch: 3, prerelease: [] });
    assert.deepEqual(parseSemVer('0.0.0'), { major: 0, minor: 0, patch: 0, prerelease: [] });
    assert.deepEqual(parseSemVer('10.20.30-rc.1.x-y'), {
      major: 10,
      minor: 20,
      patch: 30,
      prerelease: ['rc', '1', 'x-y'],
    });
    // Build metadata is accepted and dropped.
    assert.deepEqual(parseSemVer('1.2.3-beta+exp.sha.5114f85'), {
      major: 1,
      minor: 2,
      patch: 3,
      prerelease: ['beta'],
    });
    assert.deepEqual(parseSemVer('1.2.3+20130313144700'), { major: 1, minor: 2, patch: 3, prerelease: [] });
  });

  it('accepts identifiers semver allows: leading zeros in alphanumerics and build parts, hyphens', () => {
    for (const v of [
      '1.0.0-0',
      '1.0.0-0a',
      '1.0.0-00a',
      '1.0.0--',
      '1.0.0-x.7.z.92',
      '1.0.0+001',
      '1.0.0-a+b-c',
    ]) {
      assert.ok(parseSemVer(v), `${v} should parse`);
    }
  });

  it('refuses everything that is not semver 2.0.0', () => {
    for (const v of INVALID_VERSIONS) assert.equal(parseSemVer(v), undefined, JSON.stringify(v));
  });

  it(`refuses versions longer than ${MAX_VERSION_LENGTH} characters`, () => {
    const atLimit = `1.0.0-${'a'.repeat(MAX_VERSION_LENGTH - 6)}`;
    assert.equal(atLimit.length, MAX_VERSION_LENGTH);
    assert.ok(parseSemVer(atLimit));
    assert.equal(parseSemVer(`${atLimit}b`), undefined);
  });
});

describe('requireSemVer', () => {
  it('returns a valid version unchanged', () => {
    assert.equal(requireSemVer('1.2.0-rc.1+build.5', 'version'), '1.2.0-rc.1+build.5');
  });

  it('throws INVALID_ARGUMENT naming the field and the value', () => {
    for (const v of ['v1.0.0', '1.0', '01.0.0']) {
      throwsDomain(
        () => requireSemVer(v, 'the version'),
        'invalid_argument',
        /^the version must be a semantic/,
      );
      throwsDomain(
        () => requireSemVer(v, 'version'),
        'invalid_argument',
        new RegExp(`"${v.replace('.', '\\.')}"`),
      );
    }
  });

  it('quotes at most 64 characters of a long value', () => {
    const long = 'x'.repeat(500);
    assert.throws(
      () => requireSemVer(long, 'version'),
      (error: Error) =>
        error.message.includes(`"${'x'.repeat(64)}"`) && !error.message.includes('x'.repeat(65)),
    );
  });
});

describe('requireModuleVersion', () => {
  it('takes releases and prereleases', () => {
    for (const v of ['1.2.0', '0.0.1', '1.2.0-rc.1']) assert.equal(requireModuleVersion(v), v);
  });

  it('refuses build metadata: such versions could not be told apart by precedence', () => {
    for (const v of ['1.2.0+build.5', '1.2.0-rc.1+abc']) {
      throwsDomain(() => requireModuleVersion(v), 'invalid_argument', /build metadata/);
    }
  });

  it('refuses what is not semver at all', () => {
    throwsDomain(() => requireModuleVersion('v1.2.0'), 'invalid_argument', /semantic version/);
  });
});

describe('compareSemVer', () => {
  it('orders the semver.org precedence examples, pairwise', () => {
    for (let i = 0; i < PRECEDENCE.length; i++) {
      for (let j = 0; j < PRECEDENCE.length; j++) {
        const a = PRECEDENCE[i]!;
        const b = PRECEDENCE[j]!;
        assert.equal(sign(compareSemVer(a, b)), sign(i - j), `${a} vs ${b}`);
      }
    }
  });

  it('sorts a shuffled list into precedence order', () => {
    const shuffled = [...PRECEDENCE].reverse();
    [shuffled[0], shuffled[4]] = [shuffled[4]!, shuffled[0]!];
    assert.deepEqual(shuffled.sort(compareSemVer), PRECEDENCE);
  });

  it('compares numbers numerically, not as text', () => {
    assert.ok(compareSemVer('1.2.0', '1.10.0') < 0);
    assert.ok(compareSemVer('1.0.9', '1.0.10') < 0);
    assert.ok(compareSemVer('9.0.0', '10.0.0') < 0);
    assert.ok(compareSemVer('1.0.0-rc.9', '1.0.0-rc.10') < 0);
    assert.deepEqual(['1.10.0', '1.2.0', '1.2.0-rc.1'].sort(compareSemVer), [
      '1.2.0-rc.1',
      '1.2.0',
      '1.10.0',
    ]);
  });

  it('puts numeric identifiers before alphanumeric ones, and compares text by ASCII', () => {
    assert.ok(compareSemVer('1.0.0-1', '1.0.0-a') < 0);
    assert.ok(compareSemVer('1.0.0-999', '1.0.0-0a') < 0);
    assert.ok(compareSemVer('1.0.0-B', '1.0.0-a') < 0, 'uppercase sorts before lowercase in ASCII');
    assert.ok(compareSemVer('1.0.0-alpha-2', '1.0.0-alpha2') < 0);
  });

  it('ignores build metadata for precedence but still gives a total, stable order', () => {
    // Same precedence: never less than the same version's prerelease or more than the next one.
    for (const built of ['1.0.0+build.1', '1.0.0+zzz', '1.0.0+001']) {
      assert.ok(compareSemVer(built, '1.0.0-rc.1') > 0, built);
      assert.ok(compareSemVer(built, '1.0.1') < 0, built);
      assert.ok(compareSemVer(built, '1.0.1-alpha') < 0, built);
    }
    assert.ok(compareSemVer('1.0.0-rc.1+zzz', '1.0.0-rc.2+aaa') < 0);
    // Ties on precedence fall back to the text, antisymmetrically.
    const a = '1.0.0+a';
    const b = '1.0.0+b';
    assert.equal(sign(compareSemVer(a, b)), -sign(compareSemVer(b, a)));
    assert.notEqual(compareSemVer(a, b), 0);
    assert.equal(compareSemVer('1.0.0+a', '1.0.0+a'), 0);
    assert.equal(compareSemVer('1.0.0', '1.0.0'), 0);
  });

  it('falls back to text order when either side is not semver', () => {
    assert.ok(compareSemVer('v2', 'v10') > 0);
    assert.ok(compareSemVer('1.0.0', 'v1.0.0') < 0);
    assert.equal(compareSemVer('junk', 'junk'), 0);
  });
});

describe('requirePlatform', () => {
  it('accepts any and lowercase os/arch with an optional variant', () => {
    for (const p of [
      'any',
      'linux/amd64',
      'linux/arm64',
      'linux/arm/v7',
      'darwin/arm64',
      'windows/amd64',
      'linux/x86_64',
      'os.1/arch-2',
    ]) {
      assert.equal(requirePlatform(p), p);
    }
    const longest = `${'a'.repeat(32)}/${'b'.repeat(32)}/${'c'.repeat(32)}`;
    assert.equal(requirePlatform(longest), longest);
  });

  it('refuses uppercase, missing parts, extra parts and odd characters', () => {
    const bad = [
      undefined,
      '',
      'Any',
      'ANY',
      'Linux/AMD64',
      'linux/AMD64',
      'linux',
      'linux/',
      '/amd64',
      'linux//amd64',
      'linux/arm/v7/extra',
      'linux/amd64/',
      'any/',
      'linux amd64',
      'linux\\amd64',
      '-linux/amd64',
      'linux/.amd64',
      `${'a'.repeat(33)}/amd64`,
      '../etc/passwd',
    ];
    for (const p of bad) {
      throwsDomain(() => requirePlatform(p), 'invalid_argument', /^platform must be "any" or "<os>\/<arch>"/);
    }
  });
});

describe('requireItemName', () => {
  it('accepts lowercase letters, digits, - and _ starting with a letter or digit', () => {
    for (const n of [
      'a',
      '0',
      'my-module',
      'my_module',
      '9lives',
      'a-_-b',
      'x'.repeat(MAX_ITEM_NAME_LENGTH),
    ]) {
      assert.equal(requireItemName(n, 'name'), n);
    }
  });

  it('refuses empty, too long, uppercase, leading - or _, and other characters', () => {
    throwsDomain(() => requireItemName(undefined, 'name'), 'invalid_argument', /^name must not be empty$/);
    throwsDomain(() => requireItemName('', 'the name'), 'invalid_argument', /^the name must not be empty$/);
    throwsDomain(
      () => requireItemName('x'.repeat(MAX_ITEM_NAME_LENGTH + 1), 'name'),
      'invalid_argument',
      /longer than 128/,
    );
    for (const n of ['My-Module', '-lead', '_lead', 'has space', 'dot.ted', 'col:on', 'slash/ed', 'ünï']) {
      throwsDomain(() => requireItemName(n, 'name'), 'invalid_argument', /lowercase letters/);
    }
  });
});

describe('parseItemId', () => {
  it('splits at the colon into prefix and name', () => {
    assert.deepEqual(parseItemId('acme:my-module', 'item_id'), { prefix: 'acme', name: 'my-module' });
    assert.deepEqual(parseItemId('0b1c7a3e-1234-4d2a-9f00-abcdefabcdef:m_1', 'item_id'), {
      prefix: '0b1c7a3e-1234-4d2a-9f00-abcdefabcdef',
      name: 'm_1',
    });
    assert.deepEqual(parseItemId(`${'p'.repeat(128)}:n`, 'item_id'), { prefix: 'p'.repeat(128), name: 'n' });
  });

  it('refuses ids without exactly one colon between a prefix and a name', () => {
    throwsDomain(() => parseItemId(undefined, 'item_id'), 'invalid_argument', /^item_id is required$/);
    throwsDomain(() => parseItemId('', 'module_id'), 'invalid_argument', /^module_id is required$/);
    for (const id of ['noseparator', ':name', 'prefix:', ':', 'a:b:c', `${'p'.repeat(129)}:n`]) {
      throwsDomain(
        () => parseItemId(id, 'item_id'),
        'invalid_argument',
        /^item_id must be "<namespace>:<name>"/,
      );
    }
  });

  it('checks the name part like an item name', () => {
    throwsDomain(
      () => parseItemId('acme:Bad', 'item_id'),
      'invalid_argument',
      /^the name in item_id may hold only/,
    );
    throwsDomain(
      () => parseItemId(`acme:${'n'.repeat(MAX_ITEM_NAME_LENGTH + 1)}`, 'item_id'),
      'invalid_argument',
      /^the name in item_id is longer/,
    );
  });
});

describe('requireModels', () => {
  const model = (api: string, name: string, extra: Partial<ModuleModel> = {}): ModuleModel => ({
    api,
    model: name,
    supportedHardware: [],
    ...extra,
  });

  it('returns copies of valid models', () => {
    const hardware = ['pi5'];
    const input = [
      model('rdk:component:motor', 'acme:motors:mover', {
        description: 'moves',
        supportedHardware: hardware,
      }),
      model('rdk:service:Nav_1', 'ACME-co:x_y:z-9'),
    ];
    const out = requireModels(input);
    assert.deepEqual(out, input);
    assert.notEqual(out[0]?.supportedHardware, hardware, 'supported hardware is copied');
    hardware.push('changed');
    assert.deepEqual(out[0]?.supportedHardware, ['pi5']);
    assert.deepEqual(requireModels([]), []);
  });

  it('refuses api and model values that are not triplets, naming the index', () => {
    for (const bad of [
      '',
      'rdk:component',
      'rdk:component:motor:extra',
      'rdk::motor',
      'rdk:comp onent:motor',
      'rdk:component:motor.x',
    ]) {
      throwsDomain(
        () => requireModels([model('rdk:component:motor', 'acme:a:b'), model(bad, 'acme:a:b')]),
        'invalid_argument',
        /^models\[1\]\.api must be a triplet/,
      );
      throwsDomain(
        () => requireModels([model('rdk:component:motor', bad)]),
        'invalid_argument',
        /^models\[0\]\.model must be a triplet/,
      );
    }
  });

  it('bounds descriptions, documentation and the number of models', () => {
    throwsDomain(
      () => requireModels([model('a:b:c', 'd:e:f', { description: 'x'.repeat(4097) })]),
      'invalid_argument',
      /models\[0\]\.description is longer/,
    );
    assert.equal(requireModels([model('a:b:c', 'd:e:f', { description: 'x'.repeat(4096) })]).length, 1);
    throwsDomain(
      () => requireModels([model('a:b:c', 'd:e:f', { markdownDocumentation: 'x'.repeat(64 * 1024 + 1) })]),
      'invalid_argument',
      /models\[0\]\.markdown_documentation is longer/,
    );
    const many = Array.from({ length: MAX_MODELS + 1 }, () => model('a:b:c', 'd:e:f'));
    throwsDomain(() => requireModels(many), 'invalid_argument', /at most 1000 models/);
    assert.equal(requireModels(many.slice(1)).length, MAX_MODELS);
  });
});
