// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

// Packages that the pure libs must never reach: they hold no I/O and no framework (STYLE.md, "Layout and names").
const frameworkPackages = ['@nestjs/*', 'typeorm', 'bullmq', 'ioredis', 'pg', '@kubernetes/client-node'];

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
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/apps/**', '../apps/*'], message: 'Apps are entry points; nothing imports them.' },
            { group: ['**/libs/*/**', '../../libs/*'], message: 'Import libs through @jibe/<lib>.' },
          ],
        },
      ],
    },
  },
  {
    // Decorated Nest classes need their constructor parameter types as values at run time (emitDecoratorMetadata).
    files: ['apps/**/*.ts', 'libs/**/*.ts', 'migrations/**/*.ts'],
    rules: { '@typescript-eslint/consistent-type-imports': 'off' },
  },
  {
    files: ['libs/domain/**/*.ts', 'libs/expressions/**/*.ts', 'libs/stages/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: frameworkPackages,
              message: 'domain, expressions and stages are pure: no Nest, TypeORM, BullMQ or client-node.',
            },
            { group: ['**/apps/**'], message: 'Apps are entry points; nothing imports them.' },
            { group: ['**/libs/*/**', '../../libs/*'], message: 'Import libs through @jibe/<lib>.' },
          ],
        },
      ],
    },
  },
  {
    // Tests drive the apps (e2e) and read loosely typed JSON responses.
    files: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts', 'test/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/libs/*/**', '../../libs/*'], message: 'Import libs through @jibe/<lib>.' }] },
      ],
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
