import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kubectl } from '../../../test/kube-sim/kubectl';
import { type StageSimulator, startStageSimulator } from '../../../test/support/stage-simulator';
import { deployManifestStage } from '../deploy-manifest/deploy-manifest.stage';
import { type KubeObject } from '../cluster-kit/cluster.port';
import { continueStage, runStage, runTask } from '../cluster-kit/testing/stage-harness';
import { RESTARTED_AT, rollingRestartManifestStage } from './rolling-restart-manifest.stage';

const deployment = (namespace: string, name: string): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'shop:1' }] } },
  },
});

describe('rollingRestartManifest against the simulator (real adapter over HTTP)', () => {
  let env: StageSimulator;
  let kubectl: Kubectl;

  beforeAll(async () => {
    // Pods take 5 s (simulated) to become ready, so a restart is still rolling unless the stage waits for it.
    env = await startStageSimulator({ timings: { readyMs: 5_000 } });
    kubectl = await Kubectl.create(env.sim);
  });
  afterAll(async () => {
    await kubectl?.dispose();
    await env?.close();
  });

  /** `name/uid` of the app's pods that are not on their way out, as `kubectl get pods` lists them. */
  async function pods(namespace: string, app: string): Promise<string[]> {
    const list = await env.user.list('v1', 'Pod', namespace, `app=${app}`);
    return list.filter((p) => !p.metadata['deletionTimestamp']).map((p) => `${p.metadata.name}/${p.metadata.uid}`);
  }

  /** A namespace of its own where Jibe deployed `web` (so it carries Jibe's label), rolled out and stable. */
  async function deployed(namespace: string): Promise<string[]> {
    await env.user.createNamespace(namespace);
    const deploy = await runStage(
      deployManifestStage,
      { account: env.account, manifests: [deployment(namespace, 'web')] },
      { clusterPort: env.adapter },
    );
    expect(deploy.status, JSON.stringify(deploy.error)).toBe('SUCCEEDED');
    const before = await pods(namespace, 'web');
    expect(before).toHaveLength(3);
    return before;
  }

  /** `kubectl rollout status` without watching: what it says about the Deployment right now. */
  async function rolloutStatus(namespace: string): Promise<string> {
    return kubectl.ok('rollout', 'status', '--watch=false', '-n', namespace, 'deployment/web');
  }

  // Fails if rollingRestart's patch is left out (same pods, no annotation), if waitForManifestToStabilize always
  // succeeds at once (kubectl still reports the rollout waiting), and if chooseRestart ignores the timestamp it kept
  // (the re-runs make revisions 3 and 4): each checked by making that change once.
  it('replaces every pod as kubectl rollout restart does, waits for the rollout, and restarts once on a re-run', async () => {
    const ns = 'restart-web';
    const before = await deployed(ns);

    // The first two tasks, then a crash before the second one's result was committed: the engine runs it again.
    const started = await runStage(
      rollingRestartManifestStage,
      { account: env.account, location: ns, manifestName: 'deployment web' },
      { clusterPort: env.adapter, stopBefore: 'rollingRestart' },
    );
    const crashed = { ...started, context: { ...started.context }, outputs: { ...started.outputs } };
    expect(
      (await runTask(rollingRestartManifestStage, 'rollingRestart', crashed, { clusterPort: env.adapter })).status,
    ).toBe('SUCCEEDED');
    await env.adapter.advance(1_000);
    // Mid-rollout, as kubectl sees it: the restart has begun and is not done.
    expect(await rolloutStatus(ns)).toMatch(/Waiting for deployment "web" rollout to finish/);

    const run = await continueStage(
      rollingRestartManifestStage,
      { ...started, now: started.now + 1_000 },
      { clusterPort: env.adapter },
      1,
    );
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    // The stage returned only once the rollout was complete.
    expect(await rolloutStatus(ns)).toMatch(/deployment "web" successfully rolled out/);
    const after = await pods(ns, 'web');
    expect(after).toHaveLength(3);
    expect(after.filter((p) => before.includes(p))).toEqual([]);
    const names = (list: string[]) => list.map((p) => p.split('/')[0]);
    const uids = (list: string[]) => list.map((p) => p.split('/')[1]);
    expect(names(after).filter((n) => names(before).includes(n))).toEqual([]);
    expect(uids(after).filter((u) => uids(before).includes(u))).toEqual([]);

    const web = await env.user.get('apps/v1', 'Deployment', ns, 'web');
    const annotation = (web!.spec!['template'] as { metadata: { annotations: Record<string, string> } }).metadata
      .annotations[RESTARTED_AT];
    expect(annotation).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(run.outputs).toEqual({ restartedAt: annotation, manifest: 'deployment web in restart-web' });
    // The crash and the re-run wrote the same value: one restart, so revision 2 and no 3.
    const history = await kubectl.ok('rollout', 'history', '-n', ns, 'deployment/web');
    expect(history.split('\n').slice(1).join('\n')).toMatch(/^REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>\n\s*$/);
    // kubectl's own restart of a twin leaves the same history and an annotation of the same form.
    const twin = await runStage(
      deployManifestStage,
      { account: env.account, manifests: [deployment(ns, 'twin')] },
      { clusterPort: env.adapter },
    );
    expect(twin.status, JSON.stringify(twin.error)).toBe('SUCCEEDED');
    await kubectl.ok('rollout', 'restart', '-n', ns, 'deployment/twin');
    const twinTemplate = (await env.user.get('apps/v1', 'Deployment', ns, 'twin'))!.spec!['template'] as {
      metadata: { annotations: Record<string, string> };
    };
    expect(twinTemplate.metadata.annotations[RESTARTED_AT]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    await env.adapter.advance(60_000);
    expect((await kubectl.ok('rollout', 'history', '-n', ns, 'deployment/twin')).replace('twin', 'web')).toBe(history);

    // A redelivered run of the whole stage, later, keeps its timestamp: still revision 2, the same pods.
    const again = await continueStage(
      rollingRestartManifestStage,
      { ...run, now: run.now + 60_000 },
      { clusterPort: env.adapter },
      0,
    );
    expect(again.status).toBe('SUCCEEDED');
    expect(await kubectl.ok('rollout', 'history', '-n', ns, 'deployment/web')).toBe(history);
    expect((await pods(ns, 'web')).sort()).toEqual([...after].sort());
  });

  // Fails if the wait is not for the StatefulSet (a revision still rolling when the stage ends) and if the patch is
  // left out (same uids): each checked by making that change once.
  it('restarts a StatefulSet: the same pod names, new pods, every one at the new revision', async () => {
    const ns = 'restart-db';
    await env.user.createNamespace(ns);
    const statefulSet: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db', namespace: ns },
      spec: {
        replicas: 2,
        serviceName: 'db',
        selector: { matchLabels: { app: 'db' } },
        template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: 'db:1' }] } },
      },
    };
    const deploy = await runStage(
      deployManifestStage,
      { account: env.account, manifests: [statefulSet] },
      { clusterPort: env.adapter },
    );
    expect(deploy.status, JSON.stringify(deploy.error)).toBe('SUCCEEDED');
    const before = await pods(ns, 'db');

    const run = await runStage(
      rollingRestartManifestStage,
      { account: env.account, location: ns, manifestName: 'statefulset db' },
      { clusterPort: env.adapter },
    );
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    const after = await pods(ns, 'db');
    // A StatefulSet keeps its pod names (db-0, db-1); the pods themselves are new.
    expect(after.map((p) => p.split('/')[0]).sort()).toEqual(['db-0', 'db-1']);
    expect(after.filter((p) => before.includes(p))).toEqual([]);
    expect(await kubectl.ok('rollout', 'status', '--watch=false', '-n', ns, 'statefulset/db')).toMatch(
      // What kubectl prints once a StatefulSet with the defaulted partition 0 has every pod updated.
      /partitioned roll out complete: 2 new pods have been updated/,
    );
  });

  // Fails if chooseRestart does not look the target up (the patch's 404 gives KUBERNETES_ERROR instead), and if it
  // accepts any kind (the Service is reported missing instead): each checked by removing that check once.
  it('fails naming a target that does not exist, and changes nothing', async () => {
    const ns = 'restart-missing';
    const before = await deployed(ns);
    const mark = env.mark();
    const run = await runStage(
      rollingRestartManifestStage,
      { account: env.account, location: ns, manifestName: 'deployment api' },
      { clusterPort: env.adapter },
    );
    expect(run.status).toBe('TERMINAL');
    expect(run.error).toEqual({
      code: 'TARGET_NOT_FOUND',
      message: 'deployment api in restart-missing does not exist',
    });
    // A kind kubectl rollout restart does not restart either.
    const service = await runStage(
      rollingRestartManifestStage,
      { account: env.account, location: ns, manifestName: 'service web' },
      { clusterPort: env.adapter },
    );
    expect(service.error).toEqual({
      code: 'INVALID_TARGET',
      message:
        'rollingRestartManifest restarts Deployments, StatefulSets and DaemonSets; service web in restart-missing is none',
    });
    expect(mark.writes()).toEqual([]);
    expect(await pods(ns, 'web')).toEqual(before);
  });
});
