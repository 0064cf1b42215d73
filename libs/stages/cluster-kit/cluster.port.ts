import { isRecord, type KubeObject as DomainKubeObject } from '@jibe/domain';
import { z } from 'zod';

/**
 * What Kubernetes stages may ask of a cluster. Stages are pure: they see clusters only through this port, which
 * `libs/kubernetes` implements with `@kubernetes/client-node` (server-side apply, field manager `jibe`). Every
 * method takes the account name; the adapter enforces the account's allowed namespaces and fails fast, with a
 * clear message, when the account's cluster is unreachable.
 *
 * Errors: a failure worth retrying (network, 429, 5xx, 409 conflict on optimistic writes) is thrown as
 * `TransientError` from `@jibe/domain`; anything else as {@link ClusterError} carrying what Kubernetes answered.
 */

/** Any Kubernetes object, as the port reads and writes it (one shape for Jibe and its simulator). */
export type KubeObject = DomainKubeObject;

/**
 * A {@link KubeObject} kept in a stage's state: checked for what every object has (apiVersion, kind, metadata);
 * the rest is the API server's business, as in the manifests the stage was given.
 */
export const kubeObjectSchema = z.custom<KubeObject>(
  (value) =>
    isRecord(value) &&
    typeof value['apiVersion'] === 'string' &&
    typeof value['kind'] === 'string' &&
    isRecord(value['metadata']),
  'expected a Kubernetes object (apiVersion, kind, metadata)',
);

/** Names one object. `apiVersion` may be left out for the common kinds (the adapter knows their group). */
export interface ObjectRef {
  readonly apiVersion?: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

/** An {@link ObjectRef} as stages keep it in their state (see `StageSpec.state`). */
export const objectRefSchema = z.object({
  apiVersion: z.string().optional(),
  kind: z.string(),
  name: z.string(),
  namespace: z.string().optional(),
});

/** Where an object stands, by the stability rules of docs/spinnaker.md#stability. */
export interface ObjectStatus {
  readonly ref: ObjectRef;
  /** stable: the controller has nothing left to do; failed: it never will (e.g. ProgressDeadlineExceeded). */
  readonly state: 'stable' | 'progressing' | 'failed' | 'missing';
  /** For people: what is being waited for, or what Kubernetes said went wrong. */
  readonly message: string;
}

export interface ListQuery {
  readonly apiVersion?: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly labelSelector?: string;
}

/**
 * Thrown for a failure that retrying will not fix; `status`/`reason` are Kubernetes' own. `code` is the stage
 * failure code a task reports: `KUBERNETES_ERROR` for what Kubernetes refused, `NOT_MANAGED` for what Jibe refused
 * (see {@link WriteOptions}).
 */
export class ClusterError extends Error {
  constructor(
    message: string,
    readonly account: string,
    readonly status?: number,
    readonly reason?: string,
    readonly code: 'KUBERNETES_ERROR' | 'NOT_MANAGED' = 'KUBERNETES_ERROR',
  ) {
    super(message);
    this.name = 'ClusterError';
  }
}

/**
 * Jibe's safety rule for writes to objects that already exist. Applying and creating adopt: what Jibe applies gets
 * `app.kubernetes.io/managed-by: jibe` (as `kubectl apply` and Spinnaker take over what they apply). Every other
 * write (a patch, e.g. a scale, a traffic switch or a rollback; a delete) is refused with a {@link ClusterError} of
 * code `NOT_MANAGED` when the object does not carry that label, unless `allowUnmanaged` is set, which a stage does
 * only when its config says `allowUnmanaged: true`. One exception, by declaration: a traffic switch may set Jibe's
 * two selector keys on a Service the pipeline names as its traffic target, whoever made it (`NAMED_SERVICE_WRITE`
 * in traffic.ts; Spinnaker's own pipelines route through Services made with kubectl).
 */
export interface WriteOptions {
  /** Write even to an object Jibe does not manage (the stage's `allowUnmanaged: true`). */
  readonly allowUnmanaged?: boolean;
}

/** How a delete is made; `dryRun` asks the API (and Jibe's rule) whether it would be allowed, deleting nothing. */
export interface DeleteOptions extends WriteOptions {
  readonly propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  readonly gracePeriodSeconds?: number;
  readonly dryRun?: boolean;
}

/** See the module comment; writes to existing objects follow {@link WriteOptions}' rule. */
export abstract class ClusterPort {
  /** Server-side apply (field manager `jibe`) of each object, in the given order; returns what the API stored. */
  abstract apply(account: string, objects: readonly KubeObject[], options?: { force?: boolean }): Promise<KubeObject[]>;

  /** Creates an object (used when the name is generated, e.g. a Job with `generateName`). */
  abstract create(account: string, object: KubeObject): Promise<KubeObject>;

  /** The object, or null when it does not exist. */
  abstract get(account: string, ref: ObjectRef): Promise<KubeObject | null>;

  abstract list(account: string, query: ListQuery): Promise<KubeObject[]>;

  /**
   * A patch of the given type ('merge' | 'strategic' | 'json'); json takes a JSON Patch array. Refused
   * (`NOT_MANAGED`) on an object Jibe does not manage unless `options.allowUnmanaged`.
   */
  abstract patch(
    account: string,
    ref: ObjectRef,
    patch: unknown,
    type: 'merge' | 'strategic' | 'json',
    options?: WriteOptions,
  ): Promise<KubeObject>;

  /**
   * Deletes the object; false when it was already gone. Refused (`NOT_MANAGED`) on an object Jibe does not manage
   * unless `options.allowUnmanaged`.
   */
  abstract delete(account: string, ref: ObjectRef, options?: DeleteOptions): Promise<boolean>;

  /** Evaluates the object's stability (docs/spinnaker.md#stability and #rollout-status). */
  abstract status(account: string, ref: ObjectRef): Promise<ObjectStatus>;

  /** A pod's log (the named container, or its only one). */
  abstract logs(
    account: string,
    ref: { namespace: string; pod: string; container?: string; tailLines?: number },
  ): Promise<string>;

  /** The namespace a stage should use when neither it nor the manifest names one. */
  abstract defaultNamespace(account: string): string;
}
