import { createServer, type Server } from 'node:http';
import { type Server as TlsServer, createServer as createTlsServer } from 'node:https';
import { type Socket } from 'node:net';
import { type ApiAuthentication, ApiServer, type RequestInfo } from './api-server';
import { ClusterApi } from './cluster-api';
import {
  type Controller,
  type ControllerContext,
  DEFAULT_TIMINGS,
  type SimTimings,
} from './controllers/controller-context';
import { DaemonSetController } from './controllers/daemon-set-controller';
import { DeploymentController } from './controllers/deployment-controller';
import { EndpointsController } from './controllers/endpoints-controller';
import { FakeKubelet } from './controllers/fake-kubelet';
import { GarbageCollector } from './controllers/garbage-collector';
import { JobController } from './controllers/job-controller';
import { NamespaceController } from './controllers/namespace-controller';
import { ReplicaSetController } from './controllers/replica-set-controller';
import { StatefulSetController } from './controllers/stateful-set-controller';
import { FaultRegistry } from './faults';
import { type KubeObject, cloneJson } from './kube-object';
import { ObjectStore } from './object-store';
import { ResourceRegistry } from './resource-registry';
import { ManualClock, RealClock, type SimClock } from './sim-clock';
import { WorkQueue } from './work-queue';

/** Options for one simulated cluster. */
export interface ClusterOptions {
  /** Cluster, context and user name in the kubeconfig (e.g. `sim-staging`). */
  name: string;
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** `real` (default): time flows, optionally sped up by `speed`. `manual`: time moves only through `advance()`. */
  clock?: 'real' | 'manual';
  /** Simulated seconds per real second for a real clock (default 1). */
  speed?: number;
  /** Minor version reported by /version; kubectl's dispatcher runs the matching kubectl (default "32"). */
  kubernetesMinor?: string;
  /** Number of nodes (default 3); DaemonSets run one pod per node. */
  nodes?: number;
  /** Kubelet and controller delays (simulated ms). */
  timings?: Partial<SimTimings>;
  /** Real-time interval between watch BOOKMARK events (default 5000). */
  bookmarkIntervalMs?: number;
  /** Real-time window of watch history; resuming from an older resourceVersion gets 410 Gone (default 10 min). */
  historyWindowMs?: number;
  /** Serve HTTPS instead of plain HTTP, as a real API server does. */
  tls?: SimTlsOptions;
  /** Check credentials as a real API server does (see {@link ApiAuthentication}); default: let every request in. */
  authentication?: ApiAuthentication;
}

/** The serving certificate of an HTTPS simulated cluster (PEM), and the CA its client certificates must chain to. */
export interface SimTlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** Like kube-apiserver's `--client-ca-file`: client certificates signed by it authenticate as their CN. */
  clientCa?: string | Buffer;
}

/** One request as the simulator received it, for assertions on what a client sent. */
export interface LoggedRequest {
  method: string;
  path: string;
  query: string;
  contentType: string;
  verb: string;
  userAgent: string;
  /** The authenticated user, when the cluster checks credentials. */
  user?: string;
}

/** One simulated Kubernetes cluster: its API server, store, controllers, clock and faults. */
export class SimCluster {
  readonly name: string;
  readonly clock: SimClock;
  readonly faults: FaultRegistry;
  /** Direct access to the cluster's objects, bypassing HTTP (same validation and write path as the API). */
  readonly api: ClusterApi;
  readonly registry = new ResourceRegistry();
  private readonly store: ObjectStore;
  private readonly queue: WorkQueue;
  private readonly server: Server | TlsServer;
  private readonly apiServer: ApiServer;
  private readonly sockets = new Set<Socket>();
  private readonly log: LoggedRequest[] = [];
  private readonly controllers: Controller[];
  private readonly host: string;
  private boundPort = 0;
  private listening = false;
  private unregisterSettle: (() => void) | undefined;
  private readonly errors: unknown[] = [];

  private constructor(private readonly opts: ClusterOptions) {
    this.name = opts.name;
    this.host = opts.host ?? '127.0.0.1';
    this.clock = opts.clock === 'manual' ? new ManualClock() : new RealClock(opts.speed ?? 1);
    this.store = new ObjectStore({ historyWindowMs: opts.historyWindowMs });
    this.api = new ClusterApi(this.store, this.registry, this.clock);
    this.queue = new WorkQueue((_key, err) => this.errors.push(err));
    this.faults = new FaultRegistry((down) => (down ? this.goDown() : this.comeUp()));
    const r = this.registry;
    const ctx: ControllerContext = {
      api: this.api,
      store: this.store,
      registry: r,
      clock: this.clock,
      queue: this.queue,
      faults: this.faults,
      timings: { ...DEFAULT_TIMINGS, ...opts.timings },
      nodes: Array.from({ length: opts.nodes ?? 3 }, (_, i) => `sim-node-${i + 1}`),
      types: {
        namespace: r.mustForKind('v1', 'Namespace'),
        node: r.mustForKind('v1', 'Node'),
        pod: r.mustForKind('v1', 'Pod'),
        service: r.mustForKind('v1', 'Service'),
        endpoints: r.mustForKind('v1', 'Endpoints'),
        endpointSlice: r.mustForKind('discovery.k8s.io/v1', 'EndpointSlice'),
        pvc: r.mustForKind('v1', 'PersistentVolumeClaim'),
        deployment: r.mustForKind('apps/v1', 'Deployment'),
        replicaSet: r.mustForKind('apps/v1', 'ReplicaSet'),
        statefulSet: r.mustForKind('apps/v1', 'StatefulSet'),
        daemonSet: r.mustForKind('apps/v1', 'DaemonSet'),
        controllerRevision: r.mustForKind('apps/v1', 'ControllerRevision'),
        job: r.mustForKind('batch/v1', 'Job'),
        cronJob: r.mustForKind('batch/v1', 'CronJob'),
      },
    };
    const kubelet = new FakeKubelet(ctx);
    this.controllers = [
      new GarbageCollector(ctx),
      new NamespaceController(ctx),
      kubelet,
      new ReplicaSetController(ctx),
      new DeploymentController(ctx),
      new StatefulSetController(ctx),
      new DaemonSetController(ctx),
      new JobController(ctx),
      new EndpointsController(ctx),
    ];
    this.store.subscribe((e) => {
      for (const c of this.controllers) c.onEvent(e);
    });
    this.apiServer = new ApiServer({
      api: this.api,
      registry: r,
      minorVersion: opts.kubernetesMinor ?? '32',
      logs: kubelet,
      bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 5000,
      ...(opts.authentication ? { authentication: opts.authentication } : {}),
      hooks: {
        beforeRequest: (info) => {
          this.record(info);
          return this.faults.beforeRequest(info);
        },
        takeWatchExpiry: (info) => this.faults.takeWatchExpiry(info),
      },
    });
    const handler = this.apiServer.handle.bind(this.apiServer);
    const tls = opts.tls;
    // A client certificate is asked for but not required, and one that fails verification still connects: the API
    // server answers 401 then (kube-apiserver verifies client certificates in its authenticator, not the handshake).
    this.server = tls
      ? createTlsServer(
          {
            cert: tls.cert,
            key: tls.key,
            ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}),
          },
          handler,
        )
      : createServer(handler);
    this.server.keepAliveTimeout = 30_000;
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    if (this.clock instanceof ManualClock) this.unregisterSettle = this.clock.onSettle(() => this.settle());
    this.bootstrap(ctx);
  }

  /** Creates the cluster and starts listening. */
  static async start(opts: ClusterOptions): Promise<SimCluster> {
    const c = new SimCluster(opts);
    await c.listen(opts.port ?? 0);
    return c;
  }

  private bootstrap(ctx: ControllerContext): void {
    for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease'])
      this.api.create(ctx.types.namespace, undefined, { metadata: { name: ns } });
    ctx.nodes.forEach((name, i) => {
      this.api.create(ctx.types.node, undefined, {
        metadata: {
          name,
          labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' },
        },
        spec: { podCIDR: `10.244.${i}.0/24` },
      });
      const node = this.api.get(ctx.types.node, undefined, name);
      this.api.replaceStatus(ctx.types.node, node, {
        capacity: { cpu: '8', memory: '32Gi', pods: '110' },
        allocatable: { cpu: '8', memory: '32Gi', pods: '110' },
        conditions: [
          { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' },
        ],
        addresses: [
          { type: 'InternalIP', address: `10.128.0.${i + 10}` },
          { type: 'Hostname', address: name },
        ],
        nodeInfo: {
          kubeletVersion: `v1.${this.opts.kubernetesMinor ?? '32'}.0-kube-sim`,
          osImage: 'kube-sim',
          architecture: 'amd64',
          operatingSystem: 'linux',
        },
      });
    });
    this.api.create(ctx.types.service, 'default', {
      metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } },
      spec: { type: 'ClusterIP', ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }] },
    });
  }

  private record(info: RequestInfo): void {
    if (this.log.length >= 10_000) this.log.shift();
    this.log.push({
      method: info.method,
      path: info.path,
      query: info.query.toString(),
      contentType: info.contentType,
      verb: info.verb,
      userAgent: info.userAgent,
      ...(info.user !== undefined ? { user: info.user } : {}),
    });
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.host, () => {
        this.server.off('error', reject);
        const addr = this.server.address();
        if (addr && typeof addr === 'object') this.boundPort = addr.port;
        this.listening = true;
        resolve();
      });
    });
  }

  private async goDown(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private async comeUp(): Promise<void> {
    if (this.listening) return;
    await this.listen(this.boundPort);
  }

  /** `http://127.0.0.1:PORT`, or `https://` when the cluster serves TLS. */
  get url(): string {
    return `${this.opts.tls ? 'https' : 'http'}://${this.host}:${this.boundPort}`;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Moves this cluster's clock forward (see {@link SimClock.advance}). */
  advance(ms: number): Promise<void> {
    return this.clock.advance(ms);
  }

  /** Resolves when the controllers have nothing left to do right now (timers in the future aside). */
  async settle(): Promise<void> {
    for (let i = 0; i < 100 && this.queue.size > 0; i++) await this.queue.whenIdle();
  }

  /** Ends every open watch stream (clients see the server close it and must re-watch). */
  dropWatches(): number {
    return this.apiServer.dropWatches();
  }

  /** Forgets watch history, so that any watch resuming from a resourceVersion seen so far gets 410 Gone. */
  expireWatchHistory(): void {
    this.store.compactAll();
  }

  /** Requests received so far (the last 10,000). */
  requests(): readonly LoggedRequest[] {
    return this.log;
  }

  clearRequests(): void {
    this.log.length = 0;
  }

  /** Errors thrown by controllers (a simulator bug if not empty). */
  controllerErrors(): readonly unknown[] {
    return this.errors;
  }

  /** Reads one object directly (a copy; undefined if absent). */
  getObject(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const obj = this.api.tryGet(this.registry.mustForKind(apiVersion, kind), namespace, name);
    return obj ? cloneJson(obj) : undefined;
  }

  /** Lists objects directly (copies). */
  listObjects(apiVersion: string, kind: string, namespace?: string): KubeObject[] {
    return cloneJson(this.api.list(this.registry.mustForKind(apiVersion, kind), namespace));
  }

  async stop(): Promise<void> {
    this.unregisterSettle?.();
    this.apiServer.dropWatches();
    await this.goDown();
  }
}
