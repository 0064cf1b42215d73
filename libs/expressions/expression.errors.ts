/**
 * Why an expression was refused. Stable strings: the engine stores them with a failed stage and the UI shows them.
 *
 * - `parse`: the text is not a valid expression (the message names the column).
 * - `too-long`: the expression, a string it produced, or the whole result is over its size limit.
 * - `too-deep`: the expression (or a value it walks) is nested deeper than allowed.
 * - `too-complex`: evaluation took more steps than allowed, or a regular expression could backtrack without bound.
 * - `forbidden`: a construct refused for safety: `T(...)`, `new`, assignment, `@bean`, `constructor`, `__proto__`,
 *   `prototype`, functions or accessors on data, values that are not plain data.
 * - `unknown-property`: a name, property or index that does not exist.
 * - `not-a-function`: a method or `#helper` outside the allow-list.
 * - `not-found`: a helper could not find what it was asked for (`#stage('name')` with no such stage).
 * - `type`: an operator or function got a value of the wrong type (`not 'x'`, `'a' - 1`, `#fromBase64(1)`).
 */
export type ExpressionErrorCode =
  | 'parse'
  | 'too-long'
  | 'too-deep'
  | 'too-complex'
  | 'forbidden'
  | 'unknown-property'
  | 'not-a-function'
  | 'not-found'
  | 'type';

/**
 * Thrown by the single-expression functions ({@link parseExpression}, {@link evaluateExpression}).
 * The template functions never throw it: they return {@link ExpressionFailure}s instead.
 */
export class ExpressionError extends Error {
  override readonly name = 'ExpressionError';

  /**
   * @param code - why the expression was refused.
   * @param message - the reason, written for the pipeline's author.
   * @param column - 1-based column within the expression text where the problem starts, when known.
   */
  constructor(
    readonly code: ExpressionErrorCode,
    message: string,
    readonly column?: number,
  ) {
    super(message);
  }
}
