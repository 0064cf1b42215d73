import { type TaskContext, type TaskDefinition, type TaskResult, type TaskTypes } from '@jibe/domain';
import { type ObjectRef } from './cluster.port';
import { type Bookkeeping, checkStable, clusterTask, stableTimeoutMs } from './stage-support';

/** What a wait is for: objects of one account. */
export interface StableTarget {
  readonly account: string;
  readonly refs: readonly ObjectRef[];
}

/** The stage keys a wait reads: Spinnaker's `stableManifestTimeoutMinutes` (see `kubernetesStageKeys`). */
export interface StableWaitContext {
  readonly stableManifestTimeoutMinutes?: unknown;
}

/** The types of a stage whose tasks may wait: its context has Spinnaker's timeout key. */
export interface WaitingTaskTypes extends TaskTypes {
  readonly context: StableWaitContext;
}

export interface WaitForStableOptions<T extends WaitingTaskTypes> {
  /**
   * Names this wait's bookkeeping in the stage context (`<key>.startedAt`, `<key>.polls`, `<key>.waitingFor`); one
   * key per wait of a stage, and never renamed (a running execution keeps its bookkeeping across a deploy of Jibe).
   */
  readonly key: string;
  /** The objects to wait for, read from the stage context (what an earlier task chose, or the config). */
  readonly objects: (context: TaskContext<T['context']>) => StableTarget | Promise<StableTarget>;
  /** `stable` (default): Kubernetes' rollout rules; `missing`: until the objects are gone (after a delete). */
  readonly want?: 'stable' | 'missing';
  /** The result once every object is as wanted (default: SUCCEEDED with nothing more). */
  readonly then?: (
    context: TaskContext<T['context']>,
  ) => TaskResult<T['writes'], T['outputs']> | Promise<TaskResult<T['writes'], T['outputs']>>;
}

/**
 * The task that waits until objects are stable (or gone), without ever blocking a worker: each run looks once and
 * answers RUNNING with a delay that grows with the wait (Jibe's polling cadence, `pollDelay`), SUCCEEDED once
 * every object is as wanted, or TERMINAL naming the object and Kubernetes' reason when one failed
 * (`MANIFEST_FAILED`) or the stage's `stableManifestTimeoutMinutes` ran out (`STABILITY_TIMEOUT`). A stage that
 * changes workloads ends with one of these instead of a wait loop of its own, e.g.:
 *
 * ```ts
 * waitForStableTask<Restart>('waitForManifestToStabilize', {
 *   key: 'restart.wait',
 *   objects: ({ stage }) => ({ account: stage.context.account, refs: stage.context['restart.targets'] ?? [] }),
 * })
 * ```
 */
export function waitForStableTask<T extends WaitingTaskTypes>(
  name: string,
  options: WaitForStableOptions<T>,
): TaskDefinition<T['context'], T['writes'] | Bookkeeping, T['outputs']> {
  return clusterTask<{ context: T['context']; writes: T['writes'] | Bookkeeping; outputs: T['outputs'] }>(
    name,
    async (context) => {
      const target = await options.objects(context);
      const waiting = await checkStable(context, target.account, target.refs, {
        key: options.key,
        timeoutMs: stableTimeoutMs(context.stage.context),
        ...(options.want ? { want: options.want } : {}),
      });
      if (waiting) return waiting;
      return options.then ? options.then(context) : { status: 'SUCCEEDED' };
    },
  );
}
