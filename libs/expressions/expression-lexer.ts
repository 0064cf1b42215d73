import { ExpressionError } from './expression.errors';

export type TokenKind = 'number' | 'string' | 'identifier' | 'punct' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** The decoded string for `string`, the spelling for everything else. */
  readonly text: string;
  readonly number?: number;
  /** 0-based offset of the first character in the expression text. */
  readonly start: number;
  readonly end: number;
}

// Longest first, so that `.?[` wins over `.` and `==` over `=`.
const PUNCTUATION = [
  '.?[',
  '.![',
  '.^[',
  '.$[',
  '?.',
  '?:',
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  '.',
  '?',
  ':',
  '<',
  '>',
  '!',
  '+',
  '-',
  '*',
  '/',
  '%',
  '#',
  '^',
] as const;

// Refused at the lexer so that no later stage ever sees a construct that writes or reaches outside the data.
const FORBIDDEN_PUNCTUATION = new Map<string, string>([
  ['=', 'assignment is not allowed in expressions'],
  ['++', 'increment changes a value and is not allowed in expressions'],
  ['--', 'decrement changes a value and is not allowed in expressions'],
  ['@', 'bean references (@name) are not allowed in expressions'],
  ['&', 'bean factory references (&name) are not allowed in expressions'],
]);

const IDENTIFIER_START = /[A-Za-z_$]/;
const IDENTIFIER_PART = /[A-Za-z0-9_$]/;
const DIGIT = /[0-9]/;
const NUMBER = /^[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/;

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source.charAt(i);
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      i++;
      continue;
    }
    if (DIGIT.test(ch)) {
      const match = NUMBER.exec(source.slice(i, i + 400));
      const text = match?.[0] ?? ch;
      tokens.push({ kind: 'number', text, number: Number(text), start: i, end: i + text.length });
      i += text.length;
      continue;
    }
    if (IDENTIFIER_START.test(ch)) {
      let j = i + 1;
      while (j < source.length && IDENTIFIER_PART.test(source.charAt(j))) j++;
      tokens.push({ kind: 'identifier', text: source.slice(i, j), start: i, end: j });
      i = j;
      continue;
    }
    if (ch === "'" || ch === '"') {
      const { value, end } = readString(source, i, ch);
      tokens.push({ kind: 'string', text: value, start: i, end });
      i = end;
      continue;
    }
    const twoChars = source.slice(i, i + 2);
    const punct = twoChars === '++' || twoChars === '--' ? undefined : PUNCTUATION.find((p) => source.startsWith(p, i));
    if (punct === undefined) {
      const forbidden = FORBIDDEN_PUNCTUATION.get(twoChars) ?? FORBIDDEN_PUNCTUATION.get(ch);
      if (forbidden !== undefined) {
        throw new ExpressionError('forbidden', `${forbidden} (column ${i + 1})`, i + 1);
      }
      throw new ExpressionError('parse', `unexpected character '${ch}' at column ${i + 1}`, i + 1);
    }
    tokens.push({ kind: 'punct', text: punct, start: i, end: i + punct.length });
    i += punct.length;
  }
  tokens.push({ kind: 'eof', text: '', start: source.length, end: source.length });
  return tokens;
}

// SpEL strings have no backslash escapes: the quote character doubled is the only escape ('it''s').
function readString(source: string, start: number, quote: string): { value: string; end: number } {
  let value = '';
  let i = start + 1;
  for (;;) {
    const next = source.indexOf(quote, i);
    if (next < 0) {
      throw new ExpressionError('parse', `unterminated string starting at column ${start + 1}`, start + 1);
    }
    value += source.slice(i, next);
    if (source.charAt(next + 1) === quote) {
      value += quote;
      i = next + 2;
      continue;
    }
    return { value, end: next + 1 };
  }
}
