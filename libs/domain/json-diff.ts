import { formatJsonPath } from './json-path';

/** One difference between two JSON values. */
export interface JsonChange {
  readonly path: string;
  readonly op: 'added' | 'removed' | 'changed';
  readonly before?: unknown;
  readonly after?: unknown;
}

/**
 * A structural diff of two JSON values, with paths in the same form as validation errors. Arrays are compared by
 * position, except arrays of stages, which are matched by refId so that reordering stages reads as no change.
 * Every path indexes the version it describes: a removed key or element (stages included) is named by its place
 * in `before`; an added or changed one by its place in `after`.
 */
export function diffJson(before: unknown, after: unknown): JsonChange[] {
  const changes: JsonChange[] = [];
  walk(before, after, [], changes);
  return changes;
}

function walk(before: unknown, after: unknown, path: PropertyKey[], changes: JsonChange[]): void {
  if (Object.is(before, after)) return;
  if (isObject(before) && isObject(after)) {
    for (const key of Object.keys(before)) {
      if (!Object.hasOwn(after, key))
        changes.push({ path: formatJsonPath([...path, key]), op: 'removed', before: before[key] });
      else walk(before[key], after[key], [...path, key], changes);
    }
    for (const key of Object.keys(after)) {
      if (!Object.hasOwn(before, key))
        changes.push({ path: formatJsonPath([...path, key]), op: 'added', after: after[key] });
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    if (path.length === 1 && path[0] === 'stages' && allHaveRefIds(before) && allHaveRefIds(after)) {
      walkStages(before, after, changes);
      return;
    }
    const shared = Math.min(before.length, after.length);
    for (let i = 0; i < shared; i++) walk(before[i], after[i], [...path, i], changes);
    for (let i = shared; i < before.length; i++)
      changes.push({ path: formatJsonPath([...path, i]), op: 'removed', before: before[i] });
    for (let i = shared; i < after.length; i++)
      changes.push({ path: formatJsonPath([...path, i]), op: 'added', after: after[i] });
    return;
  }
  changes.push({ path: formatJsonPath(path), op: 'changed', before, after });
}

function walkStages(before: Record<string, unknown>[], after: Record<string, unknown>[], changes: JsonChange[]): void {
  const afterByRef = new Map(after.map((stage, index) => [String(stage['refId']), { stage, index }]));
  const beforeRefs = new Set(before.map((stage) => String(stage['refId'])));
  before.forEach((stage, index) => {
    const match = afterByRef.get(String(stage['refId']));
    if (match) walk(stage, match.stage, ['stages', match.index], changes);
    else changes.push({ path: formatJsonPath(['stages', index]), op: 'removed', before: stage });
  });
  after.forEach((stage, index) => {
    if (!beforeRefs.has(String(stage['refId'])))
      changes.push({ path: formatJsonPath(['stages', index]), op: 'added', after: stage });
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function allHaveRefIds(items: unknown[]): items is Record<string, unknown>[] {
  return items.every(
    (item) => isObject(item) && (typeof item['refId'] === 'string' || typeof item['refId'] === 'number'),
  );
}
