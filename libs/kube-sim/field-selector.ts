import { type KubeObject, isRecord } from './kube-object';
import { StatusError } from './status-error';

export interface FieldRequirement {
  path: string;
  op: 'eq' | 'neq';
  value: string;
}

const SUPPORTED = new Set([
  'metadata.name',
  'metadata.namespace',
  'status.phase',
  'spec.nodeName',
  'spec.restartPolicy',
  'spec.schedulerName',
  'spec.serviceAccountName',
  'status.podIP',
  'type',
  'involvedObject.name',
  'involvedObject.kind',
  'involvedObject.namespace',
  'involvedObject.uid',
  'reason',
]);

/** Parses `fieldSelector` (`metadata.name=web,status.phase!=Running`); only fields real clients use are allowed. */
export function parseFieldSelector(input: string | undefined | null): FieldRequirement[] {
  if (!input) return [];
  return input
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0)
    .map((term) => {
      const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
      if (!m?.[1] || !m[2] || m[3] === undefined)
        throw StatusError.badRequest(`invalid selector: '${term}'; can't understand '${term}'`);
      if (!SUPPORTED.has(m[1]))
        throw StatusError.badRequest(
          `"${m[1]}" is not a known field selector: only "metadata.name", "metadata.namespace"`,
        );
      return { path: m[1], op: m[2] === '!=' ? 'neq' : 'eq', value: m[3] };
    });
}

function valueAt(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) cur = isRecord(cur) ? cur[part] : undefined;
  return typeof cur === 'string' || typeof cur === 'number' || typeof cur === 'boolean' ? String(cur) : '';
}

export function matchesFields(reqs: FieldRequirement[], obj: KubeObject): boolean {
  return reqs.every((r) => (valueAt(obj, r.path) === r.value) === (r.op === 'eq'));
}
