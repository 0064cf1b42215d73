import { describe, expect, it } from 'vitest';
import { type KubeObject } from '../kubernetes/cluster.port';
import { continueStage, runStage, runTask } from '../kubernetes/testing/stage-harness';
import { jobCluster } from '../kubernetes/testing/job-cluster';
import { dbRefreshStage } from './db-refresh.stage';

const jobTemplate: KubeObject = {
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name: 'refresh' },
  spec: { template: { spec: { containers: [{ name: 'pg', image: 'postgres:16' }], restartPolicy: 'Never' } } },
};
const config = {
  account: 'k',
  location: 'staging',
  source: { type: 'snapshot', snapshot: 'prod-2026-11-01', secretName: 'prod-db' },
  target: { database: 'shop_staging', secretName: 'staging-db' },
  jobTemplate,
  scaleDown: { labelSelector: 'app=shop' },
  keepJobs: 2,
};
const app = (name: string, replicas: number): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'staging', labels: { app: 'shop', 'app.kubernetes.io/managed-by': 'jibe' } },
  spec: { replicas },
});

describe('dbRefresh', () => {
  it('scales the app down, runs the Job with the source and target, restores the app, keeps N Jobs', async () => {
    const { cluster, beforeRun } = jobCluster('ROWS=1200\n');
    cluster.seed('k', app('web', 3));
    cluster.seed('k', app('worker', 2));
    let replicasDuringJob: unknown[] = [];
    const run = await runStage(dbRefreshStage, config, {
      cluster,
      beforeRun: (task, now) => {
        if (task === 'monitorRefreshJob')
          replicasDuringJob = cluster.all('k', 'Deployment').map((d) => d.spec!['replicas']);
        beforeRun(task);
        void now;
      },
    });
    expect(run.status).toBe('SUCCEEDED');
    expect(replicasDuringJob).toEqual([0, 0]);
    expect(cluster.all('k', 'Deployment').map((d) => d.spec!['replicas'])).toEqual([3, 2]);
    expect(run.outputs).toMatchObject({
      ROWS: '1200',
      jobStatus: 'Complete',
      restored: ['deployment web in staging: 3', 'deployment worker in staging: 2'],
    });
    const container = (cluster.all('k', 'Job')[0]!.spec!['template'] as any).spec.containers[0];
    expect(container.env).toEqual([
      { name: 'JIBE_SOURCE_TYPE', value: 'snapshot' },
      { name: 'JIBE_SOURCE_SNAPSHOT', value: 'prod-2026-11-01' },
      { name: 'JIBE_TARGET_DATABASE', value: 'shop_staging' },
    ]);
    expect(container.envFrom).toEqual([
      { prefix: 'SOURCE_', secretRef: { name: 'prod-db' } },
      { prefix: 'TARGET_', secretRef: { name: 'staging-db' } },
    ]);
    for (const at of [5_000_000, 9_000_000]) await runStage(dbRefreshStage, config, { cluster, beforeRun, now: at });
    expect(cluster.all('k', 'Job')).toHaveLength(2);
  });

  it('restores the app even when the refresh Job fails, then fails with the reason', async () => {
    const { cluster, beforeRun } = jobCluster('pg_restore: error: could not connect', {
      type: 'Failed',
      reason: 'BackoffLimitExceeded',
      message: 'Job has reached the specified backoff limit',
    });
    cluster.seed('k', app('web', 3));
    const run = await runStage(dbRefreshStage, config, { cluster, beforeRun });
    expect(run.status).toBe('TERMINAL');
    expect(run.error?.message).toMatch(/^dbRefresh: job refresh-\w+ failed: BackoffLimitExceeded/);
    expect(run.runs).toContain('restoreApp');
    expect(cluster.find('k', 'Deployment', 'web', 'staging')!.spec!['replicas']).toBe(3);
    expect(run.outputs['logs']).toContain('could not connect');
  });

  it('neither scales nor restores a workload already at 0 replicas, even with a stale previous-replicas annotation', async () => {
    const { cluster, beforeRun } = jobCluster('ROWS=1\n');
    cluster.seed('k', app('web-v001', 2));
    const old = app('web-v000', 0);
    // Left by an earlier scale-in: restoring from it would bring the old version back up.
    old.metadata.annotations = { 'jibe.dev/previous-replicas': '2' };
    cluster.seed('k', old);
    const run = await runStage(dbRefreshStage, config, { cluster, beforeRun });
    expect(run.status).toBe('SUCCEEDED');
    expect(cluster.find('k', 'Deployment', 'web-v000', 'staging')!.spec!['replicas']).toBe(0);
    expect(cluster.find('k', 'Deployment', 'web-v001', 'staging')!.spec!['replicas']).toBe(2);
    expect(cluster.calls.filter((c) => c.includes('web-v000'))).toEqual([]);
    expect(run.outputs['restored']).toEqual(['deployment web-v001 in staging: 2']);
  });

  it('restores the app after a crash that lost the list of what was scaled down', async () => {
    const { cluster, beforeRun } = jobCluster('ROWS=1\n');
    cluster.seed('k', app('web', 3));
    const start = await runStage(dbRefreshStage, config, { cluster, beforeRun, stopBefore: 'scaleDownApp' });
    // The worker scales web in, then dies before the task's result is recorded.
    await runTask(dbRefreshStage, 'scaleDownApp', { ...start, context: { ...start.context } }, { cluster });
    expect(cluster.find('k', 'Deployment', 'web', 'staging')!.spec!['replicas']).toBe(0);
    expect(start.context['dbRefresh.scaled']).toBeUndefined();
    const run = await continueStage(dbRefreshStage, { ...start, status: 'RUNNING' }, { cluster, beforeRun });
    expect(run.status).toBe('SUCCEEDED');
    const web = cluster.find('k', 'Deployment', 'web', 'staging')!;
    expect(web.spec!['replicas']).toBe(3);
    expect(web.metadata.annotations ?? {}).not.toHaveProperty('jibe.dev/scaled-down-by');
    expect(web.metadata.annotations ?? {}).not.toHaveProperty('jibe.dev/previous-replicas');
    expect(run.outputs['restored']).toEqual(['deployment web in staging: 3']);
  });

  it('gives precise config errors', () => {
    const parsed = dbRefreshStage.config.safeParse({
      account: 'k',
      source: { type: 'snapshot' },
      target: {},
      jobTemplate: { ...jobTemplate, kind: 'Pod' },
    });
    expect(parsed.error!.issues.map((i) => i.path.join('.'))).toEqual([
      'source.snapshot',
      'target.database',
      'jobTemplate.kind',
    ]);
  });
});
