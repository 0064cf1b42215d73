import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { renderKubeconfig } from './kubeconfig';
import { type ClusterOptions, SimCluster } from './sim-cluster';

/** Options of {@link startKubeSim}. */
export interface KubeSimOptions {
  /** The clusters to serve, each on its own port. Default: one cluster named `kube-sim`. */
  clusters?: ClusterOptions[];
  /** If set, the kubeconfig is written there once every cluster listens. */
  kubeconfigPath?: string;
  /** Context selected in the kubeconfig (default: the first cluster). */
  currentContext?: string;
}

/** A running simulator: several clusters in one process. */
export class KubeSim {
  constructor(
    readonly clusters: readonly SimCluster[],
    private readonly currentContext?: string,
  ) {}

  /** The cluster of that name; throws if there is none. */
  cluster(name: string): SimCluster {
    const c = this.clusters.find((x) => x.name === name);
    if (!c)
      throw new Error(`kube-sim: no cluster named "${name}" (have: ${this.clusters.map((x) => x.name).join(', ')})`);
    return c;
  }

  /** Kubeconfig YAML with one context per cluster (context name = cluster name). */
  kubeconfig(currentContext = this.currentContext): string {
    return renderKubeconfig(
      this.clusters.map((c) => ({ name: c.name, url: c.url })),
      currentContext,
    );
  }

  /** Writes {@link kubeconfig} to `path` (directories created) and returns the path. */
  async writeKubeconfig(path: string, currentContext?: string): Promise<string> {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, this.kubeconfig(currentContext), { mode: 0o600 });
    return path;
  }

  /** Advances every cluster's clock by `ms`. */
  async advance(ms: number): Promise<void> {
    await Promise.all(this.clusters.map((c) => c.advance(ms)));
  }

  /** Stops every cluster: watches end, connections close, ports are released. */
  async stop(): Promise<void> {
    await Promise.all(this.clusters.map((c) => c.stop()));
  }
}

/**
 * Starts simulated clusters, each an HTTP server speaking the Kubernetes API on its own port.
 *
 * @example
 * const sim = await startKubeSim({ clusters: [{ name: 'sim-staging' }, { name: 'sim-production', clock: 'manual' }] });
 * await sim.writeKubeconfig('/tmp/kubeconfig');
 * await sim.cluster('sim-production').advance(60_000);
 * await sim.stop();
 */
export async function startKubeSim(opts: KubeSimOptions = {}): Promise<KubeSim> {
  const specs = opts.clusters && opts.clusters.length > 0 ? opts.clusters : [{ name: 'kube-sim' }];
  const names = new Set<string>();
  for (const s of specs) {
    if (names.has(s.name)) throw new Error(`kube-sim: duplicate cluster name "${s.name}"`);
    names.add(s.name);
  }
  const started: SimCluster[] = [];
  try {
    for (const s of specs) started.push(await SimCluster.start(s));
  } catch (err) {
    await Promise.all(started.map((c) => c.stop()));
    throw err;
  }
  const sim = new KubeSim(started, opts.currentContext);
  if (opts.kubeconfigPath) await sim.writeKubeconfig(opts.kubeconfigPath);
  return sim;
}
