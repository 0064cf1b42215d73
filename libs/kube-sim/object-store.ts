import { type KubeObject } from './kube-object';
import { type ResourceType } from './resource-registry';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One committed change; `previous` lets watchers with selectors turn "left the selector" into DELETED. */
export interface StoreEvent {
  rv: number;
  type: WatchEventType;
  resource: ResourceType;
  object: KubeObject;
  previous?: KubeObject;
  /** Wall-clock time of the write, for the retention window (watch history is about real clients, not sim time). */
  at: number;
}

export interface StoreOptions {
  /** How long change history is kept for watches that resume from a resourceVersion (default 10 minutes). */
  historyWindowMs?: number;
  /** Upper bound on kept history, whatever its age. */
  historyMaxEvents?: number;
}

interface Ref {
  resource: ResourceType;
  namespace: string;
  name: string;
}

/**
 * The in-memory etcd of one cluster: objects by resource, namespace and name; one resourceVersion counter; a
 * bounded history of changes for watches; indexes by uid and by owner uid for the garbage collector and controllers.
 * Objects handed out are the stored ones and must be treated as immutable; writers store fresh objects.
 */
export class ObjectStore {
  private rv = 1000;
  private readonly tables = new Map<string, Map<string, Map<string, KubeObject>>>();
  private readonly byUid = new Map<string, Ref>();
  private readonly byOwner = new Map<string, Set<string>>();
  private readonly refs = new Map<string, Ref>();
  private history: StoreEvent[] = [];
  private compactedRv = 0;
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  private readonly windowMs: number;
  private readonly maxEvents: number;

  constructor(opts: StoreOptions = {}) {
    this.windowMs = opts.historyWindowMs ?? 10 * 60_000;
    this.maxEvents = opts.historyMaxEvents ?? 200_000;
  }

  currentRv(): number {
    return this.rv;
  }

  /** Reserves a resourceVersion for a write that is about to happen. */
  nextRv(): number {
    return ++this.rv;
  }

  get(resource: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.tables
      .get(resource.key)
      ?.get(namespace ?? '')
      ?.get(name);
  }

  /** Objects of one resource, in one namespace or all; sorted by namespace then name like the real list order. */
  list(resource: ResourceType, namespace?: string): KubeObject[] {
    const table = this.tables.get(resource.key);
    if (!table) return [];
    const out: KubeObject[] = [];
    if (namespace !== undefined) {
      const ns = table.get(namespace);
      if (ns) out.push(...ns.values());
    } else {
      for (const nsName of [...table.keys()].sort()) out.push(...(table.get(nsName)?.values() ?? []));
    }
    return out.sort((a, b) =>
      (a.metadata.namespace ?? '') === (b.metadata.namespace ?? '')
        ? (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '')
        : (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? ''),
    );
  }

  countInNamespace(namespace: string): number {
    let n = 0;
    for (const table of this.tables.values()) n += table.get(namespace)?.size ?? 0;
    return n;
  }

  resourcesInNamespace(namespace: string): ResourceType[] {
    const out: ResourceType[] = [];
    for (const table of this.tables.values()) {
      const any = table.get(namespace)?.values().next();
      if (any && !any.done) {
        const ref = this.byUid.get(any.value.metadata.uid ?? '');
        if (ref) out.push(ref.resource);
      }
    }
    return out;
  }

  findByUid(uid: string): { resource: ResourceType; object: KubeObject } | undefined {
    const ref = this.byUid.get(uid);
    if (!ref) return undefined;
    const object = this.get(ref.resource, ref.namespace, ref.name);
    return object ? { resource: ref.resource, object } : undefined;
  }

  /** Objects whose ownerReferences name `uid`. */
  dependents(uid: string): { resource: ResourceType; object: KubeObject }[] {
    const keys = this.byOwner.get(uid);
    if (!keys) return [];
    const out: { resource: ResourceType; object: KubeObject }[] = [];
    for (const k of keys) {
      const ref = this.refs.get(k);
      const object = ref && this.get(ref.resource, ref.namespace, ref.name);
      if (ref && object) out.push({ resource: ref.resource, object });
    }
    return out;
  }

  /** Stores `object` (whose metadata.resourceVersion the caller set from {@link nextRv}) and emits the event. */
  put(resource: ResourceType, object: KubeObject, type: 'ADDED' | 'MODIFIED', previous?: KubeObject): void {
    const ns = object.metadata.namespace ?? '';
    const name = object.metadata.name ?? '';
    let table = this.tables.get(resource.key);
    if (!table) {
      table = new Map();
      this.tables.set(resource.key, table);
    }
    let nsMap = table.get(ns);
    if (!nsMap) {
      nsMap = new Map();
      table.set(ns, nsMap);
    }
    nsMap.set(name, object);
    const refKey = `${resource.key}\u0000${ns}\u0000${name}`;
    const ref = { resource, namespace: ns, name };
    this.refs.set(refKey, ref);
    if (object.metadata.uid) this.byUid.set(object.metadata.uid, ref);
    if (previous) this.unindexOwners(previous, refKey);
    for (const o of object.metadata.ownerReferences ?? []) {
      let set = this.byOwner.get(o.uid);
      if (!set) {
        set = new Set();
        this.byOwner.set(o.uid, set);
      }
      set.add(refKey);
    }
    this.emit({ rv: Number(object.metadata.resourceVersion), type, resource, object, previous, at: Date.now() });
  }

  remove(resource: ResourceType, object: KubeObject): void {
    const ns = object.metadata.namespace ?? '';
    const name = object.metadata.name ?? '';
    const nsMap = this.tables.get(resource.key)?.get(ns);
    const previous = nsMap?.get(name);
    if (!nsMap || !previous) return;
    nsMap.delete(name);
    const refKey = `${resource.key}\u0000${ns}\u0000${name}`;
    this.refs.delete(refKey);
    if (previous.metadata.uid) this.byUid.delete(previous.metadata.uid);
    this.unindexOwners(previous, refKey);
    const rv = this.nextRv();
    const deleted: KubeObject = { ...object, metadata: { ...object.metadata, resourceVersion: String(rv) } };
    this.emit({ rv, type: 'DELETED', resource, object: deleted, previous, at: Date.now() });
  }

  private unindexOwners(obj: KubeObject, refKey: string): void {
    for (const o of obj.metadata.ownerReferences ?? []) {
      const set = this.byOwner.get(o.uid);
      set?.delete(refKey);
      if (set?.size === 0) this.byOwner.delete(o.uid);
    }
  }

  subscribe(listener: (e: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: StoreEvent): void {
    this.history.push(e);
    if (this.history.length % 1024 === 0 || this.history.length > this.maxEvents) this.compact();
    for (const l of this.listeners) l(e);
  }

  private compact(): void {
    const cutoff = Date.now() - this.windowMs;
    let drop = 0;
    while (
      drop < this.history.length &&
      (this.history.length - drop > this.maxEvents || (this.history[drop]?.at ?? 0) < cutoff)
    )
      drop++;
    if (drop === 0) return;
    this.compactedRv = this.history[drop - 1]?.rv ?? this.compactedRv;
    this.history = this.history.slice(drop);
  }

  /** Forgets all history up to now, so that any watch resuming from an older resourceVersion gets 410 Gone. */
  compactAll(): void {
    this.compactedRv = this.rv;
    this.history = [];
  }

  /** Changes after `rv`, or 'expired' when some of them have been compacted away (410 Gone for the client). */
  eventsAfter(rv: number): StoreEvent[] | 'expired' {
    if (rv < this.compactedRv) return 'expired';
    let lo = 0;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.history[mid]?.rv ?? 0) <= rv) lo = mid + 1;
      else hi = mid;
    }
    return this.history.slice(lo);
  }

  oldestRv(): number {
    return this.compactedRv;
  }
}
