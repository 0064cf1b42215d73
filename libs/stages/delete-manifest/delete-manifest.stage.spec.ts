import { describe, expect, it } from 'vitest';
import { InMemoryCluster } from '../kubernetes/testing/in-memory-cluster';
import { runStage, runTask } from '../kubernetes/testing/stage-harness';
import { deleteManifestStage } from './delete-manifest.stage';

const jibe = { 'app.kubernetes.io/managed-by': 'jibe' };
function seeded(): InMemoryCluster {
  const cluster = new InMemoryCluster();
  cluster.seed('k', {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'validate-deployment', namespace: 'staging', labels: jibe },
  });
  cluster.seed('k', {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'a', namespace: 'staging', labels: { ...jibe, env: 'pr-1' } },
  });
  cluster.seed('k', {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'b', namespace: 'staging', labels: { ...jibe, env: 'pr-1' } },
  });
  cluster.seed('k', {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'theirs', namespace: 'staging', labels: { env: 'pr-1' } },
  });
  return cluster;
}

describe('deleteManifest', () => {
  it('deletes by name (Spinnaker fixture fields) and waits until it is gone', async () => {
    const cluster = seeded();
    const run = await runStage(
      deleteManifestStage,
      {
        account: 'k',
        app: 'x',
        cloudProvider: 'kubernetes',
        location: 'staging',
        manifestName: 'job validate-deployment',
        mode: 'static',
        options: { cascading: true },
      },
      { cluster },
    );
    expect(run.status).toBe('SUCCEEDED');
    expect(cluster.calls).toEqual(['delete Job staging/validate-deployment']);
    expect(run.outputs['outputs.manifestNamesByNamespace']).toEqual({ staging: ['job validate-deployment'] });
    // Again: already gone, nothing to do.
    expect((await runTask(deleteManifestStage, 'deleteManifest', run, { cluster })).status).toBe('SUCCEEDED');
    expect(cluster.calls).toHaveLength(1);
  });

  it('refuses, deleting nothing, when a selected object is not managed by Jibe', async () => {
    const cluster = seeded();
    const run = await runStage(
      deleteManifestStage,
      { account: 'k', location: 'staging', kinds: ['configMap'], labelSelector: 'env=pr-1' },
      { cluster },
    );
    expect(run.error).toEqual({
      code: 'NOT_MANAGED',
      message:
        'refusing to delete configMap theirs in staging: not managed by Jibe (label app.kubernetes.io/managed-by=jibe missing); nothing was deleted',
    });
    expect(cluster.calls).toEqual([]);
  });

  it('deletes every managed object that kinds + Spinnaker labelSelectors match', async () => {
    const cluster = seeded();
    cluster.script('ConfigMap', 'a', 'stable');
    const run = await runStage(
      deleteManifestStage,
      {
        account: 'k',
        location: 'staging',
        kinds: ['configMap'],
        labelSelectors: {
          selectors: [
            { key: 'env', kind: 'EQUALS', values: ['pr-1'] },
            { key: 'app.kubernetes.io/managed-by', kind: 'EQUALS', values: ['jibe'] },
          ],
        },
      },
      { cluster },
    );
    expect(run.status).toBe('SUCCEEDED');
    expect(cluster.calls).toEqual(['delete ConfigMap staging/a', 'delete ConfigMap staging/b']);
  });

  it('refuses a selector that would match every object of a kind', () => {
    expect(deleteManifestStage.config.safeParse({ account: 'k', kinds: ['configMap'] }).error!.issues[0]).toMatchObject(
      { path: ['labelSelectors'] },
    );
  });
});
