import { type KubeObject, type ManagedFieldsEntry, deepEqual, isRecord, type JsonObject } from './kube-object';
import { StatusError } from './status-error';
import { applyStrategicMergePatch, listStrategy } from './strategic-merge-patch';

/** One field path in fieldsV1 vocabulary: `f:spec`, `k:{"name":"web"}`, `v:"x"`, and `.` for "the element itself". */
export type FieldPath = string[];

interface Leaf {
  path: FieldPath;
  value: unknown;
}

type Scope = 'main' | 'status';

const SKIPPED_META = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
]);

const key = (path: FieldPath): string => path.join('\u0000');

function walk(value: unknown, kind: string, names: string[], path: FieldPath, out: Map<string, Leaf>): void {
  if (isRecord(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      walk(v, kind, [...names, k], [...path, `f:${k}`], out);
    }
    return;
  }
  if (Array.isArray(value) && value.length > 0) {
    const strategy = listStrategy(kind, names);
    if (strategy.type === 'key' && value.every((v) => isRecord(v) && v[strategy.key] !== undefined)) {
      for (const item of value as Record<string, unknown>[]) {
        const el = `k:${JSON.stringify({ [strategy.key]: item[strategy.key] })}`;
        const elPath = [...path, el];
        out.set(key([...elPath, '.']), { path: [...elPath, '.'], value: true });
        for (const [k, v] of Object.entries(item)) walk(v, kind, [...names, k], [...elPath, `f:${k}`], out);
      }
      return;
    }
    if (strategy.type === 'set') {
      for (const item of value) {
        const p = [...path, `v:${JSON.stringify(item)}`];
        out.set(key(p), { path: p, value: true });
      }
      return;
    }
  }
  out.set(key(path), { path, value });
}

/** The leaf fields an object sets, as the field manager would record them. */
export function leafFields(obj: unknown, kind: string, scope: Scope = 'main'): Map<string, Leaf> {
  const out = new Map<string, Leaf>();
  if (!isRecord(obj)) return out;
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || v === undefined) continue;
    if ((k === 'status') !== (scope === 'status')) continue;
    if (k === 'metadata' && isRecord(v)) {
      for (const [mk, mv] of Object.entries(v)) {
        if (SKIPPED_META.has(mk) || mv === undefined) continue;
        walk(mv, kind, ['metadata', mk], ['f:metadata', `f:${mk}`], out);
      }
      continue;
    }
    walk(v, kind, [k], [`f:${k}`], out);
  }
  return out;
}

export function toFieldsV1(paths: Iterable<FieldPath>): JsonObject {
  const root: JsonObject = {};
  for (const path of paths) {
    let node = root;
    for (const el of path) {
      const next = node[el];
      if (isRecord(next)) node = next;
      else {
        const created: JsonObject = {};
        node[el] = created;
        node = created;
      }
    }
  }
  return root;
}

export function fromFieldsV1(tree: unknown, prefix: FieldPath = []): FieldPath[] {
  if (!isRecord(tree)) return [];
  const entries = Object.entries(tree);
  if (entries.length === 0) return prefix.length > 0 ? [prefix] : [];
  const out: FieldPath[] = [];
  for (const [k, v] of entries) {
    if (k === '.') out.push([...prefix, '.']);
    else out.push(...fromFieldsV1(v, [...prefix, k]));
  }
  return out;
}

function valueAt(obj: unknown, path: FieldPath): unknown {
  let cur: unknown = obj;
  for (const el of path) {
    if (cur === undefined) return undefined;
    if (el === '.') return cur === undefined ? undefined : true;
    if (el.startsWith('f:')) cur = isRecord(cur) ? cur[el.slice(2)] : undefined;
    else if (el.startsWith('k:')) {
      const match = JSON.parse(el.slice(2)) as Record<string, unknown>;
      cur = Array.isArray(cur)
        ? cur.find((item) => isRecord(item) && Object.entries(match).every(([mk, mv]) => deepEqual(item[mk], mv)))
        : undefined;
    } else if (el.startsWith('v:')) {
      const v: unknown = JSON.parse(el.slice(2));
      return Array.isArray(cur) && cur.some((item) => deepEqual(item, v)) ? true : undefined;
    } else return undefined;
  }
  return cur;
}

function removeAt(obj: unknown, path: FieldPath): void {
  const last = path[path.length - 1];
  if (last === undefined) return;
  if (last === '.') {
    const elPath = path.slice(0, -1);
    const el = elPath[elPath.length - 1];
    const list = valueAt(obj, elPath.slice(0, -1));
    if (!el?.startsWith('k:') || !Array.isArray(list)) return;
    const match = JSON.parse(el.slice(2)) as Record<string, unknown>;
    const idx = list.findIndex(
      (item) => isRecord(item) && Object.entries(match).every(([mk, mv]) => deepEqual(item[mk], mv)),
    );
    if (idx >= 0) list.splice(idx, 1);
    return;
  }
  const parent = valueAt(obj, path.slice(0, -1));
  if (last.startsWith('f:') && isRecord(parent)) delete parent[last.slice(2)];
  else if (last.startsWith('v:') && Array.isArray(parent)) {
    const v: unknown = JSON.parse(last.slice(2));
    const idx = parent.findIndex((item) => deepEqual(item, v));
    if (idx >= 0) parent.splice(idx, 1);
  }
}

/** `.spec.template.spec.containers[name="web"].image`, the way apply conflicts name fields. */
export function describePath(path: FieldPath): string {
  let out = '';
  for (const el of path) {
    if (el === '.') continue;
    if (el.startsWith('f:')) out += `.${el.slice(2)}`;
    else if (el.startsWith('k:')) {
      const match = JSON.parse(el.slice(2)) as Record<string, unknown>;
      out += `[${Object.entries(match)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(',')}]`;
    } else if (el.startsWith('v:')) out += `[=${el.slice(2)}]`;
  }
  return out;
}

interface ManagerSet {
  entry: ManagedFieldsEntry;
  fields: Map<string, FieldPath>;
}

function parseEntries(obj: KubeObject | undefined): ManagerSet[] {
  return (obj?.metadata.managedFields ?? []).map((entry) => ({
    entry,
    fields: new Map(fromFieldsV1(entry.fieldsV1).map((p) => [key(p), p])),
  }));
}

function render(sets: ManagerSet[]): ManagedFieldsEntry[] {
  return sets.filter((s) => s.fields.size > 0).map((s) => ({ ...s.entry, fieldsV1: toFieldsV1(s.fields.values()) }));
}

function sameEntry(
  e: ManagedFieldsEntry,
  manager: string,
  operation: 'Apply' | 'Update',
  subresource?: string,
): boolean {
  return e.manager === manager && e.operation === operation && (e.subresource ?? '') === (subresource ?? '');
}

export interface ApplyOptions {
  manager: string;
  force: boolean;
  kind: string;
  apiVersion: string;
  now: string;
  subresource?: string;
}

/**
 * Server-side apply, with a simplified ownership model: each manager owns a set of leaf fields; applying a value
 * that differs from one another manager owns is a conflict unless forced; fields a manager applied before and
 * no longer applies are removed when nobody else owns them.
 */
export function serverSideApply(current: KubeObject | undefined, applied: KubeObject, opts: ApplyOptions): KubeObject {
  const scope: Scope = opts.subresource === 'status' ? 'status' : 'main';
  const appliedLeaves = leafFields(applied, opts.kind, scope);
  const sets = parseEntries(current);
  const conflicts = new Map<string, FieldPath[]>();
  for (const s of sets) {
    if (s.entry.manager === opts.manager) continue;
    for (const [k, leaf] of appliedLeaves) {
      if (!s.fields.has(k)) continue;
      if (deepEqual(valueAt(current, leaf.path), leaf.value)) continue;
      const list = conflicts.get(s.entry.manager) ?? [];
      list.push(leaf.path);
      conflicts.set(s.entry.manager, list);
      if (opts.force) s.fields.delete(k);
    }
  }
  if (conflicts.size > 0 && !opts.force) throw applyConflict(conflicts, opts.apiVersion);

  const base: KubeObject = current
    ? structuredClone(current)
    : { apiVersion: applied.apiVersion, kind: applied.kind, metadata: {} };
  const patch = structuredClone(applied) as Record<string, unknown>;
  if (isRecord(patch.metadata)) delete patch.metadata.managedFields;
  const merged = applyStrategicMergePatch(base, patch, opts.kind);

  let own = sets.find((s) => sameEntry(s.entry, opts.manager, 'Apply', opts.subresource));
  if (own) {
    for (const [k, p] of own.fields) {
      if (appliedLeaves.has(k)) continue;
      const ownedElsewhere = sets.some((s) => s !== own && s.fields.has(k));
      if (!ownedElsewhere) removeAt(merged, p);
    }
  } else {
    own = {
      entry: {
        manager: opts.manager,
        operation: 'Apply',
        apiVersion: opts.apiVersion,
        time: opts.now,
        fieldsType: 'FieldsV1',
        fieldsV1: {},
        ...(opts.subresource ? { subresource: opts.subresource } : {}),
      },
      fields: new Map(),
    };
    sets.push(own);
  }
  own.fields = new Map([...appliedLeaves].map(([k, l]) => [k, l.path]));
  own.entry = { ...own.entry, time: opts.now, apiVersion: opts.apiVersion };
  merged.metadata.managedFields = render(sets);
  return merged;
}

function applyConflict(conflicts: Map<string, FieldPath[]>, apiVersion: string): StatusError {
  const total = [...conflicts.values()].reduce((n, l) => n + l.length, 0);
  const parts: string[] = [];
  for (const [manager, paths] of conflicts) {
    if (total === 1 && paths[0])
      parts.push(`conflict with "${manager}" using ${apiVersion}: ${describePath(paths[0])}`);
    else
      parts.push(
        `conflicts with "${manager}" using ${apiVersion}:\n${paths.map((p) => `- ${describePath(p)}`).join('\n')}`,
      );
  }
  const causes = [...conflicts].flatMap(([manager, paths]) =>
    paths.map((p) => ({
      reason: 'FieldManagerConflict',
      message: `conflict with "${manager}" using ${apiVersion}`,
      field: describePath(p),
    })),
  );
  return new StatusError(
    409,
    'Conflict',
    `Apply failed with ${total} conflict${total === 1 ? '' : 's'}: ${parts.join('\n')}`,
    {
      causes,
    },
  );
}

export interface UpdateOptions {
  manager: string;
  kind: string;
  apiVersion: string;
  now: string;
  subresource?: string;
}

/**
 * Records an Update operation: the manager takes ownership of every field it changed, other managers lose them.
 * Returns the managedFields for the new object.
 */
export function trackUpdate(
  previous: KubeObject | undefined,
  next: KubeObject,
  opts: UpdateOptions,
): ManagedFieldsEntry[] {
  const scope: Scope = opts.subresource === 'status' ? 'status' : 'main';
  const before = previous ? leafFields(previous, opts.kind, scope) : new Map<string, Leaf>();
  const after = leafFields(next, opts.kind, scope);
  const changed = new Map<string, FieldPath>();
  for (const [k, leaf] of after) {
    const old = before.get(k);
    if (!old || !deepEqual(old.value, leaf.value)) changed.set(k, leaf.path);
  }
  const removed = [...before.keys()].filter((k) => !after.has(k));
  const sets = parseEntries(previous);
  if (changed.size === 0 && removed.length === 0) return previous?.metadata.managedFields ?? [];
  for (const s of sets) {
    for (const k of changed.keys()) s.fields.delete(k);
    for (const k of removed) s.fields.delete(k);
  }
  let own = sets.find((s) => sameEntry(s.entry, opts.manager, 'Update', opts.subresource));
  if (!own) {
    own = {
      entry: {
        manager: opts.manager,
        operation: 'Update',
        apiVersion: opts.apiVersion,
        time: opts.now,
        fieldsType: 'FieldsV1',
        fieldsV1: {},
        ...(opts.subresource ? { subresource: opts.subresource } : {}),
      },
      fields: new Map(),
    };
    sets.push(own);
  }
  for (const [k, p] of changed) own.fields.set(k, p);
  own.entry = { ...own.entry, time: opts.now };
  return render(sets);
}
