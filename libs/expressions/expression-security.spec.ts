import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ExpressionError,
  evaluateExpression,
  evaluateTemplate,
  parseExpression,
  type ExpressionContext,
  type ExpressionErrorCode,
} from './index';
import { branchDeployContext } from './branch-deploy-context';

function refusal(source: string, context: ExpressionContext, options?: Parameters<typeof evaluateExpression>[2]) {
  try {
    const value = evaluateExpression(source, context, options);
    return { code: 'evaluated' as const, message: JSON.stringify(value) };
  } catch (error) {
    if (error instanceof ExpressionError) return { code: error.code, message: error.message };
    throw error;
  }
}

function prototypeSnapshot(): string[] {
  return [Object.prototype, Function.prototype, Array.prototype, String.prototype].flatMap((proto) =>
    Object.getOwnPropertyNames(proto).map((name) => {
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      return `${name}:${typeof descriptor?.value}:${typeof descriptor?.get}:${typeof descriptor?.set}`;
    }),
  );
}

describe('hostile expressions', () => {
  const spy = vi.fn(() => 'executed');
  const getter = vi.fn(() => 'leaked');
  let context: ExpressionContext;
  let before: string[];

  beforeEach(() => {
    spy.mockClear();
    getter.mockClear();
    const trigger: Record<string, unknown> = {
      branch: 'main',
      run: spy,
      nested: { toString: spy, valueOf: spy, toJSON: spy },
    };
    Object.defineProperty(trigger, 'secret', { get: getter, enumerable: true });
    context = { ...branchDeployContext(), trigger };
    before = prototypeSnapshot();
  });

  afterEach(() => {
    // Whatever was attempted, nothing ran and no prototype changed.
    expect(spy).not.toHaveBeenCalled();
    expect(getter).not.toHaveBeenCalled();
    expect(prototypeSnapshot()).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  const cases: [string, ExpressionErrorCode, string][] = [
    // Globals are not names an expression can see.
    ['process', 'unknown-property', "unknown name 'process'"],
    ["process.mainModule.require('child_process')", 'not-a-function', "'require' is not an allowed method"],
    ['process.env', 'unknown-property', "unknown name 'process'"],
    ['global', 'unknown-property', "unknown name 'global'"],
    ['globalThis.process', 'unknown-property', "unknown name 'globalThis'"],
    ['this', 'unknown-property', "unknown name 'this'"],
    ["require('child_process').execSync('id')", 'not-a-function', "'require(...)' is not a function"],
    ["eval('1')", 'not-a-function', "'eval(...)' is not a function"],
    // Prototype walks.
    ["trigger.constructor.constructor('return process')()", 'forbidden', "'constructor' is not accessible"],
    ["trigger['__proto__']", 'forbidden', "'__proto__' is not accessible"],
    ["trigger['__pro' + 'to__'].polluted", 'forbidden', "'__proto__' is not accessible"],
    ["trigger['constr' + 'uctor']", 'forbidden', "'constructor' is not accessible"],
    ["''.constructor", 'forbidden', "'constructor' is not accessible"],
    ['{}.constructor.prototype', 'forbidden', "'constructor' is not accessible"],
    ['#root.constructor', 'forbidden', "'constructor' is not accessible"],
    ["#stage('Bake').__proto__", 'forbidden', "'__proto__' is not accessible"],
    ['trigger.prototype', 'forbidden', "'prototype' is not accessible"],
    ["{'__proto__': {polluted: true}}", 'forbidden', "'__proto__' is not accessible"],
    ['trigger.toString', 'unknown-property', "trigger has no property 'toString'"],
    ["trigger.hasOwnProperty('branch')", 'not-a-function', "'hasOwnProperty' is not an allowed method"],
    ["trigger.branch.concat('x')", 'not-a-function', "'concat' is not an allowed method"],
    // Java escapes from SpEL.
    ["T(java.lang.Runtime).getRuntime().exec('id')", 'forbidden', 'type references T(...) are not allowed'],
    ["new java.lang.ProcessBuilder('id').start()", 'forbidden', "constructing objects with 'new' is not allowed"],
    ["new String('x')", 'forbidden', "'new' is not allowed"],
    ['@environment.getProperty("db.password")', 'forbidden', 'bean references'],
    ['&factoryBean', 'forbidden', 'bean factory references'],
    ['trigger instanceof T(String)', 'forbidden', "operator 'instanceof' is not supported"],
    // Writes.
    ["trigger.branch = 'hacked'", 'forbidden', 'assignment is not allowed'],
    ["#this = 'x'", 'forbidden', 'assignment is not allowed'],
    ["trigger['branch']='x'", 'forbidden', 'assignment is not allowed'],
    ['parameters.replicas++', 'forbidden', 'increment'],
    // Functions and accessors on data are neither called nor read.
    ['trigger.run()', 'not-a-function', "'run' is not an allowed method"],
    ['trigger.run', 'forbidden', "'run' is a function"],
    ["trigger['run']", 'forbidden', "'run' is a function"],
    ['trigger.secret', 'forbidden', "'secret' is an accessor"],
    ['#toJson(trigger)', 'forbidden', "'run' is a function"],
    ["'x' + trigger.nested", 'forbidden', "'toString' is a function"],
    ['trigger.nested == {a: 1}', 'forbidden', "'toString' is a function"],
    ['trigger.nested < 1', 'type', 'cannot compare a map with a number'],
    ['trigger', 'forbidden', 'is a function'],
    ['#stage', 'parse', '#stage is a helper and must be called'],
    ['#toJson(1)()', 'not-a-function', 'only allowed methods and #helpers can be called'],
  ];

  it.each(cases)('refuses %s', (source, code, message) => {
    const result = refusal(source, context);
    expect(result.code).toBe(code);
    expect(result.message).toContain(message);
  });

  it('refuses the same constructs inside templates, reporting each with its location', () => {
    const result = evaluateTemplate(
      { a: "${ trigger.constructor.constructor('return process')() }", b: ['x ${ T(java.lang.System).exit(1) }'] },
      context,
    );
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.failures.map((f) => [f.path, f.code])).toEqual([
      ['a', 'forbidden'],
      ['b[0]', 'forbidden'],
    ]);
    expect(context.trigger).toMatchObject({ branch: 'main' });
  });

  it('copies a `__proto__` key of the input as data instead of setting a prototype', () => {
    const input = JSON.parse('{"__proto__": {"polluted": "${ trigger.branch }"}, "name": "${ trigger.branch }"}');
    const result = evaluateTemplate(input, context);
    expect(result.ok).toBe(true);
    const value = (result.ok ? result.value : null) as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toEqual({ polluted: 'main' });
    expect(value.polluted).toBeUndefined();
  });
});

describe('limits', () => {
  const context = branchDeployContext();

  it('refuses an expression over 4 KiB before parsing it', () => {
    const result = refusal(`'${'a'.repeat(5000)}'`, context);
    expect(result).toEqual({ code: 'too-long', message: 'expression is 5002 characters long; the limit is 4096' });
  });

  it.each([
    ['parentheses', '(', '('.repeat(100_000) + '1' + ')'.repeat(100_000)],
    ['brackets', 'trigger[', 'trigger['.repeat(12_500)],
    ['braces', '{', '{'.repeat(100_000)],
    ['negations', '!', '!'.repeat(100_000) + 'true'],
    ['nested ternaries', 'true ? ', 'true ? '.repeat(20_000) + '1'],
    ['method arguments', "'a'.contains(", "'a'.contains(".repeat(8_000)],
  ])(
    'refuses 100,000 characters of nested %s: too long by default, too deep when length is allowed',
    (_, unit, source) => {
      expect(refusal(source, context).code).toBe('too-long');
      let deep: ExpressionError | undefined;
      try {
        parseExpression(source, { maxExpressionLength: 1_000_000 });
      } catch (error) {
        if (!(error instanceof ExpressionError)) throw error;
        deep = error;
      }
      expect(deep?.code).toBe('too-deep');
      // Work, not time: the parser gives up at the 65th level, so the column it stops at lies within the first 65
      // repetitions of the nesting unit, whatever follows. Checked by breaking the parser's enter(): without the
      // depth check this fails with a RangeError from the exhausted stack; with 20 times the limit, on the column.
      expect(deep?.column).toBeLessThanOrEqual(65 * unit.length);
    },
  );

  it('refuses 65 levels of parentheses and accepts 64', () => {
    expect(refusal('('.repeat(63) + '1' + ')'.repeat(63), context)).toEqual({ code: 'evaluated', message: '1' });
    const deep = refusal('('.repeat(64) + '1' + ')'.repeat(64), context);
    expect(deep.code).toBe('too-deep');
    expect(deep.message).toContain('nested more than 64 levels');
  });

  it('evaluates a long flat chain of operators without exhausting the stack', () => {
    expect(evaluateExpression(Array.from({ length: 2000 }, () => '1').join('+'), context)).toBe(2000);
  });

  it('stops an evaluation that takes too many steps', () => {
    const big = { ...context, trigger: { items: Array.from({ length: 50_000 }, (_, i) => i) } };
    const result = refusal('trigger.items.?[#this > 10].size()', big);
    expect(result.code).toBe('too-complex');
    expect(result.message).toContain('more than 10000 steps');
  });

  it('refuses regular expressions that backtrack catastrophically before running them', () => {
    for (const pattern of ['(a+)+$', '(a*)*b', '(a|aa)+', '(\\w+\\s?)*$', '(x+x+)+y', '(a|a)*', '(.*a){2,}']) {
      // The refusal is decided from the pattern alone (no regex engine answers 'too-complex'), so it costs nothing
      // whatever the input; the empty input shows the input plays no part. An input of 20 characters keeps a
      // broken build quick to fail: without the guard (compileGuardedRegex's refuseCatastrophicPattern call,
      // commented out to check) these evaluate to false and every case fails here.
      for (const input of ['a'.repeat(20) + '!', ''])
        expect(refusal(`'${input}' matches '${pattern.replace(/'/g, "''")}'`, context).code, pattern).toBe(
          'too-complex',
        );
    }
    expect(refusal("'aaa' matches '(a)\\1'", context).message).toContain('backreference');
    expect(evaluateExpression("'abc-def' matches '[a-z]+(-[a-z0-9]*)?'", context)).toBe(true);
  });

  it('refuses over-long regular expressions and inputs', () => {
    expect(refusal(`'a' matches '${'a'.repeat(300)}'`, context).code).toBe('too-long');
    const long = { ...context, trigger: { body: 'a'.repeat(20_000) } };
    expect(refusal("trigger.body matches 'a+'", long).code).toBe('too-long');
    expect(refusal("trigger.body.split(',')", long).code).toBe('too-long');
  });

  it('refuses output over the size limit', () => {
    const big = { ...context, trigger: { blob: 'x'.repeat(700_000) } };
    expect(refusal('trigger.blob + trigger.blob', big).code).toBe('too-long');
    expect(refusal('#toJson({trigger.blob, trigger.blob})', big).code).toBe('too-long');
    expect(refusal("trigger.blob.replace('x', 'yy')", big).code).toBe('too-long');
  });

  it('refuses deeply nested data instead of overflowing the stack', () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 50_000; i++) deep = { child: deep };
    const withDeep = { ...context, trigger: { deep } };
    expect(refusal('#toJson(trigger.deep)', withDeep).code).toBe('too-deep');
    expect(refusal('trigger.deep', withDeep).code).toBe('too-deep');
    expect(refusal('trigger.deep == trigger.deep', withDeep).code).toBe('evaluated');
    const template = evaluateTemplate(deep, context);
    expect(template.ok ? [] : template.failures.map((f) => f.code)).toEqual(['too-deep']);
  });

  it('parses once per expression text', () => {
    const source = `parameters.hellotag + '${Math.random()}'`;
    expect(parseExpression(source)).toBe(parseExpression(source));
  });
});

describe('the implementation', () => {
  it('never compiles code from text', () => {
    const dir = __dirname;
    const sources = readdirSync(dir)
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts'))
      .map((file) => readFileSync(resolve(dir, file), 'utf8'));
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      expect(source).not.toMatch(/\beval\s*\(|new\s+Function\b|\bFunction\s*\(|node:vm|from 'vm'|require\(/);
    }
  });
});
