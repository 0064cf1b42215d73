import { zodIssuesToDetails } from '@jibe/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StageSimulator, startStageSimulator } from '../../../test/support/stage-simulator';
import { type KubeObject } from '../cluster-kit/cluster.port';
import { continueStage, runStage, runTask } from '../cluster-kit/testing/stage-harness';
import { planSteps } from './deploy-plan';
import { deployManifestStage } from './deploy-manifest.stage';

const deployment = (name: string, extra: { annotations?: Record<string, string>; podAnnotations?: object } = {}) =>
  ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: {
      replicas: 3,
      progressDeadlineSeconds: 30,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, ...(extra.podAnnotations ? { annotations: extra.podAnnotations } : {}) },
        spec: { containers: [{ name: 'app', image: 'web:1' }] },
      },
    },
  }) satisfies KubeObject;
const service = (name: string, selector: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name },
  spec: { selector, ports: [{ port: 80 }] },
});
/** A Job whose one container runs `script` (the simulator interprets echo, sleep and exit). */
const job = (name: string, script: string, annotations: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name, annotations },
  spec: {
    backoffLimit: 0,
    template: {
      spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', script] }] },
    },
  },
});

let env: StageSimulator;

beforeAll(async () => {
  // Pods take 2 s (simulated) to become ready, so every rollout is under way for a few looks of the stage.
  env = await startStageSimulator({ timings: { readyMs: 2_000 } });
});
afterAll(async () => {
  await env?.close();
});

/** Images of a namespace's pods that are running and ready, per `app` label, as `kubectl get pods` shows them. */
async function readyPods(namespace: string, selector: string): Promise<string[]> {
  const pods = await env.user.list('v1', 'Pod', namespace, selector);
  return pods
    .filter((p) =>
      ((p.status?.['conditions'] ?? []) as { type: string; status: string }[]).some(
        (c) => c.type === 'Ready' && c.status === 'True',
      ),
    )
    .map((p) => (p.spec!['containers'] as { image: string }[])[0]!.image)
    .sort();
}

describe('deployManifest against the simulator (real adapter over HTTP)', () => {
  // Fails if applyWaves stops waiting for the wave to be stable (one look only): checked by making it ignore the
  // stability check's answer once (the failure, timeout and hook tests below fail too).
  it('applies manifests with moniker labels and waits until stable', async () => {
    const ns = 'deploy-basic';
    await env.user.createNamespace(ns);
    const run = await runStage(
      deployManifestStage,
      { account: env.account, namespace: ns, manifests: [deployment('web'), service('web', { app: 'web' })] },
      { clusterPort: env.adapter },
    );
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    const web = await env.user.get('apps/v1', 'Deployment', ns, 'web');
    expect(web!.metadata.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'jibe',
      'jibe.dev/application': 'shop',
      'jibe.dev/cluster': 'web',
    });
    expect(await readyPods(ns, 'app=web')).toEqual(['web:1', 'web:1', 'web:1']);
    expect(run.outputs['outputs.manifestNamesByNamespace']).toEqual({ [ns]: ['service web', 'deployment web'] });
    expect(run.runs.filter((t) => t === 'applyWaves').length).toBeGreaterThan(1);
  });

  // Fails if pollDelay stops growing with the time waited: checked by making it return 100 once.
  it('polls without blocking: every tenth of the time waited so far, from 100 ms up to 5 s', async () => {
    const ns = 'deploy-polling';
    await env.user.createNamespace(ns);
    // Its pods take 65 s (simulated) to become ready.
    const slow = deployment('web', { podAnnotations: { 'kube-sim.jibe.dev/ready-delay-ms': '65000' } });
    slow.spec.progressDeadlineSeconds = 600;
    const looks: number[] = [];
    const run = await runStage(
      deployManifestStage,
      { account: env.account, namespace: ns, manifests: [slow] },
      { clusterPort: env.adapter, beforeRun: (task, now) => task === 'applyWaves' && looks.push(now) },
    );
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    const first = looks[0]!;
    const gaps = looks.slice(1).map((at, i) => at - looks[i]!);
    // A quick rollout is seen done within ~10% of its time; a long one costs one look every 5 s.
    expect(gaps).toEqual(looks.slice(0, -1).map((at) => Math.min(5000, Math.max(100, Math.round((at - first) / 10)))));
    expect(gaps.slice(0, 6)).toEqual([100, 100, 100, 100, 100, 100]);
    expect(gaps.at(-1)).toBe(5000);
    expect(looks.at(-1)! - first).toBeGreaterThan(65_000);
    // Seen done within one 5 s look of the pods becoming ready.
    expect(looks.at(-1)! - first).toBeLessThan(65_000 + 2_000 + 5_000 + 1);
  });

  // Fails if a failed object is waited on like a progressing one (the stage times out instead, with another
  // message): checked by making checkStable ignore the failed state once.
  it("fails with the object and Kubernetes' reason when a rollout fails", async () => {
    const ns = 'deploy-failing';
    await env.user.createNamespace(ns);
    await env.simulated.faults.add({ match: { namespace: ns, image: 'web:broken' }, effect: { type: 'imagePull' } });
    const broken = deployment('web');
    broken.spec.template.spec.containers[0]!.image = 'web:broken';
    const run = await runStage(
      deployManifestStage,
      { account: env.account, namespace: ns, manifests: [broken] },
      { clusterPort: env.adapter },
    );
    expect(run.status).toBe('TERMINAL');
    expect(run.error?.message).toMatch(
      new RegExp(
        `^wave 0: deployment web in ${ns} failed: Deployment web: ProgressDeadlineExceeded: ReplicaSet "web-\\w+" has timed out progressing\\.; pods: ImagePullBackOff: Back-off pulling image "web:broken" \\(3 pods\\)$`,
      ),
    );
  });

  // Fails if stableManifestTimeoutMinutes is ignored (with the default 10 minutes the Deployment's own deadline
  // fails it first): checked by making stableTimeoutMs always give the default once.
  it('times out after stableManifestTimeoutMinutes naming what it waited for', async () => {
    const ns = 'deploy-timeout';
    await env.user.createNamespace(ns);
    await env.simulated.faults.add({ match: { namespace: ns }, effect: { type: 'neverReady' } });
    const waiting = deployment('web');
    waiting.spec.progressDeadlineSeconds = 600;
    const run = await runStage(
      deployManifestStage,
      { account: env.account, namespace: ns, manifests: [waiting], stableManifestTimeoutMinutes: 1 },
      { clusterPort: env.adapter },
    );
    expect(run.status).toBe('TERMINAL');
    expect(run.error?.code).toBe('STABILITY_TIMEOUT');
    expect(run.error?.message).toMatch(
      new RegExp(
        `^wave 0: timed out after 60 s waiting for deployment web in ${ns} \\(progressing: Deployment web: 0 of 3`,
      ),
    );
  });

  // Fails if sync waves are not applied in ascending order: checked by making planSteps put every object in wave 0
  // once.
  it('applies namespaces first, then waves ascending, PreSync before and PostSync after', async () => {
    const ns = 'deploy-waves';
    await env.user.createNamespace(ns);
    const withWave = (object: KubeObject, wave: string, key = 'jibe.dev/sync-wave'): KubeObject => ({
      ...object,
      metadata: { ...object.metadata, annotations: { [key]: wave } },
    });
    const writes = env.mark();
    const run = await runStage(
      deployManifestStage,
      {
        account: env.account,
        namespace: ns,
        manifests: [
          job('smoke', 'echo smoke ok', { 'argocd.argoproj.io/hook': 'PostSync' }),
          withWave(deployment('api'), '2', 'argocd.argoproj.io/sync-wave'),
          withWave(deployment('db'), '-1'),
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: {} },
          job('migrate', 'echo migrated', { 'argocd.argoproj.io/hook': 'PreSync' }),
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: `${ns}-extra` } },
          job('cleanup', 'echo bye', { 'argocd.argoproj.io/hook': 'PreDelete' }),
        ],
      },
      { clusterPort: env.adapter },
    );
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect(writes.writes().filter((w) => !w.startsWith('delete'))).toEqual([
      `apply jobs ${ns}/migrate`,
      `apply namespaces ${ns}-extra`,
      `apply deployments ${ns}/db`,
      `apply configmaps ${ns}/cfg`,
      `apply deployments ${ns}/api`,
      `apply jobs ${ns}/smoke`,
    ]);
    expect(run.outputs['skippedHooks']).toEqual(['Job cleanup']);
    // What kubectl shows afterwards: both hook Jobs complete, the PreDelete hook never created.
    const jobs = await env.user.list('batch/v1', 'Job', ns);
    expect(jobs.map((j) => `${j.metadata.name}: ${String(j.status?.['succeeded'])}`).sort()).toEqual([
      'migrate: 1',
      'smoke: 1',
    ]);
  });

  // The simulator serves no CustomResourceDefinitions, so their place is shown on the plan. Fails if CRDs are left
  // to their sync wave: checked by dropping the CRD case from planSteps once.
  it('plans namespaces and CRDs before every sync wave', () => {
    const crd: KubeObject = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'carts.shop.dev', annotations: { 'jibe.dev/sync-wave': '5' } },
      spec: {},
    };
    const early = { ...deployment('db'), metadata: { name: 'db', annotations: { 'jibe.dev/sync-wave': '-3' } } };
    const { steps } = planSteps([
      { object: early, where: 'manifests[0]' },
      { object: crd, where: 'manifests[1]' },
      { object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }, where: 'manifests[2]' },
    ]);
    expect(steps.map((s) => s.objects.map((o) => `${o.kind} ${o.metadata.name}`))).toEqual([
      ['Namespace shop', 'CustomResourceDefinition carts.shop.dev'],
      ['Deployment db'],
    ]);
  });

  // Fails if applyWaves moves to the next step before the PreSync hook is done (the stage succeeds): checked by
  // making it ignore the stability check's answer once.
  it('does not apply the next wave until the previous one is stable, and a failed PreSync hook stops the deploy', async () => {
    const ns = 'deploy-hook-fails';
    await env.user.createNamespace(ns);
    const run = await runStage(
      deployManifestStage,
      {
        account: env.account,
        namespace: ns,
        manifests: [
          deployment('web'),
          job('migrate', "echo 'ERROR: relation exists'; sleep 3; exit 1", { 'jibe.dev/hook': 'PreSync' }),
        ],
      },
      { clusterPort: env.adapter },
    );
    expect(run.status).toBe('TERMINAL');
    expect(run.error?.message).toBe(
      `PreSync hook: job migrate in ${ns} failed: Job migrate: BackoffLimitExceeded: Job has reached the specified backoff limit; pods: Error (exit code 1)`,
    );
    expect(await env.user.get('apps/v1', 'Deployment', ns, 'web')).toBeUndefined();
  });

  // Fails if a hook Job from an earlier deploy is kept instead of re-created (no delete and apply), and if a re-run
  // deletes its own hook again (it looks only for an existing Job): each checked by making that change once.
  it('re-creates a hook Job left by an earlier deploy (BeforeHookCreation) but keeps its own on a re-run', async () => {
    const ns = 'deploy-hook-again';
    await env.user.createNamespace(ns);
    // Left by an earlier deploy, so Jibe's (someone else's Job of that name is refused: managed-by.int-spec.ts).
    await env.adapter.apply(env.account, [
      { ...job('migrate', 'echo old migration'), metadata: { name: 'migrate', namespace: ns } },
    ]);
    await env.adapter.advance(1_000);
    const old = await env.user.get('batch/v1', 'Job', ns, 'migrate');
    const config = {
      account: env.account,
      namespace: ns,
      manifests: [deployment('web'), job('migrate', 'echo new migration', { 'jibe.dev/hook': 'PreSync' })],
    };
    const writes = env.mark();
    const run = await runStage(deployManifestStage, config, { clusterPort: env.adapter });
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect(writes.writes().slice(0, 2)).toEqual([`delete jobs ${ns}/migrate`, `apply jobs ${ns}/migrate`]);
    const migrate = await env.user.get('batch/v1', 'Job', ns, 'migrate');
    expect(migrate!.metadata.uid).not.toBe(old!.metadata.uid);
    expect(migrate!.status!['succeeded']).toBe(1);

    // The same stage run again (a redelivered message): nothing is deleted or re-created.
    const again = env.mark();
    const rerun = await continueStage(
      deployManifestStage,
      {
        ...run,
        context: Object.fromEntries(
          Object.entries(run.context).filter(([k]) => !k.endsWith('.done') && !k.endsWith('.refs')),
        ),
      },
      { clusterPort: env.adapter },
      1,
    );
    expect(rerun.status, JSON.stringify(rerun.error)).toBe('SUCCEEDED');
    expect(again.writes().filter((w) => w.includes(' jobs '))).toEqual([]);
    expect((await env.user.get('batch/v1', 'Job', ns, 'migrate'))!.metadata.uid).toBe(migrate!.metadata.uid);
  });

  // Fails if the live count is not re-stated for a workload an HPA targets (server-side apply then refuses the
  // replicas field kubectl owns, or would set 3): checked by removing that line of resolveManifests once.
  it('leaves replicas to an HPA that targets the workload', async () => {
    const ns = 'deploy-hpa';
    await env.user.createNamespace(ns);
    // The HPA had scaled web to 7 (here someone does it by hand: the simulator runs no HPA controller).
    await env.user.apply({ ...deployment('web'), metadata: { name: 'web', namespace: ns } });
    await env.user.patch('apps/v1', 'Deployment', ns, 'web', { spec: { replicas: 7 } });
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
      { account: env.account, namespace: ns, manifests: [deployment('web'), hpa] },
      { clusterPort: env.adapter },
    );
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect((await env.user.get('apps/v1', 'Deployment', ns, 'web'))!.spec!['replicas']).toBe(7);
    expect(await readyPods(ns, 'app=web')).toHaveLength(7);
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

  // Fails if clusterTask names the account a second time when the adapter's message already does: checked by
  // making it always prefix the account once.
  it('names the account once, with what Kubernetes refused and why', async () => {
    const ns = 'deploy-forbidden';
    await env.user.createNamespace(ns);
    await env.simulated.faults.add({
      match: { namespace: ns, resource: 'deployments', verbs: ['patch'] },
      effect: {
        type: 'httpError',
        code: 403,
        message: `deployments.apps "web" is forbidden: User "jibe" cannot patch resource "deployments" in the namespace "${ns}"`,
      },
      times: 1,
    });
    const run = await runStage(
      deployManifestStage,
      { account: env.account, namespace: ns, manifests: [deployment('web')] },
      { clusterPort: env.adapter },
    );
    expect(run.error).toEqual({
      code: 'KUBERNETES_ERROR',
      message: `account sim: apply Deployment ${ns}/web: deployments.apps "web" is forbidden: User "jibe" cannot patch resource "deployments" in the namespace "${ns}" (Forbidden)`,
    });
    expect(await env.user.get('apps/v1', 'Deployment', ns, 'web')).toBeUndefined();
  });

  // Fails with the same change as the test above (the account named twice).
  it('reports a Kubernetes refusal with its reason', async () => {
    const ns = 'deploy-invalid';
    await env.user.createNamespace(ns);
    const invalid = deployment('web');
    (invalid.spec.template.spec as { containers: unknown[] }).containers = [];
    const run = await runStage(
      deployManifestStage,
      { account: env.account, namespace: ns, manifests: [invalid] },
      { clusterPort: env.adapter },
    );
    expect(run.status).toBe('TERMINAL');
    expect(run.error).toEqual({
      code: 'KUBERNETES_ERROR',
      message: `account sim: apply Deployment ${ns}/web: Deployment.apps "web" is invalid: spec.template.spec.containers: Required value (Invalid)`,
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
    /** A Secret's values as a pod would read them (`stringData` is write-only: Kubernetes folds it into `data`). */
    const secretValues = async (namespace: string): Promise<Record<string, string>> => {
      const live = await env.user.get('v1', 'Secret', namespace, 'db');
      const data = (live?.['data'] ?? {}) as Record<string, string>;
      const stringData = (live?.['stringData'] ?? {}) as Record<string, string>;
      return {
        ...Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()])),
        ...stringData,
      };
    };

    // Fails if the redacted plan is applied instead of the values read again (the Secret holds the redaction
    // marker): checked by making applyWaves skip reading the Secret's source once.
    it('with allowSecrets applies the values but keeps none in the context or outputs, only keys and a hash', async () => {
      const ns = 'deploy-secret-artifact';
      await env.user.createNamespace(ns);
      const run = await runStage(
        deployManifestStage,
        { account: env.account, namespace: ns, source: 'artifact', manifestArtifactId: 'app', allowSecrets: true },
        { clusterPort: env.adapter, stages: upstream },
      );
      expect(run.status, run.error?.message).toBe('SUCCEEDED');
      expect(await secretValues(ns)).toEqual({ password: 'hunter2-s3cr3t', token: 'tok-9f8e7d' });
      const kept = JSON.stringify({ context: run.context, outputs: run.outputs });
      for (const value of values) expect(kept).not.toContain(value);
      const output = (run.outputs['manifests'] as KubeObject[]).find((m) => m.kind === 'Secret')!;
      expect(output['data']).toEqual({ password: '<redacted by jibe>' });
      expect(output.metadata.annotations?.['jibe.dev/secret-sha256']).toMatch(/^[0-9a-f]{64}$/);
    });

    it('with allowSecrets redacts an inline Secret from the plan and outputs', async () => {
      const ns = 'deploy-secret-inline';
      await env.user.createNamespace(ns);
      const run = await runStage(
        deployManifestStage,
        { account: env.account, namespace: ns, manifests: [secret], allowSecrets: true },
        { clusterPort: env.adapter },
      );
      expect(run.status, run.error?.message).toBe('SUCCEEDED');
      expect(await secretValues(ns)).toEqual({ password: 'hunter2-s3cr3t', token: 'tok-9f8e7d' });
      const kept = JSON.stringify({ plan: run.context['deploy.plan'], outputs: run.outputs });
      for (const value of values) expect(kept).not.toContain(value);
    });

    it('without allowSecrets refuses a Secret with values, naming it and saying how to keep it out', async () => {
      const ns = 'deploy-secret-refused';
      await env.user.createNamespace(ns);
      for (const config of [
        { account: env.account, namespace: ns, manifests: [deployment('web'), secret] },
        { account: env.account, namespace: ns, source: 'artifact', manifestArtifactId: 'app' },
      ]) {
        const run = await runStage(deployManifestStage, config, { clusterPort: env.adapter, stages: upstream });
        expect(run.status).toBe('TERMINAL');
        expect(run.error?.message).toMatch(/manifests\[\d\] \(secret db\): a Secret with data or stringData/);
        expect(run.error?.message).toContain('keep secrets out of pipelines');
        expect(run.error?.message).toContain('allowSecrets');
      }
      expect(await env.user.list('v1', 'Secret', ns)).toEqual([]);
      expect(await env.user.list('apps/v1', 'Deployment', ns)).toEqual([]);
    });
  });
});

describe('deployManifest red/black against the simulator (real adapter over HTTP)', () => {
  const web = (image: string): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: {
      replicas: 3,
      progressDeadlineSeconds: 30,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image }] } },
    },
  });
  const config = (namespace: string, image: string, options: Record<string, unknown> = {}, strategy = 'redblack') => ({
    account: env.account,
    namespace,
    manifests: [web(image), service('web', { app: 'web' })],
    trafficManagement: {
      enabled: true,
      options: { strategy, services: ['service web'], delayBeforeScaleDownSeconds: 10, ...options },
    },
  });

  /** A namespace of its own where Jibe deployed web-v000 … web-v(n-1) (web:0 …), the Service at the newest. */
  async function withVersions(namespace: string, n: number): Promise<void> {
    await env.user.createNamespace(namespace);
    for (let i = 0; i < n; i++) {
      const run = await runStage(deployManifestStage, config(namespace, `web:${i}`, { maxVersionsToKeep: 100 }), {
        clusterPort: env.adapter,
      });
      expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    }
  }

  const selector = async (namespace: string, name = 'web') =>
    (await env.user.get('v1', 'Service', namespace, name))!.spec!['selector'];

  /** Each version's replicas and the versions the Service's endpoints are, as kubectl shows them. */
  async function versions(namespace: string): Promise<{ replicas: Record<string, number>; endpoints: string[] }> {
    await env.adapter.advance(100);
    const deployments = await env.user.list('apps/v1', 'Deployment', namespace);
    const endpoints = await env.user.get('v1', 'Endpoints', namespace, 'web');
    const addresses = ((endpoints?.['subsets'] ?? []) as { addresses?: { targetRef?: { name: string } }[] }[]).flatMap(
      (s) => s.addresses ?? [],
    );
    return {
      replicas: Object.fromEntries(deployments.map((d) => [d.metadata.name, d.spec!['replicas'] as number])),
      endpoints: addresses.map((a) => /-(v\d{3})-/.exec(a.targetRef?.name ?? '')?.[1] ?? '?').sort(),
    };
  }

  // Fails if the Service is applied with the other manifests instead of held until the version is stable (the
  // writes' order changes): checked by making resolveManifests hold no Service once.
  it('first deploy: creates web-v000 and the Service only once v000 is stable, already pointing at it', async () => {
    const ns = 'rb-first';
    await env.user.createNamespace(ns);
    const writes = env.mark();
    const run = await runStage(deployManifestStage, config(ns, 'web:1'), { clusterPort: env.adapter });
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect(writes.writes()).toEqual([`apply deployments ${ns}/web-v000`, `apply services ${ns}/web`]);
    expect(await selector(ns)).toEqual({ app: 'web', 'jibe.dev/cluster': 'web', 'jibe.dev/version': 'v000' });
    const v000 = await env.user.get('apps/v1', 'Deployment', ns, 'web-v000');
    expect(v000!.spec!['selector']).toEqual({
      matchLabels: { app: 'web', 'jibe.dev/cluster': 'web', 'jibe.dev/version': 'v000' },
    });
    expect(v000!.metadata.labels).toMatchObject({
      'jibe.dev/version': 'v000',
      'app.kubernetes.io/managed-by': 'jibe',
    });
    expect(await versions(ns)).toEqual({ replicas: { 'web-v000': 3 }, endpoints: ['v000', 'v000', 'v000'] });
    expect(run.outputs['deployedServerGroups']).toEqual([
      {
        account: env.account,
        namespace: ns,
        kind: 'Deployment',
        name: 'web-v000',
        cluster: 'web',
        version: 'v000',
        reused: false,
      },
    ]);
  });

  // Fails if scaleDownOld ignores delayBeforeScaleDownSeconds (scaled at the switch): checked by making that
  // change once.
  it('switches the Service in one update only after the new version is stable, and scales the old one down after the delay', async () => {
    const ns = 'rb-switch';
    await withVersions(ns, 1);
    let switchedAt = 0;
    let scaledAt = 0;
    const beforeRun = (task: string, now: number) => {
      if (task === 'switchTraffic' && switchedAt === 0) switchedAt = now;
      if (task === 'scaleDownOld') scaledAt = now;
    };
    const writes = env.mark();
    const run = await runStage(deployManifestStage, config(ns, 'web:2'), {
      clusterPort: env.adapter,
      beforeRun,
      stopBefore: 'switchTraffic',
    });
    // v001 is stable and serving nothing yet: every endpoint is still v000.
    expect(await versions(ns)).toEqual({
      replicas: { 'web-v000': 3, 'web-v001': 3 },
      endpoints: ['v000', 'v000', 'v000'],
    });
    const done = await continueStage(
      deployManifestStage,
      run,
      { clusterPort: env.adapter, beforeRun },
      deployManifestStage.tasks.findIndex((t) => t.name === 'switchTraffic'),
    );
    expect(done.status, JSON.stringify(done.error)).toBe('SUCCEEDED');
    expect(writes.writes()).toEqual([
      `apply services ${ns}/web`, // the manifest's Service, still pinned to v000
      `apply deployments ${ns}/web-v001`,
      `patch services ${ns}/web`,
      `patch deployments ${ns}/web-v000`,
    ]);
    expect(await selector(ns)).toMatchObject({ 'jibe.dev/version': 'v001' });
    expect(await versions(ns)).toEqual({
      replicas: { 'web-v000': 0, 'web-v001': 3 },
      endpoints: ['v001', 'v001', 'v001'],
    });
    const old = await env.user.get('apps/v1', 'Deployment', ns, 'web-v000');
    expect(old!.metadata.annotations!['jibe.dev/previous-replicas']).toBe('3');
    expect(scaledAt - switchedAt).toBeGreaterThanOrEqual(10_000);
    expect(done.outputs['previousServerGroups']).toEqual([
      { service: 'web', namespace: ns, cluster: 'web', version: 'v000', serverGroup: 'web-v000' },
    ]);
  });

  // Fails if a failed version is waited on like a progressing one (the stage times out after 10 minutes instead,
  // with another message): checked by making checkStable ignore the failed state once. Several waits keep traffic
  // off it: ignoring applyWaves' and waitForManifestToStabilize's answers together still passes (the switch checks).
  it("never sends traffic to a version that does not become stable, and fails with Kubernetes' reason", async () => {
    const ns = 'rb-broken';
    await withVersions(ns, 1);
    await env.simulated.faults.add({ match: { namespace: ns, image: 'web:broken' }, effect: { type: 'imagePull' } });
    const writes = env.mark();
    const run = await runStage(deployManifestStage, config(ns, 'web:broken'), { clusterPort: env.adapter });
    expect(run.status).toBe('TERMINAL');
    expect(run.error?.message).toContain(
      `deployment web-v001 in ${ns} failed: Deployment web-v001: ProgressDeadlineExceeded`,
    );
    expect(run.error?.message).toContain('ImagePullBackOff');
    expect(await selector(ns)).toMatchObject({ 'jibe.dev/version': 'v000' });
    expect(await versions(ns)).toEqual({
      replicas: { 'web-v000': 3, 'web-v001': 3 },
      endpoints: ['v000', 'v000', 'v000'],
    });
    expect(writes.writes().filter((w) => w.startsWith('patch'))).toEqual([]);
  });

  // Fails if versions beyond maxVersionsToKeep are kept: checked by making the cleanup skip every group once.
  it('keeps maxVersionsToKeep versions: deletes older ones, scales down the previous one', async () => {
    const ns = 'rb-history';
    await withVersions(ns, 4);
    const run = await runStage(deployManifestStage, config(ns, 'web:9', { maxVersionsToKeep: 2 }), {
      clusterPort: env.adapter,
    });
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect((await versions(ns)).replicas).toEqual({ 'web-v003': 0, 'web-v004': 3 });
    expect(run.outputs['deletedServerGroups']).toEqual([
      `deployment web-v002 in ${ns}`,
      `deployment web-v001 in ${ns}`,
      `deployment web-v000 in ${ns}`,
    ]);
  });

  // Fails if highlander keeps older versions: checked by making it keep maxVersionsToKeep like red/black once.
  it('highlander deletes every older version after the switch', async () => {
    const ns = 'rb-highlander';
    await withVersions(ns, 2);
    const run = await runStage(deployManifestStage, config(ns, 'web:9', {}, 'highlander'), {
      clusterPort: env.adapter,
    });
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect(await versions(ns)).toEqual({ replicas: { 'web-v002': 3 }, endpoints: ['v002', 'v002', 'v002'] });
    expect(await selector(ns)).toMatchObject({ 'jibe.dev/version': 'v002' });
  });

  // Fails if scaleDown: false is ignored (v000 goes to 0): checked by making the plan always scale down once.
  it('scaleDown: false keeps the old version running for a one-update rollback', async () => {
    const ns = 'rb-keep';
    await withVersions(ns, 1);
    const run = await runStage(deployManifestStage, config(ns, 'web:2', { scaleDown: false }), {
      clusterPort: env.adapter,
    });
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect(await versions(ns)).toEqual({
      replicas: { 'web-v000': 3, 'web-v001': 3 },
      endpoints: ['v001', 'v001', 'v001'],
    });
    expect(await readyPods(ns, 'jibe.dev/version=v000')).toEqual(['web:0', 'web:0', 'web:0']);
  });

  // Fails if an unchanged manifest gets a new version (web-v001 appears): checked by making the plan never reuse
  // the newest version once.
  it('re-deploys an unchanged manifest as the same version', async () => {
    const ns = 'rb-same';
    await withVersions(ns, 1);
    const writes = env.mark();
    const run = await runStage(deployManifestStage, config(ns, 'web:0'), { clusterPort: env.adapter });
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect(await versions(ns)).toEqual({ replicas: { 'web-v000': 3 }, endpoints: ['v000', 'v000', 'v000'] });
    expect(writes.writes().filter((w) => !w.startsWith('apply'))).toEqual([]);
  });

  // Fails if cleanup deletes versions Jibe does not manage: checked by removing its managed-by filter once.
  it('leaves an old version Jibe does not manage alone', async () => {
    const ns = 'rb-theirs';
    await env.user.createNamespace(ns);
    await env.user.apply({ ...web('web:old'), metadata: { name: 'web-v000', namespace: ns } });
    await env.user.apply({
      ...service('web', { app: 'web', 'jibe.dev/version': 'v000' }),
      metadata: { name: 'web', namespace: ns },
    });
    const run = await runStage(deployManifestStage, config(ns, 'web:1', {}, 'highlander'), {
      clusterPort: env.adapter,
    });
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect(await env.user.get('apps/v1', 'Deployment', ns, 'web-v000')).toBeDefined();
    expect(await readyPods(ns, 'app=web,!jibe.dev/version')).toEqual(['web:old', 'web:old', 'web:old']);
    expect(run.outputs['deletedServerGroups']).toEqual([]);
  });

  // Fails if a re-run of the switch patches again (a non-apply write): checked by making pointServices always
  // patch once.
  it('every task is safe to run twice', async () => {
    const ns = 'rb-twice';
    await withVersions(ns, 1);
    const run = await runStage(deployManifestStage, config(ns, 'web:2'), { clusterPort: env.adapter });
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    /** What kubectl shows of the Deployments and the Service, without the fields every write bumps. */
    const state = async () =>
      JSON.stringify(
        [...(await env.user.list('apps/v1', 'Deployment', ns)), ...(await env.user.list('v1', 'Service', ns))].map(
          (o) => [o.metadata.name, o.metadata.labels, o.metadata.annotations, o.spec],
        ),
      );
    const before = await state();
    const writes = env.mark();
    for (const task of deployManifestStage.tasks) {
      const result = await runTask(deployManifestStage, task.name, run, { clusterPort: env.adapter });
      expect(result.status, task.name).toBe('SUCCEEDED');
    }
    expect(writes.writes().filter((w) => !w.startsWith('apply'))).toEqual([]);
    expect(await state()).toBe(before);
    expect(Object.keys((await versions(ns)).replicas)).toEqual(['web-v000', 'web-v001']);
  });

  // Fails if the load-balancers annotation is not read (hellosvc is never pinned to a version): checked by making
  // resolveManifests ignore it once.
  it('runs the official Spinnaker blue/green ReplicaSet manifest (annotations name the Service)', async () => {
    const ns = 'rb-spinnaker';
    await env.user.createNamespace(ns);
    // Made with kubectl, as in Spinnaker's example: the load-balancers annotation names it, so Jibe switches its
    // selector though it did not make it (NAMED_SERVICE_WRITE in cluster-kit/traffic.ts).
    await env.user.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'hellosvc', namespace: ns },
      spec: { selector: { frontedBy: 'hellosvc' }, ports: [{ port: 80 }] },
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
        namespace: ns,
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
      account: env.account,
      cloudProvider: 'kubernetes',
      manifestArtifactAccount: 'embedded-artifact',
      manifests: [replicaSet],
      moniker: { app: 'helloworld' },
      relationships: { loadBalancers: [], securityGroups: [] },
      source: 'text',
    };
    const first = await runStage(deployManifestStage, stage, { clusterPort: env.adapter });
    expect(first.status, JSON.stringify(first.error)).toBe('SUCCEEDED');
    const second = { ...stage, manifests: [{ ...replicaSet, spec: { ...replicaSet.spec, replicas: 4 } }] };
    const run = await runStage(deployManifestStage, second, { clusterPort: env.adapter });
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect((await env.user.list('apps/v1', 'ReplicaSet', ns)).map((r) => r.metadata.name).sort()).toEqual([
      'helloworld-v000',
      'helloworld-v001',
    ]);
    expect(await selector(ns, 'hellosvc')).toEqual({
      frontedBy: 'hellosvc',
      'jibe.dev/cluster': 'helloworld',
      'jibe.dev/version': 'v001',
    });
    // Not asserted, reported instead: hellosvc has no endpoints here. Its selector keeps `frontedBy: hellosvc`, which
    // Spinnaker copies onto the pod template and Jibe does not, and no check after the switch notices.
  });
});
