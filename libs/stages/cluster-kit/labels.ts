/**
 * Labels and annotations Jibe puts on everything it creates. `managed-by: jibe` marks what Jibe manages: whatever
 * Jibe applies or creates gets it (a deploy adopts what it applies, as `kubectl apply` and Spinnaker do), and the
 * cluster adapter refuses every other write (patch, scale, traffic switch, rollback, delete) to an object without
 * it, unless the stage says `allowUnmanaged: true` (see `WriteOptions` in cluster.port.ts). The moniker names the
 * application, the cluster (a workload and its versions) and, for versioned workloads, the server group version.
 */
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  application: 'jibe.dev/application',
  cluster: 'jibe.dev/cluster',
  /** `v000`, `v001`, … on each server group (version) of a red/black workload, and on its pods. */
  version: 'jibe.dev/version',
  /** On Jobs Jibe creates: one value per stage run, so a re-run task finds the Job it already created. */
  run: 'jibe.dev/run',
  /** On dbRefresh Jobs: which refresh they belong to, so old ones can be cleaned up. */
  dbRefresh: 'jibe.dev/db-refresh',
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
  /** Which stage run scaled an object in (a run label): a re-run after a crash still restores what it scaled. */
  scaledDownBy: 'jibe.dev/scaled-down-by',
  /** sha256 of a Secret's `data` and `stringData`: the values never leave the cluster, the hash tells a change. */
  secretHash: 'jibe.dev/secret-sha256',
  /** Which execution and stage last deployed the object (for people reading `kubectl describe`). */
  deployedBy: 'jibe.dev/deployed-by',
  /** Helm's hook annotation (`pre-install`, `post-upgrade`, …), mapped onto PreSync/PostSync. */
  helmHook: 'helm.sh/hook',
  /** Spinnaker's: the Services (`["service my-svc"]`) a workload's versions receive traffic from. */
  loadBalancers: 'traffic.spinnaker.io/load-balancers',
  /** Spinnaker's: how many versions of a workload to keep (`maxVersionsToKeep` wins when both are set). */
  maxVersionHistory: 'strategy.spinnaker.io/max-version-history',
  /** sha256 of a versioned workload's manifest: an unchanged manifest re-deploys its version instead of copying it. */
  manifestHash: 'jibe.dev/manifest-sha256',
  /** Spinnaker's: `"true"`/`"false"` forces versioning (`name-vNNN`) on or off for one manifest. */
  versioned: 'strategy.spinnaker.io/versioned',
} as const;
