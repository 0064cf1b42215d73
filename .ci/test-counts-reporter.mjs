// A Vitest reporter that counts what CI's last line reports. Vitest's own totals miss failures that belong to no
// test: when a beforeAll throws, the tests it guarded are marked "skipped"; an afterAll that throws, a file that
// cannot be imported and an unhandled error fail the run without failing any test. Each of those is counted here.
//
// failed = tests that failed
//        + tests that were meant to run but did not, because a hook of an enclosing suite or file failed
//        + suite or file errors that no such test accounts for (afterAll, an import that threw)
//        + unhandled errors
//        + 1 if the run was interrupted
// Writes the counts as JSON to $JIBE_TEST_COUNTS_FILE (when set) and prints a breakdown.
import { writeFileSync } from 'node:fs';

export default class TestCountsReporter {
  onTestRunEnd(testModules, unhandledErrors, reason) {
    const counts = {
      passed: 0,
      failed: 0,
      failedTests: 0,
      notRun: 0,
      skipped: 0,
      todo: 0,
      failuresOutsideTests: [],
      unhandledErrors: unhandledErrors.length,
      interrupted: reason === 'interrupted',
    };
    for (const module of testModules) countSuite(module, module, counts);
    counts.failed =
      counts.failedTests +
      counts.notRun +
      counts.failuresOutsideTests.length +
      counts.unhandledErrors +
      (counts.interrupted ? 1 : 0);
    if (process.env.JIBE_TEST_COUNTS_FILE) writeFileSync(process.env.JIBE_TEST_COUNTS_FILE, JSON.stringify(counts));
    const lines = [
      `tests: ${counts.passed} passed, ${counts.failedTests} failed, ${counts.notRun} not run (a hook failed), ` +
        `${counts.skipped} skipped, ${counts.todo} todo`,
      ...counts.failuresOutsideTests.map((f) => `failed outside a test: ${f}`),
      `unhandled errors: ${counts.unhandledErrors}${counts.interrupted ? '; the run was interrupted' : ''}`,
    ];
    process.stdout.write(`\n${lines.join('\n')}\n`);
  }
}

/** Counts a suite's tests; returns how many of them did not run because a hook of this suite or above failed. */
function countSuite(suite, module, counts) {
  let notRun = 0;
  for (const child of suite.children) {
    if (child.type === 'suite') {
      notRun += countSuite(child, module, counts);
      continue;
    }
    const state = child.result().state;
    if (state === 'passed') counts.passed += 1;
    else if (state === 'failed') counts.failedTests += 1;
    else if (child.options.mode === 'todo') counts.todo += 1;
    else if (child.options.mode === 'run' && hasFailedAncestor(child)) notRun += 1;
    else counts.skipped += 1;
  }
  if (suite.type === 'module') counts.notRun += notRun;
  // A failed beforeAll shows in the tests it kept from running; any other suite or file error is counted itself.
  if (notRun === 0) {
    const where = suite.type === 'module' ? module.relativeModuleId : `${module.relativeModuleId} > ${suite.fullName}`;
    for (const error of suite.errors()) counts.failuresOutsideTests.push(`${where}: ${firstLine(error.message)}`);
  }
  return notRun;
}

function hasFailedAncestor(test) {
  for (let parent = test.parent; parent; parent = parent.type === 'module' ? undefined : parent.parent) {
    if (parent.errors().length > 0) return true;
  }
  return false;
}

function firstLine(text) {
  return String(text ?? 'unknown error').split('\n')[0];
}
