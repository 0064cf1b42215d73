import { ExpressionError } from './expression.errors';
import { type ExpressionContext, type ExpressionStage } from './expression-context';
import { type ExpressionLimits } from './expression-limits';
import { compileGuardedRegex, guardRegexInput } from './expression-regex';
import {
  dataEquals,
  describeValue,
  isPlainArray,
  isPlainObject,
  ownDataEntries,
  readOwnData,
  readOwnElement,
  toJsonText,
  type PlainObject,
} from './expression-values';

/** What a helper or method may consult besides its arguments. */
export interface CallEnvironment {
  readonly context: ExpressionContext;
  readonly limits: ExpressionLimits;
}

interface Callable<R> {
  readonly arity: readonly [min: number, max: number];
  call(receiver: R, args: readonly unknown[], env: CallEnvironment): unknown;
}

function checkedLength(text: string, limits: ExpressionLimits): string {
  if (text.length > limits.maxOutputLength) {
    throw new ExpressionError('too-long', `result is over the limit of ${limits.maxOutputLength} characters`);
  }
  return text;
}

function stringArg(args: readonly unknown[], index: number, callee: string): string {
  const value = args[index];
  if (typeof value !== 'string') {
    throw new ExpressionError(
      'type',
      `${callee} expects a string as argument ${index + 1}, got ${describeValue(value)}`,
    );
  }
  return value;
}

function intArg(args: readonly unknown[], index: number, callee: string): number {
  const value = args[index];
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new ExpressionError(
      'type',
      `${callee} expects a whole number as argument ${index + 1}, got ${describeValue(value)}`,
    );
  }
  return value;
}

function stageView(stage: ExpressionStage): PlainObject {
  return {
    id: stage.id,
    refId: stage.refId,
    name: stage.name,
    type: stage.type,
    status: stage.status,
    context: stage.context ?? {},
    outputs: stage.outputs ?? {},
    startTime: stage.startTime ?? null,
    endTime: stage.endTime ?? null,
  };
}

function stageNames(env: CallEnvironment): string {
  const names = (env.context.stages ?? []).map((s) => `'${s.name}'`);
  return names.length === 0 ? 'the execution has no stages' : `stages: ${names.slice(0, 20).join(', ')}`;
}

function findStageByName(env: CallEnvironment, name: string, callee: string): ExpressionStage {
  const stage = (env.context.stages ?? []).find((s) => s.name === name);
  if (stage === undefined) {
    throw new ExpressionError(
      'not-found',
      `${callee}: no stage named '${name}' in this execution (${stageNames(env)})`,
    );
  }
  return stage;
}

function judgment(env: CallEnvironment, args: readonly unknown[], callee: string): unknown {
  const name = stringArg(args, 0, callee);
  const stage = (env.context.stages ?? []).find((s) => s.name === name && s.type === 'manualJudgment');
  if (stage === undefined) {
    throw new ExpressionError(
      'not-found',
      `${callee}: no manualJudgment stage named '${name}' in this execution (${stageNames(env)})`,
    );
  }
  if (!isPlainObject(stage.context)) return null;
  const input = readOwnData(stage.context, 'judgmentInput');
  return input.found ? input.value : null;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The `#name(...)` helpers, Spinnaker's names and meanings. */
const HELPERS = new Map<string, Callable<undefined>>([
  [
    'stage',
    { arity: [1, 1], call: (_, args, env) => stageView(findStageByName(env, stringArg(args, 0, '#stage'), '#stage')) },
  ],
  [
    'stageExists',
    {
      arity: [1, 1],
      call: (_, args, env) => (env.context.stages ?? []).some((s) => s.name === stringArg(args, 0, '#stageExists')),
    },
  ],
  [
    'stageByRefId',
    {
      arity: [1, 1],
      call: (_, args, env) => {
        const refId = stringArg(args, 0, '#stageByRefId');
        const stage = (env.context.stages ?? []).find((s) => s.refId === refId);
        if (stage === undefined) {
          throw new ExpressionError('not-found', `#stageByRefId: no stage with refId '${refId}' in this execution`);
        }
        return stageView(stage);
      },
    },
  ],
  [
    'currentStage',
    {
      arity: [0, 0],
      call: (_, _args, env) => {
        const stage = (env.context.stages ?? []).find((s) => s.id === env.context.currentStageId);
        if (stage === undefined) {
          throw new ExpressionError('not-found', '#currentStage: these values are not being evaluated for a stage');
        }
        return stageView(stage);
      },
    },
  ],
  ['judgment', { arity: [1, 1], call: (_, args, env) => judgment(env, args, '#judgment') }],
  // Spinnaker accepts both spellings.
  ['judgement', { arity: [1, 1], call: (_, args, env) => judgment(env, args, '#judgement') }],
  ['toJson', { arity: [1, 1], call: (_, args, env) => toJsonText(args[0], env.limits) }],
  [
    'toBase64',
    {
      arity: [1, 1],
      call: (_, args, env) =>
        checkedLength(Buffer.from(stringArg(args, 0, '#toBase64'), 'utf8').toString('base64'), env.limits),
    },
  ],
  [
    'fromBase64',
    {
      arity: [1, 1],
      call: (_, args) => {
        const text = stringArg(args, 0, '#fromBase64').replace(/\s+/g, '');
        if (text.length % 4 === 1 || !BASE64.test(text)) {
          throw new ExpressionError('type', '#fromBase64: the argument is not valid base64');
        }
        return Buffer.from(text, 'base64').toString('utf8');
      },
    },
  ],
  [
    'alphanumerical',
    { arity: [1, 1], call: (_, args) => stringArg(args, 0, '#alphanumerical').replace(/[^A-Za-z0-9]/g, '') },
  ],
  [
    'toInt',
    {
      arity: [1, 1],
      call: (_, args) => {
        const value = args[0];
        if (typeof value === 'number' && Number.isFinite(value)) return Math.trunc(value);
        if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) return Number.parseInt(value, 10);
        throw new ExpressionError('type', `#toInt: cannot convert ${describeValue(value)} to a whole number`);
      },
    },
  ],
  [
    'toFloat',
    {
      arity: [1, 1],
      call: (_, args) => {
        const value = args[0];
        if (typeof value === 'number') return value;
        if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
        throw new ExpressionError('type', `#toFloat: cannot convert ${describeValue(value)} to a number`);
      },
    },
  ],
  [
    'toBoolean',
    {
      arity: [1, 1],
      // Java's Boolean.valueOf: only "true" (any case) is true.
      call: (_, args) => args[0] === true || (typeof args[0] === 'string' && args[0].toLowerCase() === 'true'),
    },
  ],
]);

function javaSplit(text: string, separator: string, env: CallEnvironment): string[] {
  guardRegexInput(text, env.limits);
  const parts = text.split(compileGuardedRegex(separator, 'search', env.limits));
  // Java's String.split drops trailing empty strings.
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

const STRING_METHODS = new Map<string, Callable<string>>([
  ['toLowerCase', { arity: [0, 0], call: (s) => s.toLowerCase() }],
  ['toUpperCase', { arity: [0, 0], call: (s) => s.toUpperCase() }],
  ['trim', { arity: [0, 0], call: (s) => s.trim() }],
  ['length', { arity: [0, 0], call: (s) => s.length }],
  ['isEmpty', { arity: [0, 0], call: (s) => s.length === 0 }],
  ['isBlank', { arity: [0, 0], call: (s) => s.trim().length === 0 }],
  ['toString', { arity: [0, 0], call: (s) => s }],
  ['contains', { arity: [1, 1], call: (s, args) => s.includes(stringArg(args, 0, 'contains')) }],
  ['startsWith', { arity: [1, 1], call: (s, args) => s.startsWith(stringArg(args, 0, 'startsWith')) }],
  ['endsWith', { arity: [1, 1], call: (s, args) => s.endsWith(stringArg(args, 0, 'endsWith')) }],
  ['indexOf', { arity: [1, 1], call: (s, args) => s.indexOf(stringArg(args, 0, 'indexOf')) }],
  ['equals', { arity: [1, 1], call: (s, args) => s === args[0] }],
  [
    'equalsIgnoreCase',
    { arity: [1, 1], call: (s, args) => typeof args[0] === 'string' && s.toLowerCase() === args[0].toLowerCase() },
  ],
  [
    'substring',
    {
      arity: [1, 2],
      call: (s, args) => {
        const begin = intArg(args, 0, 'substring');
        const end = args.length > 1 ? intArg(args, 1, 'substring') : s.length;
        // Java throws rather than clamping; a silently shortened value would be worse than a failed stage.
        if (begin < 0 || end > s.length || begin > end) {
          throw new ExpressionError(
            'type',
            `substring(${begin}, ${end}) is out of range for a string of length ${s.length}`,
          );
        }
        return s.substring(begin, end);
      },
    },
  ],
  [
    'replace',
    {
      arity: [2, 2],
      call: (s, args, env) => {
        const target = stringArg(args, 0, 'replace');
        const replacement = stringArg(args, 1, 'replace');
        // A function replacement keeps `$&` and friends literal, as Java's String.replace does.
        return checkedLength(
          s.replaceAll(target, () => replacement),
          env.limits,
        );
      },
    },
  ],
  [
    'replaceAll',
    {
      arity: [2, 2],
      call: (s, args, env) => {
        guardRegexInput(s, env.limits);
        const pattern = compileGuardedRegex(stringArg(args, 0, 'replaceAll'), 'global', env.limits);
        return checkedLength(s.replace(pattern, stringArg(args, 1, 'replaceAll')), env.limits);
      },
    },
  ],
  ['split', { arity: [1, 1], call: (s, args, env) => javaSplit(s, stringArg(args, 0, 'split'), env) }],
  [
    'matches',
    {
      arity: [1, 1],
      call: (s, args, env) => {
        guardRegexInput(s, env.limits);
        return compileGuardedRegex(stringArg(args, 0, 'matches'), 'whole', env.limits).test(s);
      },
    },
  ],
]);

const LIST_METHODS = new Map<string, Callable<unknown[]>>([
  ['size', { arity: [0, 0], call: (list) => list.length }],
  ['isEmpty', { arity: [0, 0], call: (list) => list.length === 0 }],
  [
    'contains',
    {
      arity: [1, 1],
      call: (list, args, env) =>
        list.some((_, i) => {
          const element = readOwnElement(list, i);
          return dataEquals(element.found ? element.value : null, args[0], env.limits);
        }),
    },
  ],
  [
    'get',
    {
      arity: [1, 1],
      call: (list, args) => {
        const index = intArg(args, 0, 'get');
        const element = readOwnElement(list, index);
        if (!element.found) {
          throw new ExpressionError('unknown-property', `index ${index} is out of range for a list of ${list.length}`);
        }
        return element.value;
      },
    },
  ],
]);

const MAP_METHODS = new Map<string, Callable<PlainObject>>([
  ['size', { arity: [0, 0], call: (map) => ownDataEntries(map).length }],
  ['isEmpty', { arity: [0, 0], call: (map) => ownDataEntries(map).length === 0 }],
  ['containsKey', { arity: [1, 1], call: (map, args) => readOwnData(map, stringArg(args, 0, 'containsKey')).found }],
  [
    'get',
    {
      arity: [1, 1],
      call: (map, args) => {
        const read = readOwnData(map, stringArg(args, 0, 'get'));
        return read.found ? read.value : null;
      },
    },
  ],
  ['keySet', { arity: [0, 0], call: (map) => ownDataEntries(map).map(([key]) => key) }],
  ['values', { arity: [0, 0], call: (map) => ownDataEntries(map).map(([, value]) => value) }],
]);

const SCALAR_METHODS = new Map<string, Callable<number | boolean>>([
  ['toString', { arity: [0, 0], call: (value) => String(value) }],
]);

/** Names accepted after `#`, for early refusal at parse time. */
export const HELPER_NAMES: ReadonlySet<string> = new Set(HELPERS.keys());

/** Every method name that exists on some type, for early refusal at parse time. */
export const METHOD_NAMES: ReadonlySet<string> = new Set([
  ...STRING_METHODS.keys(),
  ...LIST_METHODS.keys(),
  ...MAP_METHODS.keys(),
  ...SCALAR_METHODS.keys(),
]);

function checkArity(callee: string, arity: readonly [number, number], args: readonly unknown[]): void {
  const [min, max] = arity;
  if (args.length < min || args.length > max) {
    const expected = min === max ? `${min}` : `${min} to ${max}`;
    throw new ExpressionError('type', `${callee} takes ${expected} argument(s), got ${args.length}`);
  }
}

export function callHelper(name: string, args: readonly unknown[], env: CallEnvironment): unknown {
  const helper = HELPERS.get(name);
  if (helper === undefined) throw new ExpressionError('not-a-function', `#${name} is not a known helper`);
  checkArity(`#${name}`, helper.arity, args);
  return helper.call(undefined, args, env);
}

/**
 * Calls an allow-listed method chosen by the receiver's data type. The receiver's own properties are never
 * consulted, so data cannot supply or shadow a method.
 */
export function callMethod(receiver: unknown, name: string, args: readonly unknown[], env: CallEnvironment): unknown {
  if (typeof receiver === 'string') return invoke(STRING_METHODS, 'a string', receiver, name, args, env);
  if (typeof receiver === 'number' || typeof receiver === 'boolean') {
    return invoke(SCALAR_METHODS, describeValue(receiver), receiver, name, args, env);
  }
  if (isPlainArray(receiver)) return invoke(LIST_METHODS, 'a list', receiver, name, args, env);
  if (isPlainObject(receiver)) return invoke(MAP_METHODS, 'a map', receiver, name, args, env);
  if (receiver === null || receiver === undefined) {
    throw new ExpressionError('type', `cannot call ${name}() on null (use ?. to allow null)`);
  }
  throw new ExpressionError('forbidden', `cannot call ${name}() on ${describeValue(receiver)}`);
}

function invoke<R>(
  methods: Map<string, Callable<R>>,
  receiverName: string,
  receiver: R,
  name: string,
  args: readonly unknown[],
  env: CallEnvironment,
): unknown {
  const method = methods.get(name);
  if (method === undefined) {
    throw new ExpressionError(
      'not-a-function',
      `${name}() is not an allowed method on ${receiverName}; allowed: ${[...methods.keys()].join(', ')}`,
    );
  }
  checkArity(`${name}()`, method.arity, args);
  return method.call(receiver, args, env);
}
