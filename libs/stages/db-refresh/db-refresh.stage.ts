import { defineStage, type StageTypes } from '@jibe/domain';
import { z } from 'zod';
import { ClusterError, type KubeObject, objectRefSchema } from '../cluster-kit/cluster.port';
import { checkJob, DEFAULT_JOB_TIMEOUT_MS, ensureJob, jobResultSchema, runLabel } from '../cluster-kit/jobs';
import { ANNOTATIONS, LABELS, MANAGED_BY_JIBE } from '../cluster-kit/labels';
import {
  canonicalKind,
  clone,
  describeRef,
  isRecord,
  refOf,
  replicasOf,
  SCALABLE_KINDS,
  withLabels,
} from '../cluster-kit/manifest';
import { manifestSchema } from '../cluster-kit/manifest-schema';
import { restore, scaleTo } from '../cluster-kit/scaling';
import {
  checkStable,
  clusterPortOf,
  clusterTask,
  count,
  kubernetesStageKeys,
  StageFailure,
  stableTimeoutMs,
  stageNamespace,
  toCount,
  writeOptions,
} from '../cluster-kit/stage-support';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const secretName = z.string().regex(DNS_LABEL, 'must be the name of a Secret in the namespace');

const config = z.looseObject({
  ...kubernetesStageKeys,
  source: z.discriminatedUnion('type', [
    z.looseObject({ type: z.literal('snapshot'), snapshot: z.string().min(1), secretName: secretName.optional() }),
    z.looseObject({ type: z.literal('live'), database: z.string().min(1), secretName: secretName.optional() }),
  ]),
  target: z.looseObject({ database: z.string().min(1), secretName: secretName.optional() }),
  /** The Job that copies the data; it receives JIBE_SOURCE_* / JIBE_TARGET_* variables and the Secrets as env. */
  jobTemplate: manifestSchema.refine((m) => m.kind === 'Job', { message: 'must be a Job', path: ['kind'] }),
  /** Names this refresh's Jobs (label `jibe.dev/db-refresh`) for clean-up; defaults to the target database. */
  refreshName: z.string().max(63).regex(DNS_LABEL, 'must be a DNS label').optional(),
  /** Scale the app to 0 before the refresh and back after, even when the refresh fails. */
  scaleDown: z
    .looseObject({
      labelSelector: z.string().min(1),
      kinds: z.array(z.string().min(1)).default(['Deployment', 'StatefulSet']),
    })
    .optional(),
  /** Jobs of this refresh to keep (newest first); older ones are deleted with their pods. */
  keepJobs: count.default(3),
  jobTimeoutMinutes: z
    .number()
    .positive()
    .max(7 * 24 * 60)
    .optional(),
});

type DbRefreshConfig = z.output<typeof config>;

const FAILURE = 'dbRefresh.failure';
const SCALED = 'dbRefresh.scaled';
const JOB = 'dbRefresh.job';
const RESULT = 'dbRefresh.result';

const state = z.object({
  /** What went wrong before the Job ended; the app is restored all the same, then the stage fails with it. */
  [FAILURE]: z.string(),
  /** What scaleDownApp scaled in, to restore. */
  [SCALED]: z.array(objectRefSchema),
  [JOB]: z.object({ name: z.string(), namespace: z.string() }),
  [RESULT]: jobResultSchema,
});

/** runJobManifest's outputs (the Job's `KEY=VALUE` properties merged in, hence loose) and the clean-up's. */
const outputs = z.looseObject({
  jobName: z.string(),
  jobStatus: z.enum(['Complete', 'Failed']),
  propertyFileContents: z.record(z.string(), z.unknown()),
  logs: z.string(),
  logsTruncated: z.boolean(),
  restored: z.array(z.string()),
  deletedJobs: z.array(z.string()),
});

type DbRefresh = StageTypes<typeof config, typeof state, typeof outputs>;

function refreshName(c: DbRefreshConfig): string {
  if (c.refreshName) return c.refreshName;
  const slug = c.target.database
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
  return slug || 'db-refresh';
}

/** What goes wrong before the Job ends is recorded, not thrown: the app must still be restored afterwards. */
function recorded(error: unknown): string {
  if (error instanceof StageFailure) return error.message;
  if (error instanceof ClusterError)
    return `${error.account}: ${error.message}${error.reason ? ` (${error.reason})` : ''}`;
  throw error;
}

function refreshJob(c: DbRefreshConfig, name: string): KubeObject {
  const job: KubeObject = clone(c.jobTemplate);
  withLabels(job, { [LABELS.dbRefresh]: name });
  const env = [
    { name: 'JIBE_SOURCE_TYPE', value: c.source.type },
    ...(c.source.type === 'snapshot'
      ? [{ name: 'JIBE_SOURCE_SNAPSHOT', value: c.source.snapshot }]
      : [{ name: 'JIBE_SOURCE_DATABASE', value: c.source.database }]),
    { name: 'JIBE_TARGET_DATABASE', value: c.target.database },
  ];
  // Credentials come from Secrets in the cluster, never from pipeline JSON (docs/spinnaker.md#secrets).
  const envFrom = [
    ...(c.source.secretName ? [{ prefix: 'SOURCE_', secretRef: { name: c.source.secretName } }] : []),
    ...(c.target.secretName ? [{ prefix: 'TARGET_', secretRef: { name: c.target.secretName } }] : []),
  ];
  const template = job.spec?.['template'];
  const podSpec = isRecord(template) && isRecord(template['spec']) ? template['spec'] : undefined;
  const containers =
    podSpec && Array.isArray(podSpec['containers']) ? (podSpec['containers'] as Record<string, unknown>[]) : [];
  if (containers.length === 0) throw new StageFailure('jobTemplate has no containers', 'INVALID_MANIFEST');
  for (const container of containers) {
    const ownEnv: unknown[] = Array.isArray(container['env']) ? (container['env'] as unknown[]) : [];
    const ownEnvFrom: unknown[] = Array.isArray(container['envFrom']) ? (container['envFrom'] as unknown[]) : [];
    container['env'] = [...ownEnv, ...env];
    container['envFrom'] = [...ownEnvFrom, ...envFrom];
  }
  return job;
}

/**
 * Refreshes a target database from a snapshot or a live source with a Job: optionally scales the app down first
 * (remembering the counts) and restores it afterwards whatever the Job did, keeps the Job's logs and KEY=VALUE
 * outputs, and deletes this refresh's Jobs beyond `keepJobs`.
 */
export const dbRefreshStage = defineStage({
  type: 'dbRefresh',
  description: 'Refresh a database from a snapshot or a live source with a Job, with the app scaled down meanwhile.',
  config,
  state,
  outputs,
  tasks: [
    clusterTask<DbRefresh>('scaleDownApp', async (context) => {
      const c = context.stage.context;
      if (!c.scaleDown) return { status: 'SUCCEEDED' };
      const port = clusterPortOf(context);
      const namespace = stageNamespace(c, port, c.account);
      let scaled = c[SCALED];
      const run = runLabel(context, 'scale-down');
      try {
        if (!scaled) {
          scaled = [];
          for (const kind of c.scaleDown.kinds.map(canonicalKind).filter((k) => SCALABLE_KINDS.has(k))) {
            // Only Jibe's workloads unless the stage allows others (the adapter would refuse them anyway).
            const selector = c.allowUnmanaged
              ? c.scaleDown.labelSelector
              : `${c.scaleDown.labelSelector},${LABELS.managedBy}=${MANAGED_BY_JIBE}`;
            for (const object of await port.list(c.account, { kind, namespace, labelSelector: selector })) {
              if ((object.metadata.ownerReferences ?? []).some((r) => r.controller)) continue;
              // At zero and not stamped by this run (say, an old version scaled in earlier): not ours to restore.
              // Stamped by this run: scaled in before a crash lost the list, so it must still be restored.
              const ours = object.metadata.annotations?.[ANNOTATIONS.scaledDownBy] === run;
              if (replicasOf(object) === 0 && !ours) continue;
              scaled.push(refOf(object));
              await scaleTo(port, c.account, object, 0, { scaledBy: run, ...writeOptions(c) });
            }
          }
        }
        const waiting = await checkStable(context, c.account, scaled, {
          key: 'dbRefresh.scaleDown',
          timeoutMs: stableTimeoutMs(c),
        });
        if (waiting) return { ...waiting, context: { ...waiting.context, [SCALED]: scaled } };
        return { status: 'SUCCEEDED', context: { [SCALED]: scaled } };
      } catch (error) {
        return {
          status: 'SUCCEEDED',
          context: { [SCALED]: scaled ?? [], [FAILURE]: `scaling down failed: ${recorded(error)}` },
        };
      }
    }),
    clusterTask<DbRefresh>('runRefreshJob', async (context) => {
      const c = context.stage.context;
      if (c[FAILURE] !== undefined || c[JOB]) return { status: 'SUCCEEDED' };
      const port = clusterPortOf(context);
      const namespace = stageNamespace(c, port, c.account);
      try {
        const { job } = await ensureJob(
          context,
          c.account,
          refreshJob(c, refreshName(c)),
          namespace,
          runLabel(context),
        );
        return { status: 'SUCCEEDED', context: { [JOB]: { name: job.metadata.name ?? '', namespace } } };
      } catch (error) {
        return { status: 'SUCCEEDED', context: { [FAILURE]: `starting the refresh Job failed: ${recorded(error)}` } };
      }
    }),
    clusterTask<DbRefresh>('monitorRefreshJob', async (context) => {
      const c = context.stage.context;
      if (c[FAILURE] !== undefined || c[RESULT]) return { status: 'SUCCEEDED' };
      const ref = c[JOB];
      try {
        if (!ref) throw new StageFailure('no refresh Job: runRefreshJob has not run', 'INTERNAL');
        const result = await checkJob(context, c.account, ref, {
          key: 'dbRefresh.wait',
          timeoutMs: c.jobTimeoutMinutes ? c.jobTimeoutMinutes * 60_000 : DEFAULT_JOB_TIMEOUT_MS,
        });
        if (result.status === 'RUNNING') return result;
        return {
          status: 'SUCCEEDED',
          context: {
            [RESULT]: result,
            ...(result.status === 'Failed' ? { [FAILURE]: `job ${result.jobName} failed: ${result.message}` } : {}),
          },
        };
      } catch (error) {
        return { status: 'SUCCEEDED', context: { [FAILURE]: `watching the refresh Job failed: ${recorded(error)}` } };
      }
    }),
    clusterTask<DbRefresh>('restoreApp', async (context) => {
      const scaled = context.stage.context[SCALED] ?? [];
      if (scaled.length === 0) return { status: 'SUCCEEDED' };
      const account = context.stage.context.account;
      const port = clusterPortOf(context);
      const restored: string[] = [];
      for (const ref of scaled) {
        const object = await port.get(account, ref);
        if (!object) continue;
        const result = await restore(port, account, object, writeOptions(context.stage.context));
        if (result.remembered) restored.push(`${describeRef(ref)}: ${result.to}`);
      }
      return { status: 'SUCCEEDED', outputs: { restored } };
    }),
    clusterTask<DbRefresh>('cleanupOldJobs', async (context) => {
      const c = context.stage.context;
      const port = clusterPortOf(context);
      const namespace = stageNamespace(c, port, c.account);
      const jobs = await port.list(c.account, {
        kind: 'Job',
        namespace,
        labelSelector: `${LABELS.dbRefresh}=${refreshName(c)},${LABELS.managedBy}=${MANAGED_BY_JIBE}`,
      });
      jobs.sort((a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''));
      const deleted: string[] = [];
      for (const job of jobs.slice(Math.max(1, toCount(c.keepJobs, 'keepJobs')))) {
        await port.delete(c.account, refOf(job), { propagationPolicy: 'Background' });
        deleted.push(job.metadata.name ?? '');
      }
      return { status: 'SUCCEEDED', outputs: { deletedJobs: deleted } };
    }),
    clusterTask<DbRefresh>('reportResult', (context) => {
      const result = context.stage.context[RESULT];
      const outputs = result
        ? {
            ...result.properties,
            propertyFileContents: result.properties,
            jobName: result.jobName,
            jobStatus: result.status,
            logs: result.logs,
            logsTruncated: result.logsTruncated,
          }
        : {};
      const failure = context.stage.context[FAILURE];
      if (failure !== undefined) {
        return Promise.resolve({
          status: 'TERMINAL',
          outputs,
          error: { message: `dbRefresh: ${failure}`, code: 'DB_REFRESH_FAILED' },
        });
      }
      return Promise.resolve({ status: 'SUCCEEDED', outputs });
    }),
  ],
});
