// Prints CI's last line, "N passed, N failed", from the counts test-counts-reporter.mjs wrote. A run that failed
// (non-zero exit) with nothing counted as failed, or that wrote no counts at all, still reads as failed.
import { readFileSync } from 'node:fs';

const [countsFile, exitStatus] = process.argv.slice(2);
let counts;
try {
  counts = JSON.parse(readFileSync(countsFile, 'utf8'));
} catch {
  process.stderr.write('the test runner wrote no counts\n');
  counts = { passed: 0, failed: 0 };
}
const failed = Number(exitStatus) !== 0 && counts.failed === 0 ? 1 : counts.failed;
console.log(`${counts.passed} passed, ${failed} failed`);
