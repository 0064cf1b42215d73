import { defineStage, type StageTypes, type TaskContext } from '@jibe/domain';
import { z } from 'zod';
import { findArtifact, manifestsOf } from '../cluster-kit/artifacts';
import { type KubeObject } from '../cluster-kit/cluster.port';
import { checkJob, DEFAULT_JOB_TIMEOUT_MS, ensureJob, runLabel } from '../cluster-kit/jobs';
import { manifestSchema } from '../cluster-kit/manifest-schema';
import { clusterPortOf, clusterTask, kubernetesStageKeys, StageFailure } from '../cluster-kit/stage-support';

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

const jobRef = z.object({ name: z.string(), namespace: z.string() });

const state = z.object({ [JOB_KEY]: jobRef });

/** Spinnaker's outputs, with the `KEY=VALUE` properties the Job printed merged in (hence loose). */
const outputs = z.looseObject({
  jobName: z.string(),
  namespace: z.string(),
  jobStatus: z.enum(['Complete', 'Failed']),
  propertyFileContents: z.record(z.string(), z.unknown()),
  logs: z.string(),
  logsTruncated: z.boolean(),
});

type RunJob = StageTypes<typeof config, typeof state, typeof outputs>;

function jobOf(c: z.output<typeof config>, context: TaskContext<object>): KubeObject {
  if (c.source === 'text') {
    if (!c.manifest) throw new StageFailure('manifest is required when source is text', 'INVALID_MANIFEST');
    return c.manifest;
  }
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
  state,
  outputs,
  tasks: [
    clusterTask<RunJob>('runJob', async (context) => {
      const c = context.stage.context;
      if (c[JOB_KEY]) return { status: 'SUCCEEDED' };
      const port = clusterPortOf(context);
      const manifest = jobOf(c, context);
      const namespace =
        c.location?.trim() || c.namespace?.trim() || manifest.metadata.namespace || port.defaultNamespace(c.account);
      const { job } = await ensureJob(context, c.account, manifest, namespace, runLabel(context));
      const ref = { name: job.metadata.name ?? '', namespace };
      return { status: 'SUCCEEDED', context: { [JOB_KEY]: ref }, outputs: { jobName: ref.name, namespace } };
    }),
    clusterTask<RunJob>('monitorJob', async (context) => {
      const c = context.stage.context;
      const ref = c[JOB_KEY];
      if (!ref) throw new StageFailure('no Job: runJob has not run', 'INTERNAL');
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
