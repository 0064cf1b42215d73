import { KubeConfig, Watch } from '@kubernetes/client-node';
import { type KubeSim } from '@jibe/kube-sim';

const POD_VERSION = /-(v\d{3,})-/;

interface Address {
  targetRef?: { name?: string };
}

/**
 * Watches what a Service sends traffic to while a deploy runs, two ways: an in-process sampler that reads the
 * Endpoints, the EndpointSlice and every addressed pod at the same instant (every `everyMs`), and a watch over HTTP
 * with the real client library that sees every write of the Endpoints. Either records a violation when the
 * addresses mix two versions, hold a pod that is not Ready (or a not-ready address at all), or drop to zero once
 * some version has served.
 */
export class TrafficMonitor {
  readonly violations: string[] = [];
  /** Versions seen serving, in order of first appearance. */
  readonly versions: string[] = [];
  samples = 0;
  watchEvents = 0;
  private served = false;
  private timer: NodeJS.Timeout | undefined;
  private abort: AbortController | undefined;

  constructor(
    private readonly sim: KubeSim,
    private readonly cluster: string,
    private readonly namespace: string,
    private readonly service: string,
    private readonly everyMs = 2,
  ) {}

  async start(): Promise<this> {
    this.timer = setInterval(() => this.sample(), this.everyMs);
    const kc = new KubeConfig();
    kc.loadFromString(this.sim.kubeconfig(this.cluster));
    this.abort = await new Watch(kc).watch(
      `/api/v1/namespaces/${this.namespace}/endpoints`,
      { fieldSelector: `metadata.name=${this.service}` },
      (type: string, object: { subsets?: { addresses?: Address[]; notReadyAddresses?: Address[] }[] }) => {
        if (type !== 'ADDED' && type !== 'MODIFIED') return;
        this.watchEvents++;
        const subsets = object.subsets ?? [];
        const ready = subsets.flatMap((s) => s.addresses ?? []);
        const notReady = subsets.flatMap((s) => s.notReadyAddresses ?? []);
        const names = ready.map((a) => a.targetRef?.name ?? '?');
        this.check('watch', names, (name) => POD_VERSION.exec(name)?.[1], notReady.length);
      },
      (error: unknown) => {
        if (error && !this.stopped)
          this.violations.push(`watch ended: ${error instanceof Error ? error.message : JSON.stringify(error)}`);
      },
    );
    return this;
  }

  private stopped = false;

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.abort?.abort();
  }

  private sample(): void {
    const c = this.sim.cluster(this.cluster);
    const endpoints = c.getObject('v1', 'Endpoints', this.namespace, this.service) as
      { subsets?: { addresses?: Address[]; notReadyAddresses?: Address[] }[] } | undefined;
    if (!endpoints) {
      if (this.served) this.violations.push('sampler: the Endpoints object disappeared');
      return;
    }
    this.samples++;
    const subsets = endpoints.subsets ?? [];
    const names = subsets.flatMap((s) => (s.addresses ?? []).map((a) => a.targetRef?.name ?? '?'));
    const notReady = subsets.flatMap((s) => s.notReadyAddresses ?? []).length;
    const pods = new Map(names.map((name) => [name, c.getObject('v1', 'Pod', this.namespace, name)]));
    for (const [name, pod] of pods) {
      const conditions = ((pod?.['status'] as { conditions?: { type: string; status: string }[] } | undefined)
        ?.conditions ?? []) as { type: string; status: string }[];
      if (!pod) this.violations.push(`sampler: address ${name} has no pod`);
      else if (conditions.find((x) => x.type === 'Ready')?.status !== 'True')
        this.violations.push(`sampler: address ${name} is a pod that is not Ready`);
    }
    this.check('sampler', names, (name) => pods.get(name)?.metadata.labels?.['jibe.dev/version'], notReady);
    const slice = c.getObject('discovery.k8s.io/v1', 'EndpointSlice', this.namespace, `${this.service}-sim`) as
      { endpoints?: { conditions?: { ready?: boolean }; targetRef?: { name?: string } }[] } | undefined;
    const sliceNames = (slice?.endpoints ?? []).map((e) => e.targetRef?.name ?? '?');
    const unready = (slice?.endpoints ?? []).filter((e) => e.conditions?.ready !== true).length;
    if (slice) this.check('slice', sliceNames, (name) => POD_VERSION.exec(name)?.[1], unready);
  }

  private check(source: string, names: string[], versionOf: (name: string) => string | undefined, notReady: number) {
    if (notReady > 0)
      this.violations.push(`${source}: ${notReady} not-ready address(es) alongside [${names.join(', ')}]`);
    if (names.length === 0) {
      if (this.served) this.violations.push(`${source}: zero endpoints after traffic had been served`);
      return;
    }
    this.served = true;
    const versions = [...new Set(names.map((n) => versionOf(n) ?? `unversioned ${n}`))];
    if (versions.length > 1) this.violations.push(`${source}: versions mixed: ${names.join(', ')}`);
    for (const v of versions) if (!this.versions.includes(v)) this.versions.push(v);
  }
}
