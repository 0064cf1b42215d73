import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KubeObject, type SimCluster, type KubeSim, startKubeSim } from '@jibe/kube-sim';

interface Counts {
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  conditions?: { type: string; status: string; reason?: string }[];
  currentRevision?: string;
  updateRevision?: string;
}

describe('workload controllers on a manual clock', () => {
  let sim: KubeSim;
  let c: SimCluster;
  const deployments = (): ReturnType<SimCluster['registry']['mustForKind']> =>
    c.registry.mustForKind('apps/v1', 'Deployment');
  const status = (kind: string, name: string, apiVersion = 'apps/v1'): Counts =>
    c.getObject(apiVersion, kind, 'default', name)?.status ?? {};
  const pods = (label: string): KubeObject[] =>
    c.listObjects('v1', 'Pod', 'default').filter((p) => p.metadata.labels?.app === label);
  const progressing = (name: string): string | undefined =>
    status('Deployment', name).conditions?.find((x) => x.type === 'Progressing')?.reason;

  function deployment(
    name: string,
    extra: Record<string, unknown> = {},
    annotations: Record<string, string> = {},
  ): Record<string, unknown> {
    return {
      metadata: { name },
      spec: {
        replicas: 4,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name }, annotations },
          spec: { containers: [{ name: 'web', image: 'web:1', readinessProbe: { initialDelaySeconds: 10 } }] },
        },
        ...extra,
      },
    };
  }

  beforeAll(async () => {
    sim = await startKubeSim({ clusters: [{ name: 'sim-unit', clock: 'manual' }] });
    c = sim.cluster('sim-unit');
  });
  afterAll(async () => {
    await sim.stop();
    expect(c.controllerErrors()).toEqual([]);
  });

  it('rolls a Deployment within maxSurge/maxUnavailable and completes exactly when new pods are available', async () => {
    c.api.create(
      deployments(),
      'default',
      deployment('surge', { minReadySeconds: 5, strategy: { rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } }),
    );
    await c.advance(14_000);
    expect(status('Deployment', 'surge').availableReplicas).toBe(0);
    await c.advance(1_000);
    expect(status('Deployment', 'surge').availableReplicas).toBe(4);
    expect(progressing('surge')).toBe('NewReplicaSetAvailable');

    const d = c.getObject('apps/v1', 'Deployment', 'default', 'surge')!;
    const spec = d.spec as { template: { spec: { containers: { image: string }[] } } };
    spec.template.spec.containers[0]!.image = 'web:2';
    c.api.update(deployments(), 'default', 'surge', d);
    let maxPods = 0;
    for (let t = 0; t < 120; t++) {
      await c.advance(1_000);
      const live = pods('surge').filter((p) => !p.metadata.deletionTimestamp);
      maxPods = Math.max(maxPods, live.length);
      expect(status('Deployment', 'surge').availableReplicas ?? 0).toBeGreaterThanOrEqual(4);
      if (
        status('Deployment', 'surge').updatedReplicas === 4 &&
        status('Deployment', 'surge').replicas === 4 &&
        progressing('surge') === 'NewReplicaSetAvailable'
      )
        break;
    }
    expect(maxPods).toBe(5);
    expect(pods('surge').map((p) => (p.spec as { containers: { image: string }[] }).containers[0]!.image)).toEqual([
      'web:2',
      'web:2',
      'web:2',
      'web:2',
    ]);
    expect(
      c.getObject('apps/v1', 'Deployment', 'default', 'surge')!.metadata.annotations?.[
        'deployment.kubernetes.io/revision'
      ],
    ).toBe('2');
  });

  it('reports ProgressDeadlineExceeded at the deadline, not before', async () => {
    c.api.create(
      deployments(),
      'default',
      deployment('stuck', { progressDeadlineSeconds: 60 }, { 'kube-sim.jibe.dev/fault': 'image-pull' }),
    );
    await c.advance(59_000);
    expect(progressing('stuck')).toBe('ReplicaSetUpdated');
    expect(pods('stuck').every((p) => JSON.stringify(p.status).includes('ImagePullBackOff'))).toBe(true);
    await c.advance(2_000);
    expect(progressing('stuck')).toBe('ProgressDeadlineExceeded');
    expect(status('Deployment', 'stuck').conditions?.find((x) => x.type === 'Available')?.status).toBe('False');
  });

  it('does not roll a paused Deployment', async () => {
    c.api.create(deployments(), 'default', deployment('paused', { paused: true, replicas: 1 }));
    await c.advance(1_000);
    expect(progressing('paused')).toBe('DeploymentPaused');
    expect(
      c.listObjects('apps/v1', 'ReplicaSet', 'default').filter((r) => r.metadata.name?.startsWith('paused-')),
    ).toHaveLength(0);
  });

  it('crash-loops a pod with back-off and keeps it out of the Service endpoints', async () => {
    c.api.create(
      deployments(),
      'default',
      deployment('crashy', { replicas: 1 }, { 'kube-sim.jibe.dev/fault': 'crash-loop' }),
    );
    c.api.create(c.registry.mustForKind('v1', 'Service'), 'default', {
      metadata: { name: 'crashy' },
      spec: { selector: { app: 'crashy' }, ports: [{ port: 80 }] },
    });
    await c.advance(1_000);
    const restarts = (): number =>
      (pods('crashy')[0]?.status as { containerStatuses?: { restartCount: number }[] }).containerStatuses?.[0]
        ?.restartCount ?? 0;
    expect(restarts()).toBe(1);
    await c.advance(11_000 + 1_000);
    expect(restarts()).toBe(2);
    expect(JSON.stringify(pods('crashy')[0]?.status)).toContain('CrashLoopBackOff');
    const ep = c.getObject('v1', 'Endpoints', 'default', 'crashy') as KubeObject & {
      subsets: { addresses?: unknown[]; notReadyAddresses?: unknown[] }[];
    };
    expect(ep.subsets[0]?.addresses).toBeUndefined();
    expect(ep.subsets[0]?.notReadyAddresses).toHaveLength(1);
  });

  it('updates a partitioned StatefulSet from the highest ordinal down to the partition', async () => {
    const sts = c.registry.mustForKind('apps/v1', 'StatefulSet');
    c.api.create(sts, 'default', {
      metadata: { name: 'db' },
      spec: {
        replicas: 3,
        serviceName: 'db',
        selector: { matchLabels: { app: 'db' } },
        template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: 'pg:15' }] } },
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'] } }],
      },
    });
    await c.advance(1_000);
    expect(
      pods('db')
        .map((p) => p.metadata.name)
        .sort(),
    ).toEqual(['db-0', 'db-1', 'db-2']);
    expect(c.getObject('v1', 'PersistentVolumeClaim', 'default', 'data-db-2')).toBeDefined();
    c.api.patch(sts, 'default', 'db', 'merge', {
      spec: {
        updateStrategy: { rollingUpdate: { partition: 1 } },
        template: { spec: { containers: [{ name: 'db', image: 'pg:16' }] } },
      },
    });
    await c.advance(1_000);
    const images = Object.fromEntries(
      pods('db').map((p) => [p.metadata.name, (p.spec as { containers: { image: string }[] }).containers[0]!.image]),
    );
    expect(images).toEqual({ 'db-0': 'pg:15', 'db-1': 'pg:16', 'db-2': 'pg:16' });
    const s = status('StatefulSet', 'db');
    expect(s.updatedReplicas).toBe(2);
    expect(s.currentRevision).not.toBe(s.updateRevision);
  });

  it('runs one DaemonSet pod per node', async () => {
    c.api.create(c.registry.mustForKind('apps/v1', 'DaemonSet'), 'default', {
      metadata: { name: 'agent' },
      spec: {
        selector: { matchLabels: { app: 'agent' } },
        template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'a', image: 'agent:1' }] } },
      },
    });
    await c.advance(1_000);
    expect(
      pods('agent')
        .map((p) => (p.spec as { nodeName: string }).nodeName)
        .sort(),
    ).toEqual(['sim-node-1', 'sim-node-2', 'sim-node-3']);
    expect(c.getObject('apps/v1', 'DaemonSet', 'default', 'agent')?.status).toMatchObject({
      desiredNumberScheduled: 3,
      numberReady: 3,
      updatedNumberScheduled: 3,
    });
  });
});
