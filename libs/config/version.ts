import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Jibe's version, from the nearest package.json above this file (works from source and from dist/). */
export const JIBE_VERSION: string = findVersion(__dirname);

function findVersion(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const parsed = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (parsed.name === 'jibe' && parsed.version) return parsed.version;
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}
