import {
  EXPRESSION,
  type TaskContext,
  type TaskResult,
  type TaskTypes,
  TransientError,
  type TypedTask,
  type UntypedTask,
} from '@jibe/domain';
import { z } from 'zod';
import { ClusterError, ClusterPort, type ObjectRef, type ObjectStatus, type WriteOptions } from './cluster.port';
import { describeRef } from './manifest';

/**
 * What every Kubernetes stage shares: the config keys Spinnaker's manifest stages carry, a task wrapper that turns
 * failures into results that say what failed and what Kubernetes answered, and the non-blocking stability wait.
 */

/** A whole number, a numeric string (what `${ parameters.x }` gives), or an expression that will give one. */
export const count = z.union([
  z.number().int().min(0),
  z.string().regex(/^\s*\d+\s*$/, 'expected a whole number'),
  z.string().regex(EXPRESSION, 'expected a whole number or a ${ } expression'),
]);

/** A number from {@link count} once expressions are evaluated. */
export function toCount(value: unknown, path: string): number {
  const number = typeof value === 'string' ? Number(value.trim()) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 0) {
    throw new StageFailure(`${path} must be a whole number, got ${JSON.stringify(value)}`, 'INVALID_CONFIG');
  }
  return number;
}

/** Spinnaker's dynamic-target criteria (clouddriver ManifestController). */
export const criteria = z.enum(['newest', 'second_newest', 'oldest', 'largest', 'smallest']);
export type Criteria = z.infer<typeof criteria>;

/**
 * The keys every Kubernetes stage may carry. Spinnaker's own keys that Jibe does not use (`cloudProvider`,
 * `relationships`, `manifestArtifactAccount`, …) pass through: the schemas are loose so real pipelines load.
 */
export const kubernetesStageKeys = {
  account: z.string().min(1, 'must name an account'),
  cloudProvider: z.literal('kubernetes').optional(),
  /** Spinnaker's namespace key in scale/delete/enable/disable stages. */
  location: z.string().optional(),
  namespace: z.string().optional(),
  stableManifestTimeoutMinutes: z
    .union([
      z
        .number()
        .positive()
        .max(24 * 60),
      z.string().regex(EXPRESSION),
    ])
    .optional(),
  allowUnmanaged: z
    .boolean()
    .optional()
    .describe(
      'Let this stage patch, scale, roll back, switch traffic of or delete objects Jibe did not create (without the ' +
        'label app.kubernetes.io/managed-by=jibe). Off by default: such a write fails with NOT_MANAGED and changes ' +
        'nothing. Deploying (applying) a manifest never needs it: Jibe adopts and labels what it applies.',
    ),
};

/**
 * What a stage passes with every write to an existing object: the cluster adapter refuses objects Jibe does not
 * manage unless the stage's config says `allowUnmanaged: true` (see `WriteOptions`).
 */
export function writeOptions(config: { allowUnmanaged?: boolean | undefined }): WriteOptions {
  return config.allowUnmanaged === true ? { allowUnmanaged: true } : {};
}

/** A failure that retrying will not fix; the task wrapper turns it into a TERMINAL result with its code. */
export class StageFailure extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly details?: { path: string; message: string }[],
  ) {
    super(message);
    this.name = 'StageFailure';
  }
}

/**
 * A non-inline task (it calls a cluster) whose failures become results. `T` types it for its stage
 * (`clusterTask<Scale>(…)`, see `StageTypes`); {@link StageFailure} and
 * {@link ClusterError} give TERMINAL with what Kubernetes answered; `TransientError` goes to the engine, which
 * backs off and retries.
 */
export function clusterTask<T extends TaskTypes = UntypedTask>(
  name: string,
  run: (context: TaskContext<T['context']>) => Promise<TaskResult<T['writes'], T['outputs']>>,
  options: { timeoutMs?: number } = {},
): TypedTask<T> {
  return {
    name,
    ...options,
    run: async (context) => {
      try {
        return await run(context);
      } catch (error) {
        if (error instanceof TransientError) throw error;
        if (error instanceof StageFailure) {
          return {
            status: 'TERMINAL',
            error: { message: error.message, code: error.code, ...(error.details ? { details: error.details } : {}) },
          };
        }
        if (error instanceof ClusterError) {
          // KUBERNETES_ERROR, or NOT_MANAGED when the adapter refused an object Jibe does not manage.
          // The adapter's messages already start with `account <name>:`; say it once.
          const named = error.message.startsWith(`account ${error.account}:`);
          return {
            status: 'TERMINAL',
            error: {
              message: `${named ? '' : `${error.account}: `}${error.message}${error.reason ? ` (${error.reason})` : ''}`,
              code: error.code,
            },
          };
        }
        throw error;
      }
    },
  };
}

/** The cluster port, from any task's context. */
export function clusterPortOf(context: Pick<TaskContext, 'port'>): ClusterPort {
  return context.port(ClusterPort);
}

/** The namespace a stage targets: its own setting, else the account's default. */
export function stageNamespace(
  config: { location?: string | undefined; namespace?: string | undefined },
  port: ClusterPort,
  account: string,
): string {
  const namespace = config.location?.trim() || config.namespace?.trim();
  return namespace || port.defaultNamespace(account);
}

/** Spinnaker waited 30 min by default and users suffered (docs/spinnaker.md#stability-timeout); most fail sooner. */
export const DEFAULT_STABLE_TIMEOUT_MS = 10 * 60 * 1000;

/** The stage's `stableManifestTimeoutMinutes` in ms, or {@link DEFAULT_STABLE_TIMEOUT_MS}. */
export function stableTimeoutMs(config: { stableManifestTimeoutMinutes?: unknown }): number {
  const minutes = Number(config.stableManifestTimeoutMinutes);
  return Number.isFinite(minutes) && minutes > 0 ? minutes * 60_000 : DEFAULT_STABLE_TIMEOUT_MS;
}

/**
 * When to look again, from how long the wait has lasted: a tenth of it, at least 100 ms and at most `maxMs`. A wait
 * is then never overshot by more than ~10% (a rollout that takes 1.5 s is seen done by ~1.65 s; `kubectl rollout
 * status`, which watches, sees it at once — the deploy-manifest bench keeps Jibe within 1.0× of it), while a long
 * wait costs few polls: ~35 in its first 10 s, then one every `maxMs`.
 */
export function pollDelay(elapsedMs: number, maxMs = 5000): number {
  return Math.min(maxMs, Math.max(100, Math.round(elapsedMs / 10)));
}

/**
 * What a wait writes in the stage context about itself (`<key>.startedAt`, `<key>.polls`, `<key>.waitingFor`): keys
 * made at run time, so no stage's state schema names them.
 */
export type Bookkeeping = Readonly<Record<string, unknown>>;

/** A task's answer while it waits, with its bookkeeping. */
export interface Waiting {
  readonly status: 'RUNNING';
  readonly retryAfterMs: number;
  readonly context: Bookkeeping;
}

/**
 * One look at the objects' stability, never blocking: SUCCEEDED-like `undefined` when every object is in the wanted
 * state, a RUNNING result to look again later, or a StageFailure naming the object and Kubernetes' reason when one
 * failed or the wait timed out. `key` names this wait's bookkeeping in the stage context.
 */
export async function checkStable(
  context: TaskContext<object>,
  account: string,
  refs: readonly ObjectRef[],
  options: {
    key: string;
    timeoutMs: number;
    want?: 'stable' | 'missing';
    /** The context as this run has changed it so far (defaults to the stage's). */
    state?: Record<string, unknown>;
  },
): Promise<Waiting | undefined> {
  const port = clusterPortOf(context);
  const want = options.want ?? 'stable';
  const statuses: ObjectStatus[] = [];
  for (const ref of refs) statuses.push(await port.status(account, ref));
  const failed = want === 'stable' ? statuses.find((s) => s.state === 'failed') : undefined;
  if (failed) {
    throw new StageFailure(`${describeRef(failed.ref)} failed: ${failed.message}`, 'MANIFEST_FAILED');
  }
  const pending = statuses.filter((s) => s.state !== want);
  const startedKey = `${options.key}.startedAt`;
  const pollsKey = `${options.key}.polls`;
  if (pending.length === 0) return undefined;
  // The bookkeeping keys are made at run time, so no stage's state schema types them; they are read as unknown.
  const state: Readonly<Record<string, unknown>> = options.state ?? { ...context.stage.context };
  const startedAt = Number(state[startedKey] ?? context.now);
  if (context.now - startedAt >= options.timeoutMs) {
    throw new StageFailure(
      `timed out after ${Math.round(options.timeoutMs / 1000)} s waiting for ${pending
        .map((s) => `${describeRef(s.ref)} (${s.state}: ${s.message})`)
        .join(', ')}`,
      'STABILITY_TIMEOUT',
    );
  }
  const polls = Number(state[pollsKey] ?? 0);
  return {
    status: 'RUNNING',
    retryAfterMs: pollDelay(context.now - startedAt),
    context: {
      [startedKey]: startedAt,
      [pollsKey]: polls + 1,
      [`${options.key}.waitingFor`]: pending.map((s) => `${describeRef(s.ref)}: ${s.message}`),
    },
  };
}
