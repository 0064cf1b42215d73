import {
  ClusterError,
  ClusterPort,
  type KubeObject,
  type ListQuery,
  type ObjectRef,
  type ObjectStatus,
} from '../cluster.port';
import { canonicalKind, CLUSTER_SCOPED_KINDS, isRecord } from '../manifest';

/**
 * An in-memory {@link ClusterPort} for stage specs only (never imported by stage code): objects in a map, apply as a
 * deep merge, stability scripted per object, and a log of every write so specs can assert ordering. It is not a
 * Kubernetes: the simulator and libs/kubernetes cover the real semantics.
 */
export class InMemoryCluster extends ClusterPort {
  private readonly objects = new Map<string, KubeObject>();
  private readonly states = new Map<string, { state: ObjectStatus['state']; message: string }[]>();
  private readonly podLogs = new Map<string, string>();
  private readonly failures: { method: string; error: Error }[] = [];
  private sequence = 0;
  /** Every write, in order: `apply Deployment default/web-v001`, `patch Service default/web {…}`, … */
  readonly calls: string[] = [];
  /** Called after each create (tests use it to add a Job's pods). */
  onCreate?: (object: KubeObject) => void;

  /** Puts an object in the cluster as if someone had created it. */
  seed(account: string, object: KubeObject): KubeObject {
    const stored = this.stamp(structuredClone(object));
    this.objects.set(this.key(account, this.refOf(stored)), stored);
    return stored;
  }

  /** The states `status` will report for an object, one per call; the last one repeats. */
  script(kind: string, name: string, ...states: (ObjectStatus['state'] | [ObjectStatus['state'], string])[]): void {
    this.states.set(
      `${canonicalKind(kind)}/${name}`,
      states.map((s) => (Array.isArray(s) ? { state: s[0], message: s[1] } : { state: s, message: s })),
    );
  }

  setLogs(pod: string, log: string): void {
    this.podLogs.set(pod, log);
  }

  /** The next call of `method` throws `error`. */
  failNext(method: string, error: Error): void {
    this.failures.push({ method, error });
  }

  find(account: string, kind: string, name: string, namespace = 'default'): KubeObject | undefined {
    const object = this.objects.get(this.key(account, { kind, name, namespace }));
    return object ? structuredClone(object) : undefined;
  }

  all(account: string, kind: string): KubeObject[] {
    return [...this.objects.entries()]
      .filter(([key]) => key.startsWith(`${account}|${canonicalKind(kind)}|`))
      .map(([, o]) => structuredClone(o));
  }

  override apply(account: string, objects: readonly KubeObject[]): Promise<KubeObject[]> {
    this.maybeFail('apply');
    const result = objects.map((object) => {
      const ref = this.refOf(object);
      if (!ref.name) throw new ClusterError('metadata.name: Required value', account, 422, 'Invalid');
      const key = this.key(account, ref);
      const existing = this.objects.get(key);
      const merged = existing ? (deepMerge(existing, structuredClone(object)) as KubeObject) : structuredClone(object);
      if (existing) merged.metadata.generation = (existing.metadata.generation ?? 1) + 1;
      const stored = existing ? merged : this.stamp(merged);
      this.objects.set(key, stored);
      this.calls.push(`apply ${ref.kind} ${this.where(ref)}`);
      return structuredClone(stored);
    });
    return Promise.resolve(result);
  }

  override create(account: string, object: KubeObject): Promise<KubeObject> {
    this.maybeFail('create');
    const copy = structuredClone(object);
    if (!copy.metadata.name && copy.metadata.generateName) {
      copy.metadata.name = `${copy.metadata.generateName}${(++this.sequence).toString(36).padStart(5, 'x')}`;
    }
    const ref = this.refOf(copy);
    const key = this.key(account, ref);
    if (this.objects.has(key)) {
      throw new ClusterError(`${ref.kind.toLowerCase()}s "${ref.name}" already exists`, account, 409, 'AlreadyExists');
    }
    const stored = this.stamp(copy);
    this.objects.set(key, stored);
    this.calls.push(`create ${ref.kind} ${this.where(ref)}`);
    this.onCreate?.(structuredClone(stored));
    return Promise.resolve(structuredClone(stored));
  }

  override get(account: string, ref: ObjectRef): Promise<KubeObject | null> {
    this.maybeFail('get');
    const object = this.objects.get(this.key(account, ref));
    return Promise.resolve(object ? structuredClone(object) : null);
  }

  override list(account: string, query: ListQuery): Promise<KubeObject[]> {
    this.maybeFail('list');
    const kind = canonicalKind(query.kind);
    const matches = [...this.objects.entries()]
      .filter(([key]) => key.startsWith(`${account}|${kind}|`))
      .map(([, object]) => object)
      .filter((o) => query.namespace === undefined || (o.metadata.namespace ?? '') === query.namespace)
      .filter((o) => matchesSelector(o.metadata.labels ?? {}, query.labelSelector ?? ''));
    return Promise.resolve(matches.map((o) => structuredClone(o)));
  }

  override patch(
    account: string,
    ref: ObjectRef,
    patch: unknown,
    type: 'merge' | 'strategic' | 'json',
  ): Promise<KubeObject> {
    this.maybeFail('patch');
    const key = this.key(account, ref);
    const existing = this.objects.get(key);
    if (!existing) throw new ClusterError(`${ref.kind} "${ref.name}" not found`, account, 404, 'NotFound');
    const next = type === 'json' ? jsonPatch(existing, patch as JsonOp[]) : (mergePatch(existing, patch) as KubeObject);
    if (JSON.stringify(next.spec) !== JSON.stringify(existing.spec)) {
      next.metadata.generation = (existing.metadata.generation ?? 1) + 1;
    }
    this.objects.set(key, next);
    this.calls.push(`patch ${ref.kind} ${this.where(ref)} ${JSON.stringify(patch)}`);
    return Promise.resolve(structuredClone(next));
  }

  override delete(account: string, ref: ObjectRef): Promise<boolean> {
    this.maybeFail('delete');
    const existed = this.objects.delete(this.key(account, ref));
    if (existed) this.calls.push(`delete ${canonicalKind(ref.kind)} ${this.where(ref)}`);
    return Promise.resolve(existed);
  }

  override status(account: string, ref: ObjectRef): Promise<ObjectStatus> {
    this.maybeFail('status');
    const kind = canonicalKind(ref.kind);
    const object = this.objects.get(this.key(account, ref));
    if (!object) return Promise.resolve({ ref, state: 'missing', message: 'not found' });
    const script = this.states.get(`${kind}/${ref.name}`);
    if (!script || script.length === 0) return Promise.resolve({ ref, state: 'stable', message: 'stable' });
    const next = script.length > 1 ? script.shift()! : script[0]!;
    return Promise.resolve({ ref, state: next.state, message: next.message });
  }

  override logs(_account: string, ref: { namespace: string; pod: string }): Promise<string> {
    this.maybeFail('logs');
    return Promise.resolve(this.podLogs.get(ref.pod) ?? '');
  }

  override defaultNamespace(): string {
    return 'default';
  }

  private maybeFail(method: string): void {
    const index = this.failures.findIndex((f) => f.method === method);
    if (index >= 0) throw this.failures.splice(index, 1)[0]!.error;
  }

  private stamp(object: KubeObject): KubeObject {
    this.sequence += 1;
    object.metadata.uid ??= `uid-${this.sequence}`;
    object.metadata.creationTimestamp ??= new Date(Date.UTC(2026, 0, 1, 0, 0, this.sequence)).toISOString();
    object.metadata.generation ??= 1;
    return object;
  }

  private refOf(object: KubeObject): ObjectRef {
    return { kind: object.kind, name: object.metadata.name ?? '', namespace: object.metadata.namespace };
  }

  private key(account: string, ref: ObjectRef): string {
    const kind = canonicalKind(ref.kind);
    const namespace = CLUSTER_SCOPED_KINDS.has(kind) ? '' : (ref.namespace ?? 'default');
    return `${account}|${kind}|${namespace}|${ref.name}`;
  }

  private where(ref: ObjectRef): string {
    const kind = canonicalKind(ref.kind);
    return CLUSTER_SCOPED_KINDS.has(kind) ? ref.name : `${ref.namespace ?? 'default'}/${ref.name}`;
  }
}

function deepMerge(target: unknown, source: unknown): unknown {
  if (!isRecord(target) || !isRecord(source)) return source;
  const out: Record<string, unknown> = { ...target };
  for (const [key, value] of Object.entries(source)) out[key] = deepMerge(target[key], value);
  return out;
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return patch;
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

type JsonOp = { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown };

function jsonPatch(target: KubeObject, ops: JsonOp[]): KubeObject {
  const doc = structuredClone(target) as unknown as Record<string, unknown>;
  for (const op of ops) {
    const parts = op.path
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    let node = doc;
    for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>;
    const last = parts[parts.length - 1]!;
    if (op.op === 'remove') delete node[last];
    else node[last] = structuredClone(op.value);
  }
  return doc as unknown as KubeObject;
}

/** Equality, inequality and existence terms, comma-separated (what the stages send). */
function matchesSelector(labels: Record<string, string>, selector: string): boolean {
  return selector
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .every((term) => {
      const notEqual = /^([^!=\s]+)\s*!=\s*(.*)$/.exec(term);
      if (notEqual) return labels[notEqual[1]!] !== notEqual[2]!.trim();
      const equal = /^([^!=\s]+)\s*==?\s*(.*)$/.exec(term);
      if (equal) return labels[equal[1]!] === equal[2]!.trim();
      if (term.startsWith('!')) return !(term.slice(1) in labels);
      return term in labels;
    });
}
