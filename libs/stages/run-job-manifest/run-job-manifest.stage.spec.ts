import { describe, expect, it } from 'vitest';
import { type KubeObject } from '../kubernetes/cluster.port';
import { MAX_LOG_CHARS, parseProperties } from '../kubernetes/jobs';
import { jobCluster } from '../kubernetes/testing/job-cluster';
import { runStage, runTask } from '../kubernetes/testing/stage-harness';
import { runJobManifestStage } from './run-job-manifest.stage';

const job: KubeObject = {
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name: 'smoke', namespace: 'staging' },
  spec: { template: { spec: { containers: [{ name: 'main', image: 'curl' }], restartPolicy: 'Never' } } },
};

describe('runJobManifest', () => {
  it('runs a new Job each time, waits, keeps logs and KEY=VALUE outputs', async () => {
    const { cluster, beforeRun } = jobCluster(
      'starting\nVERSION=1.4.2\nSPINNAKER_PROPERTY_IMAGE="web:1.4.2"\nSPINNAKER_CONFIG_JSON={"replicas": 3}\nnot a property\nlower=case\n',
    );
    const run = await runStage(runJobManifestStage, { account: 'k', manifest: job }, { cluster, beforeRun });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.outputs).toMatchObject({ VERSION: '1.4.2', IMAGE: 'web:1.4.2', replicas: 3, jobStatus: 'Complete' });
    expect(run.outputs['logs']).toContain('--- pod smoke-');
    expect(run.outputs['jobName']).toMatch(/^smoke-/);
    const second = await runStage(
      runJobManifestStage,
      { account: 'k', manifest: job },
      { cluster, beforeRun, now: 9_000_000 },
    );
    expect(second.outputs['jobName']).not.toBe(run.outputs['jobName']);
    expect(cluster.all('k', 'Job')).toHaveLength(2);
  });

  it('creating the Job twice (a redelivered task) creates one Job', async () => {
    const { cluster, beforeRun } = jobCluster('OK=1');
    const run = await runStage(
      runJobManifestStage,
      { account: 'k', manifest: job },
      { cluster, beforeRun, stopBefore: 'monitorJob' },
    );
    const { ['runJob.job']: _forgotten, ...lost } = run.context;
    await runTask(runJobManifestStage, 'runJob', { ...run, context: lost }, { cluster });
    expect(cluster.all('k', 'Job')).toHaveLength(1);
  });

  it("fails with Kubernetes' reason and still keeps the logs", async () => {
    const { cluster, beforeRun } = jobCluster('connecting…\nERROR: connection refused', {
      type: 'Failed',
      reason: 'BackoffLimitExceeded',
      message: 'Job has reached the specified backoff limit',
    });
    const run = await runStage(runJobManifestStage, { account: 'k', manifest: job }, { cluster, beforeRun });
    expect(run.status).toBe('TERMINAL');
    expect(run.error?.message).toMatch(
      /^job smoke-\w+ in staging failed: BackoffLimitExceeded: Job has reached the specified backoff limit$/,
    );
    expect(run.outputs['logs']).toContain('ERROR: connection refused');
  });

  it('keeps the end of a long log', async () => {
    const { cluster, beforeRun } = jobCluster(`${'x'.repeat(MAX_LOG_CHARS)}\nRESULT=done`);
    const run = await runStage(runJobManifestStage, { account: 'k', manifest: job }, { cluster, beforeRun });
    expect(run.outputs['logsTruncated']).toBe(true);
    expect(String(run.outputs['logs']).length).toBeLessThan(MAX_LOG_CHARS + 50);
    expect(run.outputs['RESULT']).toBe('done');
  });

  it('accepts only a Job', () => {
    expect(
      runJobManifestStage.config.safeParse({ account: 'k', manifest: { ...job, kind: 'Pod' } }).error!.issues[0],
    ).toMatchObject({ path: ['manifest', 'kind'], message: 'must be a Job' });
  });
});

describe('parseProperties', () => {
  it('reads KEY=VALUE lines, Spinnaker properties and config JSON; later lines win', () => {
    expect(
      parseProperties(
        "A=1\r\n  B = 2\nA=3\nSPINNAKER_PROPERTY_C='x y'\nSPINNAKER_CONFIG_JSON={bad\nD=a=b\n--- pod p ---\nPATH_X=",
      ),
    ).toEqual({
      A: '3',
      C: 'x y',
      D: 'a=b',
      PATH_X: '',
    });
  });
});
