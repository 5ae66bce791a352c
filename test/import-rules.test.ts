import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

/**
 * The layer rules of docs/architecture.md, as eslint.config.js enforces them: source text is
 * linted with the project's own config under paths in src/ (the files need not exist), and every
 * import from one layer of another must be reported exactly when the table below forbids it.
 */

const RULE = '@typescript-eslint/no-restricted-imports';

type Layer =
  'cli' | 'server' | 'config' | 'rpc' | 'services' | 'authz' | 'domain' | 'store' | 'crypto' | 'mail';

/** What each layer may import besides itself (`config` is src/config.ts, at the server's level). */
const MAY_IMPORT: Record<Layer, readonly Layer[]> = {
  cli: ['server', 'config', 'rpc', 'services', 'authz', 'domain', 'store', 'crypto', 'mail'],
  server: ['config', 'rpc', 'services', 'authz', 'domain', 'store', 'crypto', 'mail'],
  config: ['server', 'rpc', 'services', 'authz', 'domain', 'store', 'crypto', 'mail'],
  rpc: ['services', 'authz', 'domain', 'store', 'crypto', 'mail'],
  services: ['authz', 'domain', 'store', 'crypto', 'mail'],
  authz: ['domain', 'store'],
  store: ['domain'],
  crypto: ['domain'],
  mail: ['domain'],
  domain: [],
};
const LAYERS = Object.keys(MAY_IMPORT) as Layer[];

// The project's config, minus type information (a file that is not on disk has no program) and
// every rule but the one under test, which needs neither.
const eslint = new ESLint({
  cwd: join(import.meta.dirname, '..'),
  overrideConfig: [{ files: ['**/*.ts'], ...tseslint.configs.disableTypeChecked }],
  ruleFilter: ({ ruleId }) => ruleId === RULE,
});

/** The rule ids reported for `code` as if it were the file at `filePath` (relative to the repository). */
async function reported(filePath: string, code: string): Promise<(string | null)[]> {
  const [result] = await eslint.lintText(code, { filePath, warnIgnored: true });
  assert.ok(result, 'one result');
  assert.deepEqual(
    result.messages.filter((m) => m.fatal),
    [],
    'the fixture parses',
  );
  return result.messages.map((m) => m.ruleId);
}

/** A fixture path inside `layer`, and the specifier by which it reaches a module of `target`. */
const fixtureIn = (layer: Layer) => (layer === 'config' ? 'src/config.ts' : `src/${layer}/__fixture__.ts`);
const specifier = (from: Layer, target: Layer) => {
  const up = from === 'config' ? './' : '../';
  return target === 'config' ? `${up}config.js` : `${up}${target}/module.js`;
};

describe('import rules', () => {
  it('reports the wrong-way imports (domain -> store, services -> rpc, rpc -> server, store -> services)', async () => {
    assert.deepEqual(
      await reported(
        'src/domain/__fixture__.ts',
        "import type { Db } from '../store/db.js';\nexport type X = Db;\n",
      ),
      [RULE],
    );
    assert.deepEqual(
      await reported(
        'src/services/__fixture__.ts',
        "import { principalKey } from '../rpc/call-context.js';\nexport const key = principalKey;\n",
      ),
      [RULE],
    );
    assert.deepEqual(
      await reported(
        'src/rpc/__fixture__.ts',
        "import type { Logger } from '../server/logger.js';\nexport type L = Logger;\n",
      ),
      [RULE],
    );
    assert.deepEqual(
      await reported(
        'src/store/__fixture__.ts',
        "export { AuthenticationService } from '../services/authentication-service.js';\n",
      ),
      [RULE],
    );
  });

  it('allows an import downwards (services -> domain, authz -> store) and within a folder', async () => {
    assert.deepEqual(
      await reported(
        'src/services/__fixture__.ts',
        "import { notFound } from '../domain/errors.js';\nexport const e = notFound;\n",
      ),
      [],
    );
    assert.deepEqual(
      await reported(
        'src/authz/__fixture__.ts',
        "import type { Db } from '../store/db.js';\nexport type X = Db;\n",
      ),
      [],
    );
    assert.deepEqual(
      await reported(
        'src/domain/__fixture__.ts',
        "import type { X } from './module.js';\nexport type Y = X;\n",
      ),
      [],
    );
  });

  it('applies to files in subfolders (src/store/migrations -> src/services)', async () => {
    assert.deepEqual(
      await reported(
        'src/store/migrations/__fixture__.ts',
        "import type { X } from '../../services/x.js';\nexport type Y = X;\n",
      ),
      [RULE],
    );
    assert.deepEqual(
      await reported(
        'src/store/migrations/__fixture__.ts',
        "import type { X } from '../../domain/x.js';\nexport type Y = X;\n",
      ),
      [],
    );
  });

  for (const from of LAYERS) {
    it(`${fixtureIn(from)}: reported exactly for the layers it may not import`, async () => {
      const wrong: string[] = [];
      for (const target of LAYERS) {
        if (target === from) continue;
        const expected = MAY_IMPORT[from].includes(target) ? [] : [RULE];
        for (const code of [
          `import { x } from '${specifier(from, target)}';\nexport const y = x;\n`,
          `import type { X } from '${specifier(from, target)}';\nexport type Y = X;\n`,
        ]) {
          const got = await reported(fixtureIn(from), code);
          if (JSON.stringify(got) !== JSON.stringify(expected)) {
            wrong.push(`${from} -> ${target}: ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
          }
        }
      }
      assert.deepEqual(wrong, []);
    });
  }
  it('keeps table rows inside src/store: records above it, the Kysely schema allowed', async () => {
    for (const layer of ['services', 'authz', 'rpc'] as const) {
      assert.deepEqual(
        await reported(
          `src/${layer}/__fixture__.ts`,
          "import type { RobotPartRow } from '../store/schema.js';\nexport type R = RobotPartRow;\n",
        ),
        [RULE],
        `${layer} importing a row type`,
      );
      assert.deepEqual(
        await reported(
          `src/${layer}/__fixture__.ts`,
          "import type { PartRecord } from '../store/records.js';\nimport type { Database } from '../store/schema.js';\nexport type R = [PartRecord, Database];\n",
        ),
        [],
        `${layer} importing records and the schema`,
      );
    }
    assert.deepEqual(
      await reported(
        'src/store/__fixture__.ts',
        "import type { RobotPartRow } from './schema.js';\nexport type R = RobotPartRow;\n",
      ),
      [],
    );
  });
});
