import { deepEqual, isRecord } from './kube-object';
import { StatusError } from './status-error';

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw invalidPatch(`invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function invalidPatch(message: string): StatusError {
  return new StatusError(422, 'Invalid', `the server rejected our request due to an error in our request: ${message}`);
}

function parentOf(doc: unknown, parts: string[]): { parent: unknown; last: string } {
  let cur = doc;
  for (const p of parts.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isRecord(cur)) cur = cur[p];
    else cur = undefined;
    if (cur === undefined) throw invalidPatch(`doc is missing path: "/${parts.join('/')}"`);
  }
  return { parent: cur, last: parts[parts.length - 1] ?? '' };
}

function get(doc: unknown, parts: string[]): unknown {
  let cur = doc;
  for (const p of parts) {
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isRecord(cur)) cur = cur[p];
    else return undefined;
  }
  return cur;
}

function add(doc: unknown, parts: string[], value: unknown): unknown {
  if (parts.length === 0) return value;
  const { parent, last } = parentOf(doc, parts);
  if (Array.isArray(parent)) {
    const idx = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(idx) || idx < 0 || idx > parent.length) throw invalidPatch(`index out of range: ${last}`);
    parent.splice(idx, 0, value);
  } else if (isRecord(parent)) parent[last] = value;
  else throw invalidPatch(`doc is missing path: "/${parts.join('/')}"`);
  return doc;
}

function remove(doc: unknown, parts: string[]): unknown {
  const { parent, last } = parentOf(doc, parts);
  if (Array.isArray(parent)) {
    const idx = Number(last);
    if (!Number.isInteger(idx) || idx < 0 || idx >= parent.length) throw invalidPatch(`index out of range: ${last}`);
    parent.splice(idx, 1);
  } else if (isRecord(parent) && Object.prototype.hasOwnProperty.call(parent, last)) delete parent[last];
  else throw invalidPatch(`unable to remove nonexistent key: ${last}: missing value`);
  return doc;
}

/** RFC 6902 JSON Patch, applied to a copy of `target`. */
export function applyJsonPatch<T>(target: T, patch: unknown): T {
  if (!Array.isArray(patch))
    throw invalidPatch('json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp');
  let doc: unknown = JSON.parse(JSON.stringify(target));
  for (const raw of patch as unknown[]) {
    if (!isRecord(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string')
      throw invalidPatch('invalid JSON patch operation');
    const op = raw as unknown as Operation;
    const parts = parsePointer(op.path);
    switch (op.op) {
      case 'add':
        doc = add(doc, parts, structuredClone(op.value));
        break;
      case 'remove':
        doc = remove(doc, parts);
        break;
      case 'replace':
        if (parts.length > 0 && get(doc, parts) === undefined)
          throw invalidPatch(`replace operation does not apply: doc is missing key: ${op.path}: missing value`);
        if (parts.length > 0) doc = remove(doc, parts);
        doc = add(doc, parts, structuredClone(op.value));
        break;
      case 'move':
      case 'copy': {
        const from = parsePointer(op.from ?? '');
        const value = get(doc, from);
        if (value === undefined) throw invalidPatch(`doc is missing from path: ${op.from ?? ''}`);
        if (op.op === 'move') doc = remove(doc, from);
        doc = add(doc, parts, structuredClone(value));
        break;
      }
      case 'test':
        if (!deepEqual(get(doc, parts), op.value)) throw invalidPatch(`testing value ${op.path} failed: test failed`);
        break;
      default:
        throw invalidPatch(`unexpected kind: ${op.op}`);
    }
  }
  return doc as T;
}
