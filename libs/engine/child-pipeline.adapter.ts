import { type ExecutionStatus, NotFoundError } from '@jibe/domain';
import { ExecutionRepository, PipelineRepository } from '@jibe/persistence';
import { ChildPipelinePort } from '@jibe/stages';
import { type EntityManager } from 'typeorm';
import { type PortBinding } from './engine.tokens';
import { buildExecution } from './execution-factory';
import { type ExecutionUnit } from './execution-unit';

/**
 * The `pipeline` stage's port: the child is inserted in the parent's transaction (so starting it and recording
 * its id are one step), and its StartExecution goes out with the parent's messages after commit.
 */
class TransactionalChildPipelines extends ChildPipelinePort {
  constructor(
    private readonly pipelines: PipelineRepository,
    private readonly executions: ExecutionRepository,
    private readonly manager: EntityManager,
    private readonly unit: ExecutionUnit,
  ) {
    super();
  }

  async start(request: Parameters<ChildPipelinePort['start']>[0]): Promise<string> {
    const pipeline = await this.pipelines.get(request.pipelineId);
    if (pipeline.application !== request.application) {
      throw new NotFoundError(`pipeline ${request.pipelineId} does not belong to application ${request.application}`);
    }
    const { execution, stages } = buildExecution(
      pipeline,
      {
        type: 'pipeline',
        user: request.user,
        parameters: request.parameters,
        parentExecution: { id: request.parentExecutionId, application: this.unit.execution.application },
      },
      this.unit.now,
      { executionId: request.parentExecutionId, stageId: request.parentStageId },
    );
    await this.executions.insert(this.manager, execution, stages);
    await this.executions.notify(this.manager, execution);
    this.unit.messages.push({ kind: 'StartExecution', executionId: execution.id, seq: execution.dueSeq, delayMs: 0 });
    return execution.id;
  }

  async status(executionId: string): Promise<ExecutionStatus> {
    const status = await this.executions.status(this.manager, executionId);
    if (!status) throw new NotFoundError(`child execution ${executionId} no longer exists`);
    return status as ExecutionStatus;
  }
}

export function childPipelineBinding(pipelines: PipelineRepository, executions: ExecutionRepository): PortBinding {
  return {
    token: ChildPipelinePort,
    create: ({ manager, unit }) => {
      if (!manager) throw new Error('the pipeline stage runs its tasks inline');
      return new TransactionalChildPipelines(pipelines, executions, manager, unit);
    },
  };
}
