import { createHash } from 'node:crypto';
import { type TaskContext } from '@jibe/domain';
import { z } from 'zod';
import { ClusterPort, type KubeObject } from './cluster.port';
import { ANNOTATIONS, LABELS, MANAGED_BY_JIBE } from './labels';
import { clone, deployedBy, withAnnotations, withLabels } from './manifest';
import { pollDelay } from './stage-support';

/**
 * Running Jobs from stages: each stage run creates its own Job (generateName), finds it again after a crash by a
 * label derived from the run, and keeps what the pods printed.
 */

/** A label value (≤ 63 characters) naming this run of this stage, plus a discriminator (several Jobs per run). */
export function runLabel(context: TaskContext<object>, discriminator = ''): string {
  const seed = `${context.execution.id}/${context.stage.id}/${context.stage.startTime ?? ''}/${discriminator}`;
  return createHash('sha256').update(seed).digest('hex').slice(0, 32);
}

/**
 * The Job of this run: the one already created (found by its run label), else a new one. A fixed
 * `metadata.name` becomes `generateName: <name>-` so every run is a new Job and old runs stay inspectable.
 */
export async function ensureJob(
  context: TaskContext<object>,
  account: string,
  manifest: KubeObject,
  namespace: string,
  run: string,
): Promise<{ job: KubeObject; created: boolean }> {
  const port = context.port(ClusterPort);
  const existing = await port.list(account, { kind: 'Job', namespace, labelSelector: `${LABELS.run}=${run}` });
  if (existing[0]) return { job: existing[0], created: false };
  const job = clone(manifest);
  job.metadata.namespace = namespace;
  if (!job.metadata.generateName) job.metadata.generateName = `${job.metadata.name}-`;
  delete job.metadata.name;
  withLabels(job, {
    [LABELS.managedBy]: MANAGED_BY_JIBE,
    [LABELS.application]: context.execution.application,
    [LABELS.run]: run,
  });
  withAnnotations(job, { [ANNOTATIONS.deployedBy]: deployedBy(context.execution.id, context.stage.id) });
  return { job: await port.create(account, job), created: true };
}

/** The Job's outcome from its conditions: Complete, Failed (with Kubernetes' reason and message), or undefined. */
export function jobOutcome(job: KubeObject): { status: 'Complete' | 'Failed'; message: string } | undefined {
  const conditions = (job.status?.['conditions'] ?? []) as {
    type: string;
    status: string;
    reason?: string;
    message?: string;
  }[];
  const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
  if (failed)
    return { status: 'Failed', message: [failed.reason, failed.message].filter(Boolean).join(': ') || 'failed' };
  const complete = conditions.find((c) => c.type === 'Complete' && c.status === 'True');
  if (complete) return { status: 'Complete', message: complete.message ?? 'complete' };
  return undefined;
}

/** How much log a stage keeps: the end of the output is where the answer (and the error) usually is. */
export const MAX_LOG_CHARS = 64 * 1024;

/**
 * The logs of the Job's pods, newest pod last, each under a `--- pod <name> ---` header, cut to the last
 * {@link MAX_LOG_CHARS} characters. `container` limits it to one container (Spinnaker's `propertyFile`).
 */
export async function jobLogs(
  port: ClusterPort,
  account: string,
  job: KubeObject,
  container?: string,
): Promise<{ text: string; truncated: boolean; pods: string[] }> {
  const namespace = job.metadata.namespace ?? port.defaultNamespace(account);
  const name = job.metadata.name ?? '';
  let pods = await port.list(account, {
    kind: 'Pod',
    namespace,
    labelSelector: `batch.kubernetes.io/job-name=${name}`,
  });
  if (pods.length === 0) pods = await port.list(account, { kind: 'Pod', namespace, labelSelector: `job-name=${name}` });
  pods.sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''));
  const parts: string[] = [];
  for (const pod of pods) {
    const log = await port.logs(account, {
      namespace,
      pod: pod.metadata.name ?? '',
      ...(container ? { container } : {}),
      tailLines: 5000,
    });
    parts.push(`--- pod ${pod.metadata.name} ---\n${log}`);
  }
  const text = parts.join('\n');
  const truncated = text.length > MAX_LOG_CHARS;
  return {
    text: truncated ? `…(truncated)\n${text.slice(text.length - MAX_LOG_CHARS)}` : text,
    truncated,
    pods: pods.map((p) => p.metadata.name ?? ''),
  };
}

/**
 * Output properties from log lines: `KEY=VALUE` (an environment-variable style key, the whole line), Spinnaker's
 * `SPINNAKER_PROPERTY_KEY=VALUE`, and `SPINNAKER_CONFIG_JSON={...}` (an object merged in). Later lines win. Quotes
 * around a value are removed. Pod headers and other lines are ignored.
 */
export function parseProperties(log: string): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const raw of log.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('SPINNAKER_CONFIG_JSON=')) {
      try {
        const parsed: unknown = JSON.parse(line.slice('SPINNAKER_CONFIG_JSON='.length));
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) Object.assign(properties, parsed);
      } catch {
        // A malformed JSON line is output like any other; it must not fail the stage.
      }
      continue;
    }
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    const key = match[1]!.startsWith('SPINNAKER_PROPERTY_') ? match[1]!.slice('SPINNAKER_PROPERTY_'.length) : match[1]!;
    if (key === '') continue;
    let value = match[2]!;
    if (value.length >= 2 && /^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    properties[key] = value;
  }
  return properties;
}

/** A Job's end as a stage keeps it: outcome, logs and the properties its pods printed. */
export const jobResultSchema = z.object({
  jobName: z.string(),
  namespace: z.string(),
  status: z.enum(['Complete', 'Failed']),
  message: z.string(),
  logs: z.string(),
  logsTruncated: z.boolean(),
  properties: z.record(z.string(), z.unknown()),
});

export type JobResult = z.output<typeof jobResultSchema>;

/** Spinnaker's Run Job default (docs/spinnaker.md#timing-defaults). */
export const DEFAULT_JOB_TIMEOUT_MS = 120 * 60 * 1000;

/**
 * One look at a Job: its result once it completed or failed (logs fetched then), a RUNNING result to look again
 * later, or a timed-out result (logs so far) after `timeoutMs`. Never blocks.
 */
export async function checkJob(
  context: TaskContext<object>,
  account: string,
  ref: { name: string; namespace: string },
  options: { key: string; timeoutMs: number; container?: string },
): Promise<JobResult | { status: 'RUNNING'; retryAfterMs: number; context: Record<string, unknown> }> {
  const port = context.port(ClusterPort);
  const job = await port.get(account, { kind: 'Job', ...ref });
  // The bookkeeping keys are made at run time, so no stage's state schema types them; they are read as unknown.
  const state: Readonly<Record<string, unknown>> = { ...context.stage.context };
  const startedAt = Number(state[`${options.key}.startedAt`] ?? context.now);
  const finish = async (
    status: 'Complete' | 'Failed',
    message: string,
    object: KubeObject | null,
  ): Promise<JobResult> => {
    const logs = object
      ? await jobLogs(port, account, object, options.container)
      : { text: '', truncated: false, pods: [] };
    return {
      jobName: ref.name,
      namespace: ref.namespace,
      status,
      message,
      logs: logs.text,
      logsTruncated: logs.truncated,
      properties: parseProperties(logs.text),
    };
  };
  if (!job) return finish('Failed', `job ${ref.name} in ${ref.namespace} disappeared before it finished`, null);
  const outcome = jobOutcome(job);
  if (outcome) return finish(outcome.status, outcome.message, job);
  if (context.now - startedAt >= options.timeoutMs) {
    return finish('Failed', `job ${ref.name} did not finish within ${Math.round(options.timeoutMs / 60_000)} min`, job);
  }
  const polls = Number(state[`${options.key}.polls`] ?? 0);
  return {
    status: 'RUNNING',
    // Short Jobs are seen done soon after they are; long ones are looked at every 10 s at most.
    retryAfterMs: pollDelay(context.now - startedAt, 10_000),
    context: { [`${options.key}.startedAt`]: startedAt, [`${options.key}.polls`]: polls + 1 },
  };
}
