import { isRecord } from '@jibe/domain';
import { type KubeObject, type ObjectRef } from './cluster.port';
import { ANNOTATIONS, LABELS, MANAGED_BY_JIBE } from './labels';

/**
 * Kinds by their lower-case spelling. Spinnaker writes kinds in camel case in `manifestName` ("replicaSet web"),
 * Kubernetes in Pascal case; both, and kubectl's short names, name the same kind.
 */
const KIND_ALIASES: Record<string, string> = {
  deployment: 'Deployment',
  deploy: 'Deployment',
  replicaset: 'ReplicaSet',
  rs: 'ReplicaSet',
  statefulset: 'StatefulSet',
  sts: 'StatefulSet',
  daemonset: 'DaemonSet',
  ds: 'DaemonSet',
  job: 'Job',
  cronjob: 'CronJob',
  pod: 'Pod',
  service: 'Service',
  svc: 'Service',
  ingress: 'Ingress',
  configmap: 'ConfigMap',
  cm: 'ConfigMap',
  secret: 'Secret',
  namespace: 'Namespace',
  ns: 'Namespace',
  persistentvolumeclaim: 'PersistentVolumeClaim',
  pvc: 'PersistentVolumeClaim',
  persistentvolume: 'PersistentVolume',
  horizontalpodautoscaler: 'HorizontalPodAutoscaler',
  hpa: 'HorizontalPodAutoscaler',
  customresourcedefinition: 'CustomResourceDefinition',
  crd: 'CustomResourceDefinition',
  serviceaccount: 'ServiceAccount',
  role: 'Role',
  rolebinding: 'RoleBinding',
  clusterrole: 'ClusterRole',
  clusterrolebinding: 'ClusterRoleBinding',
  networkpolicy: 'NetworkPolicy',
  poddisruptionbudget: 'PodDisruptionBudget',
  pdb: 'PodDisruptionBudget',
  storageclass: 'StorageClass',
  priorityclass: 'PriorityClass',
};

/** The canonical spelling of a kind; kinds Jibe does not list (custom resources) are kept as written. */
export function canonicalKind(kind: string): string {
  return KIND_ALIASES[kind.toLowerCase()] ?? kind;
}

/** Kinds that live outside namespaces (the common ones; a custom cluster-scoped kind must carry no namespace). */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  'Namespace',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'APIService',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
]);

/** Workloads that have replicas and can be scaled, versioned and put behind a Service. */
export const SCALABLE_KINDS: ReadonlySet<string> = new Set(['Deployment', 'ReplicaSet', 'StatefulSet']);

/** Kinds whose versions (`name-vNNN`) are server groups a Service can point at. */
export const SERVER_GROUP_KINDS: ReadonlySet<string> = new Set(['Deployment', 'ReplicaSet']);

/**
 * Parses Spinnaker's `"<kind> <name>"` (e.g. `"replicaSet helloworld-v002"`, `"service my-svc"`). Returns undefined
 * for anything else, including Spinnaker's placeholder `" "` in dynamic-target stages.
 */
export function parseKindName(value: string | undefined): { kind: string; name: string } | undefined {
  const match = /^\s*([A-Za-z][A-Za-z0-9.]*)\s+([a-z0-9]([-a-z0-9.]*[a-z0-9])?)\s*$/.exec(value ?? '');
  if (!match) return undefined;
  return { kind: canonicalKind(match[1]!), name: match[2]! };
}

/** `"deployment web"` for people (errors, outputs), Spinnaker's spelling. */
export function describeRef(ref: { kind: string; name: string; namespace?: string }): string {
  const kind = ref.kind.charAt(0).toLowerCase() + ref.kind.slice(1);
  return `${kind} ${ref.name}${ref.namespace ? ` in ${ref.namespace}` : ''}`;
}

export function refOf(object: KubeObject): ObjectRef {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    name: object.metadata.name ?? '',
    ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}),
  };
}

export function isManagedByJibe(object: KubeObject): boolean {
  return object.metadata.labels?.[LABELS.managedBy] === MANAGED_BY_JIBE;
}

/** A deep copy; manifests come from the stage context and must never be changed in place. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Kept here too, where the stages' manifest helpers have always found it; the one definition is in `@jibe/domain`. */
export { isRecord };

/** The `jibe.dev/deployed-by` value: which execution and stage last wrote the object. */
export function deployedBy(executionId: string, stageId: string): string {
  return `${executionId}/${stageId}`;
}

export function withLabels(object: KubeObject, labels: Record<string, string>): void {
  object.metadata.labels = { ...object.metadata.labels, ...labels };
}

export function withAnnotations(object: KubeObject, annotations: Record<string, string>): void {
  object.metadata.annotations = { ...object.metadata.annotations, ...annotations };
}

/** Services named for traffic on a workload through Spinnaker's `traffic.spinnaker.io/load-balancers` annotation. */
export function loadBalancersOf(object: KubeObject): string[] {
  const raw = object.metadata.annotations?.[ANNOTATIONS.loadBalancers];
  if (!raw) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    return Array.isArray(parsed) ? parsed.filter((s): s is string => typeof s === 'string') : [];
  } catch {
    return [];
  }
}

/** The pod template of a workload, or undefined for kinds without one. */
export function podTemplateOf(object: KubeObject): { metadata?: { labels?: Record<string, string> } } | undefined {
  const template = object.spec?.['template'];
  return isRecord(template) ? template : undefined;
}

export function replicasOf(object: KubeObject): number {
  const replicas = object.spec?.['replicas'];
  return typeof replicas === 'number' ? replicas : 1;
}
