import { randomUUID } from 'node:crypto';
import { applyDefaults, initialStatus } from './defaults';
import { matchesFields, type FieldRequirement } from './field-selector';
import { applyJsonPatch } from './json-patch';
import { type KubeObject, cloneJson, deepEqual, isRecord, randomSuffix } from './kube-object';
import { matchesSelector, type Selector } from './label-selector';
import { serverSideApply, trackUpdate } from './managed-fields';
import { applyMergePatch } from './merge-patch';
import { type ObjectStore } from './object-store';
import { type ResourceRegistry, type ResourceType } from './resource-registry';
import { type SimClock } from './sim-clock';
import { StatusError } from './status-error';
import { applyStrategicMergePatch } from './strategic-merge-patch';
import { validateObject } from './validation';

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

export const PATCH_CONTENT_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
  'application/apply-patch+json': 'apply',
};

export type Subresource = 'status' | 'scale';

export interface WriteOptions {
  /** Field manager; unset for the simulator's own controllers, whose writes are not tracked in managedFields. */
  fieldManager?: string;
  dryRun?: boolean;
  subresource?: Subresource;
}

export interface PatchOptions extends WriteOptions {
  force?: boolean;
}

export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

export interface DeleteOptions {
  propagationPolicy?: PropagationPolicy;
  gracePeriodSeconds?: number;
  dryRun?: boolean;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface ListOptions {
  labelSelector?: Selector;
  fieldSelector?: FieldRequirement[];
}

/** Fields the server owns; a client's values for them are ignored on update. */
const SERVER_META = [
  'uid',
  'creationTimestamp',
  'generation',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'selfLink',
] as const;

/** A write that changes nothing but managedFields timestamps is a no-op, like the real apiserver's. */
function sameIgnoringManagedTimes(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject): KubeObject => ({
    ...o,
    metadata: { ...o.metadata, managedFields: o.metadata.managedFields?.map((e) => ({ ...e, time: '' })) },
  });
  return deepEqual(strip(a), strip(b));
}

/** Typed decoding in the real apiserver turns `null` into an omitted field (e.g. kubectl's `creationTimestamp: null`). */
function pruneNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(pruneNulls);
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = pruneNulls(v);
  return out;
}

function specOf(obj: KubeObject): unknown {
  const { metadata: _m, status: _s, ...rest } = obj;
  return rest;
}

/**
 * The write path shared by the HTTP API and the controllers: defaulting, validation, generation, resourceVersion
 * preconditions, managedFields, the four patch types, and deletion with finalizers and propagation policies.
 */
export class ClusterApi {
  private serviceIp = 0;
  private nodePort = 0;

  constructor(
    readonly store: ObjectStore,
    readonly registry: ResourceRegistry,
    readonly clock: SimClock,
  ) {}

  timestamp(): string {
    return new Date(this.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  get(r: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const obj = this.store.get(r, r.namespaced ? namespace : undefined, name);
    if (!obj) throw StatusError.notFound(r, name);
    return obj;
  }

  tryGet(r: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(r, r.namespaced ? namespace : undefined, name);
  }

  list(r: ResourceType, namespace: string | undefined, opts: ListOptions = {}): KubeObject[] {
    const items = this.store.list(r, r.namespaced ? namespace : undefined);
    const ls = opts.labelSelector ?? [];
    const fs = opts.fieldSelector ?? [];
    if (ls.length === 0 && fs.length === 0) return items;
    return items.filter((o) => matchesSelector(ls, o.metadata.labels) && matchesFields(fs, o));
  }

  private checkNamespace(r: ResourceType, namespace: string | undefined): void {
    if (!r.namespaced) return;
    if (!namespace)
      throw StatusError.badRequest('the server could not find the requested resource: namespace is required');
    const nsType = this.registry.mustForKind('v1', 'Namespace');
    const ns = this.store.get(nsType, undefined, namespace);
    if (!ns) throw StatusError.notFound(nsType, namespace);
    if (ns.metadata.deletionTimestamp)
      throw new StatusError(
        403,
        'Forbidden',
        `${r.plural}${r.group ? `.${r.group}` : ''} "${'<new>'}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
        { kind: r.plural, group: r.group },
      );
  }

  private normalizeBody(r: ResourceType, namespace: string | undefined, body: unknown): KubeObject {
    if (!isRecord(body)) throw StatusError.badRequest('the request body must be a JSON object');
    const obj = pruneNulls(cloneJson(body)) as KubeObject;
    if (obj.kind !== undefined && obj.kind !== r.kind)
      throw StatusError.badRequest(
        `the body of the request was in an unknown format - expected kind ${r.kind}, got ${String(obj.kind)}`,
      );
    obj.kind = r.kind;
    obj.apiVersion = r.apiVersion;
    if (!isRecord(obj.metadata)) obj.metadata = {};
    if (r.namespaced) {
      if (obj.metadata.namespace && namespace && obj.metadata.namespace !== namespace)
        throw StatusError.badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      obj.metadata.namespace = namespace ?? obj.metadata.namespace;
    } else delete obj.metadata.namespace;
    return obj;
  }

  private readonly defaulting = {
    allocateClusterIP: (): string => {
      const n = this.serviceIp++;
      return `10.96.${Math.floor(n / 250) % 256}.${(n % 250) + 1}`;
    },
    allocateNodePort: (): number => 30000 + (this.nodePort++ % 2768),
  };

  create(r: ResourceType, namespace: string | undefined, body: unknown, opts: WriteOptions = {}): KubeObject {
    const obj = this.normalizeBody(r, namespace, body);
    return this.createObject(r, obj, opts, undefined);
  }

  private createObject(
    r: ResourceType,
    obj: KubeObject,
    opts: WriteOptions,
    managedFields: KubeObject['metadata']['managedFields'],
  ): KubeObject {
    const meta = obj.metadata;
    if (!meta.name) {
      if (!meta.generateName)
        throw StatusError.invalid(r, '', [
          {
            field: 'metadata.name',
            message: 'Required value: name or generateName is required',
            reason: 'FieldValueRequired',
          },
        ]);
      meta.name = `${meta.generateName}${randomSuffix(5)}`;
    }
    this.checkNamespace(r, meta.namespace);
    if (this.store.get(r, meta.namespace, meta.name)) throw StatusError.alreadyExists(r, meta.name);
    for (const k of SERVER_META) delete meta[k];
    meta.uid = randomUUID();
    meta.creationTimestamp = this.timestamp();
    meta.generation = 1;
    delete meta.managedFields;
    obj.status = initialStatus(obj);
    if (obj.status === undefined) delete obj.status;
    applyDefaults(obj, undefined, this.defaulting);
    const causes = validateObject(obj, undefined);
    if (causes.length > 0) throw StatusError.invalid(r, meta.name, causes);
    if (managedFields) meta.managedFields = managedFields;
    else if (opts.fieldManager)
      meta.managedFields = trackUpdate(undefined, obj, {
        manager: opts.fieldManager,
        kind: r.kind,
        apiVersion: r.apiVersion,
        now: this.timestamp(),
      });
    if (opts.dryRun) return { ...obj, metadata: { ...meta, resourceVersion: String(this.store.currentRv()) } };
    meta.resourceVersion = String(this.store.nextRv());
    this.store.put(r, obj, 'ADDED');
    return obj;
  }

  /** PUT: replaces the object (or only its status), honouring a resourceVersion precondition when one is sent. */
  update(
    r: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    opts: WriteOptions = {},
  ): KubeObject {
    const current = this.get(r, namespace, name);
    if (opts.subresource === 'scale') return this.updateScale(r, current, body, opts);
    const incoming = this.normalizeBody(r, current.metadata.namespace, body);
    if (incoming.metadata.name && incoming.metadata.name !== name)
      throw StatusError.badRequest(
        `the name of the object (${incoming.metadata.name}) does not match the name on the URL (${name})`,
      );
    incoming.metadata.name = name;
    return this.commitUpdate(r, current, incoming, opts, undefined);
  }

  private commitUpdate(
    r: ResourceType,
    current: KubeObject,
    incoming: KubeObject,
    opts: WriteOptions,
    managedFields: KubeObject['metadata']['managedFields'] | undefined,
  ): KubeObject {
    const name = current.metadata.name ?? '';
    const rv = incoming.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion) throw StatusError.conflict(r, name);
    let next: KubeObject;
    if (opts.subresource === 'status') {
      next = { ...cloneJson(current), status: incoming.status };
    } else {
      next = incoming;
      for (const k of SERVER_META) {
        if (current.metadata[k] === undefined) delete next.metadata[k];
        else (next.metadata as Record<string, unknown>)[k] = current.metadata[k];
      }
      if (current.status === undefined) delete next.status;
      else next.status = cloneJson(current.status);
      applyDefaults(next, current, this.defaulting);
      const causes = validateObject(next, current);
      if (causes.length > 0) throw StatusError.invalid(r, name, causes);
      if (!deepEqual(specOf(next), specOf(current))) next.metadata.generation = (current.metadata.generation ?? 1) + 1;
    }
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    const clientManagedFields = incoming.metadata.managedFields;
    if (managedFields) next.metadata.managedFields = managedFields;
    else if (clientManagedFields !== undefined && !deepEqual(clientManagedFields, current.metadata.managedFields))
      next.metadata.managedFields = clientManagedFields;
    else if (opts.fieldManager)
      next.metadata.managedFields = trackUpdate(current, next, {
        manager: opts.fieldManager,
        kind: r.kind,
        apiVersion: r.apiVersion,
        now: this.timestamp(),
        ...(opts.subresource ? { subresource: opts.subresource } : {}),
      });
    else if (current.metadata.managedFields) next.metadata.managedFields = current.metadata.managedFields;
    else delete next.metadata.managedFields;
    if (sameIgnoringManagedTimes(next, current)) return current;
    if (opts.dryRun) return next;
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0) {
      this.store.remove(r, next);
      return next;
    }
    next.metadata.resourceVersion = String(this.store.nextRv());
    this.store.put(r, next, 'MODIFIED', current);
    return next;
  }

  /** Controllers' write: replaces the stored object unconditionally (they read and write within one macrotask). */
  replace(r: ResourceType, next: KubeObject): KubeObject {
    const current = this.tryGet(r, next.metadata.namespace, next.metadata.name ?? '');
    if (!current) return next;
    return this.commitUpdate(
      r,
      current,
      { ...next, metadata: { ...next.metadata, resourceVersion: current.metadata.resourceVersion } },
      {},
      undefined,
    );
  }

  /** Controllers' write of spec and status together (the kubelet binding a pod and reporting its state at once). */
  replaceWithStatus(r: ResourceType, next: KubeObject): KubeObject {
    const current = this.tryGet(r, next.metadata.namespace, next.metadata.name ?? '');
    if (!current) return next;
    const saved = this.replace(r, next);
    return this.replaceStatus(r, saved, next.status);
  }

  /** Controllers' status write. */
  replaceStatus(r: ResourceType, obj: KubeObject, status: unknown): KubeObject {
    const current = this.tryGet(r, obj.metadata.namespace, obj.metadata.name ?? '');
    if (!current) return obj;
    return this.commitUpdate(r, current, { ...current, status }, { subresource: 'status' }, undefined);
  }

  scaleOf(r: ResourceType, obj: KubeObject): KubeObject {
    const spec = (obj.spec ?? {}) as { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
    const status = (obj.status ?? {}) as { replicas?: number };
    const selector = Object.entries(spec.selector?.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: obj.metadata.name,
        namespace: obj.metadata.namespace,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
        creationTimestamp: obj.metadata.creationTimestamp,
      },
      spec: { replicas: spec.replicas ?? 0 },
      status: { replicas: status.replicas ?? 0, selector },
    };
  }

  private updateScale(r: ResourceType, current: KubeObject, body: unknown, opts: WriteOptions): KubeObject {
    if (!r.subresources.includes('scale')) throw StatusError.notFound(r, current.metadata.name ?? '');
    const scale = isRecord(body)
      ? (body as { metadata?: { resourceVersion?: string }; spec?: { replicas?: unknown } })
      : {};
    const replicas = scale.spec?.replicas;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0)
      throw StatusError.invalid(r, current.metadata.name ?? '', [
        { field: 'spec.replicas', message: `Invalid value: ${String(replicas)}: must be greater than or equal to 0` },
      ]);
    const next = cloneJson(current);
    (next.spec as { replicas?: number }).replicas = replicas;
    const rv = scale.metadata?.resourceVersion;
    if (rv) next.metadata.resourceVersion = rv;
    else delete next.metadata.resourceVersion;
    const saved = this.commitUpdate(r, current, next, { ...opts, subresource: undefined }, undefined);
    return this.scaleOf(r, saved);
  }

  patch(
    r: ResourceType,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    body: unknown,
    opts: PatchOptions = {},
  ): KubeObject {
    if (type === 'apply' && !opts.fieldManager)
      throw new StatusError(
        422,
        'Invalid',
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
        {
          group: 'meta.k8s.io',
          kind: 'PatchOptions',
          causes: [
            {
              reason: 'FieldValueRequired',
              message: 'Required value: is required for apply patch',
              field: 'fieldManager',
            },
          ],
        },
      );
    if (type !== 'apply' && opts.force !== undefined)
      throw new StatusError(
        422,
        'Invalid',
        'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch',
        {
          group: 'meta.k8s.io',
          kind: 'PatchOptions',
          causes: [
            {
              reason: 'FieldValueForbidden',
              message: 'Forbidden: may not be specified for non-apply patch',
              field: 'force',
            },
          ],
        },
      );
    const current = this.tryGet(r, namespace, name);
    if (!current) {
      if (type !== 'apply' || opts.subresource) throw StatusError.notFound(r, name);
      const applied = this.normalizeBody(r, namespace, body);
      if (applied.metadata.name && applied.metadata.name !== name)
        throw StatusError.badRequest(
          `the name of the object (${applied.metadata.name}) does not match the name on the URL (${name})`,
        );
      applied.metadata.name = name;
      const merged = serverSideApply(undefined, applied, this.applyOptions(r, opts));
      return this.createObject(r, merged, opts, merged.metadata.managedFields);
    }
    if (opts.subresource === 'scale') {
      const scale = this.scaleOf(r, current);
      const patched = this.patchDocument(r, scale, type, body, opts);
      return this.updateScale(r, current, patched, opts);
    }
    if (type === 'apply') {
      const applied = this.normalizeBody(r, current.metadata.namespace, body);
      const merged = serverSideApply(current, applied, this.applyOptions(r, opts));
      if (!applied.metadata.resourceVersion) merged.metadata.resourceVersion = current.metadata.resourceVersion;
      return this.commitUpdate(r, current, merged, opts, merged.metadata.managedFields);
    }
    const patched = pruneNulls(this.patchDocument(r, current, type, body, opts)) as KubeObject;
    if (!isRecord(patched) || !isRecord(patched.metadata))
      throw StatusError.badRequest('patch produced an object without metadata');
    patched.metadata.name = name;
    return this.commitUpdate(r, current, patched, opts, undefined);
  }

  private applyOptions(r: ResourceType, opts: PatchOptions): Parameters<typeof serverSideApply>[2] {
    return {
      manager: opts.fieldManager ?? '',
      force: opts.force === true,
      kind: r.kind,
      apiVersion: r.apiVersion,
      now: this.timestamp(),
      ...(opts.subresource ? { subresource: opts.subresource } : {}),
    };
  }

  private patchDocument(
    r: ResourceType,
    doc: KubeObject,
    type: PatchType,
    body: unknown,
    opts: PatchOptions,
  ): KubeObject {
    switch (type) {
      case 'json':
        return applyJsonPatch(doc, body);
      case 'merge':
        if (!isRecord(body)) throw StatusError.badRequest('merge patch must be a JSON object');
        return applyMergePatch(doc, body) as KubeObject;
      case 'strategic':
        return applyStrategicMergePatch(doc, body, doc.kind);
      case 'apply':
        return serverSideApply(doc, this.normalizeScaleApply(doc, body), this.applyOptions(r, opts));
    }
  }

  private normalizeScaleApply(doc: KubeObject, body: unknown): KubeObject {
    if (!isRecord(body)) throw StatusError.badRequest('apply patch must be an object');
    return {
      ...(body as KubeObject),
      kind: doc.kind,
      apiVersion: doc.apiVersion,
      metadata: { name: doc.metadata.name },
    };
  }

  /**
   * DELETE. Objects with finalizers (including the ones Foreground and Orphan propagation add, and namespaces)
   * are only marked with deletionTimestamp; the garbage collector and namespace controller finish the job.
   * Returns the object while it is still present, or null once it is gone.
   */
  delete(r: ResourceType, namespace: string | undefined, name: string, opts: DeleteOptions = {}): KubeObject | null {
    const current = this.get(r, namespace, name);
    const pre = opts.preconditions;
    if (
      (pre?.uid && pre.uid !== current.metadata.uid) ||
      (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion)
    )
      throw StatusError.conflict(r, name);
    if (opts.dryRun) return current;
    const policy = opts.propagationPolicy ?? (r.kind === 'Namespace' ? 'Background' : 'Background');
    const finalizers = [...(current.metadata.finalizers ?? [])];
    const hasDependents = current.metadata.uid ? this.store.dependents(current.metadata.uid).length > 0 : false;
    if (policy === 'Foreground' && hasDependents && !finalizers.includes('foregroundDeletion'))
      finalizers.push('foregroundDeletion');
    if (policy === 'Orphan' && hasDependents && !finalizers.includes('orphan')) finalizers.push('orphan');
    const next = cloneJson(current);
    if (r.kind === 'Namespace') {
      if (current.metadata.deletionTimestamp) return current;
      next.metadata.deletionTimestamp = this.timestamp();
      next.status = { ...(isRecord(next.status) ? next.status : {}), phase: 'Terminating' };
      return this.commitMarked(r, current, next);
    }
    if (r.kind === 'Pod') {
      const grace =
        opts.gracePeriodSeconds ??
        (next.spec as { terminationGracePeriodSeconds?: number }).terminationGracePeriodSeconds ??
        30;
      const scheduled = !!(current.spec as { nodeName?: string }).nodeName;
      const phase = (current.status as { phase?: string } | undefined)?.phase;
      const running = scheduled && phase !== 'Succeeded' && phase !== 'Failed';
      if ((grace > 0 && running) || finalizers.length > 0) {
        if (
          current.metadata.deletionTimestamp &&
          grace > 0 &&
          finalizers.length === (current.metadata.finalizers ?? []).length
        )
          return current;
        if (grace > 0 && running) {
          next.metadata.deletionTimestamp = new Date(this.clock.now() + grace * 1000)
            .toISOString()
            .replace(/\.\d{3}Z$/, 'Z');
          next.metadata.deletionGracePeriodSeconds = grace;
          next.metadata.finalizers = finalizers.length > 0 ? finalizers : undefined;
          if (!next.metadata.finalizers) delete next.metadata.finalizers;
          return this.commitMarked(r, current, next);
        }
      }
    }
    if (finalizers.length > 0) {
      if (current.metadata.deletionTimestamp && deepEqual(finalizers, current.metadata.finalizers)) return current;
      next.metadata.finalizers = finalizers;
      next.metadata.deletionTimestamp ??= this.timestamp();
      next.metadata.deletionGracePeriodSeconds ??= 0;
      return this.commitMarked(r, current, next);
    }
    this.store.remove(r, current);
    return null;
  }

  /** Final removal of a pod whose kubelet has finished terminating it (graceful deletion's second half). */
  removeNow(r: ResourceType, obj: KubeObject): void {
    const current = this.tryGet(r, obj.metadata.namespace, obj.metadata.name ?? '');
    if (!current) return;
    if ((current.metadata.finalizers ?? []).length > 0) return;
    this.store.remove(r, current);
  }

  private commitMarked(r: ResourceType, current: KubeObject, next: KubeObject): KubeObject {
    next.metadata.resourceVersion = String(this.store.nextRv());
    this.store.put(r, next, 'MODIFIED', current);
    return next;
  }
}
