// Benchmark, not a test: what the guards against hostile input cost in wall time. The tests check the same guards
// by the work done (the column where the parser gave up, reads per edge, a pattern refused before it runs); these
// are the figures those tests used to hold to a time limit.
// Run: npm run bench -- limits
import { validatePipeline } from '@jibe/domain';
import { ExpressionError, parseExpression, evaluateExpression } from '@jibe/expressions';
import { stageRegistry } from '@jibe/stages';

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Median of `runs` timings of `fn`, in ms. */
function median(runs: number, fn: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    fn();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

function refusedCode(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof ExpressionError) return error.code;
    throw error;
  }
  return 'evaluated';
}

function main(): void {
  const nested: [string, string][] = [
    ['parentheses', '('.repeat(100_000) + '1' + ')'.repeat(100_000)],
    ['brackets', 'trigger['.repeat(12_500)],
    ['braces', '{'.repeat(100_000)],
    ['negations', '!'.repeat(100_000) + 'true'],
    ['nested ternaries', 'true ? '.repeat(20_000) + '1'],
    ['method arguments', "'a'.contains(".repeat(8_000)],
  ];
  out('refusing ~100,000 characters of nesting as too deep (parse cache bypassed by a distinct limit per run):');
  for (const [name, source] of nested) {
    let run = 0;
    const ms = median(9, () => {
      // parseExpression caches by text and limits; a fresh length limit each run makes every run parse.
      const code = refusedCode(() => parseExpression(source, { maxExpressionLength: 1_000_000 + run++ }));
      if (code !== 'too-deep') throw new Error(`${name}: ${code}`);
    });
    out(`  ${name.padEnd(18)} ${source.length.toLocaleString('en').padStart(7)} chars  ${ms.toFixed(1)} ms`);
  }

  const patterns = ['(a+)+$', '(a*)*b', '(a|aa)+', '(\\w+\\s?)*$', '(x+x+)+y', '(a|a)*', '(.*a){2,}'];
  const context = { trigger: {} };
  const regexMs = median(9, () => {
    for (const pattern of patterns) {
      const code = refusedCode(() => evaluateExpression(`'${'a'.repeat(40)}!' matches '${pattern}'`, context));
      if (code !== 'too-complex') throw new Error(`${pattern}: ${code}`);
    }
  });
  out(`refusing ${patterns.length} catastrophic regular expressions: ${regexMs.toFixed(2)} ms`);

  for (const width of [120, 240, 480]) {
    const stages = Array.from({ length: 2 * width }, (_, i) => ({
      refId: String(i),
      type: 'wait',
      waitTime: 0,
      requisiteStageRefIds: i < width ? [] : Array.from({ length: width }, (_, j) => String(j)),
    }));
    const pipeline = { application: 'shop', name: 'Fan-in', stages };
    const ms = median(5, () => validatePipeline(pipeline, { registry: stageRegistry, maxStages: 1000 }));
    out(
      `validating an all-to-all fan-in of ${width} × ${width} (${(width * width).toLocaleString('en')} edges): ${ms.toFixed(0)} ms`,
    );
  }
}

main();
