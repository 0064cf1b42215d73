import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kubectl } from '../../../test/kube-sim/kubectl';
import { type StageSimulator, startStageSimulator } from '../../../test/support/stage-simulator';
import { deployManifestStage } from '../deploy-manifest/deploy-manifest.stage';
import { type KubeObject } from '../cluster-kit/cluster.port';
import { continueStage, runStage } from '../cluster-kit/testing/stage-harness';
import { undoRolloutManifestStage } from './undo-rollout-manifest.stage';

const deployment = (namespace: string, name: string, image: string): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image }] } },
  },
});

describe('undoRolloutManifest against the simulator (real adapter over HTTP)', () => {
  let env: StageSimulator;
  let kubectl: Kubectl;

  beforeAll(async () => {
    // Pods take 5 s (simulated) to become ready, so a rollback is still under way unless the stage waits for it.
    env = await startStageSimulator({ timings: { readyMs: 5_000 } });
    kubectl = await Kubectl.create(env.sim);
  });
  afterAll(async () => {
    await kubectl?.dispose();
    await env?.close();
  });

  /** Images of the Deployment's pods that are not on their way out, as `kubectl get pods` lists them. */
  async function podImages(namespace: string, app: string): Promise<string[]> {
    const pods = await env.user.list('v1', 'Pod', namespace, `app=${app}`);
    return pods
      .filter((p) => !p.metadata['deletionTimestamp'])
      .map((p) => (p.spec!['containers'] as { image: string }[])[0]!.image)
      .sort();
  }

  /** `kubectl rollout history` without its first line (which names the Deployment). */
  async function history(namespace: string, name: string): Promise<string> {
    return (await kubectl.ok('rollout', 'history', '-n', namespace, `deployment/${name}`))
      .split('\n')
      .slice(1)
      .join('\n');
  }

  /** A namespace of its own where Jibe deployed each Deployment with `shop:1`, then `shop:2`, … (revisions 1, 2, …). */
  async function deployedTwice(namespace: string, names: string[], images = ['shop:1', 'shop:2']): Promise<void> {
    await env.user.createNamespace(namespace);
    for (const image of images) {
      const deploy = await runStage(
        deployManifestStage,
        { account: env.account, manifests: names.map((name) => deployment(namespace, name, image)) },
        { clusterPort: env.adapter },
      );
      expect(deploy.status, JSON.stringify(deploy.error)).toBe('SUCCEEDED');
    }
  }

  // Fails if undoRolloutManifest's waitForManifestToStabilize always succeeds (pods still shop:2), if numRevisionsBack
  // counts the current revision (outputs 2 → 2), if resolveRevision chooses again on a re-run (history 3, 4), and if
  // the stage harness stops moving the simulator's clock while a task waits (the deploys time out), and if the
  // stage keeps the ReplicaSet's pod-template-hash label on the template: each checked by making that change once.
  it('rolls a Deployment deployed twice back to its first revision, as kubectl rollout undo does', async () => {
    // Jibe deploys both Deployments twice (so they carry its label); kubectl undoes `twin`, the stage undoes `web`.
    const ns = 'undo-previous';
    await deployedTwice(ns, ['web', 'twin']);
    expect(await podImages(ns, 'web')).toEqual(['shop:2', 'shop:2', 'shop:2']);

    const run = await runStage(
      undoRolloutManifestStage,
      { account: env.account, location: ns, manifestName: 'deployment web', numRevisionsBack: 1 },
      { clusterPort: env.adapter },
    );
    expect(run.status).toBe('SUCCEEDED');
    expect(run.outputs).toEqual({ fromRevision: 2, toRevision: 1 });
    // The stage waited for the rollback: by the time it succeeded, only the first image ran.
    expect(await podImages(ns, 'web')).toEqual(['shop:1', 'shop:1', 'shop:1']);
    await kubectl.ok('rollout', 'undo', '-n', ns, 'deployment/twin');
    await env.adapter.advance(60_000);
    expect(await podImages(ns, 'twin')).toEqual(['shop:1', 'shop:1', 'shop:1']);
    // The first ReplicaSet is reused as revision 3; the second is kept at 0 replicas (what `kubectl rollout undo`
    // leaves, so a later undo can go forward again).
    const history3 = await history(ns, 'web');
    expect(history3).toMatch(/^REVISION\s+CHANGE-CAUSE\n2\s+<none>\n3\s+<none>\n/);
    expect(history3).toBe(await history(ns, 'twin'));
    const replicaSets = await env.user.list('apps/v1', 'ReplicaSet', ns, 'app=web');
    expect(
      replicaSets
        .map(
          (rs) =>
            `${rs.metadata.annotations!['deployment.kubernetes.io/revision']}: ${(rs.spec!['template'] as any).spec.containers[0].image} x${String(rs.spec!['replicas'])}`,
        )
        .sort(),
    ).toEqual(['2: shop:2 x0', '3: shop:1 x3']);
    const web = await env.user.get('apps/v1', 'Deployment', ns, 'web');
    expect(web!.metadata.annotations!['deployment.kubernetes.io/revision']).toBe('3');
    // The ReplicaSet's pod-template-hash stays off the Deployment's template (kubectl strips it too).
    expect((web!.spec!['template'] as any).metadata.labels).not.toHaveProperty('pod-template-hash');

    // A redelivered run of the whole stage keeps the target it chose: no revision 4, no image change.
    const again = await continueStage(undoRolloutManifestStage, run, { clusterPort: env.adapter }, 0);
    expect(again.status).toBe('SUCCEEDED');
    expect(await history(ns, 'web')).toBe(history3);
    expect(await podImages(ns, 'web')).toEqual(['shop:1', 'shop:1', 'shop:1']);
  });

  // Fails if an explicit revision is ignored in favour of numRevisionsBack (toRevision 2): checked by making the
  // stage ignore `revision` once.
  it('rolls back to a given revision, skipping the ones between', async () => {
    const ns = 'undo-to-revision';
    await deployedTwice(ns, ['web'], ['shop:1', 'shop:2', 'shop:3']);
    const run = await runStage(
      undoRolloutManifestStage,
      { account: env.account, location: ns, manifestName: 'deployment web', revision: 1 },
      { clusterPort: env.adapter },
    );
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect(run.outputs).toEqual({ fromRevision: 3, toRevision: 1 });
    expect(await podImages(ns, 'web')).toEqual(['shop:1', 'shop:1', 'shop:1']);
    expect(await history(ns, 'web')).toMatch(/^REVISION\s+CHANGE-CAUSE\n2\s+<none>\n3\s+<none>\n4\s+<none>\n/);
  });

  // Fails if a revision is looked up by anything but its number (the stage succeeds): checked by using <= once.
  it('fails naming the revisions there are when asked for one that does not exist', async () => {
    const ns = 'undo-missing';
    await deployedTwice(ns, ['web']);
    const run = await runStage(
      undoRolloutManifestStage,
      { account: env.account, location: ns, manifestName: 'deployment web', revision: 5 },
      { clusterPort: env.adapter },
    );
    expect(run.status).toBe('TERMINAL');
    expect(run.error).toEqual({
      code: 'REVISION_NOT_FOUND',
      message: 'deployment web in undo-missing has no revision 5 (revisions: 2, 1)',
    });
    expect(await podImages(ns, 'web')).toEqual(['shop:2', 'shop:2', 'shop:2']);
    expect(await history(ns, 'web')).toMatch(/^REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>\n/);
  });
});
