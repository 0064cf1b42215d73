import { ExpressionError } from './expression.errors';

/** A piece of a string value: literal text, or the text of one `${ … }`. */
export type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  | {
      readonly kind: 'expression';
      /** The text between `${` and its matching `}`. */
      readonly source: string;
      /** 0-based offset of `${` in the string. */
      readonly offset: number;
    };

/**
 * Splits a string into text and `${ … }` parts. The closing `}` is the first one outside quotes and outside
 * nested `{ … }`, as in SpEL's template parser, so `${ {1,2} }` and `${ '}' }` are one expression each.
 *
 * @throws {@link ExpressionError} `parse` when a `${` has no closing `}`; `column` is then the 1-based position of
 * the `${` in the string.
 */
export function parseTemplate(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let textStart = 0;
  for (let open = text.indexOf('${'); open >= 0; open = text.indexOf('${', textStart)) {
    const close = findClosingBrace(text, open + 2);
    if (close < 0) {
      throw new ExpressionError('parse', `'\${' at character ${open + 1} of the string has no closing '}'`, open + 1);
    }
    if (open > textStart) parts.push({ kind: 'text', text: text.slice(textStart, open) });
    parts.push({ kind: 'expression', source: text.slice(open + 2, close), offset: open });
    textStart = close + 1;
  }
  if (textStart < text.length) parts.push({ kind: 'text', text: text.slice(textStart) });
  return parts;
}

function findClosingBrace(text: string, from: number): number {
  let depth = 0;
  let quote = '';
  for (let i = from; i < text.length; i++) {
    const ch = text.charAt(i);
    if (quote !== '') {
      // A doubled quote is an escaped quote and keeps the string open; a single one closes it.
      if (ch === quote) {
        if (text.charAt(i + 1) === quote) i++;
        else quote = '';
      }
    } else if (ch === "'" || ch === '"') {
      quote = ch;
    } else if (ch === '{') {
      depth++;
    } else if (ch === '}') {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}
