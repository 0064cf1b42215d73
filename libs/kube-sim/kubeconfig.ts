import { stringify } from 'yaml';

export interface KubeconfigCluster {
  name: string;
  url: string;
}

/**
 * A kubeconfig with one cluster, user and context per simulated cluster. `insecure-skip-tls-verify` is required:
 * client-node refuses plain-HTTP servers without it (kubernetes-client/javascript src/config.ts).
 */
export function renderKubeconfig(clusters: KubeconfigCluster[], currentContext?: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    clusters: clusters.map((c) => ({ name: c.name, cluster: { server: c.url, 'insecure-skip-tls-verify': true } })),
    users: clusters.map((c) => ({ name: `${c.name}-user`, user: { token: 'kube-sim' } })),
    contexts: clusters.map((c) => ({
      name: c.name,
      context: { cluster: c.name, user: `${c.name}-user`, namespace: 'default' },
    })),
    'current-context': currentContext ?? clusters[0]?.name ?? '',
  });
}
