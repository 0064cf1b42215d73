import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StageSimulator, startStageSimulator } from '../../../test/support/stage-simulator';
import { deployManifestStage } from '../deploy-manifest/deploy-manifest.stage';
import { disableManifestStage } from '../disable-manifest/disable-manifest.stage';
import { runStage, runTask } from '../cluster-kit/testing/stage-harness';
import { enableManifestStage } from './enable-manifest.stage';

const deploy = (account: string, namespace: string, image: string, kind = 'ReplicaSet') => ({
  account,
  namespace,
  manifests: [
    {
      apiVersion: 'apps/v1',
      kind,
      metadata: { name: 'web' },
      spec: {
        replicas: 2,
        ...(kind === 'Deployment' ? { progressDeadlineSeconds: 30 } : {}),
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'a', image }] } },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { selector: { app: 'web' }, ports: [{ port: 80 }] },
    },
  ],
  trafficManagement: { enabled: true, options: { strategy: 'redblack', services: ['service web'], scaleDown: false } },
});

describe('enableManifest / disableManifest against the simulator (real adapter over HTTP)', () => {
  let env: StageSimulator;

  beforeAll(async () => {
    env = await startStageSimulator();
  });
  afterAll(async () => {
    await env?.close();
  });

  /** A namespace of its own where Jibe deployed web:1 (web-v000), then web:2 (web-v001, live); both running. */
  async function twoVersions(namespace: string, kind = 'ReplicaSet'): Promise<void> {
    await env.user.createNamespace(namespace);
    for (const image of ['web:1', 'web:2']) {
      const run = await runStage(deployManifestStage, deploy(env.account, namespace, image, kind), {
        clusterPort: env.adapter,
      });
      expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    }
  }

  /** The Service's version label and which versions its endpoints are, as `kubectl get endpoints web` shows. */
  async function traffic(namespace: string): Promise<{ selects: string | undefined; endpoints: string[] }> {
    await env.adapter.advance(100);
    const service = await env.user.get('v1', 'Service', namespace, 'web');
    const endpoints = await env.user.get('v1', 'Endpoints', namespace, 'web');
    const addresses = ((endpoints?.['subsets'] ?? []) as { addresses?: { targetRef?: { name: string } }[] }[]).flatMap(
      (s) => s.addresses ?? [],
    );
    return {
      selects: (service!.spec!['selector'] as Record<string, string>)['jibe.dev/version'],
      endpoints: addresses.map((a) => /-(v\d{3})-/.exec(a.targetRef?.name ?? '')?.[1] ?? '?').sort(),
    };
  }

  // Fails if pointServices patches a Service already pointing at the version (the re-run writes): checked by making
  // it always patch once.
  it('rolls back in one Service update by enabling the previous version (dynamic target)', async () => {
    const ns = 'enable-rollback';
    await twoVersions(ns);
    expect(await traffic(ns)).toEqual({ selects: 'v001', endpoints: ['v001', 'v001'] });
    const writes = env.mark();
    const run = await runStage(
      enableManifestStage,
      { account: env.account, namespace: ns, mode: 'dynamic', cluster: 'replicaSet web', criteria: 'second_newest' },
      { clusterPort: env.adapter },
    );
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect(writes.writes()).toEqual([`patch services ${ns}/web`]);
    expect(run.outputs['previousVersions']).toEqual({ web: 'v001' });
    expect(await traffic(ns)).toEqual({ selects: 'v000', endpoints: ['v000', 'v000'] });
    // Enabling again writes nothing.
    const again = env.mark();
    await runTask(enableManifestStage, 'enableManifest', run, { clusterPort: env.adapter });
    expect(again.writes()).toEqual([]);
  });

  // Fails if the zero-replica check is removed (the Service is sent to a version with no pods): checked by
  // making that change once.
  it('refuses to send traffic to a version someone scaled in to zero, and leaves the Service alone', async () => {
    const ns = 'enable-no-capacity';
    await twoVersions(ns);
    await env.user.patch('apps/v1', 'ReplicaSet', ns, 'web-v000', { spec: { replicas: 0 } });
    const writes = env.mark();
    const run = await runStage(
      enableManifestStage,
      { account: env.account, namespace: ns, mode: 'dynamic', cluster: 'replicaSet web', criteria: 'second_newest' },
      { clusterPort: env.adapter },
    );
    expect(run.status).toBe('TERMINAL');
    expect(run.error).toMatchObject({ code: 'NO_CAPACITY' });
    expect(run.error!.message).toMatch(/refusing to send traffic to replicaset web-v000.*0 replicas/i);
    expect(writes.writes()).toEqual([]);
    expect(await traffic(ns)).toEqual({ selects: 'v001', endpoints: ['v001', 'v001'] });
  });

  // Fails if the stage enables without waiting for the server group to be stable (it succeeds, pointing the Service
  // at pods that cannot pull their image): checked by ignoring the stability check's answer once.
  it('waits for an unstable server group before enabling it, and never enables a failed one', async () => {
    const ns = 'enable-failing';
    await twoVersions(ns, 'Deployment');
    // Someone changes the old version's image to one that cannot be pulled: its rollout stalls, and after its
    // 30 s progress deadline Kubernetes marks it failed.
    await env.simulated.faults.add({ match: { namespace: ns, image: 'web:broken' }, effect: { type: 'imagePull' } });
    await env.user.patch('apps/v1', 'Deployment', ns, 'web-v000', {
      spec: { template: { spec: { containers: [{ name: 'a', image: 'web:broken' }] } } },
    });
    const writes = env.mark();
    const run = await runStage(
      enableManifestStage,
      { account: env.account, namespace: ns, manifestName: 'deployment web-v000' },
      { clusterPort: env.adapter },
    );
    expect(run.status).toBe('TERMINAL');
    expect(run.error?.message).toMatch(
      new RegExp(
        `^deployment web-v000 in ${ns} failed: Deployment web-v000: ProgressDeadlineExceeded: ReplicaSet "web-v000-\\w+" has timed out progressing\\.; pods: ImagePullBackOff: Back-off pulling image "web:broken"$`,
      ),
    );
    // It waited (looking more than once) until Kubernetes gave up, 30 s in.
    expect(run.runs.length).toBeGreaterThan(1);
    expect(run.now - run.startTime).toBeGreaterThanOrEqual(30_000);
    expect(writes.writes()).toEqual([]);
    expect(await traffic(ns)).toEqual({ selects: 'v001', endpoints: ['v001', 'v001'] });
  });

  // Fails if disabling an old version patches the Service anyway (checked by making the disable always patch once).
  it('disabling an old version changes nothing; disabling the live one leaves the Service without endpoints', async () => {
    const ns = 'disable';
    await twoVersions(ns);
    const writes = env.mark();
    const old = await runStage(
      disableManifestStage,
      {
        account: env.account,
        app: 'web',
        cluster: 'replicaSet web',
        criteria: 'second_newest',
        kind: 'replicaSet',
        location: ns,
        manifestName: ' ',
        mode: 'dynamic',
      },
      { clusterPort: env.adapter },
    );
    expect(old.status, JSON.stringify(old.error)).toBe('SUCCEEDED');
    expect(writes.writes()).toEqual([]);
    expect(await traffic(ns)).toEqual({ selects: 'v001', endpoints: ['v001', 'v001'] });
    const live = await runStage(
      disableManifestStage,
      { account: env.account, location: ns, manifestName: 'replicaSet web-v001' },
      { clusterPort: env.adapter },
    );
    expect(live.outputs['servicesWithoutTraffic']).toEqual(['web']);
    expect(await traffic(ns)).toEqual({ selects: 'none', endpoints: [] });
  });

  it('fails clearly for a workload that is not a server group or has no Services', async () => {
    const ns = 'enable-not-a-server-group';
    await twoVersions(ns);
    const plain = (name: string) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns },
      spec: {
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'a', image: 'x:1' }] } },
      },
    });
    await env.user.apply(plain('plain'));
    await env.user.apply(plain('api-v000'));
    expect(
      (
        await runStage(
          enableManifestStage,
          { account: env.account, namespace: ns, manifestName: 'deployment plain' },
          { clusterPort: env.adapter },
        )
      ).error?.message,
    ).toBe(`deployment plain in ${ns} is not a server group (a version named <name>-vNNN deployed by deployManifest)`);
    expect(
      (
        await runStage(
          enableManifestStage,
          { account: env.account, namespace: ns, manifestName: 'deployment api-v000' },
          { clusterPort: env.adapter },
        )
      ).error?.message,
    ).toBe(
      `no Services for deployment api-v000 in ${ns}: set services, or deploy it with trafficManagement.options.services`,
    );
  });
});
