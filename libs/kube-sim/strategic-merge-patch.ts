import { deepEqual, isRecord } from './kube-object';
import { StatusError } from './status-error';

export type ListStrategy = { type: 'key'; key: string } | { type: 'set' } | { type: 'atomic' };

const CONTAINER_LISTS = new Set(['containers', 'initContainers', 'ephemeralContainers']);

const KEYED_BY_NAME: Record<string, string> = {
  env: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  volumes: 'name',
  imagePullSecrets: 'name',
  hostAliases: 'ip',
  conditions: 'type',
  ownerReferences: 'uid',
  topologySpreadConstraints: 'topologyKey',
  resourceClaims: 'name',
};

/**
 * How a list merges, from the `patchStrategy`/`patchMergeKey` struct tags of the built-in types
 * (kubernetes/api core/v1/types.go). `path` holds the field names from the root, list indices left out.
 */
export function listStrategy(kind: string, path: readonly string[]): ListStrategy {
  const field = path[path.length - 1] ?? '';
  const parent = path[path.length - 2] ?? '';
  if (path.length === 2 && path[0] === 'metadata' && field === 'finalizers') return { type: 'set' };
  if (CONTAINER_LISTS.has(field)) return { type: 'key', key: 'name' };
  if (field === 'ports') {
    if (CONTAINER_LISTS.has(parent)) return { type: 'key', key: 'containerPort' };
    if (kind === 'Service' && path.length === 2 && path[0] === 'spec') return { type: 'key', key: 'port' };
    return { type: 'atomic' };
  }
  if (field === 'conditions' && path[0] !== 'status') return { type: 'atomic' };
  const key = KEYED_BY_NAME[field];
  if (key) return { type: 'key', key };
  return { type: 'atomic' };
}

const DIRECTIVE = '$patch';
const ORDER_PREFIX = '$setElementOrder/';
const DELETE_PRIMITIVE_PREFIX = '$deleteFromPrimitiveList/';
const RETAIN_KEYS = '$retainKeys';

function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value))
    return value
      .filter((v) => !(isRecord(v) && v[DIRECTIVE] !== undefined && Object.keys(v).length === 1))
      .map(stripDirectives);
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === DIRECTIVE || k === RETAIN_KEYS || k.startsWith(ORDER_PREFIX) || k.startsWith(DELETE_PRIMITIVE_PREFIX))
      continue;
    if (v === null) continue;
    out[k] = stripDirectives(v);
  }
  return out;
}

function mergeMap(kind: string, path: string[], original: unknown, patch: Record<string, unknown>): unknown {
  const directive = patch[DIRECTIVE];
  if (directive === 'replace') return stripDirectives(patch);
  if (directive === 'delete') return undefined;
  let out: Record<string, unknown> = isRecord(original) ? { ...original } : {};
  const retain = patch[RETAIN_KEYS];
  if (Array.isArray(retain)) {
    const keep = new Set(retain.map(String));
    out = Object.fromEntries(Object.entries(out).filter(([k]) => keep.has(k)));
  }
  for (const [key, value] of Object.entries(patch)) {
    if (key === DIRECTIVE || key === RETAIN_KEYS || key.startsWith(ORDER_PREFIX)) continue;
    if (key.startsWith(DELETE_PRIMITIVE_PREFIX)) {
      const field = key.slice(DELETE_PRIMITIVE_PREFIX.length);
      const current = out[field];
      if (Array.isArray(current) && Array.isArray(value))
        out[field] = current.filter((v) => !value.some((d) => deepEqual(d, v)));
      continue;
    }
    if (value === null) {
      delete out[key];
      continue;
    }
    const childPath = [...path, key];
    let merged: unknown;
    if (Array.isArray(value)) merged = mergeList(kind, childPath, out[key], value);
    else if (isRecord(value)) merged = mergeMap(kind, childPath, out[key], value);
    else merged = value;
    if (merged === undefined) delete out[key];
    else out[key] = merged;
  }
  for (const [key, order] of Object.entries(patch)) {
    if (!key.startsWith(ORDER_PREFIX) || !Array.isArray(order)) continue;
    const field = key.slice(ORDER_PREFIX.length);
    const list = out[field];
    if (!Array.isArray(list)) continue;
    out[field] = reorder(listStrategy(kind, [...path, field]), list, order);
  }
  return out;
}

function reorder(strategy: ListStrategy, list: unknown[], order: unknown[]): unknown[] {
  const identity = (item: unknown): string =>
    strategy.type === 'key' && isRecord(item) ? JSON.stringify(item[strategy.key]) : JSON.stringify(item);
  const rank = new Map(order.map((o, i) => [identity(o), i]));
  const ranked = list.filter((item) => rank.has(identity(item)));
  const rest = list.filter((item) => !rank.has(identity(item)));
  ranked.sort((a, b) => (rank.get(identity(a)) ?? 0) - (rank.get(identity(b)) ?? 0));
  return [...ranked, ...rest];
}

function mergeList(kind: string, path: string[], original: unknown, patch: unknown[]): unknown {
  const strategy = listStrategy(kind, path);
  const replaceAll = patch.some((p) => isRecord(p) && p[DIRECTIVE] === 'replace' && Object.keys(p).length === 1);
  if (strategy.type === 'atomic' || replaceAll || !Array.isArray(original)) return stripDirectives(patch);
  if (strategy.type === 'set') {
    const out: unknown[] = [...(original as unknown[])];
    for (const v of patch) if (!out.some((o) => deepEqual(o, v))) out.push(v);
    return out;
  }
  const key = strategy.key;
  const out: unknown[] = [...(original as unknown[])];
  for (const item of patch) {
    if (!isRecord(item))
      throw StatusError.badRequest(`strategic merge patch: list ${path.join('.')} holds a non-object`);
    const id = item[key];
    const idx = out.findIndex((o) => isRecord(o) && deepEqual(o[key], id));
    if (item[DIRECTIVE] === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = mergeMap(kind, path, out[idx], item);
    else out.push(mergeMap(kind, path, {}, item));
  }
  return out;
}

/**
 * Applies a strategic merge patch (the format `kubectl apply` and `kubectl patch` send) to `original`.
 * Supports the `$patch`, `$setElementOrder/`, `$retainKeys` and `$deleteFromPrimitiveList/` directives.
 */
export function applyStrategicMergePatch<T>(original: T, patch: unknown, kind: string): T {
  if (!isRecord(patch)) throw StatusError.badRequest('strategic merge patch must be a JSON object');
  return mergeMap(kind, [], original, patch) as T;
}
