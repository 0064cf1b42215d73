import { ExpressionError } from './expression.errors';
import { HELPER_NAMES, METHOD_NAMES } from './expression-functions';
import { resolveLimits, type ExpressionLimits } from './expression-limits';
import { tokenize, type Token } from './expression-lexer';

/** Operators with two operands, spelled canonically (`eq` parses to `==`, `&&` to `and`). */
export type BinaryOperator =
  'and' | 'or' | '==' | '!=' | '<' | '<=' | '>' | '>=' | 'matches' | '+' | '-' | '*' | '/' | '%';

interface Span {
  /** 0-based offsets into the expression text. */
  readonly start: number;
  readonly end: number;
}

/** A node of a parsed expression. */
export type ExpressionNode = Span &
  (
    | { readonly kind: 'literal'; readonly value: string | number | boolean | null }
    | { readonly kind: 'list'; readonly items: readonly ExpressionNode[] }
    | { readonly kind: 'map'; readonly entries: readonly { key: string; value: ExpressionNode }[] }
    | { readonly kind: 'name'; readonly name: string }
    | { readonly kind: 'variable'; readonly name: 'this' | 'root' }
    | { readonly kind: 'helper'; readonly name: string; readonly args: readonly ExpressionNode[] }
    | { readonly kind: 'property'; readonly target: ExpressionNode; readonly name: string; readonly safe: boolean }
    | { readonly kind: 'index'; readonly target: ExpressionNode; readonly index: ExpressionNode }
    | {
        readonly kind: 'method';
        readonly target: ExpressionNode;
        readonly name: string;
        readonly args: readonly ExpressionNode[];
        readonly safe: boolean;
      }
    | {
        readonly kind: 'select';
        readonly target: ExpressionNode;
        readonly mode: 'all' | 'first' | 'last';
        readonly predicate: ExpressionNode;
      }
    | { readonly kind: 'project'; readonly target: ExpressionNode; readonly projection: ExpressionNode }
    | { readonly kind: 'unary'; readonly operator: 'not' | '-'; readonly operand: ExpressionNode }
    | {
        readonly kind: 'binary';
        readonly operator: BinaryOperator;
        readonly left: ExpressionNode;
        readonly right: ExpressionNode;
      }
    | {
        readonly kind: 'conditional';
        readonly test: ExpressionNode;
        readonly then: ExpressionNode;
        readonly otherwise: ExpressionNode;
      }
    | { readonly kind: 'elvis'; readonly value: ExpressionNode; readonly fallback: ExpressionNode }
  );

/** A syntactically valid expression, ready to evaluate any number of times. */
export interface ParsedExpression {
  /** The expression text as given (without `${` and `}`). */
  readonly source: string;
  readonly ast: ExpressionNode;
}

/** Property names that lead from data to JavaScript's object machinery. */
export const FORBIDDEN_PROPERTY_NAMES: ReadonlySet<string> = new Set(['constructor', '__proto__', 'prototype']);

const RELATIONAL = new Map<string, BinaryOperator>([
  ['==', '=='],
  ['!=', '!='],
  ['<', '<'],
  ['<=', '<='],
  ['>', '>'],
  ['>=', '>='],
  ['eq', '=='],
  ['ne', '!='],
  ['lt', '<'],
  ['le', '<='],
  ['gt', '>'],
  ['ge', '>='],
  ['matches', 'matches'],
]);
const ADDITIVE = new Map<string, BinaryOperator>([
  ['+', '+'],
  ['-', '-'],
]);
const MULTIPLICATIVE = new Map<string, BinaryOperator>([
  ['*', '*'],
  ['/', '/'],
  ['%', '%'],
  ['div', '/'],
  ['mod', '%'],
]);
const SELECTIONS = new Map<string, 'all' | 'first' | 'last'>([
  ['.?[', 'all'],
  ['.^[', 'first'],
  ['.$[', 'last'],
]);

const CACHE_SIZE = 1000;
const cache = new Map<string, ParsedExpression | ExpressionError>();

/**
 * Parses one expression (the text between `${` and `}`) without evaluating it, so a pipeline save can report
 * syntax errors and refused constructs early. Results, including failures, are cached by text.
 *
 * @throws {@link ExpressionError} with code `parse` (with a column), `too-long`, `too-deep`, `forbidden` or
 * `not-a-function` (a method or `#helper` that exists on no type).
 */
export function parseExpression(source: string, limits?: Partial<ExpressionLimits>): ParsedExpression {
  const resolved = resolveLimits(limits);
  const key = `${resolved.maxExpressionLength}:${resolved.maxDepth}:${source}`;
  let entry = cache.get(key);
  if (entry === undefined) {
    try {
      entry = { source, ast: new Parser(source, resolved).parse() };
    } catch (error) {
      if (!(error instanceof ExpressionError)) throw error;
      entry = error;
    }
    if (cache.size >= CACHE_SIZE) {
      const oldest = cache.keys().next();
      if (oldest.done !== true) cache.delete(oldest.value);
    }
    cache.set(key, entry);
  }
  if (entry instanceof ExpressionError) throw entry;
  return entry;
}

class Parser {
  private readonly tokens: Token[];
  private position = 0;
  private depth = 0;

  constructor(
    private readonly source: string,
    private readonly limits: ExpressionLimits,
  ) {
    if (source.length > limits.maxExpressionLength) {
      throw new ExpressionError(
        'too-long',
        `expression is ${source.length} characters long; the limit is ${limits.maxExpressionLength}`,
      );
    }
    this.tokens = tokenize(source);
  }

  parse(): ExpressionNode {
    if (this.peek().kind === 'eof') throw new ExpressionError('parse', 'empty expression', 1);
    const node = this.expression();
    const next = this.peek();
    if (next.kind !== 'eof') throw this.unexpected(next);
    return node;
  }

  private expression(): ExpressionNode {
    this.enter();
    const test = this.or();
    let node = test;
    if (this.acceptPunct('?:')) {
      const fallback = this.expression();
      node = { kind: 'elvis', value: test, fallback, start: test.start, end: fallback.end };
    } else if (this.acceptPunct('?')) {
      const then = this.expression();
      this.expectPunct(':');
      const otherwise = this.expression();
      node = { kind: 'conditional', test, then, otherwise, start: test.start, end: otherwise.end };
    }
    this.depth--;
    return node;
  }

  private or(): ExpressionNode {
    let left = this.and();
    while (this.acceptPunct('||') || this.acceptWord('or')) {
      const right = this.and();
      left = { kind: 'binary', operator: 'or', left, right, start: left.start, end: right.end };
    }
    return left;
  }

  private and(): ExpressionNode {
    let left = this.relational();
    while (this.acceptPunct('&&') || this.acceptWord('and')) {
      const right = this.relational();
      left = { kind: 'binary', operator: 'and', left, right, start: left.start, end: right.end };
    }
    return left;
  }

  private relational(): ExpressionNode {
    const left = this.binaryChain(ADDITIVE, () => this.binaryChain(MULTIPLICATIVE, () => this.unary()));
    const next = this.peek();
    if (next.kind === 'identifier' && ['instanceof', 'between'].includes(next.text.toLowerCase())) {
      throw new ExpressionError(
        'forbidden',
        `operator '${next.text}' is not supported (column ${next.start + 1})`,
        next.start + 1,
      );
    }
    const operator = this.operatorOf(next, RELATIONAL);
    if (operator === undefined) return left;
    this.position++;
    const right = this.binaryChain(ADDITIVE, () => this.binaryChain(MULTIPLICATIVE, () => this.unary()));
    return { kind: 'binary', operator, left, right, start: left.start, end: right.end };
  }

  private binaryChain(operators: Map<string, BinaryOperator>, operand: () => ExpressionNode): ExpressionNode {
    let left = operand();
    for (;;) {
      const operator = this.operatorOf(this.peek(), operators);
      if (operator === undefined) return left;
      this.position++;
      const right = operand();
      left = { kind: 'binary', operator, left, right, start: left.start, end: right.end };
    }
  }

  private unary(): ExpressionNode {
    const token = this.peek();
    const isNot = (token.kind === 'punct' && token.text === '!') || this.isWord(token, 'not');
    const isMinus = token.kind === 'punct' && token.text === '-';
    const isPlus = token.kind === 'punct' && token.text === '+';
    if (!isNot && !isMinus && !isPlus) return this.postfix();
    this.position++;
    this.enter();
    const operand = this.unary();
    this.depth--;
    if (isPlus) return operand;
    return { kind: 'unary', operator: isNot ? 'not' : '-', operand, start: token.start, end: operand.end };
  }

  private postfix(): ExpressionNode {
    let node = this.primary();
    for (;;) {
      const token = this.peek();
      if (token.kind !== 'punct') return node;
      if (token.text === '.' || token.text === '?.') {
        this.position++;
        node = this.member(node, token.text === '?.');
      } else if (token.text === '[') {
        this.position++;
        const index = this.expression();
        const close = this.expectPunct(']');
        this.refuseForbiddenKey(index);
        node = { kind: 'index', target: node, index, start: node.start, end: close.end };
      } else if (SELECTIONS.has(token.text) || token.text === '.![') {
        this.position++;
        const inner = this.expression();
        const close = this.expectPunct(']');
        const mode = SELECTIONS.get(token.text);
        node =
          mode === undefined
            ? { kind: 'project', target: node, projection: inner, start: node.start, end: close.end }
            : { kind: 'select', target: node, mode, predicate: inner, start: node.start, end: close.end };
      } else if (token.text === '(') {
        throw new ExpressionError(
          'not-a-function',
          `only allowed methods and #helpers can be called; '${this.slice(node)}' is not one (column ${token.start + 1})`,
          token.start + 1,
        );
      } else {
        return node;
      }
    }
  }

  private member(target: ExpressionNode, safe: boolean): ExpressionNode {
    const name = this.peek();
    if (name.kind !== 'identifier') {
      throw new ExpressionError(
        'parse',
        `expected a property name at column ${name.start + 1}, found ${this.describe(name)}`,
        name.start + 1,
      );
    }
    this.position++;
    this.refuseForbiddenName(name.text, name);
    if (!this.acceptPunct('(')) {
      return { kind: 'property', target, name: name.text, safe, start: target.start, end: name.end };
    }
    if (!METHOD_NAMES.has(name.text)) {
      throw new ExpressionError(
        'not-a-function',
        `'${name.text}' is not an allowed method (column ${name.start + 1}); allowed: ${[...METHOD_NAMES].join(', ')}`,
        name.start + 1,
      );
    }
    const { args, end } = this.argumentsAfterParen();
    return { kind: 'method', target, name: name.text, args, safe, start: target.start, end };
  }

  private primary(): ExpressionNode {
    const token = this.peek();
    switch (token.kind) {
      case 'number':
        this.position++;
        return { kind: 'literal', value: token.number ?? Number.NaN, start: token.start, end: token.end };
      case 'string':
        this.position++;
        return { kind: 'literal', value: token.text, start: token.start, end: token.end };
      case 'identifier':
        return this.identifier(token);
      case 'punct':
        return this.punctuationStart(token);
      case 'eof':
        throw this.unexpected(token);
    }
  }

  private identifier(token: Token): ExpressionNode {
    const word = token.text.toLowerCase();
    this.position++;
    const literal = new Map<string, boolean | null>([
      ['true', true],
      ['false', false],
      ['null', null],
    ]);
    if (literal.has(word)) {
      return { kind: 'literal', value: literal.get(word) ?? null, start: token.start, end: token.end };
    }
    if (word === 'new') {
      throw new ExpressionError(
        'forbidden',
        `constructing objects with 'new' is not allowed (column ${token.start + 1})`,
        token.start + 1,
      );
    }
    if (token.text === 'T' && this.isPunct(this.peek(), '(')) {
      throw new ExpressionError(
        'forbidden',
        `type references T(...) are not allowed (column ${token.start + 1})`,
        token.start + 1,
      );
    }
    if (RELATIONAL.has(word) || MULTIPLICATIVE.has(word) || ['and', 'or', 'not'].includes(word)) {
      throw new ExpressionError(
        'parse',
        `unexpected operator '${token.text}' at column ${token.start + 1}`,
        token.start + 1,
      );
    }
    if (this.isPunct(this.peek(), '(')) {
      throw new ExpressionError(
        'not-a-function',
        `'${token.text}(...)' is not a function; helpers are called with '#', e.g. #toJson(...) (column ${token.start + 1})`,
        token.start + 1,
      );
    }
    this.refuseForbiddenName(token.text, token);
    return { kind: 'name', name: token.text, start: token.start, end: token.end };
  }

  private punctuationStart(token: Token): ExpressionNode {
    this.position++;
    switch (token.text) {
      case '(': {
        const inner = this.expression();
        const close = this.expectPunct(')');
        return { ...inner, start: token.start, end: close.end };
      }
      case '{':
        return this.inlineCollection(token);
      case '#':
        return this.hash(token);
      default:
        this.position--;
        throw this.unexpected(token);
    }
  }

  private hash(hash: Token): ExpressionNode {
    const name = this.peek();
    if (name.kind !== 'identifier' || name.start !== hash.end) {
      throw new ExpressionError(
        'parse',
        `expected a helper name right after '#' at column ${hash.start + 1}`,
        hash.start + 1,
      );
    }
    this.position++;
    if (name.text === 'this' || name.text === 'root') {
      return { kind: 'variable', name: name.text, start: hash.start, end: name.end };
    }
    if (!HELPER_NAMES.has(name.text)) {
      throw new ExpressionError(
        'not-a-function',
        `#${name.text} is not a known helper (column ${hash.start + 1}); known: ${[...HELPER_NAMES].map((n) => `#${n}`).join(', ')}`,
        hash.start + 1,
      );
    }
    if (!this.acceptPunct('(')) {
      throw new ExpressionError(
        'parse',
        `#${name.text} is a helper and must be called, e.g. #${name.text}(...) (column ${hash.start + 1})`,
        hash.start + 1,
      );
    }
    const { args, end } = this.argumentsAfterParen();
    return { kind: 'helper', name: name.text, args, start: hash.start, end };
  }

  // SpEL inline lists `{1, 2}` and maps `{a: 1, 'b-c': 2}`; `{}` is an empty list and `{:}` an empty map.
  private inlineCollection(open: Token): ExpressionNode {
    this.enter();
    let node: ExpressionNode;
    const first = this.peek();
    if (this.isPunct(first, '}')) {
      this.position++;
      node = { kind: 'list', items: [], start: open.start, end: first.end };
    } else if (this.isPunct(first, ':') && this.isPunct(this.tokens[this.position + 1], '}')) {
      this.position += 2;
      node = { kind: 'map', entries: [], start: open.start, end: this.tokens[this.position - 1]?.end ?? first.end };
    } else if (
      (first.kind === 'identifier' || first.kind === 'string') &&
      this.isPunct(this.tokens[this.position + 1], ':')
    ) {
      const entries: { key: string; value: ExpressionNode }[] = [];
      do {
        const key = this.peek();
        if (key.kind !== 'identifier' && key.kind !== 'string') {
          throw new ExpressionError(
            'parse',
            `expected a map key at column ${key.start + 1}, found ${this.describe(key)}`,
            key.start + 1,
          );
        }
        this.position++;
        this.refuseForbiddenName(key.text, key);
        this.expectPunct(':');
        entries.push({ key: key.text, value: this.expression() });
      } while (this.acceptPunct(','));
      const close = this.expectPunct('}');
      node = { kind: 'map', entries, start: open.start, end: close.end };
    } else {
      const items: ExpressionNode[] = [];
      do {
        items.push(this.expression());
      } while (this.acceptPunct(','));
      const close = this.expectPunct('}');
      node = { kind: 'list', items, start: open.start, end: close.end };
    }
    this.depth--;
    return node;
  }

  private argumentsAfterParen(): { args: ExpressionNode[]; end: number } {
    const args: ExpressionNode[] = [];
    const first = this.peek();
    if (this.isPunct(first, ')')) {
      this.position++;
      return { args, end: first.end };
    }
    do {
      args.push(this.expression());
    } while (this.acceptPunct(','));
    const close = this.expectPunct(')');
    return { args, end: close.end };
  }

  private refuseForbiddenName(name: string, token: Token): void {
    if (FORBIDDEN_PROPERTY_NAMES.has(name)) {
      throw new ExpressionError(
        'forbidden',
        `'${name}' is not accessible in expressions (column ${token.start + 1})`,
        token.start + 1,
      );
    }
  }

  private refuseForbiddenKey(index: ExpressionNode): void {
    if (index.kind === 'literal' && typeof index.value === 'string' && FORBIDDEN_PROPERTY_NAMES.has(index.value)) {
      throw new ExpressionError(
        'forbidden',
        `'${index.value}' is not accessible in expressions (column ${index.start + 1})`,
        index.start + 1,
      );
    }
  }

  // Every recursive descent passes through here, so hostile nesting fails long before the JavaScript stack does.
  private enter(): void {
    this.depth++;
    if (this.depth > this.limits.maxDepth) {
      const token = this.peek();
      throw new ExpressionError(
        'too-deep',
        `expression is nested more than ${this.limits.maxDepth} levels deep (column ${token.start + 1})`,
        token.start + 1,
      );
    }
  }

  private operatorOf(token: Token, operators: Map<string, BinaryOperator>): BinaryOperator | undefined {
    if (token.kind === 'punct') return operators.get(token.text);
    if (token.kind === 'identifier') {
      const word = token.text.toLowerCase();
      // Symbols live in the same maps; only words may be matched case-insensitively.
      return /^[a-z]+$/.test(word) ? operators.get(word) : undefined;
    }
    return undefined;
  }

  private peek(): Token {
    // The token list always ends with `eof` and the parser never moves past it.
    return this.tokens[this.position] ?? (this.tokens[this.tokens.length - 1] as Token);
  }

  private isPunct(token: Token | undefined, text: string): boolean {
    return token?.kind === 'punct' && token.text === text;
  }

  private isWord(token: Token, word: string): boolean {
    return token.kind === 'identifier' && token.text.toLowerCase() === word;
  }

  private acceptPunct(text: string): boolean {
    if (!this.isPunct(this.peek(), text)) return false;
    this.position++;
    return true;
  }

  private acceptWord(word: string): boolean {
    if (!this.isWord(this.peek(), word)) return false;
    this.position++;
    return true;
  }

  private expectPunct(text: string): Token {
    const token = this.peek();
    if (!this.isPunct(token, text)) {
      throw new ExpressionError(
        'parse',
        `expected '${text}' at column ${token.start + 1}, found ${this.describe(token)}`,
        token.start + 1,
      );
    }
    this.position++;
    return token;
  }

  private unexpected(token: Token): ExpressionError {
    if (token.kind === 'eof') {
      return new ExpressionError('parse', `unexpected end of expression at column ${token.start + 1}`, token.start + 1);
    }
    return new ExpressionError(
      'parse',
      `unexpected ${this.describe(token)} at column ${token.start + 1}`,
      token.start + 1,
    );
  }

  private describe(token: Token): string {
    if (token.kind === 'eof') return 'the end of the expression';
    return `'${this.source.slice(token.start, token.end)}'`;
  }

  private slice(node: ExpressionNode): string {
    return this.source.slice(node.start, node.end);
  }
}
