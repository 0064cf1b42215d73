/**
 * Bounds on what one expression may cost. Every bound exists so that text a pipeline author (or a webhook payload
 * that lands in `trigger`) controls cannot stall or exhaust a worker.
 */
export interface ExpressionLimits {
  /** Characters in one expression (the text between `${` and `}`). */
  readonly maxExpressionLength: number;
  /** Nesting of the parse: parentheses, brackets, calls, unary operators, nested ternaries. */
  readonly maxDepth: number;
  /** Evaluation steps for one expression (one per evaluated node, one per element a selection visits). */
  readonly maxSteps: number;
  /** Characters in any string an expression produces, and in any interpolated template string. */
  readonly maxOutputLength: number;
  /** Characters in a regular expression given to `matches`, `split` or `replaceAll`. */
  readonly maxRegexLength: number;
  /** Characters of input a regular expression may run over. */
  readonly maxRegexInputLength: number;
  /** Nesting of a JSON value walked by the template functions, or serialised or copied by an expression. */
  readonly maxValueDepth: number;
}

/** The limits used when a caller gives none. */
export const DEFAULT_EXPRESSION_LIMITS: ExpressionLimits = Object.freeze({
  maxExpressionLength: 4096,
  maxDepth: 64,
  maxSteps: 10_000,
  maxOutputLength: 1024 * 1024,
  maxRegexLength: 256,
  maxRegexInputLength: 10_000,
  maxValueDepth: 128,
});

export function resolveLimits(overrides: Partial<ExpressionLimits> | undefined): ExpressionLimits {
  return overrides === undefined ? DEFAULT_EXPRESSION_LIMITS : { ...DEFAULT_EXPRESSION_LIMITS, ...overrides };
}
