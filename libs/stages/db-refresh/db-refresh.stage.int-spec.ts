import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StageSimulator, startStageSimulator } from '../../../test/support/stage-simulator';
import { type KubeObject } from '../cluster-kit/cluster.port';
import { continueStage, runStage, runTask } from '../cluster-kit/testing/stage-harness';
import { dbRefreshStage } from './db-refresh.stage';

/** The refresh Job: one container running `script` (the simulator interprets echo, sleep and exit). */
const jobTemplate = (script: string): KubeObject => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name: 'refresh' },
  spec: {
    backoffLimit: 0,
    template: {
      spec: {
        containers: [{ name: 'pg', image: 'postgres:16', command: ['sh', '-c', script] }],
        restartPolicy: 'Never',
      },
    },
  },
});
const configFor = (namespace: string, script = 'echo ROWS=1200') => ({
  account: 'sim',
  location: namespace,
  source: { type: 'snapshot', snapshot: 'prod-2026-11-01', secretName: 'prod-db' },
  target: { database: 'shop_staging', secretName: 'staging-db' },
  jobTemplate: jobTemplate(script),
  scaleDown: { labelSelector: 'app=shop' },
  keepJobs: 2,
});
const app = (namespace: string, name: string, replicas: number, annotations?: Record<string, string>): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace, labels: { app: 'shop' }, ...(annotations ? { annotations } : {}) },
  spec: {
    replicas,
    selector: { matchLabels: { app: 'shop', component: name } },
    template: {
      metadata: { labels: { app: 'shop', component: name } },
      spec: { containers: [{ name: 'app', image: 'shop:1' }] },
    },
  },
});

describe('dbRefresh against the simulator (real adapter over HTTP)', () => {
  let env: StageSimulator;

  beforeAll(async () => {
    // A pod takes 5 s (simulated) to shut down: the Job must not start while the app's pods are still stopping.
    env = await startStageSimulator({ timings: { terminationMs: 5_000 } });
  });
  afterAll(async () => {
    await env?.close();
  });

  /** A namespace of its own with the database Secrets and the app's Deployments, deployed by Jibe and running. */
  async function staging(namespace: string, apps: KubeObject[]): Promise<void> {
    await env.user.createNamespace(namespace);
    for (const name of ['prod-db', 'staging-db'])
      await env.user.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type: 'Opaque' });
    await env.adapter.apply(env.account, apps);
    await env.adapter.advance(10_000);
  }

  /** Each Deployment's replicas, its pods, and how many of them are shutting down, as kubectl shows them. */
  async function running(namespace: string): Promise<Record<string, string>> {
    const pods = await env.user.list('v1', 'Pod', namespace, 'app=shop');
    return Object.fromEntries(
      (await env.user.list('apps/v1', 'Deployment', namespace)).map((d) => {
        const own = pods.filter((p) => p.metadata.labels?.['component'] === d.metadata.name);
        const stopping = own.filter((p) => p.metadata['deletionTimestamp']).length;
        return [
          d.metadata.name,
          `${String(d.spec!['replicas'])} (${own.length} pods${stopping ? `, ${stopping} terminating` : ''})`,
        ];
      }),
    );
  }

  // Fails if restoreApp is skipped (the app stays at 0), if the source and target stop reaching the Job's container,
  // and if cleanupOldJobs keeps every Job: each checked by making that change once. Removing scaleDownApp's wait
  // for the scale-in still passes: the simulator marks the pods terminating before the Job is created anyway.
  it('scales the app down, runs the Job with the source and target, restores the app, keeps N Jobs', async () => {
    const ns = 'refresh-ok';
    await staging(ns, [app(ns, 'web', 3), app(ns, 'worker', 2)]);
    expect(await running(ns)).toEqual({ web: '3 (3 pods)', worker: '2 (2 pods)' });
    const config = { ...configFor(ns), account: env.account };
    const started = await runStage(dbRefreshStage, config, {
      clusterPort: env.adapter,
      stopBefore: 'monitorRefreshJob',
    });
    // When the Job starts, every pod of the app has been told to stop. They are still shutting down (5 s here):
    // the Deployment counts as scaled in once its pods are terminating, which is all the stability rules look at.
    expect(await running(ns)).toEqual({ web: '0 (3 pods, 3 terminating)', worker: '0 (2 pods, 2 terminating)' });
    const run = await continueStage(
      dbRefreshStage,
      started,
      { clusterPort: env.adapter },
      dbRefreshStage.tasks.findIndex((t) => t.name === 'monitorRefreshJob'),
    );
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    await env.adapter.advance(10_000);
    expect(await running(ns)).toEqual({ web: '3 (3 pods)', worker: '2 (2 pods)' });
    expect(run.outputs).toMatchObject({
      ROWS: '1200',
      jobStatus: 'Complete',
      restored: [`deployment web in ${ns}: 3`, `deployment worker in ${ns}: 2`],
    });
    const [pod] = await env.user.list(
      'v1',
      'Pod',
      ns,
      `batch.kubernetes.io/job-name=${String(run.outputs['jobName'])}`,
    );
    const container = (pod!.spec!['containers'] as { env: unknown; envFrom: unknown }[])[0]!;
    expect(container.env).toEqual([
      { name: 'JIBE_SOURCE_TYPE', value: 'snapshot' },
      { name: 'JIBE_SOURCE_SNAPSHOT', value: 'prod-2026-11-01' },
      { name: 'JIBE_TARGET_DATABASE', value: 'shop_staging' },
    ]);
    expect(container.envFrom).toEqual([
      { prefix: 'SOURCE_', secretRef: { name: 'prod-db' } },
      { prefix: 'TARGET_', secretRef: { name: 'staging-db' } },
    ]);

    // Two more refreshes, a second apart (Jobs are ordered by creation time): the oldest Job is deleted.
    const names = [String(run.outputs['jobName'])];
    for (let i = 0; i < 2; i++) {
      await env.adapter.advance(10_000);
      const again = await runStage(dbRefreshStage, config, { clusterPort: env.adapter });
      expect(again.status, JSON.stringify(again.error)).toBe('SUCCEEDED');
      names.push(String(again.outputs['jobName']));
    }
    const jobs = (await env.user.list('batch/v1', 'Job', ns)).map((j) => j.metadata.name).sort();
    expect(jobs).toEqual(names.slice(1).sort());
  });

  // Fails if restoreApp is skipped after a failed Job (web stays at 0): checked by making that change once.
  it('restores the app even when the refresh Job fails, then fails with the reason', async () => {
    const ns = 'refresh-failing';
    await staging(ns, [app(ns, 'web', 3)]);
    const run = await runStage(
      dbRefreshStage,
      { ...configFor(ns, "echo 'pg_restore: error: could not connect'; exit 1"), account: env.account },
      { clusterPort: env.adapter },
    );
    expect(run.status).toBe('TERMINAL');
    expect(run.error?.message).toMatch(
      /^dbRefresh: job refresh-\w+ failed: BackoffLimitExceeded: Job has reached the specified backoff limit/,
    );
    expect(run.runs).toContain('restoreApp');
    expect(run.outputs['logs']).toContain('could not connect');
    await env.adapter.advance(10_000);
    expect(await running(ns)).toEqual({ web: '3 (3 pods)' });
  });

  // Fails if scaleDownApp also takes workloads already at 0 (it writes to web-v000): checked by making that change
  // once.
  it('neither scales nor restores a workload already at 0 replicas, even with a stale previous-replicas annotation', async () => {
    const ns = 'refresh-old-version';
    // web-v000 was scaled in by an earlier deploy: restoring from its annotation would bring the old version back up.
    await staging(ns, [app(ns, 'web-v001', 2), app(ns, 'web-v000', 0, { 'jibe.dev/previous-replicas': '2' })]);
    const writes = env.mark();
    const run = await runStage(
      dbRefreshStage,
      { ...configFor(ns, 'echo ROWS=1'), account: env.account },
      {
        clusterPort: env.adapter,
      },
    );
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect(writes.writes().filter((w) => w.includes('web-v000'))).toEqual([]);
    expect(run.outputs['restored']).toEqual([`deployment web-v001 in ${ns}: 2`]);
    await env.adapter.advance(10_000);
    expect(await running(ns)).toEqual({ 'web-v000': '0 (0 pods)', 'web-v001': '2 (2 pods)' });
  });

  // Fails if scaleDownApp stops taking back a workload stamped by its own run when the list was lost (nothing is
  // restored): checked by making it skip every workload at 0 once.
  it('restores the app after a crash that lost the list of what was scaled down', async () => {
    const ns = 'refresh-crash';
    await staging(ns, [app(ns, 'web', 3)]);
    const config = { ...configFor(ns, 'echo ROWS=1'), account: env.account };
    const start = await runStage(dbRefreshStage, config, { clusterPort: env.adapter, stopBefore: 'scaleDownApp' });
    // The worker scales web in, then dies before the task's result is recorded.
    await runTask(
      dbRefreshStage,
      'scaleDownApp',
      { ...start, context: { ...start.context } },
      { clusterPort: env.adapter },
    );
    expect((await env.user.get('apps/v1', 'Deployment', ns, 'web'))!.spec!['replicas']).toBe(0);
    expect(start.context['dbRefresh.scaled']).toBeUndefined();

    const run = await continueStage(dbRefreshStage, { ...start, status: 'RUNNING' }, { clusterPort: env.adapter });
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect(run.outputs['restored']).toEqual([`deployment web in ${ns}: 3`]);
    await env.adapter.advance(10_000);
    expect(await running(ns)).toEqual({ web: '3 (3 pods)' });
    const annotations = (await env.user.get('apps/v1', 'Deployment', ns, 'web'))!.metadata.annotations ?? {};
    expect(annotations).not.toHaveProperty('jibe.dev/scaled-down-by');
    expect(annotations).not.toHaveProperty('jibe.dev/previous-replicas');
  });

  it('gives precise config errors', () => {
    const parsed = dbRefreshStage.config.safeParse({
      account: 'k',
      source: { type: 'snapshot' },
      target: {},
      jobTemplate: { ...jobTemplate('true'), kind: 'Pod' },
    });
    expect(parsed.error!.issues.map((i) => i.path.join('.'))).toEqual([
      'source.snapshot',
      'target.database',
      'jobTemplate.kind',
    ]);
  });
});
