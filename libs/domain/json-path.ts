const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Formats a path the way Jibe's errors name places in JSON: `stages[3].manifests[0].kind`,
 * `labels['app.kubernetes.io/name']`. Inside brackets `'` and `\` are backslash-escaped and control characters
 * are written as `\uXXXX`, so every key reads back unambiguously.
 */
export function formatJsonPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `['${escapeKey(String(segment))}']`;
  }
  return out === '' ? '(root)' : out;
}

function escapeKey(key: string): string {
  return (
    key
      .replace(/[\\']/g, '\\$&')
      // eslint-disable-next-line no-control-regex -- finding control characters is the point
      .replace(/[\u0000-\u001f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  );
}

/** Keys that could reach an object's prototype if code ever assigned them; refused anywhere in input. */
export const HOSTILE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

// Without the `u` flag a regex sees UTF-16 code units, which is what a lone surrogate is.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why a string cannot be stored, or undefined when it can. Postgres refuses NUL in text and jsonb, and a lone
 * UTF-16 surrogate is not Unicode at all (jsonb refuses its escape; text would store a replacement character).
 */
export function unstorableTextReason(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character (\\u0000)';
  if (LONE_SURROGATE.test(text)) return 'contains a lone surrogate (not valid Unicode)';
  return undefined;
}

/** Default nesting limit of {@link inspectJson}: far deeper than any pipeline, far shallower than the stack. */
export const MAX_JSON_DEPTH = 64;

/** One reason a parsed JSON value is refused before any code looks at it. */
export interface JsonProblem {
  readonly path: string;
  readonly kind: 'hostile-key' | 'unstorable-text' | 'too-deep';
  readonly message: string;
}

/**
 * Walks a parsed JSON value once, iteratively (so nesting cannot overflow the stack), and lists every hostile key,
 * every key or string value Postgres cannot store, and every place nested deeper than `maxDepth` containers. A
 * value below a hostile key or below the depth limit is not looked into. Problems come in document order.
 */
export function inspectJson(value: unknown, maxDepth = MAX_JSON_DEPTH): JsonProblem[] {
  const found: JsonProblem[] = [];
  // Paths are built only for problems: each stack entry points at its parent, so a deep walk allocates no arrays.
  // A problem found on a key is pushed as an entry of its own, so the list stays in document order.
  interface Entry {
    readonly value: unknown;
    readonly key: PropertyKey | undefined;
    readonly parent: Entry | undefined;
    readonly depth: number;
    readonly problem?: Omit<JsonProblem, 'path'>;
  }
  const pathOf = (entry: Entry): string => {
    const segments: PropertyKey[] = [];
    for (let e: Entry | undefined = entry; e && e.key !== undefined; e = e.parent) segments.unshift(e.key);
    return formatJsonPath(segments);
  };
  const stack: Entry[] = [{ value, key: undefined, parent: undefined, depth: 0 }];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    const current = entry.value;
    if (entry.problem) {
      found.push({ path: pathOf(entry), ...entry.problem });
      continue;
    }
    if (typeof current === 'string') {
      const reason = unstorableTextReason(current);
      if (reason) found.push({ path: pathOf(entry), kind: 'unstorable-text', message: reason });
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (entry.depth >= maxDepth) {
      found.push({ path: pathOf(entry), kind: 'too-deep', message: `nested deeper than ${maxDepth} levels` });
      continue;
    }
    const children: Entry[] = [];
    const depth = entry.depth + 1;
    if (Array.isArray(current)) {
      current.forEach((item, index) => children.push({ value: item, key: index, parent: entry, depth }));
    } else {
      for (const key of Object.keys(current)) {
        const reason = unstorableTextReason(key);
        const problem: Entry['problem'] = HOSTILE_KEYS.has(key)
          ? { kind: 'hostile-key', message: 'key not allowed: it could reach an object prototype' }
          : reason
            ? { kind: 'unstorable-text', message: `key ${reason}` }
            : undefined;
        const child = (current as Record<string, unknown>)[key];
        children.push(
          problem ? { value: child, key, parent: entry, depth, problem } : { value: child, key, parent: entry, depth },
        );
      }
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
  return found;
}

/** Paths of every hostile key in a parsed JSON value (document order, all of them). */
export function findHostileKeys(value: unknown): string[] {
  return inspectJson(value, Infinity)
    .filter((problem) => problem.kind === 'hostile-key')
    .map((problem) => problem.path);
}

/** Any JSON value, as stored in jsonb columns. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };
