import { type ExecutionStatus } from '@jibe/domain';

/** Starts and watches child executions for the `pipeline` stage; the engine implements it. */
export abstract class ChildPipelinePort {
  /** Starts the pipeline as a child of the given stage; returns the child execution's id. */
  abstract start(request: {
    readonly application: string;
    readonly pipelineId: string;
    readonly parameters: Record<string, unknown>;
    readonly parentExecutionId: string;
    readonly parentStageId: string;
    readonly user: string;
  }): Promise<string>;

  abstract status(executionId: string): Promise<ExecutionStatus>;
}
