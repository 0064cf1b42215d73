import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ApiException,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  type V1Deployment,
  type V1Pod,
  Watch,
  makeInformer,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { type KubeSim, type SimCluster, startKubeSim } from '@jibe/kube-sim';
import { FIXTURES } from './kubectl';

async function fixtureObjects(dir: string): Promise<KubernetesObject[]> {
  const out: KubernetesObject[] = [];
  for (const f of (await readdir(dir)).filter((n) => n.endsWith('.yaml') && n !== 'kustomization.yaml').sort())
    for (const doc of parseAllDocuments(await readFile(join(dir, f), 'utf8'))) {
      const obj = doc.toJS() as KubernetesObject | null;
      if (obj) out.push(obj);
    }
  return out;
}

async function eventually<T>(fn: () => Promise<T> | T, check: (v: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (check(v)) return v;
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms; last value: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function apiError(p: Promise<unknown>): Promise<{ code: number; status: { reason?: string; message?: string } }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiException)
      return { code: err.code, status: JSON.parse(err.body as string) as { reason?: string; message?: string } };
    throw err;
  }
  throw new Error('expected the call to fail');
}

const deployment = (name: string, image = 'nginx:1.27'): V1Deployment => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, labels: { app: name } },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'web', image }] } },
  },
});

describe('@kubernetes/client-node against kube-sim', () => {
  let sim: KubeSim;
  let cluster: SimCluster;
  let kc: KubeConfig;
  let objects: KubernetesObjectApi;
  let apps: AppsV1Api;
  let core: CoreV1Api;
  let batch: BatchV1Api;

  beforeAll(async () => {
    sim = await startKubeSim({ clusters: [{ name: 'sim-a', bookmarkIntervalMs: 100 }, { name: 'sim-b' }] });
    cluster = sim.cluster('sim-a');
    kc = new KubeConfig();
    kc.loadFromString(sim.kubeconfig('sim-a'));
    objects = KubernetesObjectApi.makeApiClient(kc);
    apps = kc.makeApiClient(AppsV1Api);
    core = kc.makeApiClient(CoreV1Api);
    batch = kc.makeApiClient(BatchV1Api);
  });
  afterAll(async () => {
    await sim.stop();
  });

  it('creates, reads, lists, replaces and deletes every fixture kind through KubernetesObjectApi', async () => {
    await core.createNamespace({ body: { metadata: { name: 'generic' } } });
    const all = [
      ...(await fixtureObjects(join(FIXTURES, '01-guestbook'))),
      ...(await fixtureObjects(join(FIXTURES, '03-podinfo/kustomize'))),
      ...(await fixtureObjects(join(FIXTURES, '05-k8s-docs-controllers'))),
    ];
    expect(new Set(all.map((o) => o.kind))).toEqual(
      new Set(['Deployment', 'Service', 'HorizontalPodAutoscaler', 'Job']),
    );
    for (const obj of all) {
      const spec = { ...obj, metadata: { ...obj.metadata, namespace: 'generic' } };
      const created = await objects.create(spec);
      expect(created.metadata?.uid).toBeTruthy();
      const read = await objects.read({
        apiVersion: obj.apiVersion!,
        kind: obj.kind!,
        metadata: { name: obj.metadata!.name!, namespace: 'generic' },
      });
      expect(read.metadata?.uid).toBe(created.metadata?.uid);
      // Controllers keep writing status, so replace unconditionally (no resourceVersion), as PUT allows.
      const replaced = await objects.replace({
        ...read,
        metadata: {
          ...read.metadata,
          resourceVersion: undefined,
          labels: { ...(read.metadata?.labels ?? {}), replaced: 'yes' },
        },
      });
      expect(replaced.metadata?.labels?.replaced).toBe('yes');
    }
    const deployments = await objects.list('apps/v1', 'Deployment', 'generic');
    expect(deployments.items.map((d) => d.metadata?.name).sort()).toEqual([
      'frontend',
      'nginx-deployment',
      'podinfo',
      'redis-master',
      'redis-replica',
    ]);
    for (const obj of all)
      await objects.delete({
        apiVersion: obj.apiVersion!,
        kind: obj.kind!,
        metadata: { name: obj.metadata!.name!, namespace: 'generic' },
      });
    expect((await objects.list('apps/v1', 'Deployment', 'generic')).items).toEqual([]);
  });

  it('patches with every PatchStrategy', async () => {
    const base = {
      ...deployment('patched'),
      metadata: { name: 'patched', namespace: 'default', labels: { app: 'patched' } },
    };
    await objects.create(base);
    const ref = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'patched', namespace: 'default' } };

    const smp = (await objects.patch({
      ...ref,
      spec: { template: { spec: { containers: [{ name: 'sidecar', image: 'envoy:1' }] } } },
    })) as V1Deployment;
    expect(smp.spec?.template.spec?.containers.map((c) => c.name)).toEqual(['web', 'sidecar']);

    const merge = (await objects.patch(
      { ...ref, spec: { template: { spec: { containers: [{ name: 'only', image: 'busybox' }] } } } },
      undefined,
      undefined,
      undefined,
      undefined,
      PatchStrategy.MergePatch,
    )) as V1Deployment;
    expect(merge.spec?.template.spec?.containers.map((c) => c.name)).toEqual(['only']);

    // KubernetesObjectApi serialises the spec as an object, so JSON Patch (an array) goes through the typed API.
    const json = await apps.patchNamespacedDeployment(
      { name: 'patched', namespace: 'default', body: [{ op: 'replace', path: '/spec/replicas', value: 4 }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    expect(json.spec?.replicas).toBe(4);
    const bad = await apiError(
      apps.patchNamespacedDeployment({ name: 'patched', namespace: 'default', body: { spec: { replicas: 1 } } }),
    );
    expect(bad.code).toBe(422);
  });

  it('server-side applies with field managers, conflicts and force', async () => {
    const body = {
      ...deployment('applied'),
      metadata: { name: 'applied', namespace: 'default', labels: { app: 'applied' } },
    };
    const first = (await objects.patch(
      body,
      undefined,
      undefined,
      'jibe',
      undefined,
      PatchStrategy.ServerSideApply,
    )) as V1Deployment;
    expect(first.metadata?.managedFields?.map((m) => `${m.manager}/${m.operation}`)).toEqual(['jibe/Apply']);
    const rival = { ...body, spec: { ...body.spec!, replicas: 7 } };
    const conflict = await apiError(
      objects.patch(rival, undefined, undefined, 'hpa-ish', false, PatchStrategy.ServerSideApply),
    );
    expect(conflict.code).toBe(409);
    expect(conflict.status.message).toBe(
      'Apply failed with 1 conflict: conflict with "jibe" using apps/v1: .spec.replicas',
    );
    const forced = (await objects.patch(
      rival,
      undefined,
      undefined,
      'hpa-ish',
      true,
      PatchStrategy.ServerSideApply,
    )) as V1Deployment;
    expect(forced.spec?.replicas).toBe(7);
    const withoutImage = {
      ...body,
      spec: {
        ...body.spec!,
        template: { ...body.spec!.template, metadata: { labels: { app: 'applied', extra: 'x' } } },
      },
    };
    delete (withoutImage.spec as { replicas?: number }).replicas;
    const reapplied = (await objects.patch(
      withoutImage,
      undefined,
      undefined,
      'jibe',
      undefined,
      PatchStrategy.ServerSideApply,
    )) as V1Deployment;
    expect(reapplied.spec?.replicas).toBe(7);
    expect(reapplied.spec?.template.metadata?.labels).toEqual({ app: 'applied', extra: 'x' });
    const missingManager = await apiError(
      objects.patch(body, undefined, undefined, undefined, undefined, PatchStrategy.ServerSideApply),
    );
    expect(missingManager.code).toBe(422);
  });

  it('uses the typed APIs: default JSON Patch, MergePatch by header, 409 on a stale replace, 404 and 409 AlreadyExists', async () => {
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('typed') });
    const jsonPatched = await apps.patchNamespacedDeployment({
      name: 'typed',
      namespace: 'default',
      body: [{ op: 'replace', path: '/spec/replicas', value: 3 }],
    });
    expect(jsonPatched.spec?.replicas).toBe(3);
    const merged = await apps.patchNamespacedDeployment(
      { name: 'typed', namespace: 'default', body: { spec: { paused: true } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(merged.spec?.paused).toBe(true);
    const stale = { ...merged, metadata: { ...merged.metadata, resourceVersion: '1' } };
    const conflict = await apiError(
      apps.replaceNamespacedDeployment({ name: 'typed', namespace: 'default', body: stale }),
    );
    expect(conflict.code).toBe(409);
    expect(conflict.status.reason).toBe('Conflict');
    const missing = await apiError(apps.readNamespacedDeployment({ name: 'absent', namespace: 'default' }));
    expect(missing).toEqual({
      code: 404,
      status: expect.objectContaining({ reason: 'NotFound', message: 'deployments.apps "absent" not found' }),
    });
    const duplicate = await apiError(
      apps.createNamespacedDeployment({ namespace: 'default', body: deployment('typed') }),
    );
    expect(duplicate.code).toBe(409);
    expect(duplicate.status.reason).toBe('AlreadyExists');
    const invalid = await apiError(
      apps.createNamespacedDeployment({
        namespace: 'default',
        body: { ...deployment('Bad'), metadata: { name: 'Bad' } },
      }),
    );
    expect(invalid.code).toBe(422);
  });

  it('round-trips the scale subresource and rolls out to the new size', async () => {
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('scaled') });
    const scale = await apps.readNamespacedDeploymentScale({ name: 'scaled', namespace: 'default' });
    expect(scale.kind).toBe('Scale');
    expect(scale.spec?.replicas).toBe(2);
    await apps.patchNamespacedDeploymentScale(
      { name: 'scaled', namespace: 'default', body: { spec: { replicas: 6 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const d = await eventually(
      () => apps.readNamespacedDeployment({ name: 'scaled', namespace: 'default' }),
      (x) => x.status?.availableReplicas === 6,
    );
    expect(d.status?.conditions?.find((c) => c.type === 'Progressing')?.reason).toBe('NewReplicaSetAvailable');
    const pods = await core.listNamespacedPod({
      namespace: 'default',
      labelSelector: 'app=scaled',
      fieldSelector: 'status.phase=Running',
    });
    expect(pods.items).toHaveLength(6);
  });

  it('keeps Endpoints in line with pod readiness', async () => {
    await apps.createNamespacedDeployment({
      namespace: 'default',
      body: { ...deployment('served'), spec: { ...deployment('served').spec!, replicas: 3 } },
    });
    await core.createNamespacedService({
      namespace: 'default',
      body: { metadata: { name: 'served' }, spec: { selector: { app: 'served' }, ports: [{ port: 80 }] } },
    });
    const ep = await eventually(
      () => core.readNamespacedEndpoints({ name: 'served', namespace: 'default' }),
      (e) => (e.subsets?.[0]?.addresses ?? []).length === 3,
    );
    expect(ep.subsets?.[0]?.ports).toEqual([{ port: 80, protocol: 'TCP' }]);
  });

  it('runs a Job to completion and reads its KEY=VALUE log lines', async () => {
    await batch.createNamespacedJob({
      namespace: 'default',
      body: {
        metadata: { name: 'db-refresh', annotations: {} },
        spec: {
          template: {
            metadata: { annotations: { 'kube-sim.jibe.dev/logs': 'SNAPSHOT=s1\nTABLES=12' } },
            spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'postgres:16' }] },
          },
        },
      },
    });
    const job = await eventually(
      () => batch.readNamespacedJob({ name: 'db-refresh', namespace: 'default' }),
      (j) => (j.status?.conditions ?? []).some((c) => c.type === 'Complete' && c.status === 'True'),
    );
    expect(job.status?.succeeded).toBe(1);
    const pods = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'job-name=db-refresh' });
    const log = await core.readNamespacedPodLog({ name: pods.items[0]!.metadata!.name!, namespace: 'default' });
    expect(log).toBe('SNAPSHOT=s1\nTABLES=12\n');
  });

  it('streams ADDED, MODIFIED, DELETED and BOOKMARK events through Watch', async () => {
    const seen: string[] = [];
    const watch = new Watch(kc);
    const req = await watch.watch(
      '/api/v1/namespaces/default/configmaps',
      { allowWatchBookmarks: true, labelSelector: 'watched=yes' },
      (type, obj: KubernetesObject) =>
        seen.push(type === 'BOOKMARK' ? 'BOOKMARK' : `${type}:${obj.metadata?.name ?? ''}`),
      () => undefined,
    );
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'w1', labels: { watched: 'yes' } } },
    });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'ignored' } } });
    await core.patchNamespacedConfigMap(
      { name: 'w1', namespace: 'default', body: { data: { a: '1' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await core.deleteNamespacedConfigMap({ name: 'w1', namespace: 'default' });
    await eventually(
      () => seen,
      (s) => s.includes('DELETED:w1') && s.includes('BOOKMARK'),
    );
    req.abort();
    expect(seen.filter((s) => s !== 'BOOKMARK')).toEqual(['ADDED:w1', 'MODIFIED:w1', 'DELETED:w1']);
  });

  it('keeps an informer in sync across a 410 Gone and a dropped stream, without duplicate ADDs', async () => {
    const informer = makeInformer<V1Pod>(
      kc,
      '/api/v1/namespaces/default/pods',
      () => core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=inf' }),
      'app=inf',
    );
    const adds: string[] = [];
    const deletes: string[] = [];
    informer.on('add', (p) => adds.push(p.metadata?.name ?? ''));
    informer.on('delete', (p) => deletes.push(p.metadata?.name ?? ''));
    // Only this test's requests are counted at the end.
    cluster.clearRequests();
    const pod = (name: string): V1Pod => ({
      metadata: { name, labels: { app: 'inf' } },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    });
    await core.createNamespacedPod({ namespace: 'default', body: pod('inf-1') });
    await informer.start();
    await eventually(
      () => adds,
      (a) => a.includes('inf-1'),
    );

    cluster.dropWatches();
    await core.createNamespacedPod({ namespace: 'default', body: pod('inf-2') });
    await eventually(
      () => informer.list('default').map((p) => p.metadata?.name),
      (names) => names.includes('inf-2'),
    );

    await cluster.faults.add({
      match: { verbs: ['watch'], resource: 'pods' },
      effect: { type: 'watchExpire' },
      times: 1,
    });
    cluster.expireWatchHistory();
    cluster.dropWatches();
    await core.deleteNamespacedPod({ name: 'inf-1', namespace: 'default', gracePeriodSeconds: 0 });
    await core.createNamespacedPod({ namespace: 'default', body: pod('inf-3') });
    await eventually(
      () =>
        informer
          .list('default')
          .map((p) => p.metadata?.name)
          .sort(),
      (names) => names.join() === 'inf-2,inf-3',
      8_000,
    );
    await informer.stop();
    expect(adds).toEqual(['inf-1', 'inf-2', 'inf-3']);
    expect(deletes).toEqual(['inf-1']);
    expect(
      cluster.requests().filter((r) => r.verb === 'list' && r.path === '/api/v1/namespaces/default/pods').length,
    ).toBeGreaterThanOrEqual(2);
  });

  it('injects API faults: HTTP errors, latency, and a cluster that is down and comes back', async () => {
    await core.createNamespace({ body: { metadata: { name: 'faults' } } });
    await apps.createNamespacedDeployment({ namespace: 'faults', body: deployment('faulted') });
    const id = await cluster.faults.add({
      match: { verbs: ['list'], resource: 'deployments' },
      effect: { type: 'httpError', code: 503 },
    });
    expect((await apiError(apps.listNamespacedDeployment({ namespace: 'faults' }))).code).toBe(503);
    await cluster.faults.remove(id);
    expect((await apps.listNamespacedDeployment({ namespace: 'faults' })).items.map((d) => d.metadata?.name)).toEqual([
      'faulted',
    ]);

    await cluster.faults.add({ match: { verbs: ['update', 'patch'] }, effect: { type: 'conflict' }, times: 1 });
    expect(
      (
        await apiError(
          apps.patchNamespacedDeployment({
            name: 'faulted',
            namespace: 'faults',
            body: [{ op: 'replace', path: '/spec/replicas', value: 3 }],
          }),
        )
      ).code,
    ).toBe(409);
    expect(
      (
        await apps.patchNamespacedDeployment({
          name: 'faulted',
          namespace: 'faults',
          body: [{ op: 'replace', path: '/spec/replicas', value: 3 }],
        })
      ).spec?.replicas,
    ).toBe(3);

    const slow = await cluster.faults.add({ match: { resource: 'configmaps' }, effect: { type: 'latency', ms: 150 } });
    const t0 = Date.now();
    await core.listNamespacedConfigMap({ namespace: 'default' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    await cluster.faults.remove(slow);

    const down = await cluster.faults.add({ effect: { type: 'clusterDown' } });
    await expect(core.listNamespace()).rejects.toThrow(/ECONNREFUSED|fetch failed/);
    const other = new KubeConfig();
    other.loadFromString(sim.kubeconfig('sim-b'));
    expect((await other.makeApiClient(CoreV1Api).listNamespace()).items.length).toBe(4);
    await cluster.faults.remove(down);
    expect((await core.listNamespace()).items.map((n) => n.metadata?.name)).toContain('faults');
  });

  it('serves each cluster separately on its own port', async () => {
    const other = new KubeConfig();
    other.loadFromString(sim.kubeconfig('sim-b'));
    const otherApps = other.makeApiClient(AppsV1Api);
    expect(sim.cluster('sim-a').port).not.toBe(sim.cluster('sim-b').port);
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('only-on-a') });
    expect(
      (await apps.listNamespacedDeployment({ namespace: 'default' })).items.map((d) => d.metadata?.name),
    ).toContain('only-on-a');
    expect((await otherApps.listNamespacedDeployment({ namespace: 'default' })).items).toEqual([]);
  });
});
