import { describe, expect, it } from 'vitest';
import { type KubeObject } from '../kubernetes/cluster.port';
import { InMemoryCluster } from '../kubernetes/testing/in-memory-cluster';
import { runStage, runTask } from '../kubernetes/testing/stage-harness';
import { deployManifestStage } from './deploy-manifest.stage';

const web = (image: string): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web' },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image }] } },
  },
});
const svc: KubeObject = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web' },
  spec: { selector: { app: 'web' } },
};

const config = (image: string, options: Record<string, unknown> = {}, strategy = 'redblack') => ({
  account: 'staging',
  manifests: [web(image), svc],
  trafficManagement: {
    enabled: true,
    options: { strategy, services: ['service web'], delayBeforeScaleDownSeconds: 10, ...options },
  },
});

/** A cluster where web-v000 … web-v(n-1) exist (Jibe-managed) and the Service points at the newest. */
async function withVersions(n: number): Promise<InMemoryCluster> {
  const cluster = new InMemoryCluster();
  for (let i = 0; i < n; i++) {
    expect(
      (await runStage(deployManifestStage, config(`web:${i}`, { maxVersionsToKeep: 100 }), { cluster })).status,
    ).toBe('SUCCEEDED');
  }
  cluster.calls.length = 0;
  return cluster;
}

const selector = (cluster: InMemoryCluster) => cluster.find('staging', 'Service', 'web')!.spec!['selector'];

describe('deployManifest red/black', () => {
  it('first deploy: creates web-v000 and the Service only once v000 is stable, already pointing at it', async () => {
    const cluster = new InMemoryCluster();
    cluster.script('Deployment', 'web-v000', 'progressing', 'stable');
    const run = await runStage(deployManifestStage, config('web:1'), { cluster });
    expect(run.status).toBe('SUCCEEDED');
    expect(cluster.calls).toEqual(['apply Deployment default/web-v000', 'apply Service default/web']);
    expect(selector(cluster)).toEqual({ app: 'web', 'jibe.dev/cluster': 'web', 'jibe.dev/version': 'v000' });
    const v000 = cluster.find('staging', 'Deployment', 'web-v000')!;
    expect(v000.spec!['selector']).toEqual({
      matchLabels: { app: 'web', 'jibe.dev/cluster': 'web', 'jibe.dev/version': 'v000' },
    });
    expect(v000.metadata.labels).toMatchObject({ 'jibe.dev/version': 'v000', 'app.kubernetes.io/managed-by': 'jibe' });
    expect(run.outputs['deployedServerGroups']).toEqual([
      {
        account: 'staging',
        namespace: 'default',
        kind: 'Deployment',
        name: 'web-v000',
        cluster: 'web',
        version: 'v000',
        reused: false,
      },
    ]);
  });

  it('switches the Service in one update only after the new version is stable, and scales the old one down after the delay', async () => {
    const cluster = await withVersions(1);
    cluster.script('Deployment', 'web-v001', 'progressing', 'progressing', 'stable');
    let switchedAt = 0;
    let scaledAt = 0;
    const run = await runStage(deployManifestStage, config('web:2'), {
      cluster,
      beforeRun: (task, now) => {
        if (task === 'switchTraffic' && switchedAt === 0) switchedAt = now;
        if (task === 'scaleDownOld') scaledAt = now;
      },
    });
    expect(run.status).toBe('SUCCEEDED');
    const writes = cluster.calls.map((c) => c.replace(/ \{.*/, ''));
    expect(writes).toEqual([
      'apply Service default/web', // the manifest's Service, still pinned to v000
      'apply Deployment default/web-v001',
      'patch Service default/web',
      'patch Deployment default/web-v000',
    ]);
    expect(cluster.calls[2]).toBe(
      'patch Service default/web {"spec":{"selector":{"jibe.dev/cluster":"web","jibe.dev/version":"v001"}}}',
    );
    expect(selector(cluster)).toMatchObject({ 'jibe.dev/version': 'v001' });
    const old = cluster.find('staging', 'Deployment', 'web-v000')!;
    expect(old.spec!['replicas']).toBe(0);
    expect(old.metadata.annotations!['jibe.dev/previous-replicas']).toBe('3');
    expect(scaledAt - switchedAt).toBeGreaterThanOrEqual(10_000);
    expect(run.outputs['previousServerGroups']).toEqual([
      { service: 'web', namespace: 'default', cluster: 'web', version: 'v000', serverGroup: 'web-v000' },
    ]);
  });

  it("never sends traffic to a version that does not become stable, and fails with Kubernetes' reason", async () => {
    const cluster = await withVersions(1);
    cluster.script('Deployment', 'web-v001', 'progressing', [
      'failed',
      'ProgressDeadlineExceeded: image pull failed: ErrImagePull',
    ]);
    const run = await runStage(deployManifestStage, config('web:broken'), { cluster });
    expect(run.status).toBe('TERMINAL');
    expect(run.error?.message).toContain(
      'deployment web-v001 in default failed: ProgressDeadlineExceeded: image pull failed',
    );
    expect(selector(cluster)).toMatchObject({ 'jibe.dev/version': 'v000' });
    expect(cluster.find('staging', 'Deployment', 'web-v000')!.spec!['replicas']).toBe(3);
    expect(cluster.calls.filter((c) => c.startsWith('patch'))).toEqual([]);
  });

  it('keeps maxVersionsToKeep versions: deletes older ones, scales down the previous one', async () => {
    const cluster = await withVersions(4);
    const run = await runStage(deployManifestStage, config('web:9', { maxVersionsToKeep: 2 }), { cluster });
    expect(run.status).toBe('SUCCEEDED');
    expect(cluster.all('staging', 'Deployment').map((d) => [d.metadata.name, d.spec!['replicas']])).toEqual([
      ['web-v003', 0],
      ['web-v004', 3],
    ]);
    expect(run.outputs['deletedServerGroups']).toEqual([
      'deployment web-v002 in default',
      'deployment web-v001 in default',
      'deployment web-v000 in default',
    ]);
  });

  it('highlander deletes every older version after the switch', async () => {
    const cluster = await withVersions(2);
    const run = await runStage(deployManifestStage, config('web:9', {}, 'highlander'), { cluster });
    expect(run.status).toBe('SUCCEEDED');
    expect(cluster.all('staging', 'Deployment').map((d) => d.metadata.name)).toEqual(['web-v002']);
    expect(selector(cluster)).toMatchObject({ 'jibe.dev/version': 'v002' });
  });

  it('scaleDown: false keeps the old version running for a one-update rollback', async () => {
    const cluster = await withVersions(1);
    const run = await runStage(deployManifestStage, config('web:2', { scaleDown: false }), { cluster });
    expect(run.status).toBe('SUCCEEDED');
    expect(cluster.find('staging', 'Deployment', 'web-v000')!.spec!['replicas']).toBe(3);
  });

  it('re-deploys an unchanged manifest as the same version', async () => {
    const cluster = await withVersions(1);
    const run = await runStage(deployManifestStage, config('web:0'), { cluster });
    expect(run.status).toBe('SUCCEEDED');
    expect(cluster.all('staging', 'Deployment').map((d) => d.metadata.name)).toEqual(['web-v000']);
    expect(cluster.calls.filter((c) => !c.startsWith('apply'))).toEqual([]);
  });

  it('leaves an old version Jibe does not manage alone', async () => {
    const cluster = new InMemoryCluster();
    cluster.seed('staging', { ...web('web:old'), metadata: { name: 'web-v000', namespace: 'default' } });
    cluster.seed('staging', {
      ...svc,
      metadata: { name: 'web', namespace: 'default' },
      spec: { selector: { app: 'web', 'jibe.dev/version': 'v000' } },
    });
    const run = await runStage(deployManifestStage, config('web:1', {}, 'highlander'), { cluster });
    expect(run.status).toBe('SUCCEEDED');
    expect(cluster.find('staging', 'Deployment', 'web-v000')).toBeDefined();
    expect(run.outputs['deletedServerGroups']).toEqual([]);
  });

  it('every task is safe to run twice', async () => {
    const cluster = await withVersions(1);
    const run = await runStage(deployManifestStage, config('web:2'), { cluster });
    const before = JSON.stringify(cluster.all('staging', 'Deployment').concat(cluster.all('staging', 'Service')));
    const calls = cluster.calls.length;
    for (const task of deployManifestStage.tasks) {
      const result = await runTask(deployManifestStage, task.name, run, { cluster });
      expect(result.status, task.name).toBe('SUCCEEDED');
    }
    expect(cluster.calls.slice(calls).filter((c) => !c.startsWith('apply'))).toEqual([]);
    const after = JSON.stringify(cluster.all('staging', 'Deployment').concat(cluster.all('staging', 'Service')));
    expect(after.replace(/"generation":\d+/g, '')).toBe(before.replace(/"generation":\d+/g, ''));
    expect(cluster.all('staging', 'Deployment').map((d) => d.metadata.name)).toEqual(['web-v000', 'web-v001']);
  });

  it('runs the official Spinnaker blue/green ReplicaSet manifest (annotations name the Service)', async () => {
    const cluster = new InMemoryCluster();
    cluster.seed('staging', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'hellosvc', namespace: 'default' },
      spec: { selector: { frontedBy: 'hellosvc' } },
    });
    const replicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        annotations: {
          'strategy.spinnaker.io/max-version-history': '2',
          'traffic.spinnaker.io/load-balancers': '["service hellosvc"]',
        },
        labels: { tier: 'helloworld' },
        name: 'helloworld',
        namespace: 'default',
      },
      spec: {
        replicas: 3,
        selector: { matchLabels: { tier: 'helloworld' } },
        template: {
          metadata: { labels: { app: 'helloworld', tier: 'helloworld' } },
          spec: { containers: [{ image: 'helloworld:v1', name: 'helloworld' }] },
        },
      },
    };
    const stage = {
      account: 'staging',
      cloudProvider: 'kubernetes',
      manifestArtifactAccount: 'embedded-artifact',
      manifests: [replicaSet],
      moniker: { app: 'helloworld' },
      relationships: { loadBalancers: [], securityGroups: [] },
      source: 'text',
    };
    expect((await runStage(deployManifestStage, stage, { cluster })).status).toBe('SUCCEEDED');
    const second = { ...stage, manifests: [{ ...replicaSet, spec: { ...replicaSet.spec, replicas: 4 } }] };
    expect((await runStage(deployManifestStage, second, { cluster })).status).toBe('SUCCEEDED');
    expect(cluster.all('staging', 'ReplicaSet').map((r) => r.metadata.name)).toEqual([
      'helloworld-v000',
      'helloworld-v001',
    ]);
    expect(cluster.find('staging', 'Service', 'hellosvc')!.spec!['selector']).toEqual({
      frontedBy: 'hellosvc',
      'jibe.dev/cluster': 'helloworld',
      'jibe.dev/version': 'v001',
    });
  });
});
