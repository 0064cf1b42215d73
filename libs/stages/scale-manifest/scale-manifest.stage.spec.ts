import { zodIssuesToDetails } from '@jibe/domain';
import { describe, expect, it } from 'vitest';
import { type KubeObject } from '../kubernetes/cluster.port';
import { InMemoryCluster } from '../kubernetes/testing/in-memory-cluster';
import { runStage, runTask } from '../kubernetes/testing/stage-harness';
import { scaleManifestStage } from './scale-manifest.stage';

const managed = { 'app.kubernetes.io/managed-by': 'jibe', env: 'pr-12' };
const workload = (
  kind: string,
  name: string,
  replicas: number,
  labels: Record<string, string> = managed,
): KubeObject => ({
  apiVersion: 'apps/v1',
  kind,
  metadata: { name, namespace: 'pr-12', labels },
  spec: { replicas },
});

function environment(): InMemoryCluster {
  const cluster = new InMemoryCluster();
  cluster.seed('staging', workload('Deployment', 'web', 3));
  cluster.seed('staging', workload('Deployment', 'worker', 2));
  cluster.seed('staging', workload('StatefulSet', 'db', 1));
  cluster.seed('staging', workload('Deployment', 'not-ours', 4, { env: 'pr-12' }));
  cluster.seed('staging', workload('Deployment', 'other-env', 5, { ...managed, env: 'pr-13' }));
  return cluster;
}
const replicas = (cluster: InMemoryCluster) =>
  Object.fromEntries(
    [...cluster.all('staging', 'Deployment'), ...cluster.all('staging', 'StatefulSet')].map((o) => [
      o.metadata.name,
      o.spec!['replicas'],
    ]),
  );

describe('scaleManifest', () => {
  it('scales in a whole environment to 0, remembering counts, and restores them', async () => {
    const cluster = environment();
    const scaleIn = { account: 'staging', location: 'pr-12', labelSelector: 'env=pr-12', replicas: 0 };
    const run = await runStage(scaleManifestStage, scaleIn, { cluster });
    expect(run.status).toBe('SUCCEEDED');
    expect(replicas(cluster)).toEqual({ web: 0, worker: 0, db: 0, 'not-ours': 4, 'other-env': 5 });
    expect(cluster.find('staging', 'Deployment', 'web', 'pr-12')!.metadata.annotations).toEqual({
      'jibe.dev/previous-replicas': '3',
    });

    // Scaling in again (or re-running the task) keeps the remembered counts.
    expect((await runStage(scaleManifestStage, scaleIn, { cluster })).status).toBe('SUCCEEDED');
    expect(cluster.find('staging', 'Deployment', 'web', 'pr-12')!.metadata.annotations).toEqual({
      'jibe.dev/previous-replicas': '3',
    });

    const back = await runStage(
      scaleManifestStage,
      { account: 'staging', location: 'pr-12', labelSelector: 'env=pr-12', restore: true },
      { cluster },
    );
    expect(back.status).toBe('SUCCEEDED');
    expect(replicas(cluster)).toEqual({ web: 3, worker: 2, db: 1, 'not-ours': 4, 'other-env': 5 });
    expect(cluster.find('staging', 'Deployment', 'web', 'pr-12')!.metadata.annotations).toEqual({});
    // Restoring twice changes nothing.
    const calls = cluster.calls.length;
    await runTask(scaleManifestStage, 'scaleManifest', back, { cluster });
    expect(cluster.calls.length).toBe(calls);
  });

  it('scales a static target and waits until it is stable', async () => {
    const cluster = environment();
    cluster.script('Deployment', 'web', 'progressing', 'stable');
    const run = await runStage(
      scaleManifestStage,
      { account: 'staging', location: 'pr-12', manifestName: 'deployment web', replicas: '5' },
      { cluster },
    );
    expect(run.status).toBe('SUCCEEDED');
    expect(replicas(cluster)['web']).toBe(5);
    expect(run.runs).toEqual(['scaleManifest', 'waitForManifestToStabilize', 'waitForManifestToStabilize']);
  });

  it('scales a dynamic target (Spinnaker fixture: second_newest in a cluster)', async () => {
    const cluster = new InMemoryCluster();
    for (const v of ['v000', 'v001', 'v002'])
      cluster.seed('k', {
        ...workload('ReplicaSet', `helloworld-${v}`, 3),
        metadata: { name: `helloworld-${v}`, namespace: 'default', labels: managed },
      });
    const run = await runStage(
      scaleManifestStage,
      {
        account: 'k',
        app: 'helloworld',
        cloudProvider: 'kubernetes',
        cluster: 'replicaSet helloworld',
        criteria: 'second_newest',
        kind: 'replicaSet',
        location: 'default',
        manifestName: ' ',
        mode: 'dynamic',
        replicas: 1,
      },
      { cluster },
    );
    expect(run.status).toBe('SUCCEEDED');
    expect(cluster.all('k', 'ReplicaSet').map((r) => r.spec!['replicas'])).toEqual([3, 1, 3]);
  });

  it('refuses an object Jibe does not manage, and says why', async () => {
    const run = await runStage(
      scaleManifestStage,
      { account: 'staging', location: 'pr-12', manifestName: 'deployment not-ours', replicas: 0 },
      { cluster: environment() },
    );
    expect(run.error).toEqual({
      code: 'NOT_MANAGED',
      message:
        'refusing to scale deployment not-ours in pr-12: it is not managed by Jibe (label app.kubernetes.io/managed-by=jibe missing)',
    });
  });

  it('fails clearly when a dynamic target finds no version', async () => {
    const run = await runStage(
      scaleManifestStage,
      {
        account: 'staging',
        location: 'pr-12',
        mode: 'dynamic',
        cluster: 'deployment api',
        criteria: 'newest',
        replicas: 0,
      },
      { cluster: environment() },
    );
    expect(run.error?.message).toBe('no newest version of deployment api in pr-12: no versions exist');
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
