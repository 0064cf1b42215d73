import { type JibeConfig, LOCAL_MODE_ACCOUNTS } from '@jibe/config';
import { type KubeSim, startKubeSim } from '@jibe/kube-sim';
import { SimulatedClusters } from '@jibe/kubernetes';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The two simulated clusters of local mode, served in this process, and where their kubeconfig was written. */
export interface LocalClusters {
  readonly sim: KubeSim;
  readonly simulatedClusters: SimulatedClusters;
  readonly kubeconfigPath: string;
}

/**
 * Starts `sim-staging` and `sim-production` on free loopback ports and writes a kubeconfig for them under `.jibe/`,
 * so people can watch what Jibe does with the real kubectl (`kubectl --kubeconfig .jibe/kubeconfig get pods -A`).
 */
export async function startLocalClusters(config: JibeConfig): Promise<LocalClusters | undefined> {
  if (!config.localMode) return undefined;
  const directory = resolve('.jibe');
  mkdirSync(directory, { recursive: true });
  const kubeconfigPath = join(directory, 'kubeconfig');
  const sim = await startKubeSim({ clusters: LOCAL_MODE_ACCOUNTS.map((name) => ({ name })), kubeconfigPath });
  class LocalSimulatedClusters extends SimulatedClusters {
    url(cluster: string): string {
      return sim.cluster(cluster).url;
    }
  }
  return { sim, simulatedClusters: new LocalSimulatedClusters(), kubeconfigPath };
}
