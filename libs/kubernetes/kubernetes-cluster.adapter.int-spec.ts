import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { KubeConfig, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import { type AccountConfig, accountsSchema } from '@jibe/config';
import { TransientError } from '@jibe/domain';
import { type KubeSim, startKubeSim } from '@jibe/kube-sim';
import { ClusterError, type KubeObject, type ObjectStatus } from '@jibe/stages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountRegistry } from './account-registry';
import { AccountsService } from './accounts.service';
import { KubernetesClusterAdapter } from './kubernetes-cluster.adapter';
import { type AccessToken, GoogleTokenSource } from './token-source';
import { rejection } from '../../test/support/rejection';

class FakeTokenSource extends GoogleTokenSource {
  calls = 0;
  accessToken(): Promise<AccessToken> {
    this.calls++;
    return Promise.resolve({ token: 'fake-gke-token', expiresAt: Date.now() + 3_600_000 });
  }
}

/** A pass-through proxy in front of a simulated cluster that records the Authorization header of each request. */
async function recordingProxy(target: string): Promise<{ server: Server; url: string; authorizations: string[] }> {
  const authorizations: string[] = [];
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    authorizations.push(req.headers.authorization ?? '');
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, authorizations };
}

/**
 * Counts what the HTTP client (undici, through its diagnostics channels) does while a test runs: connections it
 * tries to open to `port`, and the most requests whose path starts with `pathPrefix` in flight at once.
 */
function watchHttpClient(filter: { port?: string; pathPrefix?: string }) {
  const counts = { connectionAttempts: 0, maxInFlight: 0 };
  const open = new Set<object>();
  const onConnect = (message: unknown): void => {
    if (String((message as { connectParams: { port: unknown } }).connectParams.port) === filter.port)
      counts.connectionAttempts++;
  };
  const onCreate = (message: unknown): void => {
    const { request } = message as { request: { path: string } };
    if (filter.pathPrefix === undefined || !request.path.startsWith(filter.pathPrefix)) return;
    open.add(request);
    counts.maxInFlight = Math.max(counts.maxInFlight, open.size);
  };
  const onEnd = (message: unknown): void => {
    open.delete((message as { request: object }).request);
  };
  subscribe('undici:client:beforeConnect', onConnect);
  subscribe('undici:request:create', onCreate);
  subscribe('undici:request:headers', onEnd);
  subscribe('undici:request:error', onEnd);
  return {
    counts,
    stop: () => {
      unsubscribe('undici:client:beforeConnect', onConnect);
      unsubscribe('undici:request:create', onCreate);
      unsubscribe('undici:request:headers', onEnd);
      unsubscribe('undici:request:error', onEnd);
    },
  };
}

const deployment = (
  name: string,
  extra: { image?: string; replicas?: number; deadline?: number } = {},
): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, labels: { app: name, tier: 'web' } },
  spec: {
    replicas: extra.replicas ?? 3,
    ...(extra.deadline ? { progressDeadlineSeconds: extra.deadline } : {}),
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: 'web', image: extra.image ?? 'nginx:1.27' }] },
    },
  },
});

describe('KubernetesClusterAdapter against kube-sim over HTTP', () => {
  let sim: KubeSim;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  let registry: AccountRegistry;
  let adapter: KubernetesClusterAdapter;
  let config: AccountConfig[];
  const tokens = new FakeTokenSource();

  beforeAll(async () => {
    sim = await startKubeSim({
      clusters: [
        { name: 'sim-a', clock: 'manual', timings: { readyMs: 5_000 } },
        { name: 'sim-b', clock: 'manual' },
        { name: 'sim-down', clock: 'manual' },
      ],
    });
    proxy = await recordingProxy(sim.cluster('sim-b').url);
    config = accountsSchema.parse([
      { name: 'staging', kind: 'simulated', cluster: 'sim-a', allowedNamespaces: ['default', 'team-*'] },
      { name: 'staging-impatient', kind: 'simulated', cluster: 'sim-a', timeouts: { requestMs: 300 } },
      { name: 'production', kind: 'simulated', cluster: 'sim-b' },
      // After a refused connection an account fails fast for min(connectMs, 2 s): the longest, so that window
      // outlasts any pause between two calls of one test on a loaded machine.
      { name: 'gone', kind: 'simulated', cluster: 'sim-down', timeouts: { connectMs: 2_000 } },
      {
        name: 'gke-prod',
        kind: 'gke',
        project: 'acme-prod',
        location: 'europe-west1',
        cluster: 'prod',
        endpoint: proxy.url,
      },
    ]);
    registry = new AccountRegistry(config, {
      tokenSource: tokens,
      simulatedClusters: { url: (name) => sim.cluster(name).url },
    });
    adapter = new KubernetesClusterAdapter(registry);
    // Each test works on objects of its own (its own names, or its own namespace), so any order works.
    for (const name of ['team-a', 'team-list'])
      sim.cluster('sim-a').api.create(sim.cluster('sim-a').registry.mustForKind('v1', 'Namespace'), undefined, {
        metadata: { name },
      });
  });

  afterAll(async () => {
    await registry.close();
    proxy.server.close();
    await sim.stop();
  });

  /** Advances sim-a's clock a second at a time until the object reaches `state` (at most `seconds`). */
  async function until(
    ref: Parameters<KubernetesClusterAdapter['status']>[1],
    state: ObjectStatus['state'],
    seconds = 120,
  ) {
    const seen: string[] = [];
    for (let i = 0; i <= seconds; i++) {
      const status = await adapter.status('staging', ref);
      if (seen.at(-1) !== status.message) seen.push(status.message);
      if (status.state === state) return { status, seen };
      await sim.cluster('sim-a').advance(1_000);
    }
    throw new Error(`not ${state} after ${seconds} s; messages: ${seen.join(' | ')}`);
  }

  describe('apply', () => {
    it('creates with server-side apply as field manager jibe, adding the managed-by label', async () => {
      const [applied] = await adapter.apply('staging', [deployment('web')]);
      expect(applied!.metadata.namespace).toBe('default');
      expect(applied!.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'jibe', app: 'web' });
      expect(applied!.metadata['managedFields']).toEqual(
        expect.arrayContaining([expect.objectContaining({ manager: 'jibe', operation: 'Apply' })]),
      );
      expect(typeof applied!.metadata.creationTimestamp).toBe('string');
      const patches = sim
        .cluster('sim-a')
        .requests()
        .filter((r) => r.method === 'PATCH' && r.path.endsWith('/web'));
      expect(patches.at(-1)).toMatchObject({ contentType: 'application/apply-patch+yaml' });
      expect(patches.at(-1)!.query).toContain('fieldManager=jibe');
    });

    it('re-applies the same manifest without a change, and updates when it changes', async () => {
      const [before] = await adapter.apply('staging', [deployment('web-reapplied')]);
      const [again] = await adapter.apply('staging', [deployment('web-reapplied')]);
      expect(again!.metadata.generation).toBe(before!.metadata.generation);
      const [changed] = await adapter.apply('staging', [deployment('web-reapplied', { image: 'nginx:1.28' })]);
      expect(changed!.metadata.generation).toBe(before!.metadata.generation! + 1);
      expect(JSON.stringify(changed!.spec)).toContain('nginx:1.28');
    });

    it('keeps a label the manifest gives and applies several objects in order', async () => {
      const objects: KubeObject[] = [
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'one', namespace: 'team-a' }, data: { a: '1' } },
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'two', namespace: 'team-a', labels: { 'app.kubernetes.io/managed-by': 'jibe' } },
          data: { b: '2' },
        },
      ];
      const applied = await adapter.apply('staging', objects);
      expect(applied.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual(['team-a/one', 'team-a/two']);
      expect(applied[0]!['data']).toEqual({ a: '1' });
    });

    it('refuses to take a field another manager owns unless forced', async () => {
      await adapter.apply('staging', [deployment('web-contested')]);
      const kc = new KubeConfig();
      kc.loadFromString(sim.kubeconfig('sim-a'));
      const other = KubernetesObjectApi.makeApiClient(kc);
      await other.patch(
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'web-contested', namespace: 'default' },
          spec: { replicas: 5 },
        },
        undefined,
        undefined,
        'hpa-like-controller',
        true,
        PatchStrategy.ServerSideApply,
      );
      const conflict = await rejection(
        adapter.apply('staging', [deployment('web-contested', { image: 'nginx:1.28', replicas: 2 })]),
      );
      expect(conflict).toBeInstanceOf(ClusterError);
      expect(conflict.message).toMatch(
        /^account staging: apply Deployment default\/web-contested: Apply failed with 1 conflict/,
      );
      expect(conflict.message).toContain('hpa-like-controller');
      expect((conflict as ClusterError).status).toBe(409);
      const [forced] = await adapter.apply(
        'staging',
        [deployment('web-contested', { image: 'nginx:1.28', replicas: 2 })],
        {
          force: true,
        },
      );
      expect(forced!.spec!['replicas']).toBe(2);
    });

    it('maps a manifest Kubernetes rejects to a ClusterError with its Status message', async () => {
      const error = await rejection(
        adapter.apply('staging', [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Not_Valid' } }]),
      );
      expect(error).toBeInstanceOf(ClusterError);
      expect([400, 422]).toContain((error as ClusterError).status);
      expect(error.message).toMatch(/^account staging: apply ConfigMap default\/Not_Valid: .*Not_Valid/);
    });
  });

  describe('get, list, patch, delete, create', () => {
    it('gets an object or null, and lists by label selector', async () => {
      expect(await adapter.get('staging', { kind: 'Deployment', name: 'nope' })).toBeNull();
      const inTeamList = (name: string) => ({
        ...deployment(name, { replicas: 1 }),
        metadata: { ...deployment(name).metadata, namespace: 'team-list' },
      });
      await adapter.apply('staging', [inTeamList('api'), inTeamList('web')]);
      const web = await adapter.list('staging', {
        kind: 'Deployment',
        namespace: 'team-list',
        labelSelector: 'tier=web',
      });
      expect(web.map((d) => d.metadata.name).sort()).toEqual(['api', 'web']);
      expect(web[0]).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment' });
      const api = await adapter.list('staging', {
        kind: 'Deployment',
        namespace: 'team-list',
        labelSelector: 'app=api',
      });
      expect(api.map((d) => d.metadata.name)).toEqual(['api']);
      const namespaces = await adapter.list('staging', { kind: 'Namespace' });
      expect(namespaces.map((n) => n.metadata.name).sort()).toEqual(['default', 'team-a', 'team-list']);
    });

    it('patches with merge, strategic-merge and JSON patches', async () => {
      await adapter.apply('staging', [
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'patched', namespace: 'team-a' }, data: { a: '1' } },
        deployment('patched', { replicas: 1 }),
      ]);
      const merged = await adapter.patch(
        'staging',
        { kind: 'ConfigMap', name: 'patched', namespace: 'team-a' },
        { data: { c: '3' } },
        'merge',
      );
      expect(merged['data']).toEqual({ a: '1', c: '3' });
      const strategic = await adapter.patch(
        'staging',
        { kind: 'Deployment', name: 'patched' },
        { spec: { template: { spec: { containers: [{ name: 'web', env: [{ name: 'MODE', value: 'x' }] }] } } } },
        'strategic',
      );
      const containers = (strategic.spec!['template'] as { spec: { containers: { image: string; env?: unknown[] }[] } })
        .spec.containers;
      expect(containers).toHaveLength(1);
      expect(containers[0]).toMatchObject({ image: 'nginx:1.27', env: [{ name: 'MODE', value: 'x' }] });
      const json = await adapter.patch(
        'staging',
        { kind: 'Deployment', name: 'patched' },
        [{ op: 'replace', path: '/spec/replicas', value: 4 }],
        'json',
      );
      expect(json.spec!['replicas']).toBe(4);
    });

    it('deletes, answering false when the object was already gone', async () => {
      const ref = { kind: 'ConfigMap', name: 'deleted', namespace: 'team-a' };
      await adapter.apply('staging', [
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'deleted', namespace: 'team-a' } },
      ]);
      expect(await adapter.delete('staging', ref)).toBe(true);
      expect(await adapter.delete('staging', ref)).toBe(false);
      expect(await adapter.get('staging', ref)).toBeNull();
    });

    it('creates an object with a generated name, labelled as Jibe’s', async () => {
      const created = await adapter.create('staging', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { generateName: 'run-' },
        data: { x: '1' },
      });
      expect(created.metadata.name).toMatch(/^run-/);
      expect(created.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'jibe' });
    });
  });

  describe('namespace allow-list', () => {
    it('refuses every call outside the allowed namespaces before any request about an object is made', async () => {
      sim.cluster('sim-a').clearRequests();
      const calls = [
        adapter.apply('staging', [
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'kube-system' } },
        ]),
        adapter.get('staging', { kind: 'Secret', name: 'x', namespace: 'kube-system' }),
        adapter.list('staging', { kind: 'Pod', namespace: 'other' }),
        adapter.patch('staging', { kind: 'ConfigMap', name: 'x', namespace: 'other' }, {}, 'merge'),
        adapter.delete('staging', { kind: 'ConfigMap', name: 'x', namespace: 'other' }),
        adapter.logs('staging', { namespace: 'other', pod: 'p' }),
        adapter.apply('staging', [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod' } }]),
        adapter.apply('staging', [
          { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'admin-ish' } },
        ]),
      ];
      const errors = await Promise.all(calls.map((c) => rejection(c)));
      for (const error of errors) expect(error).toBeInstanceOf(ClusterError);
      expect(errors[0]!.message).toBe(
        'account staging may not touch namespace "kube-system" (allowed: default, team-*)',
      );
      expect(errors[6]!.message).toContain('namespace "prod"');
      expect(errors[7]!.message).toContain('cluster-scoped ClusterRole "admin-ish"');
      // Only discovery, which tells a kind's scope: no request names an object.
      const discovery = /^\/(api\/v1|apis\/[^/]+\/[^/]+)$/;
      expect(
        sim
          .cluster('sim-a')
          .requests()
          .filter((r) => r.method !== 'GET' || !discovery.test(r.path)),
      ).toEqual([]);
    });

    it('names the known accounts when asked for an unknown one', async () => {
      const error = await rejection(adapter.get('nowhere', { kind: 'Pod', name: 'x' }));
      expect(error).toBeInstanceOf(ClusterError);
      expect(error.message).toMatch(/^unknown account "nowhere" \(configured: staging, staging-impatient/);
    });
  });

  describe('status through real rollouts', () => {
    it('follows a Deployment rollout to stable with messages people can read', async () => {
      await adapter.apply('staging', [deployment('shop', { replicas: 3 })]);
      const { status, seen } = await until({ kind: 'Deployment', name: 'shop' }, 'stable');
      expect(status.message).toBe('Deployment shop: 3 of 3 replicas updated and available');
      expect(seen.some((m) => /^Deployment shop: \d of 3 updated replicas available$/.test(m))).toBe(true);
    });

    it('fails a Deployment that exceeds its progress deadline with Kubernetes’ reason and message', async () => {
      const fault = await sim.cluster('sim-a').faults.add({
        match: { image: 'ghcr.io/acme/missing:*' },
        effect: { type: 'imagePull' },
      });
      await adapter.apply('staging', [
        deployment('broken', { replicas: 2, image: 'ghcr.io/acme/missing:1', deadline: 30 }),
      ]);
      const { status, seen } = await until({ kind: 'Deployment', name: 'broken' }, 'failed', 90);
      expect(status.message).toMatch(
        /^Deployment broken: ProgressDeadlineExceeded: ReplicaSet "broken-[a-z0-9]+" has timed out progressing/,
      );
      // …and why: the pods' own reason, which is what a person fixes.
      expect(status.message).toMatch(/; pods: (ErrImagePull|ImagePullBackOff)[^;]*\(2 pods\)/);
      expect(seen[0]).toMatch(/^Deployment broken: /);
      await sim.cluster('sim-a').faults.remove(fault);
    });

    it('waits for ReplicaSets, StatefulSets, DaemonSets and Pods to be ready', async () => {
      const podTemplate = (app: string) => ({
        metadata: { labels: { app } },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      });
      await adapter.apply('staging', [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          metadata: { name: 'rs' },
          spec: { replicas: 2, selector: { matchLabels: { app: 'rs' } }, template: podTemplate('rs') },
        },
        {
          apiVersion: 'apps/v1',
          kind: 'StatefulSet',
          metadata: { name: 'db' },
          spec: {
            replicas: 2,
            serviceName: 'db',
            selector: { matchLabels: { app: 'db' } },
            template: podTemplate('db'),
          },
        },
        {
          apiVersion: 'apps/v1',
          kind: 'DaemonSet',
          metadata: { name: 'agent' },
          spec: { selector: { matchLabels: { app: 'agent' } }, template: podTemplate('agent') },
        },
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'solo' },
          spec: { containers: [{ name: 'c', image: 'busybox' }] },
        },
      ]);
      const first = await adapter.status('staging', { kind: 'ReplicaSet', name: 'rs' });
      expect(first.state).toBe('progressing');
      expect((await until({ kind: 'ReplicaSet', name: 'rs' }, 'stable')).status.message).toBe(
        'ReplicaSet rs: 2 of 2 replicas available',
      );
      expect((await until({ kind: 'StatefulSet', name: 'db' }, 'stable')).status.message).toMatch(
        /^StatefulSet db: 2 of 2 replicas ready at revision db-/,
      );
      expect((await until({ kind: 'DaemonSet', name: 'agent' }, 'stable')).status.message).toBe(
        'DaemonSet agent: 3 of 3 pods updated and available',
      );
      expect((await until({ kind: 'Pod', name: 'solo' }, 'stable')).status.message).toBe('Pod solo: running and ready');
    });

    it('completes a Job, reads its pod’s log, and fails a Job with Kubernetes’ reason', async () => {
      await adapter.apply('staging', [
        {
          apiVersion: 'batch/v1',
          kind: 'Job',
          metadata: { name: 'refresh' },
          spec: {
            template: {
              metadata: { annotations: { 'kube-sim.jibe.dev/logs': 'SNAPSHOT=s1\nTABLES=12' } },
              spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'postgres:16' }] },
            },
          },
        },
      ]);
      const done = await until({ kind: 'Job', name: 'refresh' }, 'stable');
      expect(done.status.message).toBe('Job refresh: complete (1 of 1 succeeded)');
      const [pod] = await adapter.list('staging', { kind: 'Pod', labelSelector: 'job-name=refresh' });
      expect(await adapter.logs('staging', { namespace: 'default', pod: pod!.metadata.name! })).toBe(
        'SNAPSHOT=s1\nTABLES=12\n',
      );

      await sim.cluster('sim-a').faults.add({ match: { namePrefix: 'doomed' }, effect: { type: 'exitCode', code: 3 } });
      await adapter.apply('staging', [
        {
          apiVersion: 'batch/v1',
          kind: 'Job',
          metadata: { name: 'doomed' },
          spec: {
            backoffLimit: 0,
            template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox' }] } },
          },
        },
      ]);
      const failed = await until({ kind: 'Job', name: 'doomed' }, 'failed');
      expect(failed.status.message).toMatch(/^Job doomed: BackoffLimitExceeded: /);
    });

    it('treats Services, Ingresses, PVCs, ConfigMaps and Secrets by their own rules', async () => {
      const c = sim.cluster('sim-a');
      await adapter.apply('staging', [
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'svc' },
          spec: { selector: { app: 'shop' }, ports: [{ port: 80 }] },
        },
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'public' },
          spec: { type: 'LoadBalancer', selector: { app: 'shop' }, ports: [{ port: 80 }] },
        },
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'Ingress',
          metadata: { name: 'ing' },
          spec: { defaultBackend: { service: { name: 'svc', port: { number: 80 } } } },
        },
        {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: 'data' },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
        },
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds' }, stringData: { password: 'x' } },
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'team-a' } },
      ]);
      const setStatus = (apiVersion: string, kind: string, name: string, status: unknown) =>
        c.api.replaceStatus(
          c.registry.mustForKind(apiVersion, kind),
          c.getObject(apiVersion, kind, 'default', name)!,
          status,
        );
      const state = async (kind: string, name: string) => (await adapter.status('staging', { kind, name })).state;
      expect(await state('Service', 'svc')).toBe('stable');
      expect(await state('Secret', 'creds')).toBe('stable');
      expect(await state('ConfigMap', 'settings')).toBe('missing');
      expect(await adapter.status('staging', { kind: 'Service', name: 'public' })).toMatchObject({
        state: 'progressing',
        message: 'Service public: waiting for a load balancer',
      });
      expect(await state('Ingress', 'ing')).toBe('progressing');
      setStatus('v1', 'PersistentVolumeClaim', 'data', { phase: 'Pending' });
      expect(await adapter.status('staging', { kind: 'PersistentVolumeClaim', name: 'data' })).toMatchObject({
        state: 'progressing',
        message: 'PersistentVolumeClaim data: waiting to be bound (Pending)',
      });

      setStatus('v1', 'Service', 'public', { loadBalancer: { ingress: [{ ip: '34.1.2.3' }] } });
      setStatus('networking.k8s.io/v1', 'Ingress', 'ing', {
        loadBalancer: { ingress: [{ hostname: 'shop.example' }] },
      });
      setStatus('v1', 'PersistentVolumeClaim', 'data', { phase: 'Bound' });
      expect((await adapter.status('staging', { kind: 'Service', name: 'public' })).message).toBe(
        'Service public: served at 34.1.2.3',
      );
      expect(await state('Ingress', 'ing')).toBe('stable');
      expect(await state('PersistentVolumeClaim', 'data')).toBe('stable');
      expect(
        (await adapter.status('staging', { kind: 'ConfigMap', name: 'settings', namespace: 'team-a' })).state,
      ).toBe('stable');
    });
  });

  describe('failures', () => {
    it('fails fast on an unreachable cluster while other accounts keep working', async () => {
      const port = String(sim.cluster('sim-down').port);
      const down = await sim.cluster('sim-down').faults.add({ effect: { type: 'clusterDown' } });
      const client = watchHttpClient({ port });
      try {
        const [error, served] = await Promise.all([
          rejection(adapter.list('gone', { kind: 'Pod' })),
          adapter.list('production', { kind: 'Namespace' }),
        ]);
        // Work, not time: the refusal is reported after one connection attempt, with no retry or wait inside.
        expect(error).toBeInstanceOf(TransientError);
        expect(error.message).toMatch(
          /^account gone: list Pod in default: cannot reach http:\/\/127\.0\.0\.1:\d+: GET \/api\/v1: ECONNREFUSED/,
        );
        expect(client.counts.connectionAttempts).toBe(1);
        expect(served.length).toBeGreaterThan(0);
        // Further calls do not even try for a moment: they fail with the same reason without a connection attempt.
        // Fails if AccountClient.run stops checking unreachableUntil (checked by removing both checks: 21 attempts).
        const repeated = await Promise.all(
          Array.from({ length: 20 }, () => rejection(adapter.get('gone', { kind: 'Pod', name: 'p' }))),
        );
        for (const e of repeated) {
          expect(e).toBeInstanceOf(TransientError);
          expect(e.message).toContain('ECONNREFUSED');
        }
        expect(client.counts.connectionAttempts).toBe(1);
      } finally {
        client.stop();
        await sim.cluster('sim-down').faults.remove(down);
      }
    });

    it('maps 5xx, 429, conflicts and timeouts to TransientError naming the account and the call', async () => {
      const c = sim.cluster('sim-a');
      await adapter.apply('staging', [
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'flaky', namespace: 'team-a' } },
      ]);
      await c.faults.add({
        match: { resource: 'configmaps', verbs: ['get'] },
        effect: { type: 'httpError', code: 503 },
        times: 1,
      });
      const e503 = await rejection(adapter.get('staging', { kind: 'ConfigMap', name: 'flaky', namespace: 'team-a' }));
      expect(e503).toBeInstanceOf(TransientError);
      expect(e503.message).toMatch(/^account staging: get ConfigMap team-a\/flaky: /);

      await c.faults.add({ match: { resource: 'configmaps' }, effect: { type: 'httpError', code: 429 }, times: 1 });
      expect(await rejection(adapter.list('staging', { kind: 'ConfigMap' }))).toBeInstanceOf(TransientError);

      await c.faults.add({
        match: { resource: 'configmaps', verbs: ['patch'] },
        effect: { type: 'conflict' },
        times: 1,
      });
      const conflict = await rejection(
        adapter.patch(
          'staging',
          { kind: 'ConfigMap', name: 'flaky', namespace: 'team-a' },
          { data: { d: '4' } },
          'merge',
        ),
      );
      expect(conflict).toBeInstanceOf(TransientError);
      expect(conflict.message).toContain('Operation cannot be fulfilled');

      // The answer is held for 1 s and the account gives up at 300 ms: both timers run in this one process, so the
      // request timeout always fires first, however loaded the machine. Without it the call would succeed.
      const slow = await c.faults.add({ match: { resource: 'secrets' }, effect: { type: 'latency', ms: 1_000 } });
      const timeout = await rejection(adapter.get('staging-impatient', { kind: 'Secret', name: 'creds' }));
      expect(timeout).toBeInstanceOf(TransientError);
      expect(timeout.message).toMatch(
        /^account staging-impatient: get Secret default\/creds: .*timed out after 300 ms/,
      );
      await c.faults.remove(slow);
      expect(await adapter.get('staging', { kind: 'ConfigMap', name: 'flaky', namespace: 'team-a' })).not.toBeNull();
    });
  });

  describe('GKE accounts', () => {
    it('sends the token source’s bearer token to the cluster', async () => {
      await adapter.apply('gke-prod', [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'from-gke' } }]);
      expect(await adapter.get('gke-prod', { kind: 'ConfigMap', name: 'from-gke' })).not.toBeNull();
      expect(proxy.authorizations.length).toBeGreaterThan(0);
      expect(new Set(proxy.authorizations)).toEqual(new Set(['Bearer fake-gke-token']));
      expect(tokens.calls).toBeGreaterThan(0);
    });
  });

  describe('AccountsService', () => {
    it('lists every account with its reachability, checked in parallel, with no credentials', async () => {
      // Its own registry and service: no client state (an account found unreachable a moment ago) or cached answer
      // comes from another test.
      const own = new AccountRegistry(config, {
        tokenSource: tokens,
        simulatedClusters: { url: (name) => sim.cluster(name).url },
      });
      const accounts = new AccountsService(own);
      const down = await sim.cluster('sim-down').faults.add({ effect: { type: 'clusterDown' } });
      // sim-b holds its /version answers (production's, and gke-prod's through the proxy) long enough that checks
      // made in parallel are visibly in flight together; one at a time, they never overlap.
      const held = await sim
        .cluster('sim-b')
        .faults.add({ match: { path: '^/version' }, effect: { type: 'latency', ms: 400 } });
      const client = watchHttpClient({ pathPrefix: '/version' });
      try {
        const list = await accounts.list();
        expect(list.map((a) => [a.name, a.kind, a.reachability.reachable])).toEqual([
          ['staging', 'simulated', true],
          ['staging-impatient', 'simulated', true],
          ['production', 'simulated', true],
          ['gone', 'simulated', false],
          ['gke-prod', 'gke', true],
        ]);
        // Work, not time: several checks were in flight at once. Fails with parallelism 1 (checked: 1).
        expect(client.counts.maxInFlight).toBeGreaterThanOrEqual(2);
        expect(list[0]).toMatchObject({ allowedNamespaces: ['default', 'team-*'], defaultNamespace: 'default' });
        expect(list[0]!.reachability.version).toMatch(/^v1\.32/);
        expect(list[3]!.reachability.error).toMatch(/ECONNREFUSED/);
        expect(JSON.stringify(list)).not.toContain('fake-gke-token');
        expect(JSON.stringify(list)).not.toContain(proxy.url);
      } finally {
        client.stop();
        await sim.cluster('sim-b').faults.remove(held);
        await sim.cluster('sim-down').faults.remove(down);
        await own.close();
      }
    });
  });
});
