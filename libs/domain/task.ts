import { type ExecutionError, type ExecutionStatus } from './execution.model';

/** What a stage's tasks see of the execution they run in. */
export interface TaskExecutionView {
  readonly id: string;
  readonly application: string;
  readonly pipelineId: string | null;
  readonly name: string;
  readonly trigger: Record<string, unknown>;
}

/** What tasks see of any stage of the execution (their own included). */
export interface TaskStageView<Context extends object = Record<string, unknown>> {
  readonly id: string;
  readonly refId: string;
  readonly name: string;
  readonly type: string;
  readonly status: ExecutionStatus;
  readonly context: Context;
  readonly outputs: Record<string, unknown>;
  readonly startTime: number | null;
}

/** A port is an abstract class; the engine binds an implementation to it. */
export type PortToken<T> = abstract new (...args: never[]) => T;

/**
 * What a task is given. `Context` is what the task may read in its own stage's context: for tasks of a stage
 * declared with `defineStage`, the config (as its schema parsed it) and the stage's declared state, both checked
 * before the task runs; the engine itself hands every task the untyped record.
 */
export interface TaskContext<Context extends object = Record<string, unknown>> {
  readonly execution: TaskExecutionView;
  /** This stage; its `context` holds the config with every `${ }` already evaluated. */
  readonly stage: TaskStageView<Context>;
  readonly stages: readonly TaskStageView[];
  /** Epoch milliseconds, from the engine's clock. */
  readonly now: number;
  /** Services the engine provides, looked up by their port class. */
  port<T>(token: PortToken<T>): T;
}

/**
 * A task's answer (Orca's contract): done, not done yet (ask again later), or failed for good. `context` is merged
 * into the stage's context (what later runs and tasks read back), `outputs` into its outputs (what other stages
 * and people read). `Writes` and `Outputs` type them for a stage that declares its state and outputs.
 */
export type TaskResult<
  Writes extends object = Record<string, unknown>,
  Outputs extends object = Record<string, unknown>,
> =
  | {
      readonly status: 'SUCCEEDED';
      readonly context?: Writes;
      readonly outputs?: Outputs;
    }
  | { readonly status: 'RUNNING'; readonly retryAfterMs: number; readonly context?: Writes }
  | {
      readonly status: 'TERMINAL';
      readonly error: ExecutionError;
      /** Overrides the status the stage's flags give a failure (a precondition marked `failPipeline: false`). */
      readonly failureStatus?: Extract<ExecutionStatus, 'STOPPED' | 'FAILED_CONTINUE'>;
      readonly context?: Writes;
      readonly outputs?: Outputs;
    };

/**
 * One step of a stage. Tasks must be safe to run twice: a worker can die after a task took effect and before the
 * engine recorded it, and the task then runs again. The type parameters are those of {@link TaskContext} and
 * {@link TaskResult}; the engine runs tasks as `TaskDefinition` (untyped), which `defineStage` makes of typed ones.
 */
export interface TaskDefinition<
  Context extends object = Record<string, unknown>,
  Writes extends object = Record<string, unknown>,
  Outputs extends object = Record<string, unknown>,
> {
  readonly name: string;
  /**
   * Inline tasks run inside the engine's transaction, so a stage made only of them costs one queue hop. Only tasks
   * that are quick and touch nothing outside Postgres may be inline; anything calling a cluster is not.
   */
  readonly inline?: boolean;
  /** Longest the task may keep answering RUNNING, paused time excluded. */
  readonly timeoutMs?: number;
  // A property, not a method: parameters of properties are checked strictly, so a task typed for one stage's
  // context cannot be handed to the engine (or another stage) without `defineStage` checking that context first.
  readonly run: (context: TaskContext<Context>) => Promise<TaskResult<Writes, Outputs>>;
}

/** Thrown by tasks and adapters for failures worth retrying (network, 429, 5xx, 409): the engine backs off and retries. */
export class TransientError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'TransientError';
  }
}
