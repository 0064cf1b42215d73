import { type TaskContext, type TaskResult } from '@jibe/domain';
import { type KubeObject, type ObjectRef } from '../kubernetes/cluster.port';
import { runLabel } from '../kubernetes/jobs';
import { LABELS } from '../kubernetes/labels';
import { clone, describeRef, isRecord, refOf, withLabels } from '../kubernetes/manifest';
import { isRedacted, unredactSecret } from '../kubernetes/secrets';
import {
  checkStable,
  cluster,
  clusterTask,
  readConfig,
  StageFailure,
  stableTimeoutMs,
} from '../kubernetes/stage-support';
import { deployManifestConfig } from './deploy-manifest.config';
import { type DeployPlan, type DeployStep } from './deploy-plan';
import { PLAN_KEY, secretKey, sourceManifests } from './resolve-manifests.task';

export function planOf(context: TaskContext): DeployPlan {
  const plan = context.stage.context[PLAN_KEY];
  if (!isRecord(plan)) throw new StageFailure('no deploy plan: resolveManifests has not run', 'INTERNAL');
  return plan as unknown as DeployPlan;
}

/**
 * Applies the steps of the given phases one at a time and waits for each to be stable before the next, never
 * blocking: each run applies what is due and answers RUNNING until the step is stable. Safe to run twice: applying
 * is server-side apply, and hook Jobs are found again by their run label.
 */
async function runSteps(context: TaskContext, phases: ReadonlySet<DeployStep['phase']>): Promise<TaskResult> {
  const plan = planOf(context);
  const timeoutMs = stableTimeoutMs({
    stableManifestTimeoutMinutes: context.stage.context['stableManifestTimeoutMinutes'] as number | undefined,
  });
  const state: Record<string, unknown> = { ...context.stage.context };
  const updates: Record<string, unknown> = {};
  const set = (key: string, value: unknown) => {
    state[key] = value;
    updates[key] = value;
  };
  for (const [index, step] of plan.steps.entries()) {
    if (!phases.has(step.phase) || state[`deploy.step${index}.done`] === true) continue;
    const key = `deploy.step${index}`;
    let refs = state[`${key}.refs`] as ObjectRef[] | undefined;
    if (!refs) {
      const applied =
        step.phase === 'Sync' ? await applyObjects(context, plan, step) : await startHooks(context, plan, step, index);
      if (applied === 'waiting') return { status: 'RUNNING', retryAfterMs: 1000, context: updates };
      refs = applied;
      set(`${key}.refs`, refs);
    }
    const waiting = await checkStable(context, plan.account, refs, { key, timeoutMs, state }).catch(
      (error: unknown) => {
        if (error instanceof StageFailure) {
          throw new StageFailure(`${describeStep(step)}: ${error.message}`, error.code);
        }
        throw error;
      },
    );
    if (waiting) return { ...waiting, context: { ...updates, ...waiting.context } };
    set(`deploy.step${index}.done`, true);
  }
  return { status: 'SUCCEEDED', context: updates };
}

function describeStep(step: DeployStep): string {
  if (step.phase !== 'Sync') return `${step.phase} hook`;
  return step.wave === null ? 'namespaces and CRDs' : `wave ${step.wave}`;
}

/**
 * The step's objects as they are applied: a redacted Secret gets its values back from where they came from (the
 * stage's manifests or the artifact), read now and never written to the execution.
 */
function withSecretValues(context: TaskContext, plan: DeployPlan, objects: readonly KubeObject[]): KubeObject[] {
  if (!objects.some(isRedacted)) return [...objects];
  const sources = sourceManifests(context, readConfig(context, deployManifestConfig));
  return objects.map((object) => {
    if (!isRedacted(object)) return object;
    const where = describeRef({ kind: object.kind, name: secretKey(object) });
    const entry = plan.secretSources?.find(
      (s) => s.name === secretKey(object) && s.namespace === object.metadata.namespace,
    );
    const source = entry ? sources[entry.index] : undefined;
    return unredactSecret(object, isRecord(source) ? (source as unknown as KubeObject) : undefined, where);
  });
}

async function applyObjects(context: TaskContext, plan: DeployPlan, step: DeployStep): Promise<ObjectRef[]> {
  const port = cluster(context);
  const objects = withSecretValues(context, plan, step.objects);
  const named = objects.filter((o) => o.metadata.name);
  const generated = objects.filter((o) => !o.metadata.name);
  const applied = await port.apply(plan.account, named);
  const refs = applied.map(refOf);
  for (const object of generated) refs.push(refOf(await port.create(plan.account, object)));
  return refs;
}

/**
 * Starts a hook step. Like Argo CD's default `BeforeHookCreation`, a hook left by an earlier run is deleted first
 * and the hook created anew, so a PreSync migration Job runs on every deploy; one this run created is kept.
 */
async function startHooks(
  context: TaskContext,
  plan: DeployPlan,
  step: DeployStep,
  index: number,
): Promise<ObjectRef[] | 'waiting'> {
  const port = cluster(context);
  const refs: ObjectRef[] = [];
  for (const [position, hook] of withSecretValues(context, plan, step.objects).entries()) {
    const run = runLabel(context, `hook-${index}-${position}`);
    const object: KubeObject = clone(hook);
    withLabels(object, { [LABELS.run]: run });
    const namespace = object.metadata.namespace;
    if (!object.metadata.name) {
      const existing = await port.list(plan.account, {
        kind: object.kind,
        namespace,
        labelSelector: `${LABELS.run}=${run}`,
      });
      refs.push(refOf(existing[0] ?? (await port.create(plan.account, object))));
      continue;
    }
    const ref = refOf(object);
    const existing = await port.get(plan.account, ref);
    if (existing && existing.metadata.labels?.[LABELS.run] !== run) {
      await port.delete(plan.account, ref, { propagationPolicy: 'Background' });
      return 'waiting';
    }
    if (!existing) await port.apply(plan.account, [object]);
    refs.push(ref);
  }
  return refs;
}

/** PreSync hooks, then namespaces and CRDs, then each sync wave. */
export const applyWavesTask = clusterTask('applyWaves', (context) => runSteps(context, new Set(['PreSync', 'Sync'])));

/** PostSync hooks: after every object is stable and traffic has moved (Argo CD runs them once all is healthy). */
export const runPostSyncHooksTask = clusterTask('runPostSyncHooks', (context) =>
  runSteps(context, new Set(['PostSync'])),
);
