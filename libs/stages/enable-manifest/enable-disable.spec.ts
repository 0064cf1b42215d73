import { describe, expect, it } from 'vitest';
import { disableManifestStage } from '../disable-manifest/disable-manifest.stage';
import { deployManifestStage } from '../deploy-manifest/deploy-manifest.stage';
import { InMemoryCluster } from '../kubernetes/testing/in-memory-cluster';
import { runStage, runTask } from '../kubernetes/testing/stage-harness';
import { enableManifestStage } from './enable-manifest.stage';

const deploy = (image: string) => ({
  account: 'k',
  manifests: [
    {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'web' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'a', image }] } },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' } } },
  ],
  trafficManagement: { enabled: true, options: { strategy: 'redblack', services: ['service web'], scaleDown: false } },
});

async function twoVersions(): Promise<InMemoryCluster> {
  const cluster = new InMemoryCluster();
  expect((await runStage(deployManifestStage, deploy('web:1'), { cluster })).status).toBe('SUCCEEDED');
  expect((await runStage(deployManifestStage, deploy('web:2'), { cluster })).status).toBe('SUCCEEDED');
  cluster.calls.length = 0;
  return cluster;
}
const version = (cluster: InMemoryCluster) =>
  cluster.find('k', 'Service', 'web')!.spec!['selector'] as Record<string, string>;

describe('enableManifest / disableManifest', () => {
  it('rolls back in one Service update by enabling the previous version (dynamic target)', async () => {
    const cluster = await twoVersions();
    expect(version(cluster)['jibe.dev/version']).toBe('v001');
    const run = await runStage(
      enableManifestStage,
      { account: 'k', mode: 'dynamic', cluster: 'replicaSet web', criteria: 'second_newest' },
      { cluster },
    );
    expect(run.status).toBe('SUCCEEDED');
    expect(cluster.calls).toEqual([
      'patch Service default/web {"spec":{"selector":{"jibe.dev/cluster":"web","jibe.dev/version":"v000"}}}',
    ]);
    expect(run.outputs['previousVersions']).toEqual({ web: 'v001' });
    // Enabling again writes nothing.
    await runTask(enableManifestStage, 'enableManifest', run, { cluster });
    expect(cluster.calls).toHaveLength(1);
  });

  it('refuses to send traffic to a version scaled in to zero, and leaves the Service alone', async () => {
    const cluster = await twoVersions();
    await cluster.patch(
      'k',
      { kind: 'ReplicaSet', name: 'web-v000', namespace: 'default' },
      { spec: { replicas: 0 } },
      'merge',
    );
    cluster.calls.length = 0;
    const run = await runStage(
      enableManifestStage,
      { account: 'k', mode: 'dynamic', cluster: 'replicaSet web', criteria: 'second_newest' },
      { cluster },
    );
    expect(run.status).toBe('TERMINAL');
    expect(run.error).toMatchObject({ code: 'NO_CAPACITY' });
    expect(run.error!.message).toMatch(/refusing to send traffic to replicaset web-v000.*0 replicas/i);
    expect(version(cluster)['jibe.dev/version']).toBe('v001');
    expect(cluster.calls.filter((c) => c.startsWith('patch'))).toEqual([]);
  });

  it('waits for an unstable server group before enabling it, and never enables a failed one', async () => {
    const cluster = await twoVersions();
    cluster.script('ReplicaSet', 'web-v000', 'progressing', [
      'failed',
      'FailedCreate: pods "web-v000-x" is forbidden: exceeded quota',
    ]);
    const run = await runStage(enableManifestStage, { account: 'k', manifestName: 'replicaSet web-v000' }, { cluster });
    expect(run.status).toBe('TERMINAL');
    expect(run.error?.message).toBe(
      'replicaSet web-v000 in default failed: FailedCreate: pods "web-v000-x" is forbidden: exceeded quota',
    );
    expect(cluster.calls).toEqual([]);
  });

  it('disabling an old version changes nothing; disabling the live one leaves the Service without endpoints', async () => {
    const cluster = await twoVersions();
    const old = await runStage(
      disableManifestStage,
      {
        account: 'k',
        app: 'web',
        cluster: 'replicaSet web',
        criteria: 'second_newest',
        kind: 'replicaSet',
        location: 'default',
        manifestName: ' ',
        mode: 'dynamic',
      },
      { cluster },
    );
    expect(old.status).toBe('SUCCEEDED');
    expect(cluster.calls).toEqual([]);
    const live = await runStage(
      disableManifestStage,
      { account: 'k', manifestName: 'replicaSet web-v001' },
      { cluster },
    );
    expect(live.outputs['servicesWithoutTraffic']).toEqual(['web']);
    expect(version(cluster)['jibe.dev/version']).toBe('none');
  });

  it('fails clearly for a workload that is not a server group or has no Services', async () => {
    const cluster = await twoVersions();
    cluster.seed('k', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'plain', namespace: 'default' },
      spec: {},
    });
    expect(
      (await runStage(enableManifestStage, { account: 'k', manifestName: 'deployment plain' }, { cluster })).error
        ?.message,
    ).toBe(
      'deployment plain in default is not a server group (a version named <name>-vNNN deployed by deployManifest)',
    );
    cluster.seed('k', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'api-v000', namespace: 'default' },
      spec: {},
    });
    expect(
      (await runStage(enableManifestStage, { account: 'k', manifestName: 'deployment api-v000' }, { cluster })).error
        ?.message,
    ).toBe(
      'no Services for deployment api-v000 in default: set services, or deploy it with trafficManagement.options.services',
    );
  });
});
