import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

// CI's last line ("N passed, N failed") comes from .ci/test-counts-reporter.mjs and .ci/last-line.mjs. Here they
// count a small project with one file per kind of failure (test/ci/failure-kinds), run by the real Vitest.
// Each expectation below fails if the reporter stops counting that kind: checked by deleting, one at a time, the
// not-run, outside-a-test and unhandled-error terms from the reporter's `failed` sum.

const root = resolve(__dirname, '../..');
const project = join(root, 'test/ci/failure-kinds');
const scratch = mkdtempSync(join(tmpdir(), 'jibe-test-counts-'));
const run = promisify(execFile);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Counts {
  passed: number;
  failed: number;
  failedTests: number;
  notRun: number;
  skipped: number;
  todo: number;
  failuresOutsideTests: string[];
  unhandledErrors: number;
}

/** Runs Vitest on the failure-kinds project (optionally only some files) and returns the counts and CI's last line. */
async function countRun(name: string, files: string[] = []): Promise<{ counts: Counts; lastLine: string }> {
  const countsFile = join(scratch, `${name}.json`);
  // The outer Vitest's worker variables would make the inner run think it is a worker of this one.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('VITEST')));
  const vitest = join(root, 'node_modules/vitest/vitest.mjs');
  const reporter = join(root, '.ci/test-counts-reporter.mjs');
  const status = await run(process.execPath, [vitest, 'run', '--root', project, `--reporter=${reporter}`, ...files], {
    cwd: project,
    env: { ...env, JIBE_TEST_COUNTS_FILE: countsFile, CI: 'true' },
  }).then(
    () => 0,
    (error: { code?: number }) => error.code ?? 1,
  );
  const { stdout } = await run(process.execPath, [join(root, '.ci/last-line.mjs'), countsFile, String(status)]);
  return { counts: JSON.parse(readFileSync(countsFile, 'utf8')) as Counts, lastLine: stdout.trim() };
}

describe("CI's last line", () => {
  it('counts every kind of failure: failed tests, tests a hook kept from running, hooks, imports, unhandled errors', async () => {
    const { counts, lastLine } = await countRun('all');
    expect(counts).toEqual({
      // passing 1, failing-test 1, failing-after-all 1, unhandled-error 2, nested-hooks 2
      passed: 7,
      // failing-test's own failure and the test whose beforeEach threw
      failedTests: 2,
      // failing-before-all's two tests and the nested suite's one
      notRun: 3,
      skipped: 1,
      todo: 1,
      failuresOutsideTests: [
        expect.stringMatching(/failing-after-all\.case\.mjs: teardown broke/),
        expect.stringMatching(/failing-import\.case\.mjs: import broke/),
        expect.stringMatching(/nested-hooks\.case\.mjs > outer > with a broken teardown: inner teardown broke/),
      ],
      unhandledErrors: 1,
      interrupted: false,
      failed: 2 + 3 + 3 + 1,
    });
    expect(lastLine).toBe('7 passed, 9 failed');
  });

  it('reads "0 failed" only for a run where nothing failed', async () => {
    const { counts, lastLine } = await countRun('passing', ['passing.case.mjs']);
    expect(counts).toMatchObject({ passed: 1, failed: 0, skipped: 1, todo: 1 });
    expect(lastLine).toBe('1 passed, 0 failed');
  });

  it('counts a failing afterAll alone, though every test passed', async () => {
    const { lastLine } = await countRun('after-all', ['failing-after-all.case.mjs']);
    expect(lastLine).toBe('1 passed, 1 failed');
  });

  it('reads as failed when the runner wrote no counts', async () => {
    const { stdout } = await run(process.execPath, [
      join(root, '.ci/last-line.mjs'),
      join(scratch, 'missing.json'),
      '1',
    ]);
    expect(stdout.trim()).toBe('0 passed, 1 failed');
  });
});
