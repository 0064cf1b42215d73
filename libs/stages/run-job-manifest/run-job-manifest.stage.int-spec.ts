import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../../../test/kube-sim/kubectl';
import { type StageSimulator, startStageSimulator } from '../../../test/support/stage-simulator';
import { type KubeObject } from '../kubernetes/cluster.port';
import { runStage } from '../kubernetes/testing/stage-harness';
import { runJobManifestStage } from './run-job-manifest.stage';

/** A Job whose one container runs `script` (the simulator interprets echo, sleep and exit). */
const job = (name: string, script: string): KubeObject => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name },
  spec: {
    backoffLimit: 0,
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
      { cluster: env.cluster },
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
      { cluster: env.cluster },
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
});
