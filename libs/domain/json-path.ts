const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Formats a path the way Jibe's errors name places in JSON: `stages[3].manifests[0].kind`, `labels['app.kubernetes.io/name']`. */
export function formatJsonPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment)).replace(/^"|"$/g, "'")}]`;
  }
  return out === '' ? '(root)' : out;
}

/** Keys that could reach an object's prototype if code ever assigned them; refused anywhere in input. */
export const HOSTILE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Paths of every hostile key in a parsed JSON value (depth-first, all of them). */
export function findHostileKeys(value: unknown, path: PropertyKey[] = [], found: string[] = []): string[] {
  if (Array.isArray(value)) {
    value.forEach((item, index) => findHostileKeys(item, [...path, index], found));
  } else if (value !== null && typeof value === 'object') {
    for (const key of Object.keys(value)) {
      if (HOSTILE_KEYS.has(key)) found.push(formatJsonPath([...path, key]));
      else findHostileKeys((value as Record<string, unknown>)[key], [...path, key], found);
    }
  }
  return found;
}

/** Any JSON value, as stored in jsonb columns. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };
