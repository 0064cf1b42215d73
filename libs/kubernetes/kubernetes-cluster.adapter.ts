import { type KubernetesObject, PatchStrategy } from '@kubernetes/client-node';
import { namespaceAllowed } from '@jibe/config';
import {
  ClusterError,
  ClusterPort,
  type DeleteOptions,
  type KubeObject,
  LABELS,
  type ListQuery,
  MANAGED_BY_JIBE,
  type ObjectRef,
  type ObjectStatus,
  type WriteOptions,
} from '@jibe/stages';
import { isRecord } from '@jibe/domain';
import { type AccountClient, unwrapRaw, withRequestBody } from './account-client';
import { type AccountRegistry } from './account-registry';
import { isNotFound, toPortError } from './cluster-errors';
import { stabilityOf } from './stability';

/** The group/version of kinds a ref may name without `apiVersion`. */
const API_VERSIONS: Record<string, string> = {
  Pod: 'v1',
  Service: 'v1',
  ConfigMap: 'v1',
  Secret: 'v1',
  Namespace: 'v1',
  ServiceAccount: 'v1',
  PersistentVolumeClaim: 'v1',
  Endpoints: 'v1',
  Event: 'v1',
  Deployment: 'apps/v1',
  ReplicaSet: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  ControllerRevision: 'apps/v1',
  Job: 'batch/v1',
  CronJob: 'batch/v1',
  Ingress: 'networking.k8s.io/v1',
  NetworkPolicy: 'networking.k8s.io/v1',
  HorizontalPodAutoscaler: 'autoscaling/v2',
  PodDisruptionBudget: 'policy/v1',
};

/** Fields the API server owns; a manifest copied from a live object may carry them, and SSA refuses some. */
const SERVER_OWNED_METADATA = [
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'managedFields',
  'selfLink',
];

const PATCH_STRATEGIES = {
  merge: PatchStrategy.MergePatch,
  strategic: PatchStrategy.StrategicMergePatch,
  json: PatchStrategy.JsonPatch,
} as const;

/** The field manager of every server-side apply Jibe makes. */
export const FIELD_MANAGER = 'jibe';

/**
 * {@link ClusterPort} over `@kubernetes/client-node`'s KubernetesObjectApi. Every call checks the account's
 * namespace allow-list before any request, runs within the account's own concurrency limit, and reports failures
 * as TransientError (worth retrying) or ClusterError (Kubernetes' own message), each naming the account.
 */
export class KubernetesClusterAdapter extends ClusterPort {
  constructor(private readonly accounts: AccountRegistry) {
    super();
  }

  async apply(account: string, objects: readonly KubeObject[], options?: { force?: boolean }): Promise<KubeObject[]> {
    // Every object is checked before the first is applied, so a refused one leaves the cluster untouched.
    const prepared = await Promise.all(objects.map((o) => this.prepare(account, o, 'apply')));
    const applied: KubeObject[] = [];
    // In order: the caller's order carries meaning (a Namespace before what goes into it).
    for (const object of prepared) {
      const what = `apply ${describe(object)}`;
      applied.push(
        await this.call(account, what, (client) =>
          withRequestBody(JSON.stringify(object), () =>
            client.objects.patch(
              wire(object),
              undefined,
              undefined,
              FIELD_MANAGER,
              options?.force ?? false,
              PatchStrategy.ServerSideApply,
            ),
          ),
        ),
      );
    }
    return applied;
  }

  async create(account: string, object: KubeObject): Promise<KubeObject> {
    const prepared = await this.prepare(account, object, 'create');
    return this.call(account, `create ${describe(prepared)}`, (client) =>
      withRequestBody(JSON.stringify(prepared), () => client.objects.create(wire(prepared))),
    );
  }

  async get(account: string, ref: ObjectRef): Promise<KubeObject | null> {
    const target = await this.target(account, ref, 'get');
    try {
      return await this.call(
        account,
        `get ${describe(target)}`,
        (client) =>
          client.objects.read({ ...wire(target), metadata: { name: ref.name, namespace: target.metadata.namespace } }),
        { notFoundSentinel: true },
      );
    } catch (error) {
      if (error instanceof ObjectMissing) return null;
      throw error;
    }
  }

  async list(account: string, query: ListQuery): Promise<KubeObject[]> {
    const apiVersion = query.apiVersion ?? this.apiVersionOf(account, query.kind);
    const isNamespaceList = apiVersion === 'v1' && query.kind === 'Namespace';
    let namespace: string | undefined;
    const asked = `list ${query.kind} in ${query.namespace ?? this.defaultNamespace(account)}`;
    if (!(await this.scoped(account, asked, () => this.accounts.namespaced(account, apiVersion, query.kind)))) {
      // Listing Namespaces is allowed: the ones outside the allow-list are filtered out below.
      if (!isNamespaceList) this.accounts.assertClusterScoped(account, apiVersion, query.kind, '*');
    } else {
      namespace = query.namespace ?? this.defaultNamespace(account);
      this.accounts.assertNamespace(account, namespace);
    }
    const what = `list ${query.kind}${namespace ? ` in ${namespace}` : ''}${query.labelSelector ? ` (${query.labelSelector})` : ''}`;
    const items: KubeObject[] = [];
    let continueToken: string | undefined;
    do {
      const page = await this.call<{
        apiVersion: string;
        kind: string;
        metadata?: { continue?: string };
        items?: KubeObject[];
      }>(account, what, (client) =>
        client.objects.list(
          apiVersion,
          query.kind,
          namespace,
          undefined,
          undefined,
          undefined,
          undefined,
          query.labelSelector,
          500,
          continueToken,
        ),
      );
      // The API server leaves kind and apiVersion out of the items of a typed list.
      for (const item of page.items ?? []) items.push({ ...item, apiVersion, kind: query.kind });
      continueToken = page.metadata?.continue || undefined;
    } while (continueToken);
    if (!isNamespaceList) return items;
    // Namespaces outside the allow-list are not the account's to see.
    const allowed = this.accounts.get(account).allowedNamespaces;
    return items.filter((ns) => namespaceAllowed(allowed, ns.metadata.name ?? ''));
  }

  async patch(
    account: string,
    ref: ObjectRef,
    patch: unknown,
    type: 'merge' | 'strategic' | 'json',
    options?: WriteOptions,
  ): Promise<KubeObject> {
    const target = await this.target(account, ref, `${type} patch`);
    const checked = await this.managedVersion(account, target, `${type} patch`, options);
    const body = checked === undefined || checked === null ? patch : onlyIfUnchanged(patch, type, checked);
    return this.call(account, `${type} patch ${describe(target)}`, (client) =>
      withRequestBody(JSON.stringify(body), () =>
        client.objects.patch(wire(target), undefined, undefined, FIELD_MANAGER, undefined, PATCH_STRATEGIES[type]),
      ),
    );
  }

  async delete(account: string, ref: ObjectRef, options?: DeleteOptions): Promise<boolean> {
    const target = await this.target(account, ref, 'delete');
    const checked = await this.managedVersion(account, target, 'delete', options);
    if (checked === null) return false;
    try {
      await this.call(
        account,
        `delete ${describe(target)}`,
        (client) =>
          client.objects.delete(
            wire(target),
            undefined,
            options?.dryRun ? 'All' : undefined,
            options?.gracePeriodSeconds,
            undefined,
            options?.propagationPolicy ?? 'Background',
            checked === undefined ? undefined : { preconditions: { resourceVersion: checked } },
          ),
        { notFoundSentinel: true, raw: false },
      );
      return true;
    } catch (error) {
      if (error instanceof ObjectMissing) return false;
      throw error;
    }
  }

  /**
   * Jibe's rule for writes to existing objects (see `WriteOptions`): reads the object and refuses, with code
   * `NOT_MANAGED`, one without `app.kubernetes.io/managed-by: jibe`. Returns the resourceVersion that was checked,
   * for the write to carry as a precondition: a label removed (or the object replaced) between this read and the
   * write then makes the write fail instead of landing. Null when the object does not exist; undefined when the
   * caller allowed unmanaged objects (nothing is read).
   */
  private async managedVersion(
    account: string,
    target: KubeObject,
    verb: string,
    options: WriteOptions | undefined,
  ): Promise<string | null | undefined> {
    if (options?.allowUnmanaged === true) return undefined;
    const ref = { apiVersion: target.apiVersion, kind: target.kind, name: target.metadata.name ?? '' };
    const current = await this.get(account, {
      ...ref,
      ...(target.metadata.namespace ? { namespace: target.metadata.namespace } : {}),
    });
    if (!current) return null;
    if (current.metadata.labels?.[LABELS.managedBy] !== MANAGED_BY_JIBE) {
      throw new ClusterError(
        `account ${account}: refusing to ${verb} ${describe(target)}: it is not managed by Jibe (label ` +
          `${LABELS.managedBy}=${MANAGED_BY_JIBE} missing); set allowUnmanaged: true on the stage to allow it`,
        account,
        undefined,
        undefined,
        'NOT_MANAGED',
      );
    }
    return current.metadata.resourceVersion ?? '';
  }

  async status(account: string, ref: ObjectRef): Promise<ObjectStatus> {
    const namespace = (await this.target(account, ref, 'get')).metadata.namespace;
    const object = await this.get(account, ref);
    if (!object)
      return {
        ref,
        state: 'missing',
        message: `${ref.kind} ${ref.name} does not exist${namespace ? ` in namespace ${namespace}` : ''}`,
      };
    const stability = stabilityOf(object);
    if (stability.state !== 'failed' || !namespace) return { ref, ...stability };
    // "ProgressDeadlineExceeded" says that a rollout failed, not why: the pods' waiting reasons (ErrImagePull,
    // CrashLoopBackOff, …) do, so a failed workload's message carries them.
    const why = await this.podTroubles(account, namespace, object).catch(() => '');
    return { ref, state: stability.state, message: why ? `${stability.message}; pods: ${why}` : stability.message };
  }

  /** Distinct waiting/terminated reasons of the workload's pods, e.g. `ErrImagePull (3): pull access denied`. */
  private async podTroubles(account: string, namespace: string, workload: KubeObject): Promise<string> {
    const matchLabels = (workload.spec?.['selector'] as { matchLabels?: Record<string, string> } | undefined)
      ?.matchLabels;
    if (!matchLabels || Object.keys(matchLabels).length === 0) return '';
    const selector = Object.entries(matchLabels)
      .map(([key, value]) => `${key}=${value}`)
      .join(',');
    const pods = await this.list(account, { kind: 'Pod', namespace, labelSelector: selector });
    const counts = new Map<string, number>();
    for (const pod of pods) {
      const statuses = (pod.status?.['containerStatuses'] ?? []) as {
        state?: {
          waiting?: { reason?: string; message?: string };
          terminated?: { reason?: string; exitCode?: number };
        };
      }[];
      for (const status of statuses) {
        const waiting = status.state?.waiting;
        const terminated = status.state?.terminated;
        const text = waiting?.reason
          ? `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`
          : terminated?.reason && terminated.reason !== 'Completed'
            ? `${terminated.reason} (exit code ${terminated.exitCode ?? '?'})`
            : undefined;
        if (text) counts.set(text, (counts.get(text) ?? 0) + 1);
      }
    }
    return [...counts]
      .slice(0, 3)
      .map(([text, n]) => (n > 1 ? `${text} (${n} pods)` : text))
      .join('; ');
  }

  async logs(
    account: string,
    ref: { namespace: string; pod: string; container?: string; tailLines?: number },
  ): Promise<string> {
    this.accounts.assertNamespace(account, ref.namespace);
    const client = await this.clientOf(account);
    return client
      .run(() =>
        client.core.readNamespacedPodLog({
          name: ref.pod,
          namespace: ref.namespace,
          container: ref.container,
          tailLines: ref.tailLines,
        }),
      )
      .catch((error: unknown) => {
        throw toPortError(account, `logs of pod ${ref.namespace}/${ref.pod}`, error);
      });
  }

  defaultNamespace(account: string): string {
    return this.accounts.get(account).defaultNamespace;
  }

  /** The object as it will be sent: namespace resolved and allowed, Jibe's label on, server-owned fields off. */
  private async prepare(account: string, object: KubeObject, verb: string): Promise<KubeObject> {
    if (!object.kind || !object.metadata)
      throw new ClusterError(`account ${account}: a manifest needs kind and metadata`, account);
    const apiVersion = object.apiVersion || this.apiVersionOf(account, object.kind);
    const metadata: KubeObject['metadata'] = {
      ...object.metadata,
      // Applying adopts: what Jibe applies is Jibe's, whatever managed-by value the manifest came with (a chart's
      // `Helm`), or Jibe could not scale, switch or delete what it deployed itself.
      labels: { ...object.metadata.labels, [LABELS.managedBy]: MANAGED_BY_JIBE },
    };
    for (const field of SERVER_OWNED_METADATA) delete metadata[field];
    const namespace = await this.scoped(account, `${verb} ${describe({ ...object, metadata })}`, () =>
      this.accounts.placement(account, {
        apiVersion,
        kind: object.kind,
        name: metadata.name ?? metadata.generateName ?? '',
        namespace: metadata.namespace,
      }),
    );
    if (namespace === undefined) delete metadata.namespace;
    else metadata.namespace = namespace;
    // Status is the controllers' to write; the API ignores it on apply, so it only makes the request larger.
    const { status: _status, ...rest } = object;
    return { ...rest, apiVersion, metadata };
  }

  /** The object a ref names, its namespace resolved from the cluster's discovery and allowed. */
  private async target(account: string, ref: ObjectRef, verb: string): Promise<KubeObject> {
    const apiVersion = ref.apiVersion ?? this.apiVersionOf(account, ref.kind);
    const asked = `${verb} ${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
    const namespace = await this.scoped(account, asked, () =>
      this.accounts.placement(account, { apiVersion, kind: ref.kind, name: ref.name, namespace: ref.namespace }),
    );
    if (namespace === undefined) return { apiVersion, kind: ref.kind, metadata: { name: ref.name } };
    return { apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace } };
  }

  /** A scope lookup (connect, discovery) with its failures as the port's errors, named after the call `what`. */
  private async scoped<T>(account: string, what: string, lookup: () => Promise<T>): Promise<T> {
    try {
      return await lookup();
    } catch (error) {
      throw toPortError(account, what, error);
    }
  }

  private apiVersionOf(account: string, kind: string): string {
    const known = API_VERSIONS[kind];
    if (!known)
      throw new ClusterError(`account ${account}: give the apiVersion of kind ${kind} (it has no default)`, account);
    return known;
  }

  private async clientOf(account: string): Promise<AccountClient> {
    try {
      return await this.accounts.client(account);
    } catch (error) {
      throw toPortError(account, 'connect', error);
    }
  }

  /**
   * One API call through the account's client: its JSON as the server sent it (unless `raw` is false: delete's
   * answer is parsed by client-node as a Status), or the port's error. With `notFoundSentinel` a 404 is thrown as
   * {@link ObjectMissing} for the caller to turn into null/false.
   */
  private async call<T = KubeObject>(
    account: string,
    what: string,
    operation: (client: AccountClient) => Promise<unknown>,
    { notFoundSentinel = false, raw = true }: { notFoundSentinel?: boolean; raw?: boolean } = {},
  ): Promise<T> {
    const client = await this.clientOf(account);
    try {
      const result = await client.run(() => operation(client));
      return raw ? unwrapRaw<T>(result) : (result as T);
    } catch (error) {
      if (notFoundSentinel && isNotFound(error)) throw new ObjectMissing();
      throw toPortError(account, what, error);
    }
  }
}

/**
 * The patch made conditional on the object Jibe checked: a JSON Patch tests the managed-by label itself (the API
 * refuses the whole patch if it no longer holds); a merge or strategic patch carries the checked resourceVersion,
 * which the API treats as a precondition (409, retried by the engine, which then reads the object again).
 */
function onlyIfUnchanged(patch: unknown, type: 'merge' | 'strategic' | 'json', resourceVersion: string): unknown {
  if (type === 'json') {
    const label = `/metadata/labels/${LABELS.managedBy.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    return [{ op: 'test', path: label, value: MANAGED_BY_JIBE }, ...(Array.isArray(patch) ? (patch as unknown[]) : [])];
  }
  if (!isRecord(patch) || resourceVersion === '') return patch;
  const metadata = isRecord(patch['metadata']) ? patch['metadata'] : {};
  return { ...patch, metadata: { ...metadata, resourceVersion } };
}

/** A 404 on its way to becoming null (get) or false (delete); never leaves the adapter. */
class ObjectMissing extends Error {}

/** Our JSON shape and client-node's typed one differ only in how strictly optional fields are typed. */
function wire(object: KubeObject): KubernetesObject {
  return object as unknown as KubernetesObject;
}

function describe(object: KubeObject): string {
  const ns = object.metadata.namespace;
  return `${object.kind} ${ns ? `${ns}/` : ''}${object.metadata.name ?? object.metadata.generateName ?? ''}`;
}
