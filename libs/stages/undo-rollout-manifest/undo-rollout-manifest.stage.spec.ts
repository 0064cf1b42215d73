import { describe, expect, it } from 'vitest';
import { InMemoryCluster } from '../kubernetes/testing/in-memory-cluster';
import { continueStage, runStage } from '../kubernetes/testing/stage-harness';
import { undoRolloutManifestStage } from './undo-rollout-manifest.stage';

function withRevisions(): InMemoryCluster {
  const cluster = new InMemoryCluster();
  const deployment = cluster.seed('k', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', annotations: { 'deployment.kubernetes.io/revision': '3' } },
    spec: { template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'a', image: 'web:3' }] } } },
  });
  for (const revision of [1, 2, 3]) {
    cluster.seed('k', {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `web-${revision}`,
        namespace: 'default',
        annotations: { 'deployment.kubernetes.io/revision': String(revision) },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: deployment.metadata.uid!, controller: true },
        ],
      },
      spec: {
        template: {
          metadata: { labels: { app: 'web', 'pod-template-hash': `h${revision}` } },
          spec: { containers: [{ name: 'a', image: `web:${revision}` }] },
        },
      },
    });
  }
  return cluster;
}
const image = (cluster: InMemoryCluster) =>
  (cluster.find('k', 'Deployment', 'web')!.spec!['template'] as any).spec.containers[0].image;

describe('undoRolloutManifest', () => {
  it("rolls back numRevisionsBack using the ReplicaSets' revisions, once even if re-run", async () => {
    const cluster = withRevisions();
    const run = await runStage(
      undoRolloutManifestStage,
      { account: 'k', manifestName: 'deployment web', numRevisionsBack: 1 },
      { cluster },
    );
    expect(run.status).toBe('SUCCEEDED');
    expect(image(cluster)).toBe('web:2');
    expect((cluster.find('k', 'Deployment', 'web')!.spec!['template'] as any).metadata.labels).toEqual({ app: 'web' });
    expect(run.outputs).toEqual({ fromRevision: 3, toRevision: 2 });
    // The rollback made revision 4 of web:2; re-running the stage's tasks must not go back one more.
    cluster.seed('k', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'noise' } });
    expect((await continueStage(undoRolloutManifestStage, run, { cluster }, 0)).status).toBe('SUCCEEDED');
    expect(image(cluster)).toBe('web:2');
  });

  it('rolls back to a given revision, and fails clearly for a missing one', async () => {
    const cluster = withRevisions();
    expect(
      (
        await runStage(
          undoRolloutManifestStage,
          { account: 'k', manifestName: 'deployment web', revision: 1 },
          { cluster },
        )
      ).status,
    ).toBe('SUCCEEDED');
    expect(image(cluster)).toBe('web:1');
    const missing = await runStage(
      undoRolloutManifestStage,
      { account: 'k', manifestName: 'deployment web', revision: 9 },
      { cluster: withRevisions() },
    );
    expect(missing.error?.message).toBe('deployment web in default has no revision 9 (revisions: 3, 2, 1)');
  });
});
