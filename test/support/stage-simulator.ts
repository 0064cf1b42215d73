import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from '@kubernetes/client-node';
import { accountsSchema } from '@jibe/config';
import { type KubeSim, type LoggedRequest, type SimCluster, type SimTimings, startKubeSim } from '@jibe/kube-sim';
import { AccountRegistry, KubernetesClusterAdapter } from '@jibe/kubernetes';
import { type KubeObject } from '@jibe/stages';

/**
 * Jibe's real {@link KubernetesClusterAdapter} (client-node, over HTTP) to one simulated cluster, with that cluster's
 * clock: pass it as the stage harness's `clusterPort` (libs/stages/cluster-kit/testing/stage-harness.ts) and a stage's
 * tasks run against the simulator. The cluster's clock is manual and moves only when
 * a task waits (by the time the task asked to wait), so a rollout or a Job takes as long, in stage time, as it
 * would on a cluster with these timings, and no test sleeps.
 */
export class SimulatedStageCluster extends KubernetesClusterAdapter {
  constructor(
    registry: AccountRegistry,
    private readonly simulated: SimCluster,
  ) {
    super(registry);
  }

  /** The simulated cluster's time; a stage run starts there. */
  now(): number {
    return this.simulated.clock.now();
  }

  /** Lets the cluster's controllers and kubelet run for `ms` of simulated time. */
  advance(ms: number): Promise<void> {
    return this.simulated.advance(ms);
  }
}

/**
 * Someone other than Jibe with their own client-node client (field manager `kubectl`): sets a cluster up the way a
 * person or another tool would, and reads it back over HTTP as a user would see it, never through the adapter
 * under test.
 */
export class ClusterUser {
  private readonly objects: KubernetesObjectApi;
  private readonly core: CoreV1Api;

  constructor(kubeconfig: string) {
    const config = new KubeConfig();
    config.loadFromString(kubeconfig);
    this.objects = KubernetesObjectApi.makeApiClient(config);
    this.core = config.makeApiClient(CoreV1Api);
  }

  /** Server-side apply as `kubectl apply --server-side` does (no Jibe label is added). */
  async apply(object: KubeObject): Promise<void> {
    // Only the wire types differ (client-node types timestamps as Date); the JSON sent is the object as given.
    const wire = object as unknown as KubernetesObject;
    await this.objects.patch(wire, undefined, undefined, 'kubectl', true, PatchStrategy.ServerSideApply);
  }

  async createNamespace(name: string): Promise<void> {
    await this.objects.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }

  /** A JSON merge patch, as `kubectl patch --type merge` sends it (e.g. someone scaling a workload by hand). */
  async patch(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    patch: Record<string, unknown>,
  ): Promise<void> {
    const target = { apiVersion, kind, metadata: { name, namespace }, ...patch } as KubernetesObject;
    await this.objects.patch(target, undefined, undefined, 'kubectl', undefined, PatchStrategy.MergePatch);
  }

  /** The object, or undefined when the API answers 404 (`namespace` undefined for a cluster-scoped kind). */
  async get(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
  ): Promise<KubeObject | undefined> {
    try {
      return (await this.objects.read({ apiVersion, kind, metadata: { name, namespace } })) as KubeObject;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }

  async list(apiVersion: string, kind: string, namespace: string, labelSelector?: string): Promise<KubeObject[]> {
    const list = await this.objects.list(
      apiVersion,
      kind,
      namespace,
      undefined,
      undefined,
      undefined,
      undefined,
      labelSelector,
    );
    return list.items as KubeObject[];
  }

  async logs(namespace: string, pod: string): Promise<string> {
    return this.core.readNamespacedPodLog({ namespace, name: pod });
  }
}

/** A simulated cluster, Jibe's account on it, and a user beside Jibe. */
export interface StageSimulator {
  /** The harness's `clusterPort`: Jibe's adapter over HTTP, with the simulator's clock. */
  readonly adapter: SimulatedStageCluster;
  /** The account name stages use (`account` in their config). */
  readonly account: string;
  readonly sim: KubeSim;
  /** The simulated cluster itself (faults, requests it received, controller errors). */
  readonly simulated: SimCluster;
  readonly user: ClusterUser;
  /**
   * A mark in the cluster's request log: `writes()` on it lists the writes made after it (`apply deployments
   * ns/web`, `patch services ns/web`, `delete jobs ns/migrate`, `create jobs ns`), in order. Between the mark and
   * the read only the stage under test should call the cluster, so these are Jibe's writes as an audit log shows them.
   */
  mark(): { writes(): string[] };
  /** Stops the cluster and closes Jibe's client. */
  close(): Promise<void>;
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** `apply deployments ns/web` from a logged request (`/apis/apps/v1/namespaces/ns/deployments/web`). */
function describeWrite(request: LoggedRequest): string {
  const parts = request.path.split('/').filter(Boolean);
  const at = parts.indexOf('namespaces');
  // A namespaced path has `namespaces/<ns>/<plural>[/<name>]`; `/api/v1/namespaces/<name>` is a Namespace itself.
  const namespaced = at >= 0 && parts.length > at + 2;
  const plural = namespaced ? parts[at + 2]! : (parts[at >= 0 ? at : parts.length - 2] ?? '');
  const name = namespaced ? parts.slice(at + 3).join('/') : (parts[at >= 0 ? at + 1 : parts.length - 1] ?? '');
  const where = namespaced ? `${parts[at + 1]}/${name}`.replace(/\/$/, '') : name;
  const verb = request.contentType.includes('apply-patch') ? 'apply' : request.verb;
  return `${verb} ${plural} ${where}`;
}

/**
 * Starts one simulated cluster with a manual clock and an account `account` (default `sim`, every namespace
 * allowed, default namespace `default`) served by it, as the config file's `kind: simulated` accounts are.
 */
export async function startStageSimulator(
  options: { account?: string; timings?: Partial<SimTimings> } = {},
): Promise<StageSimulator> {
  const account = options.account ?? 'sim';
  const name = `${account}-cluster`;
  const sim = await startKubeSim({
    clusters: [{ name, clock: 'manual', ...(options.timings ? { timings: options.timings } : {}) }],
  });
  const simulated = sim.cluster(name);
  const registry = new AccountRegistry(accountsSchema.parse([{ name: account, kind: 'simulated', cluster: name }]), {
    simulatedClusters: { url: (cluster) => sim.cluster(cluster).url },
  });
  return {
    adapter: new SimulatedStageCluster(registry, simulated),
    account,
    sim,
    simulated,
    user: new ClusterUser(sim.kubeconfig(name)),
    mark: () => {
      const log = simulated.requests();
      const last = log.at(-1);
      return {
        writes: () => {
          const now = simulated.requests();
          // The log drops its oldest entries past 10,000; the mark is found again by identity.
          const from = last === undefined ? 0 : now.lastIndexOf(last) + 1;
          return now
            .slice(from)
            .filter((r) => WRITE_VERBS.has(r.verb))
            .map(describeWrite);
        },
      };
    },
    close: async () => {
      await registry.close();
      await sim.stop();
    },
  };
}
