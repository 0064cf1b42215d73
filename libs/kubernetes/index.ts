/**
 * Kubernetes for Jibe: the accounts of the config file, their clients (made on first use, one concurrency limit and
 * connection pool per account), and {@link KubernetesClusterAdapter}, the {@link ClusterPort} stages use.
 */
export {
  KubernetesModule,
  kubernetesPortBinding,
  kubernetesRuntime,
  type KubernetesOptions,
  type KubernetesRuntime,
} from './kubernetes.module';
export { KubernetesClusterAdapter, FIELD_MANAGER } from './kubernetes-cluster.adapter';
export { AccountRegistry, type AccountRegistryOptions } from './account-registry';
export { AccountsService, type AccountView, type Reachability, type AccountsServiceOptions } from './accounts.service';
export { SimulatedClusters } from './account-client';
export {
  GoogleTokenSource,
  ApplicationDefaultCredentials,
  type AccessToken,
  type ApplicationDefaultCredentialsOptions,
} from './token-source';
export { stabilityOf, type Stability } from './stability';
export { ConcurrencyLimiter } from './concurrency-limiter';
