// `npm run bench [name…]`: runs each benchmark in test/bench (files named *.bench.ts) in its own Node 22 process,
// one after the other so they do not compete for the two cores. Benchmarks print their own figures.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => wanted.length === 0 || wanted.some((name) => file.includes(name)))
  .sort();
if (benches.length === 0) {
  process.stderr.write(`no benchmark matches ${wanted.join(', ') || '*.bench.ts'}\n`);
  process.exit(1);
}
let failed = 0;
for (const file of benches) {
  process.stdout.write(`\n== ${file}\n`);
  const result = spawnSync(process.execPath, ['--expose-gc', '-r', '@swc-node/register', join(here, file)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'test' },
  });
  if (result.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
