import { type TaskContext, type TaskResult } from '@jibe/domain';
import { z } from 'zod';
import { type KubeObject, type ObjectRef, objectRefSchema } from '../cluster-kit/cluster.port';
import { runLabel } from '../cluster-kit/jobs';
import { LABELS } from '../cluster-kit/labels';
import { clone, describeRef, refOf, withLabels } from '../cluster-kit/manifest';
import { isManifest } from '../cluster-kit/manifest-schema';
import { isRedacted, unredactSecret } from '../cluster-kit/secrets';
import {
  checkStable,
  clusterPortOf,
  clusterTask,
  StageFailure,
  stableTimeoutMs,
  writeOptions,
} from '../cluster-kit/stage-support';
import { type DeployManifest, PLAN_KEY } from './deploy-manifest.config';
import { type DeployPlan, type DeployStep } from './deploy-plan';
import { secretKey, sourceManifests } from './resolve-manifests.task';

type Context = TaskContext<DeployManifest['context']>;

/** The plan resolveManifests made (it runs first, so a later task always finds one). */
export function planOf(context: Context): DeployPlan {
  const plan = context.stage.context[PLAN_KEY];
  if (!plan) throw new StageFailure('no deploy plan: resolveManifests has not run', 'INTERNAL');
  return plan;
}

/** A wave's applied objects, kept under a key made at run time (`deploy.step<i>.refs`), so checked when read. */
const stepRefs = z.array(objectRefSchema).optional();

/**
 * Applies the steps of the given phases one at a time and waits for each to be stable before the next, never
 * blocking: each run applies what is due and answers RUNNING until the step is stable. Safe to run twice: applying
 * is server-side apply, and hook Jobs are found again by their run label.
 */
async function runSteps(
  context: Context,
  phases: ReadonlySet<DeployStep['phase']>,
): Promise<TaskResult<DeployManifest['writes']>> {
  const plan = planOf(context);
  const timeoutMs = stableTimeoutMs(context.stage.context);
  const state: Record<string, unknown> = { ...context.stage.context };
  const updates: Record<string, unknown> = {};
  const set = (key: string, value: unknown) => {
    state[key] = value;
    updates[key] = value;
  };
  for (const [index, step] of plan.steps.entries()) {
    if (!phases.has(step.phase) || state[`deploy.step${index}.done`] === true) continue;
    const key = `deploy.step${index}`;
    let refs: readonly ObjectRef[] | undefined = stepRefs.parse(state[`${key}.refs`]);
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
function withSecretValues(context: Context, plan: DeployPlan, objects: readonly KubeObject[]): KubeObject[] {
  if (!objects.some(isRedacted)) return [...objects];
  const sources = sourceManifests(context, context.stage.context);
  return objects.map((object) => {
    if (!isRedacted(object)) return object;
    const where = describeRef({ kind: object.kind, name: secretKey(object) });
    const entry = plan.secretSources?.find(
      (s) => s.name === secretKey(object) && s.namespace === object.metadata.namespace,
    );
    const source = entry ? sources[entry.index] : undefined;
    return unredactSecret(object, isManifest(source) ? source : undefined, where);
  });
}

async function applyObjects(context: Context, plan: DeployPlan, step: DeployStep): Promise<ObjectRef[]> {
  const port = clusterPortOf(context);
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
  context: Context,
  plan: DeployPlan,
  step: DeployStep,
  index: number,
): Promise<ObjectRef[] | 'waiting'> {
  const port = clusterPortOf(context);
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
      await port.delete(plan.account, ref, { propagationPolicy: 'Background', ...writeOptions(context.stage.context) });
      return 'waiting';
    }
    if (!existing) await port.apply(plan.account, [object]);
    refs.push(ref);
  }
  return refs;
}

/** PreSync hooks, then namespaces and CRDs, then each sync wave. */
export const applyWavesTask = clusterTask<DeployManifest>('applyWaves', (context) =>
  runSteps(context, new Set(['PreSync', 'Sync'])),
);

/** PostSync hooks: after every object is stable and traffic has moved (Argo CD runs them once all is healthy). */
export const runPostSyncHooksTask = clusterTask<DeployManifest>('runPostSyncHooks', (context) =>
  runSteps(context, new Set(['PostSync'])),
);
