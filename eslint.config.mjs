// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import { readdirSync } from 'node:fs';

// The boundaries of docs/architecture.md#boundaries-lint-enforces, enforced with no-restricted-imports. ESLint
// replaces a rule's options rather than merging them, so each block below lists every pattern that applies to its
// files.

/** Nothing imports an app: apps are entry points. */
const noApps = { group: ['**/apps/**', '../apps/*'], message: 'Apps are entry points; nothing imports them.' };
/** Libs are reached by their package name, never by a path into them. */
const noLibPaths = { group: ['**/libs/*/**', '../../libs/*'], message: 'Import libs through @jibe/<lib>.' };
/** The pure libs hold no I/O and no framework. */
const noFrameworks = {
  group: ['@nestjs/*', 'typeorm', 'bullmq', 'ioredis', 'pg', '@kubernetes/client-node'],
  message: 'domain, expressions and stages are pure: no Nest, TypeORM, BullMQ or client-node.',
};
/** ...and of our libs they use only each other (persistence, engine, kube-sim and the rest do I/O). */
const onlyPureLibs = {
  group: ['@jibe/*', '!@jibe/domain', '!@jibe/expressions', '!@jibe/stages'],
  message: 'domain, expressions and stages may import only @jibe/domain, @jibe/expressions and @jibe/stages.',
};
const PURE_LIBS = ['libs/domain', 'libs/expressions', 'libs/stages'];

/**
 * A relative import that climbs out of the app or lib the file is in and into a sibling (`../config/load-config`
 * from libs/persistence, `../api/api.module` from apps/worker). A file `depth` folders below apps/ or libs/ leaves
 * its package with exactly `depth` `../`; going further up (to test/, say) is left to the patterns above.
 */
const leavesPackage = (depth) => ({
  regex: `^(\\.\\./){${depth}}(?!\\.\\.)`,
  message: 'This leaves its app or lib by a relative path: import libs through @jibe/<lib>; apps import no app.',
});
const DEPTHS = [1, 2, 3, 4, 5];
const atDepth = (root, depth) => `${root}/*/${'*/'.repeat(depth - 1)}*.ts`;

/**
 * A lib importing its own package name goes through its index.ts and back in: an import cycle that works until the
 * order of exports changes. A separate rule (the typescript-eslint twin) so these options are not replaced by the
 * per-depth ones above.
 */
const LIBS = readdirSync(new URL('./libs', import.meta.url), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);
const noSelfImport = LIBS.map((lib) => ({
  files: [`libs/${lib}/**/*.ts`],
  // A test may exercise its lib through the public surface, as its users do.
  ignores: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts'],
  rules: {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            group: [`@jibe/${lib}`],
            message: `Inside libs/${lib}, import its files by relative path, not @jibe/${lib}.`,
          },
        ],
      },
    ],
  },
}));

const restrict = (files, patterns) => ({
  files,
  ignores: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts'],
  rules: { 'no-restricted-imports': ['error', { patterns }] },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.mjs', '**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Nest modules are classes with decorators and nothing else.
      '@typescript-eslint/no-extraneous-class': 'off',
      'no-console': 'error',
      'no-restricted-imports': ['error', { patterns: [noApps, noLibPaths] }],
    },
  },
  {
    // Decorated Nest classes need their constructor parameter types as values at run time (emitDecoratorMetadata).
    files: ['apps/**/*.ts', 'libs/**/*.ts', 'migrations/**/*.ts'],
    rules: { '@typescript-eslint/consistent-type-imports': 'off' },
  },
  ...DEPTHS.flatMap((depth) => [
    restrict([atDepth('apps', depth)], [noApps, noLibPaths, leavesPackage(depth)]),
    restrict([atDepth('libs', depth)], [noApps, noLibPaths, leavesPackage(depth)]),
    restrict(
      PURE_LIBS.map((lib) => `${lib}/${'*/'.repeat(depth - 1)}*.ts`),
      [noFrameworks, onlyPureLibs, noApps, noLibPaths, leavesPackage(depth)],
    ),
  ]),
  ...noSelfImport,
  {
    // Tests drive the apps (e2e) and read loosely typed JSON responses.
    files: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts', 'test/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [noLibPaths] }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  prettier,
);
