/**
 * `${ … }` expressions in pipeline JSON: a safe subset of Spinnaker's SpEL, evaluated over plain data.
 *
 * Error model: the template functions ({@link evaluateTemplate}, {@link validateTemplate}) return
 * {@link ExpressionFailure}s and never throw for a bad expression; the single-expression functions
 * ({@link parseExpression}, {@link evaluateExpression}) throw {@link ExpressionError}. Both carry the same
 * {@link ExpressionErrorCode}. A failed expression is never left in place as raw text.
 *
 * @packageDocumentation
 */
export { ExpressionError, type ExpressionErrorCode } from './expression.errors';
export { type ExpressionContext, type ExpressionStage, type JsonObject } from './expression-context';
export { DEFAULT_EXPRESSION_LIMITS, type ExpressionLimits } from './expression-limits';
export { parseExpression, type ParsedExpression, type ExpressionNode, type BinaryOperator } from './expression-parser';
export { evaluateExpression, type ExpressionOptions } from './expression-evaluator';
export {
  evaluateTemplate,
  validateTemplate,
  containsExpression,
  type ExpressionFailure,
  type TemplateResult,
  type TemplateOptions,
} from './expression-template';
export { formatJsonPath, type JsonPathSegment } from './json-path';
