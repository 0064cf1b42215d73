import { ExpressionError } from './expression.errors';
import { type ExpressionLimits } from './expression-limits';

const CACHE_SIZE = 200;
const cache = new Map<string, RegExp>();

/**
 * Compiles a user-supplied regular expression after refusing the shapes that make JavaScript's backtracking
 * engine run for exponential time: backreferences, and a repeated group that itself contains a repetition or an
 * alternation (`(a+)+`, `(\w+\s?)*`, `(a|ab)*`). Together with the input length limit this keeps `matches`,
 * `split` and `replaceAll` bounded. Polynomial patterns (`.*a.*b`) remain possible and are bounded by the input
 * length limit only.
 *
 * @param mode `whole` anchors the pattern as Java's `String.matches` does; `global` is for replace-all.
 */
export function compileGuardedRegex(
  pattern: string,
  mode: 'whole' | 'search' | 'global',
  limits: ExpressionLimits,
): RegExp {
  if (pattern.length > limits.maxRegexLength) {
    throw new ExpressionError(
      'too-long',
      `regular expression is ${pattern.length} characters long; the limit is ${limits.maxRegexLength}`,
    );
  }
  const key = `${mode}:${pattern}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  refuseCatastrophicPattern(pattern);
  let compiled: RegExp;
  try {
    compiled =
      mode === 'whole'
        ? new RegExp(`^(?:${pattern})$`)
        : mode === 'global'
          ? new RegExp(pattern, 'g')
          : new RegExp(pattern);
  } catch (error) {
    throw new ExpressionError(
      'type',
      `invalid regular expression '${pattern}': ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (cache.size >= CACHE_SIZE) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  cache.set(key, compiled);
  return compiled;
}

/** Refuses input longer than the regex input limit. */
export function guardRegexInput(input: string, limits: ExpressionLimits): void {
  if (input.length > limits.maxRegexInputLength) {
    throw new ExpressionError(
      'too-long',
      `text given to a regular expression is ${input.length} characters long; the limit is ${limits.maxRegexInputLength}`,
    );
  }
}

interface GroupScan {
  repeats: boolean;
  alternates: boolean;
}

function refuseCatastrophicPattern(pattern: string): void {
  const groups: GroupScan[] = [{ repeats: false, alternates: false }];
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern.charAt(i);
    const current = groups[groups.length - 1] as GroupScan;
    if (ch === '\\') {
      const next = pattern.charAt(i + 1);
      if (!inClass && (/[1-9]/.test(next) || next === 'k')) {
        throw new ExpressionError(
          'too-complex',
          `regular expression '${pattern}' uses a backreference, which is not allowed`,
        );
      }
      i++;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      continue;
    }
    if (ch === '[') {
      inClass = true;
    } else if (ch === '(') {
      groups.push({ repeats: false, alternates: false });
    } else if (ch === ')') {
      const closed = groups.pop();
      const parent = groups[groups.length - 1];
      if (closed === undefined || parent === undefined) continue;
      const quantifier = unboundedQuantifierAt(pattern, i + 1);
      if (quantifier && (closed.repeats || closed.alternates)) {
        throw new ExpressionError(
          'too-complex',
          `regular expression '${pattern}' repeats a group that itself repeats or alternates, which can take ` +
            `exponential time; rewrite it without the nested repetition (e.g. '[a-z-]*' instead of '(-[a-z]+)*')`,
        );
      }
      parent.repeats ||= closed.repeats || quantifier;
      parent.alternates ||= closed.alternates;
    } else if (ch === '|') {
      current.alternates = true;
    } else if (unboundedQuantifierAt(pattern, i)) {
      current.repeats = true;
    }
  }
}

function unboundedQuantifierAt(pattern: string, index: number): boolean {
  const ch = pattern.charAt(index);
  if (ch === '*' || ch === '+') return true;
  if (ch !== '{') return false;
  const match = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(index, index + 24));
  if (match === null) return false;
  if (match[2] === undefined) return false;
  return match[3] === '' || Number(match[3]) > 1;
}
