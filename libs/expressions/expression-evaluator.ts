import { ExpressionError } from './expression.errors';
import { type ExpressionContext } from './expression-context';
import { callHelper, callMethod, type CallEnvironment } from './expression-functions';
import { resolveLimits, type ExpressionLimits } from './expression-limits';
import {
  FORBIDDEN_PROPERTY_NAMES,
  parseExpression,
  type ExpressionNode,
  type ParsedExpression,
} from './expression-parser';
import { compileGuardedRegex, guardRegexInput } from './expression-regex';
import {
  dataEquals,
  describeValue,
  isPlainArray,
  isPlainObject,
  ownDataEntries,
  readOwnData,
  readOwnElement,
  setOwn,
  toPlainData,
  toText,
  type PlainObject,
} from './expression-values';
import { parseTemplate } from './template-parser';

/** Options shared by every evaluating and validating function. */
export interface ExpressionOptions {
  /** Overrides of {@link DEFAULT_EXPRESSION_LIMITS}. */
  readonly limits?: Partial<ExpressionLimits>;
}

const ROOT_NAMES = ['trigger', 'parameters', 'execution'] as const;

/**
 * Evaluates one expression and returns its value as a fresh copy of plain data (never aliasing `context`).
 * `source` is the bare expression (`parameters.tag == 'v1'`), or a string that is exactly one `${ … }`, as
 * Spinnaker accepts both in `stageEnabled` and preconditions.
 *
 * @throws {@link ExpressionError} for every failure; never returns the expression unevaluated.
 */
export function evaluateExpression(source: string, context: ExpressionContext, options?: ExpressionOptions): unknown {
  const limits = resolveLimits(options?.limits);
  return evaluateParsed(parseExpression(unwrapTemplate(source), limits), context, limits);
}

/**
 * Evaluates an already parsed expression.
 *
 * @throws {@link ExpressionError} for every failure.
 */
export function evaluateParsed(
  parsed: ParsedExpression,
  context: ExpressionContext,
  limits: ExpressionLimits,
): unknown {
  try {
    return toPlainData(new Evaluator(parsed.source, context, limits).run(parsed.ast), limits);
  } catch (error) {
    // Parse depth bounds recursion, but a tiny stack (or a long chain of binary operators) must still fail cleanly.
    if (error instanceof RangeError) {
      throw new ExpressionError('too-deep', 'expression is too deeply nested to evaluate');
    }
    throw error;
  }
}

function unwrapTemplate(source: string): string {
  const trimmed = source.trim();
  if (!trimmed.startsWith('${')) return source;
  const parts = parseTemplate(trimmed);
  const [only] = parts;
  if (parts.length !== 1 || only?.kind !== 'expression') {
    throw new ExpressionError('parse', 'expected one expression, found text around or between `${ }`');
  }
  return only.source;
}

interface Scope {
  /** The list element a selection or projection is visiting; names resolve against it. */
  readonly element?: { readonly value: unknown };
}

class Evaluator implements CallEnvironment {
  private steps = 0;

  constructor(
    private readonly source: string,
    readonly context: ExpressionContext,
    readonly limits: ExpressionLimits,
  ) {}

  run(ast: ExpressionNode): unknown {
    return this.evaluate(ast, {});
  }

  private evaluate(node: ExpressionNode, scope: Scope): unknown {
    this.step(node);
    switch (node.kind) {
      case 'literal':
        return node.value;
      case 'list':
        return node.items.map((item) => this.evaluate(item, scope));
      case 'map': {
        const map: PlainObject = {};
        for (const entry of node.entries) setOwn(map, entry.key, this.evaluate(entry.value, scope));
        return map;
      }
      case 'name':
        return this.name(node, node.name, scope);
      case 'variable':
        return node.name === 'this' && scope.element !== undefined ? scope.element.value : this.root();
      case 'helper': {
        const args = node.args.map((arg) => this.evaluate(arg, scope));
        return this.at(node, () => callHelper(node.name, args, this));
      }
      case 'property': {
        const target = this.evaluate(node.target, scope);
        if (target === null || target === undefined) {
          if (node.safe) return null;
          throw this.error(
            node,
            'type',
            `cannot read '${node.name}': ${this.text(node.target)} is null (use ?. to allow null)`,
          );
        }
        return this.property(node, target, node.name, this.text(node.target));
      }
      case 'index':
        return this.index(node, this.evaluate(node.target, scope), this.evaluate(node.index, scope));
      case 'method': {
        const target = this.evaluate(node.target, scope);
        if ((target === null || target === undefined) && node.safe) return null;
        const args = node.args.map((arg) => this.evaluate(arg, scope));
        return this.at(node, () => callMethod(target, node.name, args, this));
      }
      case 'select':
      case 'project':
        return this.collection(node, scope);
      case 'unary': {
        const operand = this.evaluate(node.operand, scope);
        if (node.operator === 'not') return !this.boolean(node.operand, operand, 'not');
        if (typeof operand !== 'number') {
          throw this.error(node, 'type', `cannot negate ${describeValue(operand)} (${this.text(node.operand)})`);
        }
        return -operand;
      }
      case 'binary':
        return this.binary(node, scope);
      case 'conditional': {
        const test = this.boolean(node.test, this.evaluate(node.test, scope), '?:');
        return this.evaluate(test ? node.then : node.otherwise, scope);
      }
      case 'elvis': {
        const value = this.evaluate(node.value, scope);
        // Spring's Elvis treats an empty string like null, which is what `parameters.tag ?: 'latest'` wants.
        return value === null || value === undefined || value === '' ? this.evaluate(node.fallback, scope) : value;
      }
    }
  }

  private name(node: ExpressionNode, name: string, scope: Scope): unknown {
    if (scope.element !== undefined) {
      const element = scope.element.value;
      if (!isPlainObject(element)) {
        throw this.error(node, 'type', `cannot read '${name}' of a list element that is ${describeValue(element)}`);
      }
      try {
        return this.property(node, element, name, 'the list element');
      } catch (error) {
        if (!(error instanceof ExpressionError) || error.code !== 'unknown-property') throw error;
        const hint = `inside a selection or projection names are read from the element; use #root.${name} for a top-level name`;
        throw new ExpressionError(error.code, `${error.message}; ${hint}`, error.column);
      }
    }
    const found = this.lookupRoot(name);
    if (found.found) return found.value;
    const available = this.rootEntries().map(([key]) => key);
    // Shell scripts in job manifests are full of `${HOME}`; say how to keep one literal.
    const shellHint = /^[A-Z_][A-Z0-9_]*$/.test(name)
      ? `; if this is a shell variable, write \${'\${'}${name}} to keep '\${${name}}' literal`
      : '';
    throw this.error(
      node,
      'unknown-property',
      `unknown name '${name}'; expressions can use ${available.slice(0, 20).join(', ') || 'no names here'}, and #helpers${shellHint}`,
    );
  }

  // Reserved names win over variables so that a stage context key cannot shadow `trigger`.
  private lookupRoot(name: string): { found: true; value: unknown } | { found: false } {
    if ((ROOT_NAMES as readonly string[]).includes(name)) {
      const value = this.context[name as (typeof ROOT_NAMES)[number]];
      if (value !== undefined) return { found: true, value };
    }
    const variables = this.context.variables;
    return variables !== undefined && isPlainObject(variables) ? readOwnData(variables, name) : { found: false };
  }

  private rootEntries(): [string, unknown][] {
    const entries: [string, unknown][] = ROOT_NAMES.flatMap((name): [string, unknown][] =>
      this.context[name] === undefined ? [] : [[name, this.context[name]]],
    );
    const variables = this.context.variables;
    if (variables !== undefined && isPlainObject(variables)) {
      for (const entry of ownDataEntries(variables)) {
        if (!(ROOT_NAMES as readonly string[]).includes(entry[0])) entries.push(entry);
      }
    }
    return entries;
  }

  private root(): PlainObject {
    const root: PlainObject = {};
    for (const [key, value] of this.rootEntries()) setOwn(root, key, value);
    return root;
  }

  private property(node: ExpressionNode, target: unknown, name: string, described: string): unknown {
    if (FORBIDDEN_PROPERTY_NAMES.has(name)) {
      throw this.error(node, 'forbidden', `'${name}' is not accessible in expressions`);
    }
    if (isPlainObject(target)) {
      const read = this.at(node, () => readOwnData(target, name));
      if (read.found) return read.value;
      const keys = Object.keys(target).slice(0, 20);
      throw this.error(
        node,
        'unknown-property',
        `${described} has no property '${name}'${keys.length > 0 ? ` (it has: ${keys.join(', ')})` : ' (it is empty)'}`,
      );
    }
    if (isPlainArray(target)) {
      throw this.error(node, 'unknown-property', `${described} is a list; use [index] or .size(), not '.${name}'`);
    }
    if (typeof target === 'string' || typeof target === 'number' || typeof target === 'boolean') {
      throw this.error(
        node,
        'unknown-property',
        `${described} is ${describeValue(target)}; it has no property '${name}'`,
      );
    }
    throw this.error(node, 'forbidden', `${described} is ${describeValue(target)}; expressions only read plain data`);
  }

  private index(node: ExpressionNode & { kind: 'index' }, target: unknown, key: unknown): unknown {
    const described = this.text(node.target);
    if (isPlainArray(target) || typeof target === 'string') {
      if (typeof key !== 'number' || !Number.isInteger(key)) {
        throw this.error(node, 'type', `${described} is indexed by whole numbers, not ${describeValue(key)}`);
      }
      const size = target.length;
      const read =
        typeof target === 'string'
          ? { found: key >= 0 && key < size, value: target.charAt(key) }
          : readOwnElement(target, key);
      if (!read.found) {
        throw this.error(node, 'unknown-property', `index ${key} is out of range: ${described} has ${size} element(s)`);
      }
      return read.value;
    }
    if (isPlainObject(target)) {
      if (typeof key !== 'string' && typeof key !== 'number') {
        throw this.error(node, 'type', `${described} is indexed by names, not ${describeValue(key)}`);
      }
      const name = String(key);
      if (FORBIDDEN_PROPERTY_NAMES.has(name)) {
        throw this.error(node, 'forbidden', `'${name}' is not accessible in expressions`);
      }
      // As SpEL's map indexer does, a missing key reads as null, so `parameters['x'] ?: 'default'` works.
      const read = this.at(node, () => readOwnData(target, name));
      return read.found ? read.value : null;
    }
    if (target === null || target === undefined) {
      throw this.error(node, 'type', `cannot index ${described}: it is null`);
    }
    throw this.error(node, 'type', `cannot index ${described}: it is ${describeValue(target)}`);
  }

  private collection(node: ExpressionNode & { kind: 'select' | 'project' }, scope: Scope): unknown {
    const target = this.evaluate(node.target, scope);
    if (!isPlainArray(target)) {
      throw this.error(
        node,
        'type',
        `selection and projection need a list; ${this.text(node.target)} is ${describeValue(target)}`,
      );
    }
    const results: unknown[] = [];
    for (let i = 0; i < target.length; i++) {
      const read = readOwnElement(target, i);
      const element = { value: read.found ? read.value : null };
      if (node.kind === 'project') {
        results.push(this.evaluate(node.projection, { element }));
        continue;
      }
      if (this.boolean(node.predicate, this.evaluate(node.predicate, { element }), 'a selection')) {
        if (node.mode === 'first') return element.value;
        results.push(element.value);
      }
    }
    if (node.kind === 'select' && node.mode !== 'all') return results[results.length - 1] ?? null;
    return results;
  }

  private binary(node: ExpressionNode & { kind: 'binary' }, scope: Scope): unknown {
    const { operator } = node;
    const left = this.evaluate(node.left, scope);
    if (operator === 'and' || operator === 'or') {
      const leftValue = this.boolean(node.left, left, operator);
      if (operator === 'and' ? !leftValue : leftValue) return leftValue;
      return this.boolean(node.right, this.evaluate(node.right, scope), operator);
    }
    const right = this.evaluate(node.right, scope);
    switch (operator) {
      case '==':
        return this.at(node, () => dataEquals(left, right, this.limits));
      case '!=':
        return !this.at(node, () => dataEquals(left, right, this.limits));
      case '<':
      case '<=':
      case '>':
      case '>=':
        return this.compare(node, operator, left, right);
      case 'matches': {
        if (typeof left !== 'string' || typeof right !== 'string') {
          throw this.error(
            node,
            'type',
            `'matches' needs a string on both sides, got ${describeValue(left)} and ${describeValue(right)}`,
          );
        }
        return this.at(node, () => {
          guardRegexInput(left, this.limits);
          return compileGuardedRegex(right, 'whole', this.limits).test(left);
        });
      }
      case '+': {
        if (typeof left === 'number' && typeof right === 'number') return left + right;
        if (typeof left === 'string' || typeof right === 'string') {
          const text = this.at(node, () => toText(left, this.limits) + toText(right, this.limits));
          if (text.length > this.limits.maxOutputLength) {
            throw this.error(node, 'too-long', `string is over the limit of ${this.limits.maxOutputLength} characters`);
          }
          return text;
        }
        throw this.error(
          node,
          'type',
          `cannot add ${describeValue(left)} and ${describeValue(right)} (${this.text(node)})`,
        );
      }
      case '-':
      case '*':
      case '/':
      case '%':
        return this.arithmetic(node, operator, left, right);
    }
  }

  private compare(node: ExpressionNode, operator: '<' | '<=' | '>' | '>=', left: unknown, right: unknown): boolean {
    const comparable =
      (typeof left === 'number' && typeof right === 'number') ||
      (typeof left === 'string' && typeof right === 'string');
    if (!comparable) {
      throw this.error(
        node,
        'type',
        `cannot compare ${describeValue(left)} with ${describeValue(right)} (${this.text(node)})`,
      );
    }
    switch (operator) {
      case '<':
        return left < right;
      case '<=':
        return left <= right;
      case '>':
        return left > right;
      case '>=':
        return left >= right;
    }
  }

  private arithmetic(node: ExpressionNode, operator: '-' | '*' | '/' | '%', left: unknown, right: unknown): number {
    if (typeof left !== 'number' || typeof right !== 'number') {
      throw this.error(
        node,
        'type',
        `'${operator}' needs numbers, got ${describeValue(left)} and ${describeValue(right)} (${this.text(node)})`,
      );
    }
    if ((operator === '/' || operator === '%') && right === 0) {
      throw this.error(node, 'type', `division by zero (${this.text(node)})`);
    }
    switch (operator) {
      case '-':
        return left - right;
      case '*':
        return left * right;
      // SpEL divides integers as Java does: 7 / 2 is 3.
      case '/':
        return Number.isInteger(left) && Number.isInteger(right) ? Math.trunc(left / right) : left / right;
      case '%':
        return left % right;
    }
  }

  private boolean(node: ExpressionNode, value: unknown, operator: string): boolean {
    if (typeof value !== 'boolean') {
      throw this.error(node, 'type', `${operator} needs true or false; ${this.text(node)} is ${describeValue(value)}`);
    }
    return value;
  }

  private step(node: ExpressionNode): void {
    this.steps++;
    if (this.steps > this.limits.maxSteps) {
      throw this.error(node, 'too-complex', `evaluation took more than ${this.limits.maxSteps} steps`);
    }
  }

  // Errors raised by helpers and value readers know no position; give them the column of the node that called.
  private at<T>(node: ExpressionNode, run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (error instanceof ExpressionError && error.column === undefined) {
        throw new ExpressionError(error.code, error.message, node.start + 1);
      }
      throw error;
    }
  }

  private error(node: ExpressionNode, code: ExpressionError['code'], message: string): ExpressionError {
    return new ExpressionError(code, message, node.start + 1);
  }

  private text(node: ExpressionNode): string {
    const text = this.source.slice(node.start, node.end).trim();
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
  }
}
