import { zodIssuesToDetails } from '@jibe/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StageSimulator, startStageSimulator } from '../../../test/support/stage-simulator';
import { type KubeObject } from '../cluster-kit/cluster.port';
import { runStage, runTask } from '../cluster-kit/testing/stage-harness';
import { scaleManifestStage } from './scale-manifest.stage';

const workload = (
  kind: string,
  namespace: string,
  name: string,
  replicas: number,
  labels: Record<string, string>,
): KubeObject => ({
  apiVersion: 'apps/v1',
  kind,
  metadata: { name, namespace, labels },
  spec: {
    replicas,
    ...(kind === 'StatefulSet' ? { serviceName: name } : {}),
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: `${name}:1` }] } },
  },
});

describe('scaleManifest against the simulator (real adapter over HTTP)', () => {
  let env: StageSimulator;

  beforeAll(async () => {
    // Pods take 2 s (simulated) to become ready, so a scale-up is under way until the stage has waited for it.
    env = await startStageSimulator({ timings: { readyMs: 2_000 } });
  });
  afterAll(async () => {
    await env?.close();
  });

  /**
   * An environment `pr-12` in a namespace of its own: web (3), worker (2) and db (a StatefulSet, 1) deployed by Jibe;
   * not-ours (4) applied by someone else with the same env label; other-env (5) deployed by Jibe for pr-13.
   */
  async function environment(namespace: string): Promise<void> {
    await env.user.createNamespace(namespace);
    await env.adapter.apply(env.account, [
      workload('Deployment', namespace, 'web', 3, { env: 'pr-12' }),
      workload('Deployment', namespace, 'worker', 2, { env: 'pr-12' }),
      workload('StatefulSet', namespace, 'db', 1, { env: 'pr-12' }),
      workload('Deployment', namespace, 'other-env', 5, { env: 'pr-13' }),
    ]);
    await env.user.apply(workload('Deployment', namespace, 'not-ours', 4, { env: 'pr-12' }));
    await env.adapter.advance(5_000);
  }

  /** Each workload's replicas and its running, ready pods, as `kubectl get deploy,sts` and `get pods` show them. */
  async function replicas(namespace: string): Promise<Record<string, string>> {
    const pods = (await env.user.list('v1', 'Pod', namespace)).filter(
      (p) =>
        !p.metadata['deletionTimestamp'] &&
        ((p.status?.['conditions'] ?? []) as { type: string; status: string }[]).some(
          (c) => c.type === 'Ready' && c.status === 'True',
        ),
    );
    const workloads = [
      ...(await env.user.list('apps/v1', 'Deployment', namespace)),
      ...(await env.user.list('apps/v1', 'StatefulSet', namespace)),
    ];
    return Object.fromEntries(
      workloads.map((w) => {
        const ready = pods.filter((p) => p.metadata.labels?.['app'] === w.metadata.name).length;
        return [w.metadata.name, `${String(w.spec!['replicas'])} (${ready} ready)`];
      }),
    );
  }

  const annotations = async (namespace: string, name: string) =>
    (await env.user.get('apps/v1', 'Deployment', namespace, name))!.metadata.annotations ?? {};

  // Fails if scaleTo stops remembering the count (restore finds nothing), if the label-selector scale drops its
  // managed-by term (not-ours goes to 0), and if restore patches an object with nothing remembered (the re-run
  // writes): each checked by making that change once. A second scale-in keeping the count has two guards in scaleTo
  // (the early return at the same count, and never remembering 0); removing either alone still passes.
  it('scales in a whole environment to 0, remembering counts, and restores them', async () => {
    const ns = 'scale-env';
    await environment(ns);
    expect(await replicas(ns)).toEqual({
      web: '3 (3 ready)',
      worker: '2 (2 ready)',
      db: '1 (1 ready)',
      'not-ours': '4 (4 ready)',
      'other-env': '5 (5 ready)',
    });
    const scaleIn = { account: env.account, location: ns, labelSelector: 'env=pr-12', replicas: 0 };
    const run = await runStage(scaleManifestStage, scaleIn, { clusterPort: env.adapter });
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    // The stage waited until the pods were gone; someone else's workload and the other environment kept theirs.
    expect(await replicas(ns)).toEqual({
      web: '0 (0 ready)',
      worker: '0 (0 ready)',
      db: '0 (0 ready)',
      'not-ours': '4 (4 ready)',
      'other-env': '5 (5 ready)',
    });
    expect(await annotations(ns, 'web')).toMatchObject({ 'jibe.dev/previous-replicas': '3' });

    // Scaling in again (or re-running the task) keeps the remembered counts.
    expect((await runStage(scaleManifestStage, scaleIn, { clusterPort: env.adapter })).status).toBe('SUCCEEDED');
    expect(await annotations(ns, 'web')).toMatchObject({ 'jibe.dev/previous-replicas': '3' });

    const back = await runStage(
      scaleManifestStage,
      { account: env.account, location: ns, labelSelector: 'env=pr-12', restore: true },
      { clusterPort: env.adapter },
    );
    expect(back.status, JSON.stringify(back.error)).toBe('SUCCEEDED');
    expect(await replicas(ns)).toEqual({
      web: '3 (3 ready)',
      worker: '2 (2 ready)',
      db: '1 (1 ready)',
      'not-ours': '4 (4 ready)',
      'other-env': '5 (5 ready)',
    });
    expect(await annotations(ns, 'web')).not.toHaveProperty('jibe.dev/previous-replicas');
    // Restoring twice changes nothing: no write reaches the cluster.
    const writes = env.mark();
    await runTask(scaleManifestStage, 'scaleManifest', back, { clusterPort: env.adapter });
    expect(writes.writes()).toEqual([]);
  });

  // Fails if waitForManifestToStabilize succeeds at its first look (2 of 5 pods not ready yet): checked by making
  // it return SUCCEEDED at once (the environment test fails too: pods still terminating).
  it('scales a static target and waits until it is stable', async () => {
    const ns = 'scale-static';
    await environment(ns);
    const run = await runStage(
      scaleManifestStage,
      { account: env.account, location: ns, manifestName: 'deployment web', replicas: '5' },
      { clusterPort: env.adapter },
    );
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect((await replicas(ns))['web']).toBe('5 (5 ready)');
    expect(run.runs[0]).toBe('scaleManifest');
    expect(run.runs.filter((t) => t === 'waitForManifestToStabilize').length).toBeGreaterThan(1);
    expect(run.outputs['scaled']).toEqual([`deployment web in ${ns}: 3 → 5`]);
  });

  // Fails if second_newest picks the wrong version: checked by making selectServerGroup pick the newest once.
  it('scales a dynamic target (Spinnaker fixture: second_newest in a cluster)', async () => {
    const ns = 'scale-dynamic';
    await env.user.createNamespace(ns);
    // Created newest first, so creation time and version number disagree: the version number decides.
    for (const v of ['v002', 'v001', 'v000']) {
      await env.adapter.apply(env.account, [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          metadata: { name: `helloworld-${v}`, namespace: ns },
          spec: {
            replicas: 3,
            selector: { matchLabels: { app: 'helloworld', version: v } },
            template: {
              metadata: { labels: { app: 'helloworld', version: v } },
              spec: { containers: [{ name: 'hello', image: `helloworld:${v}` }] },
            },
          },
        },
      ]);
      await env.adapter.advance(1_000);
    }
    const run = await runStage(
      scaleManifestStage,
      {
        account: env.account,
        app: 'helloworld',
        cloudProvider: 'kubernetes',
        cluster: 'replicaSet helloworld',
        criteria: 'second_newest',
        kind: 'replicaSet',
        location: ns,
        manifestName: ' ',
        mode: 'dynamic',
        replicas: 1,
      },
      { clusterPort: env.adapter },
    );
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    const sets = await env.user.list('apps/v1', 'ReplicaSet', ns);
    const pods = await env.user.list('v1', 'Pod', ns);
    expect(
      sets
        .map((r) => {
          const version = r.metadata.name!.slice(-4);
          const running = pods.filter((p) => p.metadata.labels?.['version'] === version);
          return `${r.metadata.name}: ${String(r.spec!['replicas'])} (${running.length} pods)`;
        })
        .sort(),
    ).toEqual(['helloworld-v000: 3 (3 pods)', 'helloworld-v001: 1 (1 pods)', 'helloworld-v002: 3 (3 pods)']);
  });

  // Fails if the managed-by check of a static target is removed (not-ours goes to 0): checked by making that
  // change once.
  it('refuses an object Jibe does not manage, and says why', async () => {
    const ns = 'scale-not-ours';
    await environment(ns);
    const run = await runStage(
      scaleManifestStage,
      { account: env.account, location: ns, manifestName: 'deployment not-ours', replicas: 0 },
      { clusterPort: env.adapter },
    );
    expect(run.error).toEqual({
      code: 'NOT_MANAGED',
      message: `account sim: refusing to merge patch Deployment ${ns}/not-ours: it is not managed by Jibe (label app.kubernetes.io/managed-by=jibe missing); set allowUnmanaged: true on the stage to allow it`,
    });
    expect((await replicas(ns))['not-ours']).toBe('4 (4 ready)');
  });

  it('fails clearly when a dynamic target finds no version', async () => {
    const ns = 'scale-no-version';
    await environment(ns);
    const run = await runStage(
      scaleManifestStage,
      {
        account: env.account,
        location: ns,
        mode: 'dynamic',
        cluster: 'deployment api',
        criteria: 'newest',
        replicas: 0,
      },
      { clusterPort: env.adapter },
    );
    expect(run.error?.message).toBe(`no newest version of deployment api in ${ns}: no versions exist`);
  });

  it('gives precise config errors', () => {
    const details = (c: Record<string, unknown>) =>
      zodIssuesToDetails(scaleManifestStage.config.safeParse(c, { reportInput: true }).error!.issues);
    expect(details({ account: 'a', manifestName: 'web' })).toEqual([
      { path: 'manifestName', message: 'must be "<kind> <name>", e.g. "deployment web"; got "web"' },
      { path: 'replicas', message: 'required (or restore: true)' },
    ]);
    expect(details({ account: 'a', mode: 'dynamic', replicas: 1 })).toEqual([
      { path: 'cluster', message: 'required when mode is dynamic' },
      { path: 'criteria', message: 'required when mode is dynamic' },
    ]);
    expect(details({ account: 'a', labelSelector: 'env=x', replicas: -1 })).toEqual([
      { path: 'replicas', message: 'Too small: expected number to be >=0' },
    ]);
  });
});
