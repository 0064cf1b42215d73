import { z } from 'zod';
import { type KubeObject, kubeObjectSchema } from '../cluster-kit/cluster.port';
import { ANNOTATIONS } from '../cluster-kit/labels';
import { CLUSTER_SCOPED_KINDS } from '../cluster-kit/manifest';
import { StageFailure } from '../cluster-kit/stage-support';

/** Where a redacted Secret's values are read again when it is applied: its index in the source manifests. */
const secretSourceSchema = z.object({ name: z.string(), namespace: z.string().optional(), index: z.number() });

const deployStepSchema = z.object({
  phase: z.enum(['PreSync', 'Sync', 'PostSync']),
  /** The sync wave (Sync only; namespaces and CRDs go in a wave of their own before every other). */
  wave: z.number().nullable(),
  objects: z.array(kubeObjectSchema),
});

const plannedServerGroupSchema = z.object({
  kind: z.string(),
  name: z.string(),
  namespace: z.string(),
  cluster: z.string(),
  version: z.string(),
  sequence: z.number(),
  /** The newest existing version had the same content, so it is deployed again rather than copied. */
  reused: z.boolean(),
  services: z.array(z.string()),
  trafficNamespace: z.string(),
  maxVersionsToKeep: z.number().nullable(),
});

/** What resolveManifests decides once, so every later task (and every re-run) works from the same plan. */
export const deployPlanSchema = z.object({
  account: z.string(),
  strategy: z.enum(['none', 'redblack', 'highlander']),
  enableTraffic: z.boolean(),
  scaleDown: z.boolean(),
  delayBeforeScaleDownMs: z.number(),
  steps: z.array(deployStepSchema),
  /** Traffic Services from the manifests that did not exist: created at the switch, already pointing at the new version. */
  heldServices: z.array(kubeObjectSchema),
  serverGroups: z.array(plannedServerGroupSchema),
  /** Hooks Jibe does not run (PreDelete, SyncFail, Helm test, …), for the outputs. */
  skippedHooks: z.array(z.string()),
  /** Workloads whose replica count was left to an HPA. */
  hpaManaged: z.array(z.string()),
  secretSources: z.array(secretSourceSchema).optional(),
});

export type DeployPlan = z.output<typeof deployPlanSchema>;
export type DeployStep = z.output<typeof deployStepSchema>;
export type PlannedServerGroup = z.output<typeof plannedServerGroupSchema>;
export type SecretSource = z.output<typeof secretSourceSchema>;

/** Argo CD's order within a wave (gitops-engine `sync_tasks.go` kind order): what others depend on goes first. */
const KIND_ORDER = [
  'Namespace',
  'NetworkPolicy',
  'ResourceQuota',
  'LimitRange',
  'PodSecurityPolicy',
  'PodDisruptionBudget',
  'ServiceAccount',
  'Secret',
  'SecretList',
  'ConfigMap',
  'StorageClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleList',
  'ClusterRoleBinding',
  'ClusterRoleBindingList',
  'Role',
  'RoleList',
  'RoleBinding',
  'RoleBindingList',
  'Service',
  'DaemonSet',
  'Pod',
  'ReplicationController',
  'ReplicaSet',
  'Deployment',
  'HorizontalPodAutoscaler',
  'StatefulSet',
  'Job',
  'CronJob',
  'IngressClass',
  'Ingress',
  'APIService',
];

function kindRank(kind: string): number {
  const index = KIND_ORDER.indexOf(kind);
  return index < 0 ? KIND_ORDER.length : index;
}

export type HookPhase = 'PreSync' | 'Sync' | 'PostSync' | 'Skip' | 'Other';

const HELM_HOOKS: Record<string, HookPhase> = {
  'pre-install': 'PreSync',
  'pre-upgrade': 'PreSync',
  'post-install': 'PostSync',
  'post-upgrade': 'PostSync',
};

/**
 * The phase an object belongs to, from Jibe's, Argo CD's or Helm's hook annotation. An object that is no hook is
 * `Sync`. A hook for a phase a deploy has no equivalent of (PreDelete, SyncFail, Helm test, …) is `Other`.
 */
export function hookPhase(object: KubeObject): HookPhase {
  const annotations = object.metadata.annotations ?? {};
  const raw = annotations[ANNOTATIONS.hook] ?? annotations[ANNOTATIONS.argoHook];
  if (raw !== undefined) {
    const phases = raw.split(',').map((p) => p.trim());
    if (phases.includes('Skip')) return 'Skip';
    if (phases.includes('PreSync')) return 'PreSync';
    if (phases.includes('PostSync')) return 'PostSync';
    if (phases.includes('Sync')) return 'Sync';
    return 'Other';
  }
  const helm = annotations[ANNOTATIONS.helmHook];
  if (helm !== undefined) {
    const phases = helm.split(',').map((p) => HELM_HOOKS[p.trim()] ?? 'Other');
    return phases.find((p) => p !== 'Other') ?? 'Other';
  }
  return 'Sync';
}

export function syncWave(object: KubeObject, where: string): number {
  const annotations = object.metadata.annotations ?? {};
  const raw = annotations[ANNOTATIONS.syncWave] ?? annotations[ANNOTATIONS.argoSyncWave];
  if (raw === undefined) return 0;
  const wave = Number(raw);
  if (!Number.isInteger(wave)) {
    throw new StageFailure(`${where}: sync-wave "${raw}" is not a whole number`, 'INVALID_MANIFEST');
  }
  return wave;
}

/**
 * Orders the objects of one deploy: PreSync hooks, then namespaces and CRDs, then the sync waves ascending (kinds
 * in Argo CD's order within a wave), then PostSync hooks. Each step is applied and must be stable before the next.
 */
export function planSteps(objects: readonly { object: KubeObject; where: string }[]): {
  steps: DeployStep[];
  skippedHooks: string[];
} {
  const pre: KubeObject[] = [];
  const post: KubeObject[] = [];
  const first: KubeObject[] = [];
  const waves = new Map<number, KubeObject[]>();
  const skippedHooks: string[] = [];
  for (const { object, where } of objects) {
    const phase = hookPhase(object);
    if (phase === 'PreSync') pre.push(object);
    else if (phase === 'PostSync') post.push(object);
    else if (phase === 'Skip' || phase === 'Other') skippedHooks.push(`${object.kind} ${object.metadata.name ?? ''}`);
    else if (object.kind === 'Namespace' || object.kind === 'CustomResourceDefinition') first.push(object);
    else {
      const wave = syncWave(object, where);
      waves.set(wave, [...(waves.get(wave) ?? []), object]);
    }
  }
  const byKind = (list: KubeObject[]) =>
    [...list].sort(
      (a, b) => kindRank(a.kind) - kindRank(b.kind) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
    );
  const steps: DeployStep[] = [];
  if (pre.length > 0) steps.push({ phase: 'PreSync', wave: null, objects: byKind(pre) });
  if (first.length > 0) steps.push({ phase: 'Sync', wave: null, objects: byKind(first) });
  for (const wave of [...waves.keys()].sort((a, b) => a - b)) {
    steps.push({ phase: 'Sync', wave, objects: byKind(waves.get(wave)!) });
  }
  if (post.length > 0) steps.push({ phase: 'PostSync', wave: null, objects: byKind(post) });
  return { steps, skippedHooks };
}

export function isNamespaced(kind: string): boolean {
  return !CLUSTER_SCOPED_KINDS.has(kind);
}
