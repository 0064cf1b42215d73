import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StageSimulator, startStageSimulator } from '../../../test/support/stage-simulator';
import { type KubeObject } from '../cluster-kit/cluster.port';
import { runStage, runTask } from '../cluster-kit/testing/stage-harness';
import { deleteManifestStage } from './delete-manifest.stage';

const configMap = (namespace: string, name: string, labels: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace, labels },
  data: { name },
});

const deployment = (namespace: string, name: string): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'shop:1' }] } },
  },
});

describe('deleteManifest against the simulator (real adapter over HTTP)', () => {
  let env: StageSimulator;

  beforeAll(async () => {
    // A running pod takes 5 s (simulated) to terminate, so a namespace holding one is not gone at once.
    env = await startStageSimulator({ timings: { terminationMs: 5_000 } });
  });
  afterAll(async () => {
    await env?.close();
  });

  /** A namespace of its own: what Jibe applied (labelled managed-by jibe) and what someone else applied. */
  async function namespaceWith(namespace: string, byJibe: KubeObject[], byOthers: KubeObject[] = []): Promise<void> {
    await env.user.createNamespace(namespace);
    await env.adapter.apply(env.account, byJibe);
    for (const object of byOthers) await env.user.apply(object);
    // Controllers create the Deployments' ReplicaSets and pods.
    await env.adapter.advance(1_000);
  }

  /** `kubectl get <kind> -n <namespace> -o name`, sorted. */
  const names = async (apiVersion: string, kind: string, namespace: string, selector?: string) =>
    (await env.user.list(apiVersion, kind, namespace, selector)).map((o) => o.metadata.name!).sort();

  // Fails if deleteManifest always orphans (the ReplicaSet and pods stay): checked by making that change once.
  it('deletes a Deployment by name, and Kubernetes its ReplicaSet and pods (cascading)', async () => {
    const ns = 'delete-by-name';
    await namespaceWith(ns, [deployment(ns, 'web'), deployment(ns, 'api')]);
    expect(await names('v1', 'Pod', ns, 'app=web')).toHaveLength(2);

    const run = await runStage(
      deleteManifestStage,
      { account: env.account, location: ns, manifestName: 'deployment web', options: { cascading: true } },
      { clusterPort: env.adapter },
    );

    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect(run.outputs['outputs.manifestNamesByNamespace']).toEqual({ [ns]: ['deployment web'] });
    expect(await names('apps/v1', 'Deployment', ns)).toEqual(['api']);
    await env.adapter.advance(10_000);
    expect(await names('apps/v1', 'ReplicaSet', ns, 'app=web')).toEqual([]);
    expect(await names('v1', 'Pod', ns, 'app=web')).toEqual([]);
    expect(await names('v1', 'Pod', ns, 'app=api')).toHaveLength(2);
  });

  // Fails if a target already gone is deleted again (the re-run writes a DELETE): checked by making findTargets
  // return the named object when the API said 404, once.
  it('deletes a Job by name (Spinnaker fixture fields) with its pods; a re-run finds it gone and writes nothing', async () => {
    const ns = 'delete-job';
    await env.user.createNamespace(ns);
    await env.adapter.apply(env.account, [
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'validate-deployment', namespace: ns },
        spec: {
          template: {
            spec: {
              restartPolicy: 'Never',
              containers: [{ name: 'main', image: 'busybox', command: ['sleep', '600'] }],
            },
          },
        },
      },
    ]);
    await env.adapter.advance(1_000);
    expect(await names('v1', 'Pod', ns, 'batch.kubernetes.io/job-name=validate-deployment')).toHaveLength(1);

    const run = await runStage(
      deleteManifestStage,
      {
        account: env.account,
        app: 'x',
        cloudProvider: 'kubernetes',
        location: ns,
        manifestName: 'job validate-deployment',
        mode: 'static',
        options: { cascading: true },
      },
      { clusterPort: env.adapter },
    );
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect(run.outputs['outputs.manifestNamesByNamespace']).toEqual({ [ns]: ['job validate-deployment'] });
    expect(await names('batch/v1', 'Job', ns)).toEqual([]);
    await env.adapter.advance(10_000);
    expect(await names('v1', 'Pod', ns)).toEqual([]);

    const writes = env.mark();
    expect((await runTask(deleteManifestStage, 'deleteManifest', run, { clusterPort: env.adapter })).status).toBe(
      'SUCCEEDED',
    );
    expect(writes.writes()).toEqual([]);
  });

  // Fails if waitForDelete succeeds without looking (the namespace is still Terminating): checked by making that
  // change once.
  it('deletes a namespace Jibe created and waits until Kubernetes has emptied and removed it', async () => {
    const ns = 'pr-7';
    await env.adapter.apply(env.account, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }]);
    await env.adapter.apply(env.account, [deployment(ns, 'web')]);
    await env.adapter.advance(1_000);
    expect(await names('v1', 'Pod', ns, 'app=web')).toHaveLength(2);

    const run = await runStage(
      deleteManifestStage,
      { account: env.account, manifestName: `namespace ${ns}` },
      { clusterPort: env.adapter },
    );

    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    // Its pods took 5 s to stop; the stage said done only once the namespace itself was gone.
    expect(await env.user.get('v1', 'Namespace', undefined, ns)).toBeUndefined();
  });

  // Fails if `cascading: false` is not sent as propagationPolicy Orphan (the pods go): checked by making that
  // change once.
  it('with cascading off, deletes the Deployment and leaves its ReplicaSet and pods running', async () => {
    const ns = 'delete-orphan';
    await namespaceWith(ns, [deployment(ns, 'web')]);
    const pods = await names('v1', 'Pod', ns, 'app=web');

    const run = await runStage(
      deleteManifestStage,
      { account: env.account, location: ns, manifestName: 'deployment web', options: { cascading: false } },
      { clusterPort: env.adapter },
    );

    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect(await env.user.get('apps/v1', 'Deployment', ns, 'web')).toBeUndefined();
    await env.adapter.advance(1_000);
    const [replicaSet, ...others] = await env.user.list('apps/v1', 'ReplicaSet', ns, 'app=web');
    expect(others).toEqual([]);
    expect(replicaSet!.metadata.ownerReferences ?? []).toEqual([]);
    expect(await names('v1', 'Pod', ns, 'app=web')).toEqual(pods);
  });

  // Spinnaker's CONTAINS becomes a set-based selector, `env in (pr-1,pr-2)`. Fails if it is sent as an equality on its
  // first value (b stays): checked by making that change once. The in-memory fake this replaced split a selector at
  // every comma, so there it matched nothing and the stage succeeded having deleted nothing.
  it('deletes every object Jibe manages that kinds + label selectors match, and nothing else', async () => {
    const ns = 'delete-by-selector';
    await namespaceWith(ns, [
      configMap(ns, 'a', { env: 'pr-1' }),
      configMap(ns, 'b', { env: 'pr-2' }),
      configMap(ns, 'c', { env: 'pr-3' }),
    ]);
    const run = await runStage(
      deleteManifestStage,
      {
        account: env.account,
        location: ns,
        kinds: ['configMap'],
        labelSelectors: {
          selectors: [
            { key: 'env', kind: 'CONTAINS', values: ['pr-1', 'pr-2'] },
            { key: 'app.kubernetes.io/managed-by', kind: 'EQUALS', values: ['jibe'] },
          ],
        },
      },
      { clusterPort: env.adapter },
    );

    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect(run.outputs['deleted']).toEqual([`configMap a in ${ns}`, `configMap b in ${ns}`]);
    expect(await names('v1', 'ConfigMap', ns, 'app.kubernetes.io/managed-by=jibe')).toEqual(['c']);
  });

  // Fails if the managed-by check is skipped (the stage succeeds and deletes): checked by making that change once.
  it('refuses, deleting nothing, when an object it selects was not created by Jibe', async () => {
    const ns = 'delete-refused';
    await namespaceWith(
      ns,
      [configMap(ns, 'a', { env: 'pr-1' }), configMap(ns, 'b', { env: 'pr-1' })],
      [configMap(ns, 'theirs', { env: 'pr-1' }), deployment(ns, 'their-web')],
    );

    const bySelector = await runStage(
      deleteManifestStage,
      { account: env.account, location: ns, kinds: ['configMap'], labelSelector: 'env=pr-1' },
      { clusterPort: env.adapter },
    );
    expect(bySelector.status).toBe('TERMINAL');
    expect(bySelector.error).toEqual({
      code: 'NOT_MANAGED',
      message: `account sim: refusing to delete ConfigMap ${ns}/theirs: it is not managed by Jibe (label app.kubernetes.io/managed-by=jibe missing); set allowUnmanaged: true on the stage to allow it`,
    });
    expect(await names('v1', 'ConfigMap', ns, 'env=pr-1')).toEqual(['a', 'b', 'theirs']);

    const byName = await runStage(
      deleteManifestStage,
      { account: env.account, location: ns, manifestName: 'deployment their-web' },
      { clusterPort: env.adapter },
    );
    expect(byName.error?.code).toBe('NOT_MANAGED');
    expect(await names('apps/v1', 'Deployment', ns)).toEqual(['their-web']);
    expect(await names('v1', 'Pod', ns, 'app=their-web')).toHaveLength(2);
  });

  it('refuses at save time a selector that would match every object of a kind', () => {
    expect(deleteManifestStage.config.safeParse({ account: 'k', kinds: ['configMap'] }).error!.issues[0]).toMatchObject(
      { path: ['labelSelectors'] },
    );
  });
});
