import { resolve } from 'node:path';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// One command runs every test: unit specs beside the code, integration specs against the real Postgres and Redis,
// and the e2e/browser tests under test/. Benchmarks (test/bench) are not tests and are run by `npm run bench`.
export default defineConfig({
  plugins: [
    swc.vite({
      tsconfigFile: false,
      swcrc: false,
      module: { type: 'es6' },
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2023',
        keepClassNames: true,
      },
    }),
  ],
  resolve: {
    alias: [{ find: /^@jibe\/([a-z-]+)$/, replacement: resolve(import.meta.dirname, 'libs/$1/index.ts') }],
  },
  test: {
    include: [
      'apps/**/*.{spec,int-spec,e2e-spec}.ts',
      'libs/**/*.{spec,int-spec,e2e-spec}.ts',
      'test/**/*.{spec,int-spec,e2e-spec}.ts',
    ],
    exclude: ['node_modules', 'dist', 'test/bench/**'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
