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
export interface TaskStageView {
  readonly id: string;
  readonly refId: string;
  readonly name: string;
  readonly type: string;
  readonly status: ExecutionStatus;
  readonly context: Record<string, unknown>;
  readonly outputs: Record<string, unknown>;
  readonly startTime: number | null;
}

/** A port is an abstract class; the engine binds an implementation to it. */
export type PortToken<T> = abstract new (...args: never[]) => T;

export interface TaskContext {
  readonly execution: TaskExecutionView;
  /** This stage; its `context` holds the config with every `${ }` already evaluated. */
  readonly stage: TaskStageView;
  readonly stages: readonly TaskStageView[];
  /** Epoch milliseconds, from the engine's clock. */
  readonly now: number;
  /** Services the engine provides, looked up by their port class. */
  port<T>(token: PortToken<T>): T;
}

/** A task's answer (Orca's contract): done, not done yet (ask again later), or failed for good. */
export type TaskResult =
  | {
      readonly status: 'SUCCEEDED';
      readonly context?: Record<string, unknown>;
      readonly outputs?: Record<string, unknown>;
    }
  | { readonly status: 'RUNNING'; readonly retryAfterMs: number; readonly context?: Record<string, unknown> }
  | {
      readonly status: 'TERMINAL';
      readonly error: ExecutionError;
      /** Overrides the status the stage's flags give a failure (a precondition marked `failPipeline: false`). */
      readonly failureStatus?: Extract<ExecutionStatus, 'STOPPED' | 'FAILED_CONTINUE'>;
      readonly context?: Record<string, unknown>;
      readonly outputs?: Record<string, unknown>;
    };

/**
 * One step of a stage. Tasks must be safe to run twice: a worker can die after a task took effect and before the
 * engine recorded it, and the task then runs again.
 */
export interface TaskDefinition {
  readonly name: string;
  /**
   * Inline tasks run inside the engine's transaction, so a stage made only of them costs one queue hop. Only tasks
   * that are quick and touch nothing outside Postgres may be inline; anything calling a cluster is not.
   */
  readonly inline?: boolean;
  /** Longest the task may keep answering RUNNING, paused time excluded. */
  readonly timeoutMs?: number;
  run(context: TaskContext): Promise<TaskResult>;
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
