import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../../../test/kube-sim/kubectl';
import { type StageSimulator, startStageSimulator } from '../../../test/support/stage-simulator';
import { type KubeObject } from '../cluster-kit/cluster.port';
import { MAX_LOG_CHARS, parseProperties } from '../cluster-kit/jobs';
import { runStage, runTask } from '../cluster-kit/testing/stage-harness';
import { runJobManifestStage } from './run-job-manifest.stage';

/** A Job whose one container runs `script` (the simulator interprets echo, sleep and exit). */
const job = (name: string, script: string, backoffLimit = 0): KubeObject => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name },
  spec: {
    backoffLimit,
    template: {
      spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', script] }] },
    },
  },
});

describe('runJobManifest against the simulator (real adapter over HTTP)', () => {
  let env: StageSimulator;

  beforeAll(async () => {
    env = await startStageSimulator();
  });
  afterAll(async () => {
    await env?.close();
  });

  const conditionsOf = (object: KubeObject | undefined) =>
    ((object?.status?.['conditions'] ?? []) as { type: string; status: string; reason?: string }[])
      .filter((c) => c.status === 'True')
      .map((c) => `${c.type}${c.reason ? `/${c.reason}` : ''}`);

  // Fails if checkJob (kubernetes/jobs.ts) reports a running Job as Complete at its first look (IMAGE and replicas,
  // printed 20 s in, are missing): checked by making that change once.
  it('runs the Job to completion, keeping its log and KEY=VALUE lines as outputs', async () => {
    const namespace = 'jobs-ok';
    await env.user.createNamespace(namespace);
    const script = [
      'echo starting',
      'echo VERSION=1.4.2',
      'sleep 20',
      `echo 'SPINNAKER_PROPERTY_IMAGE="web:1.4.2"'`,
      `echo 'SPINNAKER_CONFIG_JSON={"replicas": 3}'`,
      'echo not a property',
    ].join('; ');
    const run = await runStage(
      runJobManifestStage,
      { account: env.account, location: namespace, manifest: job('smoke', script) },
      { clusterPort: env.adapter },
    );

    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    const jobName = String(run.outputs['jobName']);
    expect(jobName).toMatch(/^smoke-\w{5}$/);
    // IMAGE and replicas are printed 20 s in: the stage waited for the Job to end before it read the log.
    expect(run.outputs).toMatchObject({ VERSION: '1.4.2', IMAGE: 'web:1.4.2', replicas: 3, jobStatus: 'Complete' });
    const [pod, ...others] = await env.user.list('v1', 'Pod', namespace, `batch.kubernetes.io/job-name=${jobName}`);
    expect(others).toEqual([]);
    const log = await env.user.logs(namespace, pod!.metadata.name!);
    expect(log).toBe(
      'starting\nVERSION=1.4.2\nSPINNAKER_PROPERTY_IMAGE="web:1.4.2"\nSPINNAKER_CONFIG_JSON={"replicas": 3}\nnot a property\n',
    );
    expect(run.outputs['logs']).toBe(`--- pod ${pod!.metadata.name} ---\n${log}`);

    // What `kubectl get job -n jobs-ok` shows afterwards: one Job, Jibe's, complete.
    const jobs = await env.user.list('batch/v1', 'Job', namespace);
    expect(jobs.map((j) => j.metadata.name)).toEqual([jobName]);
    expect(conditionsOf(jobs[0])).toContain('Complete/CompletionsReached');
    expect(jobs[0]!.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'jibe' });
  });

  // Fails if jobOutcome drops the Failed condition's reason from the message: checked by making that change once.
  it("fails with the Job's reason (its pod failure policy) and keeps what the pods printed", async () => {
    const namespace = 'jobs-failing';
    await env.user.createNamespace(namespace);
    // Kubernetes' own example: 8 completions, 2 at a time; each pod says hello, sleeps 30 s and exits 42, which
    // its podFailurePolicy turns into a failed Job at once (no retries).
    const manifest = parse(
      readFileSync(join(FIXTURES, '05-k8s-docs-controllers/job-pod-failure-policy-failjob.yaml'), 'utf8'),
    ) as KubeObject;
    const run = await runStage(
      runJobManifestStage,
      { account: env.account, location: namespace, manifest },
      { clusterPort: env.adapter },
    );

    expect(run.status).toBe('TERMINAL');
    const jobName = String(run.outputs['jobName']);
    expect(run.error).toEqual({
      code: 'JOB_FAILED',
      message: expect.stringMatching(
        new RegExp(
          `^job ${jobName} in ${namespace} failed: PodFailurePolicy: Container main for pod ${namespace}/${jobName}-\\w+ failed with exit code 42 matching FailJob rule at index 0$`,
        ),
      ),
    });
    expect(run.outputs['jobStatus']).toBe('Failed');
    // The Job controller deletes the pod still running when the Job fails; the stage kept the log of each pod that
    // is left, as `kubectl logs` shows it.
    const hello = "Hello world! I'm going to exit with 42 to simulate a software bug.";
    const pods = await env.user.list('v1', 'Pod', namespace, `batch.kubernetes.io/job-name=${jobName}`);
    expect(pods.length).toBeGreaterThan(0);
    for (const pod of pods) expect(await env.user.logs(namespace, pod.metadata.name!)).toBe(`${hello}\n`);
    expect(run.outputs['logs']).toBe(pods.map((p) => `--- pod ${p.metadata.name} ---\n${hello}\n`).join('\n'));

    const failed = await env.user.get('batch/v1', 'Job', namespace, jobName);
    expect(conditionsOf(failed)).toContain('Failed/PodFailurePolicy');
    expect(failed!.status!['succeeded'] ?? 0).toBe(0);
  });

  // Fails if ensureJob stops generating a name per run (the second run meets the first Job: AlreadyExists): checked
  // by making it keep the manifest's name once.
  it('runs a new Job each time', async () => {
    const namespace = 'jobs-twice';
    await env.user.createNamespace(namespace);
    const config = { account: env.account, location: namespace, manifest: job('smoke', 'echo RUN=ok') };
    const first = await runStage(runJobManifestStage, config, { clusterPort: env.adapter });
    await env.adapter.advance(1_000);
    const second = await runStage(runJobManifestStage, config, { clusterPort: env.adapter });
    expect([first.status, second.status]).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(second.outputs['jobName']).not.toBe(first.outputs['jobName']);
    const jobs = await env.user.list('batch/v1', 'Job', namespace);
    expect(jobs.map((j) => j.metadata.name).sort()).toEqual(
      [String(first.outputs['jobName']), String(second.outputs['jobName'])].sort(),
    );
  });

  // Fails if ensureJob creates a fresh Job when the run has lost track of its first one (two Jobs): checked by
  // making it skip its look for a Job of this run, once.
  it('creating the Job twice (a redelivered task that lost its result) creates one Job', async () => {
    const namespace = 'jobs-redelivered';
    await env.user.createNamespace(namespace);
    const run = await runStage(
      runJobManifestStage,
      { account: env.account, location: namespace, manifest: job('smoke', 'echo OK=1') },
      { clusterPort: env.adapter, stopBefore: 'monitorJob' },
    );
    // The worker created the Job, then died before the task's result (naming the Job) was recorded.
    const { ['runJob.job']: _forgotten, ...lost } = run.context;
    await runTask(runJobManifestStage, 'runJob', { ...run, context: lost }, { clusterPort: env.adapter });
    expect(await env.user.list('batch/v1', 'Job', namespace)).toHaveLength(1);
  });

  // Fails if jobOutcome drops the Failed condition's reason and message (checked by making that change once); the
  // logs of the failed pods are kept.
  it("fails with Kubernetes' reason after the Job's retries and still keeps the logs", async () => {
    const namespace = 'jobs-backoff';
    await env.user.createNamespace(namespace);
    // One retry: two pods, each printing and exiting 1, then the Job controller gives up.
    const manifest = job('migrate', `echo 'connecting…'; echo 'ERROR: connection refused'; exit 1`, 1);
    const run = await runStage(
      runJobManifestStage,
      { account: env.account, location: namespace, manifest },
      { clusterPort: env.adapter },
    );
    expect(run.status).toBe('TERMINAL');
    expect(run.error?.message).toMatch(
      new RegExp(
        `^job migrate-\\w+ in ${namespace} failed: BackoffLimitExceeded: Job has reached the specified backoff limit$`,
      ),
    );
    expect(run.outputs['logs']).toContain('ERROR: connection refused');
    const failed = await env.user.get('batch/v1', 'Job', namespace, String(run.outputs['jobName']));
    expect(failed!.status!['failed']).toBe(2);
  });

  // Fails if jobLogs keeps the start of a long log instead of its end: checked by making it slice from the start once.
  it('keeps the end of a long log', async () => {
    const namespace = 'jobs-long-log';
    await env.user.createNamespace(namespace);
    const run = await runStage(
      runJobManifestStage,
      {
        account: env.account,
        location: namespace,
        manifest: job('dump', `echo ${'x'.repeat(MAX_LOG_CHARS)}; echo RESULT=done`),
      },
      { clusterPort: env.adapter },
    );
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    expect(run.outputs['logsTruncated']).toBe(true);
    expect(String(run.outputs['logs']).length).toBeLessThan(MAX_LOG_CHARS + 50);
    expect(String(run.outputs['logs'])).toMatch(/x\nRESULT=done\n$/);
    expect(run.outputs['RESULT']).toBe('done');
  });

  it('accepts only a Job', () => {
    expect(
      runJobManifestStage.config.safeParse({ account: 'k', manifest: { ...job('x', 'true'), kind: 'Pod' } }).error!
        .issues[0],
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
