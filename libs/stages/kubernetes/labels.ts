/**
 * Labels and annotations Jibe puts on everything it creates. `managed-by: jibe` is what lets Jibe delete or scale
 * an object: it never touches one without it. The moniker names the application, the cluster (a workload and its
 * versions) and, for versioned workloads, the server group version.
 */
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  application: 'jibe.dev/application',
  cluster: 'jibe.dev/cluster',
  /** `v000`, `v001`, … on each server group (version) of a red/black workload, and on its pods. */
  version: 'jibe.dev/version',
} as const;

export const MANAGED_BY_JIBE = 'jibe';

export const ANNOTATIONS = {
  /** Deploy order within one deployManifest; Argo CD's `argocd.argoproj.io/sync-wave` is read too. */
  syncWave: 'jibe.dev/sync-wave',
  argoSyncWave: 'argocd.argoproj.io/sync-wave',
  /** `PreSync` or `PostSync`: a Job run before or after the waves. */
  hook: 'jibe.dev/hook',
  argoHook: 'argocd.argoproj.io/hook',
  /** Replica count before a scale-in, so the environment can be restored. */
  previousReplicas: 'jibe.dev/previous-replicas',
  /** Which execution and stage last deployed the object (for people reading `kubectl describe`). */
  deployedBy: 'jibe.dev/deployed-by',
} as const;
