import { zodIssuesToDetails } from '@jibe/domain';
import { describe, expect, it } from 'vitest';
import { ClusterError, type KubeObject } from '../kubernetes/cluster.port';
import { InMemoryCluster } from '../kubernetes/testing/in-memory-cluster';
import { continueStage, runStage } from '../kubernetes/testing/stage-harness';
import { deployManifestStage } from './deploy-manifest.stage';

const deployment = (name: string, extra: Partial<KubeObject> = {}): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, ...extra.metadata },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'web:1' }] } },
    ...extra.spec,
  },
});
const service = (name: string, selector: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name },
  spec: { selector, ports: [{ port: 80 }] },
});

describe('deployManifest', () => {
  it('applies manifests with moniker labels and waits until stable', async () => {
    const cluster = new InMemoryCluster();
    cluster.script('Deployment', 'web', 'progressing', 'progressing', 'stable');
    const run = await runStage(
      deployManifestStage,
      { account: 'staging', manifests: [deployment('web'), service('web', { app: 'web' })] },
      { cluster },
    );
    expect(run.status).toBe('SUCCEEDED');
    const web = cluster.find('staging', 'Deployment', 'web')!;
    expect(web.metadata.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'jibe',
      'jibe.dev/application': 'shop',
      'jibe.dev/cluster': 'web',
    });
    expect(run.outputs['outputs.manifestNamesByNamespace']).toEqual({ default: ['service web', 'deployment web'] });
    expect(run.runs.filter((t) => t === 'applyWaves').length).toBeGreaterThan(1);
  });

  it('polls without blocking: every tenth of the time waited so far, from 100 ms up to 5 s', async () => {
    const cluster = new InMemoryCluster();
    cluster.script('Deployment', 'web', ...Array<'progressing'>(70).fill('progressing'), 'stable');
    const start = 1_000_000;
    const looks: number[] = [];
    const run = await runStage(
      deployManifestStage,
      { account: 'staging', manifests: [deployment('web')] },
      { cluster, now: start, beforeRun: (task, now) => task === 'applyWaves' && looks.push(now) },
    );
    expect(run.status).toBe('SUCCEEDED');
    const first = looks[0]!;
    const gaps = looks.slice(1).map((at, i) => at - looks[i]!);
    // A quick rollout is seen done within ~10% of its time; a long one costs one look every 5 s.
    expect(gaps).toEqual(looks.slice(0, -1).map((at) => Math.min(5000, Math.max(100, Math.round((at - first) / 10)))));
    expect(gaps.slice(0, 6)).toEqual([100, 100, 100, 100, 100, 100]);
    expect(gaps.at(-1)).toBe(5000);
    // 70 looks span more than a minute: polling fast at first does not make a long wait costly.
    expect(looks.at(-1)! - first).toBeGreaterThan(60_000);
  });

  it("fails with the object and Kubernetes' reason when a rollout fails", async () => {
    const cluster = new InMemoryCluster();
    cluster.script('Deployment', 'web', 'progressing', [
      'failed',
      'ProgressDeadlineExceeded: ReplicaSet "web-5d" has timed out progressing',
    ]);
    const run = await runStage(
      deployManifestStage,
      { account: 'staging', manifests: [deployment('web')] },
      { cluster },
    );
    expect(run.status).toBe('TERMINAL');
    expect(run.error?.message).toBe(
      'wave 0: deployment web in default failed: ProgressDeadlineExceeded: ReplicaSet "web-5d" has timed out progressing',
    );
  });

  it('times out after stableManifestTimeoutMinutes naming what it waited for', async () => {
    const cluster = new InMemoryCluster();
    cluster.script('Deployment', 'web', ['progressing', 'Waiting for rollout: 1 of 3 updated replicas are available']);
    const run = await runStage(
      deployManifestStage,
      { account: 'staging', manifests: [deployment('web')], stableManifestTimeoutMinutes: 1 },
      { cluster },
    );
    expect(run.status).toBe('TERMINAL');
    expect(run.error?.code).toBe('STABILITY_TIMEOUT');
    expect(run.error?.message).toContain(
      'timed out after 60 s waiting for deployment web in default (progressing: Waiting for rollout: 1 of 3',
    );
  });

  it('applies namespaces and CRDs first, then waves ascending, PreSync before and PostSync after', async () => {
    const cluster = new InMemoryCluster();
    const hook = (name: string, phase: string): KubeObject => ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name, annotations: { 'argocd.argoproj.io/hook': phase } },
      spec: { template: { spec: { containers: [{ name: 'x', image: 'x' }], restartPolicy: 'Never' } } },
    });
    const withWave = (object: KubeObject, wave: string, key = 'jibe.dev/sync-wave'): KubeObject => ({
      ...object,
      metadata: { ...object.metadata, annotations: { [key]: wave } },
    });
    const run = await runStage(
      deployManifestStage,
      {
        account: 'staging',
        manifests: [
          hook('smoke', 'PostSync'),
          withWave(deployment('api'), '2', 'argocd.argoproj.io/sync-wave'),
          withWave(deployment('db'), '-1'),
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: {} },
          hook('migrate', 'PreSync'),
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
          {
            apiVersion: 'apiextensions.k8s.io/v1',
            kind: 'CustomResourceDefinition',
            metadata: { name: 'carts.shop.dev' },
            spec: {},
          },
          { ...hook('cleanup', 'PreDelete') },
        ],
      },
      { cluster },
    );
    expect(run.status).toBe('SUCCEEDED');
    expect(cluster.calls.map((c) => c.split(' ').slice(0, 3).join(' '))).toEqual([
      'apply Job default/migrate',
      'apply Namespace shop',
      'apply CustomResourceDefinition carts.shop.dev',
      'apply Deployment default/db',
      'apply ConfigMap default/cfg',
      'apply Deployment default/api',
      'apply Job default/smoke',
    ]);
    expect(run.outputs['skippedHooks']).toEqual(['Job cleanup']);
  });

  it('does not apply the next wave until the previous one is stable, and a failed PreSync hook stops the deploy', async () => {
    const cluster = new InMemoryCluster();
    cluster.script('Job', 'migrate', 'progressing', [
      'failed',
      'BackoffLimitExceeded: Job has reached the specified backoff limit',
    ]);
    const run = await runStage(
      deployManifestStage,
      {
        account: 'staging',
        manifests: [
          deployment('web'),
          {
            apiVersion: 'batch/v1',
            kind: 'Job',
            metadata: { name: 'migrate', annotations: { 'jibe.dev/hook': 'PreSync' } },
            spec: {},
          },
        ],
      },
      { cluster },
    );
    expect(run.status).toBe('TERMINAL');
    expect(run.error?.message).toBe(
      'PreSync hook: job migrate in default failed: BackoffLimitExceeded: Job has reached the specified backoff limit',
    );
    expect(cluster.find('staging', 'Deployment', 'web')).toBeUndefined();
  });

  it('re-creates a hook Job left by an earlier deploy (BeforeHookCreation) but keeps its own on a re-run', async () => {
    const cluster = new InMemoryCluster();
    cluster.seed('staging', {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'migrate', namespace: 'default' },
      spec: {},
    });
    const config = {
      account: 'staging',
      manifests: [
        deployment('web'),
        {
          apiVersion: 'batch/v1',
          kind: 'Job',
          metadata: { name: 'migrate', annotations: { 'jibe.dev/hook': 'PreSync' } },
          spec: {},
        },
      ],
    };
    const run = await runStage(deployManifestStage, config, { cluster });
    expect(run.status).toBe('SUCCEEDED');
    expect(cluster.calls.slice(0, 2)).toEqual(['delete Job default/migrate', 'apply Job default/migrate']);
    const calls = cluster.calls.length;
    // The same stage run again (a redelivered message): nothing is deleted or re-created.
    const again = await continueStage(
      deployManifestStage,
      {
        ...run,
        context: Object.fromEntries(
          Object.entries(run.context).filter(([k]) => !k.endsWith('.done') && !k.endsWith('.refs')),
        ),
      },
      { cluster },
      1,
    );
    expect(again.status).toBe('SUCCEEDED');
    expect(cluster.calls.slice(calls).filter((c) => c.includes('Job'))).toEqual([]);
  });

  it('leaves replicas to an HPA that targets the workload', async () => {
    const cluster = new InMemoryCluster();
    cluster.seed('staging', {
      ...deployment('web'),
      metadata: { name: 'web', namespace: 'default' },
      spec: { ...deployment('web').spec, replicas: 7 },
    });
    const hpa: KubeObject = {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'web' },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
        minReplicas: 2,
        maxReplicas: 10,
      },
    };
    const run = await runStage(
      deployManifestStage,
      { account: 'staging', manifests: [deployment('web'), hpa] },
      { cluster },
    );
    expect(run.status).toBe('SUCCEEDED');
    expect(cluster.find('staging', 'Deployment', 'web')!.spec!['replicas']).toBe(7);
    expect(run.outputs['hpaManagedReplicas']).toEqual(['deployment web']);
  });

  it('rejects at save time manifests that are not Kubernetes objects, with paths', () => {
    const parsed = deployManifestStage.config.safeParse(
      { account: 'a', manifests: [{}, { apiVersion: 'v1', kind: 'Service', metadata: {} }] },
      { reportInput: true },
    );
    expect(parsed.success).toBe(false);
    expect(zodIssuesToDetails(parsed.error!.issues)).toEqual([
      { path: 'manifests[0].apiVersion', message: 'required' },
      { path: 'manifests[0].kind', message: 'required' },
      { path: 'manifests[0].metadata', message: 'required' },
      { path: 'manifests[1].metadata.name', message: 'required (or metadata.generateName)' },
    ]);
    expect(
      deployManifestStage.config.safeParse({ account: 'a', source: 'text', manifests: [] }).error!.issues[0],
    ).toMatchObject({
      path: ['manifests'],
      message: 'at least one manifest when source is text',
    });
  });

  it('names the account once when the adapter already did', async () => {
    const cluster = new InMemoryCluster();
    cluster.failNext(
      'apply',
      new ClusterError('account staging: apply Deployment default/web: forbidden', 'staging', 403, 'Forbidden'),
    );
    const run = await runStage(
      deployManifestStage,
      { account: 'staging', manifests: [deployment('web')] },
      { cluster },
    );
    expect(run.error?.message).toBe('account staging: apply Deployment default/web: forbidden (Forbidden)');
  });

  it('reports a Kubernetes refusal with its reason', async () => {
    const cluster = new InMemoryCluster();
    cluster.failNext(
      'apply',
      new ClusterError(
        'Deployment.apps "web" is invalid: spec.template.spec.containers: Required value',
        'staging',
        422,
        'Invalid',
      ),
    );
    const run = await runStage(
      deployManifestStage,
      { account: 'staging', manifests: [deployment('web')] },
      { cluster },
    );
    expect(run.status).toBe('TERMINAL');
    expect(run.error).toEqual({
      code: 'KUBERNETES_ERROR',
      message: 'staging: Deployment.apps "web" is invalid: spec.template.spec.containers: Required value (Invalid)',
    });
  });

  describe('Secrets', () => {
    const secret: KubeObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db' },
      data: { password: Buffer.from('hunter2-s3cr3t').toString('base64') },
      stringData: { token: 'tok-9f8e7d' },
    };
    const values = ['hunter2-s3cr3t', Buffer.from('hunter2-s3cr3t').toString('base64'), 'tok-9f8e7d'];
    const yaml = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: ${values[1]}\nstringData:\n  token: tok-9f8e7d\n`;
    const artifact = { type: 'embedded/base64', name: 'app', reference: Buffer.from(yaml).toString('base64') };
    const upstream = [
      {
        id: 'bake',
        refId: 'b',
        name: 'Bake',
        type: 'bakeManifest',
        status: 'SUCCEEDED' as const,
        context: {},
        outputs: { artifacts: [artifact] },
        startTime: 1,
      },
    ];

    it('with allowSecrets applies the values but keeps none in the context or outputs, only keys and a hash', async () => {
      const cluster = new InMemoryCluster();
      const run = await runStage(
        deployManifestStage,
        { account: 'staging', source: 'artifact', manifestArtifactId: 'app', allowSecrets: true },
        { cluster, stages: upstream },
      );
      expect(run.status, run.error?.message).toBe('SUCCEEDED');
      const live = cluster.find('staging', 'Secret', 'db')!;
      expect(live['data']).toEqual(secret['data']);
      expect(live['stringData']).toEqual(secret['stringData']);
      const kept = JSON.stringify({ context: run.context, outputs: run.outputs });
      for (const value of values) expect(kept).not.toContain(value);
      const output = (run.outputs['manifests'] as KubeObject[]).find((m) => m.kind === 'Secret')!;
      expect(output['data']).toEqual({ password: '<redacted by jibe>' });
      expect(output.metadata.annotations?.['jibe.dev/secret-sha256']).toMatch(/^[0-9a-f]{64}$/);
    });

    it('with allowSecrets redacts an inline Secret from the plan and outputs', async () => {
      const cluster = new InMemoryCluster();
      const run = await runStage(
        deployManifestStage,
        { account: 'staging', manifests: [secret], allowSecrets: true },
        { cluster },
      );
      expect(run.status, run.error?.message).toBe('SUCCEEDED');
      expect(cluster.find('staging', 'Secret', 'db')!['stringData']).toEqual({ token: 'tok-9f8e7d' });
      const kept = JSON.stringify({ plan: run.context['deploy.plan'], outputs: run.outputs });
      for (const value of values) expect(kept).not.toContain(value);
    });

    it('without allowSecrets refuses a Secret with values, naming it and saying how to keep it out', async () => {
      for (const config of [
        { account: 'staging', manifests: [deployment('web'), secret] },
        { account: 'staging', source: 'artifact', manifestArtifactId: 'app' },
      ]) {
        const cluster = new InMemoryCluster();
        const run = await runStage(deployManifestStage, config, { cluster, stages: upstream });
        expect(run.status).toBe('TERMINAL');
        expect(run.error?.message).toMatch(/manifests\[\d\] \(secret db\): a Secret with data or stringData/);
        expect(run.error?.message).toContain('keep secrets out of pipelines');
        expect(run.error?.message).toContain('allowSecrets');
        expect(cluster.all('staging', 'Secret')).toEqual([]);
      }
    });
  });
});
