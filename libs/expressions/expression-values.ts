import { ExpressionError } from './expression.errors';
import { type ExpressionLimits } from './expression-limits';

/** A JSON object as expressions see it: only own, enumerable data properties count. */
export type PlainObject = Record<string, unknown>;

export function isPlainObject(value: unknown): value is PlainObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function isPlainArray(value: unknown): value is unknown[] {
  return Array.isArray(value) && Object.getPrototypeOf(value) === Array.prototype;
}

/** How a value is named in messages, in the vocabulary of pipeline JSON rather than JavaScript. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  if (typeof value === 'function') return 'a function';
  if (isPlainArray(value)) return 'a list';
  if (isPlainObject(value)) return 'a map';
  return 'a non-data object';
}

/**
 * Reads an own property without ever invoking code: descriptors are inspected, so a getter is reported rather
 * than run, and inherited names (`toString`, `constructor`, ...) are simply absent.
 *
 * @returns `{ found: false }` when there is no own enumerable property of that name.
 */
export function readOwnData(target: object, key: string): { found: true; value: unknown } | { found: false } {
  const descriptor = Object.getOwnPropertyDescriptor(target, key);
  if (descriptor === undefined || descriptor.enumerable !== true) return { found: false };
  if (!('value' in descriptor)) {
    throw new ExpressionError('forbidden', `'${key}' is an accessor, not data; expressions only read plain data`);
  }
  const value: unknown = descriptor.value;
  if (typeof value === 'function') {
    throw new ExpressionError('forbidden', `'${key}' is a function; expressions only read plain data`);
  }
  return { found: true, value: value === undefined ? null : value };
}

/** The own enumerable data entries of a plain object, refusing accessors and functions. */
export function ownDataEntries(target: PlainObject): [string, unknown][] {
  const entries: [string, unknown][] = [];
  for (const key of Object.keys(target)) {
    const read = readOwnData(target, key);
    if (read.found) entries.push([key, read.value]);
  }
  return entries;
}

/** Element `index` of a plain list, refusing holes and accessors the same way as object properties. */
export function readOwnElement(target: unknown[], index: number): { found: true; value: unknown } | { found: false } {
  if (!Number.isInteger(index) || index < 0 || index >= target.length) return { found: false };
  return readOwnData(target, String(index));
}

// `obj[key] = value` with key `__proto__` would replace the prototype instead of creating a property.
export function setOwn(target: PlainObject, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

/**
 * A deep copy of plain data, so that results never alias the engine's context (a stage editing its own
 * context must not edit another stage's outputs). Anything that is not JSON-shaped is refused.
 */
export function toPlainData(value: unknown, limits: ExpressionLimits, depth = 0): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (depth >= limits.maxValueDepth) {
    throw new ExpressionError('too-deep', `value is nested more than ${limits.maxValueDepth} levels deep`);
  }
  if (isPlainArray(value)) {
    const copy: unknown[] = [];
    for (let i = 0; i < value.length; i++) {
      const element = readOwnElement(value, i);
      copy.push(element.found ? toPlainData(element.value, limits, depth + 1) : null);
    }
    return copy;
  }
  if (isPlainObject(value)) {
    const copy: PlainObject = {};
    for (const [key, entry] of ownDataEntries(value)) setOwn(copy, key, toPlainData(entry, limits, depth + 1));
    return copy;
  }
  throw new ExpressionError('forbidden', `${describeValue(value)} is not plain data`);
}

/** JSON text of plain data, built here rather than by JSON.stringify so no `toJSON` method can run. */
export function toJsonText(value: unknown, limits: ExpressionLimits): string {
  const parts: string[] = [];
  let length = 0;
  const emit = (text: string): void => {
    length += text.length;
    if (length > limits.maxOutputLength) {
      throw new ExpressionError('too-long', `JSON text is over the limit of ${limits.maxOutputLength} characters`);
    }
    parts.push(text);
  };
  const write = (current: unknown, depth: number): void => {
    if (current === null || current === undefined) return emit('null');
    if (typeof current === 'string') return emit(JSON.stringify(current));
    if (typeof current === 'number') return emit(Number.isFinite(current) ? String(current) : 'null');
    if (typeof current === 'boolean') return emit(current ? 'true' : 'false');
    if (depth >= limits.maxValueDepth) {
      throw new ExpressionError('too-deep', `value is nested more than ${limits.maxValueDepth} levels deep`);
    }
    if (isPlainArray(current)) {
      emit('[');
      for (let i = 0; i < current.length; i++) {
        if (i > 0) emit(',');
        const element = readOwnElement(current, i);
        write(element.found ? element.value : null, depth + 1);
      }
      return emit(']');
    }
    if (isPlainObject(current)) {
      emit('{');
      ownDataEntries(current).forEach(([key, entry], i) => {
        if (i > 0) emit(',');
        emit(`${JSON.stringify(key)}:`);
        write(entry, depth + 1);
      });
      return emit('}');
    }
    throw new ExpressionError('forbidden', `${describeValue(current)} is not plain data`);
  };
  write(value, 0);
  return parts.join('');
}

/** Structural equality of plain data, as Java's `equals` on SpEL maps and lists. */
export function dataEquals(left: unknown, right: unknown, limits: ExpressionLimits, depth = 0): boolean {
  if (left === undefined) left = null;
  if (right === undefined) right = null;
  if (left === right) return true;
  if (typeof left !== 'object' || typeof right !== 'object' || left === null || right === null) return false;
  if (depth >= limits.maxValueDepth) {
    throw new ExpressionError('too-deep', `value is nested more than ${limits.maxValueDepth} levels deep`);
  }
  if (isPlainArray(left) && isPlainArray(right)) {
    if (left.length !== right.length) return false;
    for (let i = 0; i < left.length; i++) {
      const a = readOwnElement(left, i);
      const b = readOwnElement(right, i);
      if (!dataEquals(a.found ? a.value : null, b.found ? b.value : null, limits, depth + 1)) return false;
    }
    return true;
  }
  if (isPlainObject(left) && isPlainObject(right)) {
    const a = ownDataEntries(left);
    const b = new Map(ownDataEntries(right));
    if (a.length !== b.size) return false;
    return a.every(([key, value]) => b.has(key) && dataEquals(value, b.get(key), limits, depth + 1));
  }
  return false;
}

/** A value as text in a concatenation: Java's rendering for scalars, JSON for lists and maps. */
export function toText(value: unknown, limits: ExpressionLimits): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return toJsonText(value, limits);
}
