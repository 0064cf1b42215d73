import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KubeSim, startKubeSim } from '@jibe/kube-sim';
import { FIXTURES, Kubectl } from './kubectl';

const GUESTBOOK = join(FIXTURES, '01-guestbook');
const PODINFO = join(FIXTURES, '03-podinfo/kustomize');
const CONTROLLERS = join(FIXTURES, '05-k8s-docs-controllers');

/** Polls `condition` until it holds (failing after a generous `timeoutMs`). */
async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${condition.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('kubectl against kube-sim (real time, zero kubelet delays)', () => {
  let sim: KubeSim;
  let kubectl: Kubectl;

  beforeAll(async () => {
    sim = await startKubeSim({ clusters: [{ name: 'sim-conformance' }] });
    kubectl = await Kubectl.create(sim);
  });
  afterAll(async () => {
    await sim.stop();
    await kubectl.dispose();
  });

  it('reports the server version, resource types and the built-in namespaces', async () => {
    expect(await kubectl.ok('version')).toContain('Server Version: v1.32.0-kube-sim');
    const resources = await kubectl.ok('api-resources', '--no-headers');
    for (const line of [
      /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m,
      /^replicasets\s+rs\s+/m,
      /^statefulsets\s+sts\s+/m,
      /^jobs\s+batch\/v1\s+true\s+Job$/m,
      /^namespaces\s+ns\s+v1\s+false/m,
    ])
      expect(resources).toMatch(line);
    // The other tests here add namespaces to the shared cluster; a new cluster has exactly the built-in ones.
    const fresh = await startKubeSim({ clusters: [{ name: 'sim-fresh' }] });
    const freshKubectl = await Kubectl.create(fresh);
    try {
      const ns = await freshKubectl.ok('get', 'ns', '-o', 'name');
      expect(ns.trim().split('\n').sort()).toEqual([
        'namespace/default',
        'namespace/kube-node-lease',
        'namespace/kube-public',
        'namespace/kube-system',
      ]);
    } finally {
      await fresh.stop();
      await freshKubectl.dispose();
    }
  });

  /** The guestbook's frontend edited from v5 to v6, applied to `namespace` (revision 2); returns kubectl's answer. */
  async function applyFrontendV6(namespace: string): Promise<string> {
    const edited = (await readFile(join(GUESTBOOK, 'frontend-deployment.yaml'), 'utf8')).replace(
      'gb-frontend:v5',
      'gb-frontend:v6',
    );
    return kubectl.ok('apply', '-n', namespace, '-f', await kubectl.file('frontend-v6.yaml', edited));
  }

  it('applies the guestbook, re-applies it unchanged, configures an edit as revision 2, and rolls out', async () => {
    await kubectl.ok('create', 'namespace', 'guestbook');
    const created = await kubectl.ok('apply', '-n', 'guestbook', '-f', GUESTBOOK);
    expect(created.match(/ created$/gm)).toHaveLength(6);
    const again = await kubectl.ok('apply', '-n', 'guestbook', '-f', GUESTBOOK);
    expect(again.match(/ unchanged$/gm)).toHaveLength(6);

    expect(await applyFrontendV6('guestbook')).toBe('deployment.apps/frontend configured\n');
    expect(await kubectl.ok('rollout', 'status', '-n', 'guestbook', 'deploy/frontend', '--timeout=20s')).toContain(
      'deployment "frontend" successfully rolled out',
    );
    const rs = await kubectl.ok(
      'get',
      'rs',
      '-n',
      'guestbook',
      '-l',
      'tier=frontend',
      '-o',
      'jsonpath={range .items[*]}{.metadata.annotations.deployment\\.kubernetes\\.io/revision}={.spec.replicas}={.spec.template.spec.containers[0].image}{"\\n"}{end}',
    );
    expect(rs.trim().split('\n').sort()).toEqual([
      '1=0=gcr.io/google-samples/gb-frontend:v5',
      '2=3=gcr.io/google-samples/gb-frontend:v6',
    ]);
    expect(await kubectl.ok('get', 'deploy', 'frontend', '-n', 'guestbook', '--no-headers')).toMatch(
      /^frontend\s+3\/3\s+3\s+3\s+/,
    );
  });

  it('rolls back with rollout undo (reusing the old ReplicaSet as revision 3) and lists the history', async () => {
    await kubectl.ok('create', 'namespace', 'undo');
    await kubectl.ok('apply', '-n', 'undo', '-f', join(GUESTBOOK, 'frontend-deployment.yaml'));
    await kubectl.ok('rollout', 'status', '-n', 'undo', 'deploy/frontend', '--timeout=20s');
    await applyFrontendV6('undo');
    await kubectl.ok('rollout', 'status', '-n', 'undo', 'deploy/frontend', '--timeout=20s');
    expect(await kubectl.ok('rollout', 'undo', '-n', 'undo', 'deploy/frontend')).toContain('rolled back');
    await kubectl.ok('rollout', 'status', '-n', 'undo', 'deploy/frontend', '--timeout=20s');
    const image = await kubectl.ok(
      'get',
      'deploy',
      'frontend',
      '-n',
      'undo',
      '-o',
      'jsonpath={.spec.template.spec.containers[0].image} {.metadata.annotations.deployment\\.kubernetes\\.io/revision}',
    );
    expect(image).toBe('gcr.io/google-samples/gb-frontend:v5 3');
    expect(
      (await kubectl.ok('get', 'rs', '-n', 'undo', '-l', 'tier=frontend', '-o', 'name')).trim().split('\n'),
    ).toHaveLength(2);
    const history = await kubectl.ok('rollout', 'history', '-n', 'undo', 'deploy/frontend');
    expect(history).toMatch(/^2\s+<none>$/m);
    expect(history).toMatch(/^3\s+<none>$/m);
    expect(history).not.toMatch(/^1\s+<none>$/m);
  });

  it('scales through the scale subresource', async () => {
    await kubectl.ok('create', 'namespace', 'scale');
    await kubectl.ok('apply', '-n', 'scale', '-f', join(GUESTBOOK, 'frontend-deployment.yaml'));
    expect(await kubectl.ok('scale', '-n', 'scale', 'deploy/frontend', '--replicas=5')).toBe(
      'deployment.apps/frontend scaled\n',
    );
    await kubectl.ok('rollout', 'status', '-n', 'scale', 'deploy/frontend', '--timeout=20s');
    expect(await kubectl.ok('get', 'deploy', 'frontend', '-n', 'scale', '--no-headers')).toMatch(
      /^frontend\s+5\/5\s+5\s+5\s+/,
    );
    expect(
      sim
        .cluster('sim-conformance')
        .requests()
        .some(
          (r) =>
            r.path.endsWith('/namespaces/scale/deployments/frontend/scale') &&
            r.contentType === 'application/merge-patch+json',
        ),
    ).toBe(true);
  });

  it('answers a missing object with a NotFound Status', async () => {
    await kubectl.ok('create', 'namespace', 'missing');
    const r = await kubectl.run('get', 'deploy', 'nope', '-n', 'missing');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Error from server (NotFound): deployments.apps "nope" not found');
  });

  it('server-side applies a 35-object manifest set, reports field conflicts, and forces them', async () => {
    await kubectl.ok('create', 'namespace', 'ssa');
    const docs = [
      await readFile(join(GUESTBOOK, 'frontend-deployment.yaml'), 'utf8'),
      await readFile(join(CONTROLLERS, 'nginx-deployment.yaml'), 'utf8'),
    ];
    for (let i = 0; i < 20; i++)
      docs.push(`apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings-${i}\ndata:\n  index: "${i}"\n`);
    for (let i = 0; i < 13; i++)
      docs.push(
        `apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-${i}\nspec:\n  selector:\n    app: guestbook\n  ports:\n  - port: ${8000 + i}\n`,
      );
    const file = await kubectl.file('set.yaml', docs.join('\n---\n'));
    const applied = await kubectl.ok('apply', '--server-side', '-n', 'ssa', '-f', file);
    expect(applied.match(/ serverside-applied$/gm)).toHaveLength(35);

    const conflicting = await kubectl.file('frontend-4.yaml', docs[0]!.replace('replicas: 3', 'replicas: 4'));
    const conflict = await kubectl.run(
      'apply',
      '--server-side',
      '--field-manager=other',
      '-n',
      'ssa',
      '-f',
      conflicting,
    );
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toContain(
      'Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas',
    );
    expect(await kubectl.ok('get', 'deploy', 'frontend', '-n', 'ssa', '-o', 'jsonpath={.spec.replicas}')).toBe('3');

    await kubectl.ok(
      'apply',
      '--server-side',
      '--field-manager=other',
      '--force-conflicts',
      '-n',
      'ssa',
      '-f',
      conflicting,
    );
    expect(await kubectl.ok('get', 'deploy', 'frontend', '-n', 'ssa', '-o', 'jsonpath={.spec.replicas}')).toBe('4');
    const managers = await kubectl.ok(
      'get',
      'deploy',
      'frontend',
      '-n',
      'ssa',
      '--show-managed-fields',
      '-o',
      'jsonpath={range .metadata.managedFields[*]}{.manager}:{.operation}{"\\n"}{end}',
    );
    expect(managers.trim().split('\n').sort()).toEqual(['kubectl:Apply', 'other:Apply']);
  });

  it('deletes with each cascade mode', async () => {
    await kubectl.ok('create', 'namespace', 'cascade');
    await kubectl.ok('apply', '-n', 'cascade', '-f', GUESTBOOK);
    await kubectl.ok('rollout', 'status', '-n', 'cascade', 'deploy/redis-replica', '--timeout=20s');

    await kubectl.ok('delete', '-n', 'cascade', 'deploy/frontend');
    expect(await kubectl.ok('get', 'rs,pods', '-n', 'cascade', '-l', 'tier=frontend', '-o', 'name')).toBe('');

    await kubectl.ok('delete', '-n', 'cascade', 'deploy/redis-replica', '--cascade=orphan');
    const orphans = await kubectl.ok(
      'get',
      'rs',
      '-n',
      'cascade',
      '-l',
      'role=replica',
      '-o',
      'jsonpath={.items[*].metadata.ownerReferences}:{.items[*].status.readyReplicas}',
    );
    expect(orphans).toBe(':2');

    await kubectl.ok('delete', '-n', 'cascade', 'deploy/redis-master', '--cascade=foreground');
    expect(await kubectl.ok('get', 'deploy,rs,pods', '-n', 'cascade', '-l', 'role=master', '-o', 'name')).toBe('');
  });

  it('streams changes with get -w during a rollout', async () => {
    await kubectl.ok('create', 'namespace', 'watching');
    const watch = kubectl.start(['get', 'pods', '-n', 'watching', '-w', '--no-headers']);
    const deployWatch = kubectl.start(['get', 'deploy', '-n', 'watching', '-w', '--no-headers']);
    // kubectl lists first and then watches from the list's resourceVersion (the server replays anything newer), so
    // once both watch requests have arrived, both lists were taken before the apply below and every step from
    // Pending to Running is streamed. A fixed sleep here was a guess that a loaded machine could outlast.
    await until(() =>
      ['pods', 'deployments'].every((resource) =>
        sim
          .cluster('sim-conformance')
          .requests()
          .some((r) => r.verb === 'watch' && r.path.endsWith(`/namespaces/watching/${resource}`)),
      ),
    );
    await kubectl.ok('apply', '-n', 'watching', '-f', join(CONTROLLERS, 'nginx-deployment.yaml'));
    await watch.waitFor(/nginx-deployment-\w+-\w+\s+1\/1\s+Running/);
    await deployWatch.waitFor(/nginx-deployment\s+3\/3\s+3\s+3/);
    expect(watch.output()).toMatch(/nginx-deployment-\w+-\w+\s+0\/1\s+(Pending|ContainerCreating)/);
    watch.kill();
    deployWatch.kill();
  });

  it('prints a Job container’s output with kubectl logs', async () => {
    await kubectl.ok('create', 'namespace', 'logs');
    const job = `apiVersion: batch/v1
kind: Job
metadata:
  name: refresh
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: alpine
        command: ["sh", "-c", "echo starting; echo SNAPSHOT_ID=snap-42 && echo ROWS=1000"]
`;
    await kubectl.ok('apply', '-n', 'logs', '-f', await kubectl.file('job.yaml', job));
    await kubectl.ok('wait', '-n', 'logs', '--for=condition=complete', 'job/refresh', '--timeout=20s');
    expect(await kubectl.ok('logs', '-n', 'logs', 'job/refresh')).toBe('starting\nSNAPSHOT_ID=snap-42\nROWS=1000\n');
  });
});

describe('kubectl against kube-sim (manual clock)', () => {
  let sim: KubeSim;
  let kubectl: Kubectl;

  beforeAll(async () => {
    sim = await startKubeSim({ clusters: [{ name: 'sim-clock', clock: 'manual', timings: { terminationMs: 5_000 } }] });
    kubectl = await Kubectl.create(sim);
  });
  afterAll(async () => {
    await sim.stop();
    await kubectl.dispose();
  });

  it('fails rollout status once a stuck rollout passes its 60 s progress deadline', async () => {
    const cluster = sim.cluster('sim-clock');
    const pullFails = await cluster.faults.add({
      match: { namespace: 'podinfo', image: 'ghcr.io/stefanprodan/podinfo:*' },
      effect: { type: 'imagePull' },
    });
    await kubectl.ok('create', 'namespace', 'podinfo');
    const applied = await kubectl.ok('apply', '-n', 'podinfo', '-k', PODINFO);
    expect(applied).toContain('deployment.apps/podinfo created');
    const status = kubectl.start(['rollout', 'status', '-n', 'podinfo', 'deploy/podinfo', '--timeout=60s']);
    await status.waitFor(
      'Waiting for deployment "podinfo" rollout to finish: 0 of 1 updated replicas are available...',
    );
    await cluster.advance(30_000);
    expect(await kubectl.ok('get', 'pods', '-n', 'podinfo', '--no-headers')).toMatch(
      /podinfo-\w+-\w+\s+0\/1\s+ImagePullBackOff/,
    );
    await cluster.advance(31_000);
    const result = await status.done;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error: deployment "podinfo" exceeded its progress deadline');
    await cluster.faults.remove(pullFails);
  });

  it('waits for a Job to complete and for a Job to fail by its pod failure policy', async () => {
    await kubectl.ok('create', 'namespace', 'jobs');
    await kubectl.ok(
      'apply',
      '-n',
      'jobs',
      '-f',
      join(CONTROLLERS, 'job.yaml'),
      '-f',
      join(CONTROLLERS, 'job-pod-failure-policy-failjob.yaml'),
    );
    expect(await kubectl.ok('wait', '-n', 'jobs', '--for=condition=complete', 'job/pi', '--timeout=20s')).toBe(
      'job.batch/pi condition met\n',
    );
    const failed = kubectl.start([
      'wait',
      '-n',
      'jobs',
      '--for=condition=failed',
      'job/job-pod-failure-policy-failjob',
      '--timeout=20s',
    ]);
    await cluster().advance(29_000);
    expect(
      await kubectl.ok('get', 'job', 'job-pod-failure-policy-failjob', '-n', 'jobs', '-o', 'jsonpath={.status.active}'),
    ).toBe('2');
    await cluster().advance(2_000);
    expect((await failed.done).stdout).toBe('job.batch/job-pod-failure-policy-failjob condition met\n');
    const reason = await kubectl.ok(
      'get',
      'job',
      'job-pod-failure-policy-failjob',
      '-n',
      'jobs',
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Failed")].reason}',
    );
    expect(reason).toBe('PodFailurePolicy');
  });

  it('fails a Job by backoffLimit after retrying with back-off', async () => {
    const job = `apiVersion: batch/v1
kind: Job
metadata:
  name: flaky
spec:
  backoffLimit: 2
  template:
    metadata:
      annotations:
        kube-sim.jibe.dev/exit-code: "3"
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: alpine
`;
    await kubectl.ok('create', 'namespace', 'flaky');
    await kubectl.ok('apply', '-n', 'flaky', '-f', await kubectl.file('flaky.yaml', job));
    const failed = kubectl.start(['wait', '-n', 'flaky', '--for=condition=failed', 'job/flaky', '--timeout=20s']);
    await cluster().advance(10_000);
    expect(await kubectl.ok('get', 'pods', '-n', 'flaky', '-l', 'job-name=flaky', '-o', 'name')).toMatch(
      /^(pod\/flaky-\w+\n){2}$/,
    );
    await cluster().advance(20_000);
    expect((await failed.done).code).toBe(0);
    const status = await kubectl.ok(
      'get',
      'job',
      'flaky',
      '-n',
      'flaky',
      '-o',
      'jsonpath={.status.failed} {.status.conditions[?(@.type=="Failed")].reason}',
    );
    expect(status).toBe('3 BackoffLimitExceeded');
  });

  it('keeps a foreground-deleted owner, marked, until its pods have terminated', async () => {
    await kubectl.ok('create', 'namespace', 'fg');
    await kubectl.ok('apply', '-n', 'fg', '-f', join(CONTROLLERS, 'nginx-deployment.yaml'));
    await kubectl.ok('rollout', 'status', '-n', 'fg', 'deploy/nginx-deployment', '--timeout=20s');
    await kubectl.ok('delete', '-n', 'fg', 'deploy/nginx-deployment', '--cascade=foreground', '--wait=false');
    const marked = await kubectl.ok(
      'get',
      'deploy',
      'nginx-deployment',
      '-n',
      'fg',
      '-o',
      'jsonpath={.metadata.finalizers} {.metadata.deletionTimestamp}',
    );
    expect(marked).toMatch(/^\["foregroundDeletion"\] \d{4}-/);
    expect(await kubectl.ok('get', 'pods', '-n', 'fg', '--no-headers')).toMatch(/Terminating/);
    await cluster().advance(5_000);
    const gone = await kubectl.run('get', 'deploy', 'nginx-deployment', '-n', 'fg');
    expect(gone.stderr).toContain('NotFound');
    expect(await kubectl.ok('get', 'rs,pods', '-n', 'fg', '-o', 'name')).toBe('');
  });

  it('terminates a namespace: Terminating while its pods shut down, then NotFound', async () => {
    await kubectl.ok('create', 'namespace', 'doomed');
    await kubectl.ok('apply', '-n', 'doomed', '-f', GUESTBOOK);
    await kubectl.ok('rollout', 'status', '-n', 'doomed', 'deploy/frontend', '--timeout=20s');
    await kubectl.ok('delete', 'namespace', 'doomed', '--wait=false');
    expect(await kubectl.ok('get', 'ns', 'doomed', '--no-headers')).toMatch(/^doomed\s+Terminating/);
    const create = await kubectl.run('create', 'configmap', 'late', '-n', 'doomed');
    expect(create.stderr).toContain('because it is being terminated');
    await cluster().advance(5_000);
    const gone = await kubectl.run('get', 'ns', 'doomed');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('Error from server (NotFound): namespaces "doomed" not found');
  });

  function cluster(): ReturnType<KubeSim['cluster']> {
    return sim.cluster('sim-clock');
  }
});
