import { ExpressionError, type ExpressionErrorCode } from './expression.errors';
import { type ExpressionContext } from './expression-context';
import { evaluateParsed, type ExpressionOptions } from './expression-evaluator';
import { resolveLimits, type ExpressionLimits } from './expression-limits';
import { parseExpression, type ParsedExpression } from './expression-parser';
import { isPlainArray, isPlainObject, ownDataEntries, setOwn, toText, type PlainObject } from './expression-values';
import { formatJsonPath, type JsonPathSegment } from './json-path';
import { parseTemplate, type TemplatePart } from './template-parser';

/** One expression that could not be parsed or evaluated, and where it is. */
export interface ExpressionFailure {
  readonly code: ExpressionErrorCode;
  /** The expression text without `${ }` and surrounding blanks, cut to 200 characters. */
  readonly expression: string;
  /** Where the string holding it is, e.g. `stages[3].manifests[0].spec.image`; `''` for the value itself. */
  readonly path: string;
  /** 0-based offset of the `${` within that string. */
  readonly offset: number;
  /** 1-based column within {@link ExpressionFailure.expression} where the problem starts, when known. */
  readonly column?: number;
  /** The reason, written for the pipeline's author. */
  readonly message: string;
}

/** The outcome of {@link evaluateTemplate}: the new value, or every failure (never a partly evaluated value). */
export type TemplateResult<T = unknown> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly failures: readonly ExpressionFailure[] };

/** Options of the template functions. */
export interface TemplateOptions extends ExpressionOptions {
  /** Path of `value` within a larger document, prefixed to every failure path (e.g. `stages[3]`). */
  readonly path?: string;
}

const MAX_FAILURES = 100;
const MAX_REPORTED_EXPRESSION = 200;

/**
 * Returns a copy of `value` (any JSON value) with every `${ … }` inside its strings evaluated. Object keys are
 * left as they are.
 *
 * - A string that is exactly one `${ expr }` becomes the expression's value with its type (number, boolean, map,
 *   list, null).
 * - Any other string stays a string: each expression's value is inserted as text (null as nothing, lists and
 *   maps as JSON). Values that come out of an expression are never evaluated again.
 * - A literal `${` (a shell variable in a job script) is written `${'${'}`: `echo ${'${'}HOME}` gives
 *   `echo ${HOME}`.
 *
 * Failures are returned, never thrown and never left in place as raw text: if any expression fails, the result
 * carries every failure (up to 100) and no value. The input is not modified.
 */
export function evaluateTemplate(
  value: unknown,
  context: ExpressionContext,
  options?: TemplateOptions,
): TemplateResult {
  const limits = resolveLimits(options?.limits);
  const walker = new TemplateWalker(limits, options?.path ?? '', (parsed) => evaluateParsed(parsed, context, limits));
  const result = walker.walk(value, [], 0);
  return walker.failures.length > 0 ? { ok: false, failures: walker.failures } : { ok: true, value: result };
}

/**
 * Parses every `${ … }` in `value` without evaluating anything, for early errors when a pipeline is saved.
 *
 * @returns the failures (syntax errors, refused constructs, unknown helpers or methods); empty when all parse.
 */
export function validateTemplate(value: unknown, options?: TemplateOptions): readonly ExpressionFailure[] {
  const limits = resolveLimits(options?.limits);
  const walker = new TemplateWalker(limits, options?.path ?? '', () => null);
  walker.walk(value, [], 0);
  return walker.failures;
}

/** Whether any string inside `value` (any JSON value) holds `${`. Reads data properties only. */
export function containsExpression(value: unknown): boolean {
  // An explicit stack rather than recursion: the value may be nested arbitrarily deep.
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current === 'string') {
      if (current.includes('${')) return true;
    } else if (typeof current === 'object' && current !== null) {
      for (const key of Object.keys(current)) {
        const descriptor = Object.getOwnPropertyDescriptor(current, key);
        if (descriptor !== undefined && 'value' in descriptor) pending.push(descriptor.value);
      }
    }
  }
  return false;
}

class TemplateWalker {
  readonly failures: ExpressionFailure[] = [];

  constructor(
    private readonly limits: ExpressionLimits,
    private readonly basePath: string,
    private readonly evaluate: (parsed: ParsedExpression) => unknown,
  ) {}

  walk(value: unknown, path: JsonPathSegment[], depth: number): unknown {
    if (typeof value === 'string') return value.includes('${') ? this.string(value, path) : value;
    if (typeof value !== 'object' || value === null) return value;
    if (depth >= this.limits.maxValueDepth) {
      this.fail(
        path,
        0,
        '',
        new ExpressionError('too-deep', `value is nested more than ${this.limits.maxValueDepth} levels deep`),
      );
      return null;
    }
    try {
      if (isPlainArray(value)) return value.map((element, i) => this.walk(element, [...path, i], depth + 1));
      if (isPlainObject(value)) {
        const copy: PlainObject = {};
        for (const [key, entry] of ownDataEntries(value))
          setOwn(copy, key, this.walk(entry, [...path, key], depth + 1));
        return copy;
      }
      throw new ExpressionError('forbidden', 'value is not plain data');
    } catch (error) {
      if (!(error instanceof ExpressionError)) throw error;
      this.fail(path, 0, '', error);
      return null;
    }
  }

  private string(text: string, path: JsonPathSegment[]): unknown {
    let parts: TemplatePart[];
    try {
      parts = parseTemplate(text);
    } catch (error) {
      if (!(error instanceof ExpressionError)) throw error;
      const offset = (error.column ?? 1) - 1;
      this.fail(path, offset, text.slice(offset + 2), new ExpressionError(error.code, error.message));
      return text;
    }
    const values: unknown[] = [];
    let failed = false;
    for (const part of parts) {
      if (part.kind === 'text') continue;
      try {
        values.push(this.evaluate(parseExpression(part.source.trim(), this.limits)));
      } catch (error) {
        if (!(error instanceof ExpressionError)) throw error;
        failed = true;
        this.fail(path, part.offset, part.source, error);
      }
    }
    if (failed) return text;
    const [only] = parts;
    if (parts.length === 1 && only?.kind === 'expression') return values[0];
    return this.interpolate(parts, values, path);
  }

  private interpolate(parts: TemplatePart[], values: unknown[], path: JsonPathSegment[]): string | null {
    let text = '';
    let next = 0;
    try {
      for (const part of parts) {
        if (part.kind === 'text') {
          text += part.text;
        } else {
          const value = values[next++];
          // SpEL's composite templates render null as nothing.
          text += value === null || value === undefined ? '' : toText(value, this.limits);
        }
        if (text.length > this.limits.maxOutputLength) {
          throw new ExpressionError(
            'too-long',
            `the string is over the limit of ${this.limits.maxOutputLength} characters`,
          );
        }
      }
    } catch (error) {
      if (!(error instanceof ExpressionError)) throw error;
      this.fail(path, 0, '', error);
      return null;
    }
    return text;
  }

  private fail(path: JsonPathSegment[], offset: number, source: string, error: ExpressionError): void {
    if (this.failures.length >= MAX_FAILURES) return;
    // Expressions are parsed trimmed, so error columns already count from the first non-blank character.
    const expression = source.trim();
    const column = error.column;
    this.failures.push({
      code: error.code,
      expression:
        expression.length > MAX_REPORTED_EXPRESSION ? `${expression.slice(0, MAX_REPORTED_EXPRESSION)}...` : expression,
      path: formatJsonPath(path, this.basePath),
      offset,
      ...(column === undefined ? {} : { column }),
      message: error.message,
    });
  }
}
