import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/ (docs/architecture.md) and what each may import besides its own folder:
 * only layers below it. `config` is src/config.ts, at the server's level. Type-only imports
 * count too (the rule sees `import type` and `export ... from` alike).
 */
const MAY_IMPORT = {
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
const LAYERS = Object.keys(MAY_IMPORT);

const nameOf = (layer) => (layer === 'config' ? 'src/config.ts' : `src/${layer}`);

/**
 * Relative imports that reach `layer` from a file in a layer folder (`../`, `../../`, ...) or
 * from src/config.ts (`./`).
 */
const reaching = (layer, fromSrcRoot) => {
  const up = fromSrcRoot ? '\\./' : '(\\.\\./)+';
  return layer === 'config' ? `^${up}config(\\.js|\\.ts)?$` : `^${up}${layer}(/|$)`;
};

/**
 * Table rows stay inside src/store: layers above it work with the records of src/store/records.ts
 * (`Database`, the Kysely schema, stays importable for transactions).
 */
const ROW_TYPES = [
  'UserRow',
  'OrganizationRow',
  'LocationRow',
  'LocationSecretRow',
  'ApiKeyRow',
  'AuthorizationRow',
  'RobotRow',
  'RobotPartRow',
  'PartSecretRow',
  'PartHistoryRow',
  'FragmentRow',
  'FragmentRevisionRow',
  'FragmentTagRow',
  'FragmentUseRow',
  'OrganizationInviteRow',
  'RegistryItemRow',
  'ModuleVersionRow',
  'ModuleFileRow',
  'BlobRow',
  'BlobChunkRow',
  'AlertDeliveryRow',
  'AlertAttemptRow',
];
const ABOVE_STORE = new Set(['cli', 'server', 'rpc', 'services', 'authz']);

/** One `files` block per layer, restricting the layers it may not import. */
const layerRules = LAYERS.map((layer) => {
  const forbidden = LAYERS.filter((other) => other !== layer && !MAY_IMPORT[layer].includes(other));
  const allowed = MAY_IMPORT[layer].map((other) => `${nameOf(other)}, `).join('');
  return {
    files: layer === 'config' ? ['src/config.ts'] : [`src/${layer}/**/*.ts`],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: ABOVE_STORE.has(layer)
            ? [
                ...['../store/schema.js', '../../store/schema.js'].map((name) => ({
                  name,
                  importNames: ROW_TYPES,
                  message: 'above src/store, use the records of src/store/records.ts, not table rows.',
                })),
                {
                  name: '../store/part-log-store.js',
                  importNames: ['LogRow'],
                  message:
                    'above src/store, use the log entries of the store (StoredLogEntry), not its rows.',
                },
              ]
            : [],
          patterns: forbidden.map((other) => ({
            regex: reaching(other, layer === 'config'),
            caseSensitive: true,
            message: `${nameOf(layer)} may import only ${allowed}its own folder and packages, not ${nameOf(other)} (docs/architecture.md).`,
          })),
        },
      ],
    },
  };
}).filter((block) => {
  const options = block.rules['@typescript-eslint/no-restricted-imports'][1];
  return options.patterns.length > 0 || options.paths.length > 0;
});

export default tseslint.config(
  { ignores: ['dist/', 'data/', 'node_modules/', 'bin/', 'scripts/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'suite', 'before', 'after'],
            },
          ],
        },
      ],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  ...layerRules,
  { files: ['eslint.config.js', 'console/svelte.config.js'], ...tseslint.configs.disableTypeChecked },
);
