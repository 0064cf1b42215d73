import { defineStage, type TaskResult } from '@jibe/domain';
import { z } from 'zod';
import { findArtifact, manifestsOf } from '../kubernetes/artifacts';
import { type KubeObject } from '../kubernetes/cluster.port';
import { checkJob, DEFAULT_JOB_TIMEOUT_MS, ensureJob, runLabel } from '../kubernetes/jobs';
import { isRecord } from '../kubernetes/manifest';
import { manifestSchema } from '../kubernetes/manifest-schema';
import { cluster, clusterTask, kubernetesStageKeys, readConfig, StageFailure } from '../kubernetes/stage-support';

const JOB_KEY = 'runJob.job';

const jobManifest = manifestSchema.refine((m) => m.kind === 'Job', { message: 'must be a Job', path: ['kind'] });

const config = z
  .looseObject({
    ...kubernetesStageKeys,
    source: z.enum(['text', 'artifact']).default('text'),
    manifest: jobManifest.optional(),
    manifestArtifactId: z.string().min(1).optional(),
    /** Spinnaker's: the container whose log holds the output properties (default: every container). */
    propertyFile: z.string().optional(),
    jobTimeoutMinutes: z
      .number()
      .positive()
      .max(7 * 24 * 60)
      .optional(),
  })
  .superRefine((c, issues) => {
    if (c.source === 'text' && !c.manifest)
      issues.addIssue({ code: 'custom', path: ['manifest'], message: 'required when source is text' });
  });

function jobOf(c: z.output<typeof config>, context: Parameters<typeof findArtifact>[0]): KubeObject {
  if (c.source === 'text') return c.manifest as KubeObject;
  const jobs = manifestsOf(findArtifact(context, c.manifestArtifactId)).filter((m) => m.kind === 'Job');
  if (jobs.length !== 1)
    throw new StageFailure(`the artifact must hold exactly one Job, found ${jobs.length}`, 'INVALID_MANIFEST');
  return jobs[0]!;
}

/**
 * Runs a Kubernetes Job (Spinnaker's Run Job (Manifest)): every run is a new Job (generateName), the stage waits
 * for Complete or Failed, keeps the pods' logs (the last 64 KiB) and turns `KEY=VALUE` lines into outputs.
 */
export const runJobManifestStage = defineStage({
  type: 'runJobManifest',
  description: 'Run a Kubernetes Job, wait for it, keep its logs and KEY=VALUE output lines.',
  config,
  tasks: [
    clusterTask('runJob', async (context): Promise<TaskResult> => {
      if (isRecord(context.stage.context[JOB_KEY])) return { status: 'SUCCEEDED' };
      const c = readConfig(context, config);
      const port = cluster(context);
      const manifest = jobOf(c, context);
      const namespace =
        c.location?.trim() || c.namespace?.trim() || manifest.metadata.namespace || port.defaultNamespace(c.account);
      const { job } = await ensureJob(context, c.account, manifest, namespace, runLabel(context));
      const ref = { name: job.metadata.name ?? '', namespace };
      return { status: 'SUCCEEDED', context: { [JOB_KEY]: ref }, outputs: { jobName: ref.name, namespace } };
    }),
    clusterTask('monitorJob', async (context): Promise<TaskResult> => {
      const ref = context.stage.context[JOB_KEY] as { name: string; namespace: string };
      const c = context.stage.context as { account: string; propertyFile?: string; jobTimeoutMinutes?: number };
      const result = await checkJob(context, c.account, ref, {
        key: 'runJob.wait',
        timeoutMs: c.jobTimeoutMinutes ? c.jobTimeoutMinutes * 60_000 : DEFAULT_JOB_TIMEOUT_MS,
        ...(c.propertyFile ? { container: c.propertyFile } : {}),
      });
      if (result.status === 'RUNNING') return result;
      // Spinnaker merges the properties into the outputs so `${ KEY }` works downstream; Jibe's own keys win.
      const outputs = {
        ...result.properties,
        propertyFileContents: result.properties,
        jobName: result.jobName,
        jobStatus: result.status,
        logs: result.logs,
        logsTruncated: result.logsTruncated,
      };
      if (result.status === 'Complete') return { status: 'SUCCEEDED', outputs };
      return {
        status: 'TERMINAL',
        outputs,
        error: {
          message: `job ${result.jobName} in ${result.namespace} failed: ${result.message}`,
          code: 'JOB_FAILED',
        },
      };
    }),
  ],
});
