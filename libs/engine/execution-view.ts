import { type ExecutionEntity, type StageExecutionEntity } from '@jibe/persistence';

/**
 * An execution as the API serves it, close to Orca's execution JSON (docs/spinnaker.md#execution-document) so Spinnaker
 * users recognise it. Engine bookkeeping (due messages, sequence numbers) stays out.
 */
export function executionView(execution: ExecutionEntity, stages: readonly StageExecutionEntity[]) {
  return {
    id: execution.id,
    type: 'PIPELINE',
    application: execution.application,
    name: execution.name,
    pipelineConfigId: execution.pipelineId,
    pipelineVersion: execution.pipelineVersion,
    status: execution.status,
    waiting: execution.waiting,
    buildTime: execution.buildTime,
    startTime: execution.startTime,
    endTime: execution.endTime,
    canceled: execution.canceled,
    canceledBy: execution.canceledBy,
    cancellationReason: execution.cancellationReason,
    paused:
      execution.pausedAt !== null || execution.pausedMs > 0
        ? { pauseTime: execution.pausedAt, pausedMs: execution.pausedMs }
        : null,
    trigger: execution.trigger,
    parentExecution:
      execution.parentExecutionId !== null
        ? { id: execution.parentExecutionId, stageId: execution.parentStageId }
        : null,
    limitConcurrent: execution.pipelineConfig['limitConcurrent'] !== false,
    keepWaitingPipelines: execution.pipelineConfig['keepWaitingPipelines'] === true,
    stages: stages.map((stage) => ({
      id: stage.id,
      refId: stage.refId,
      type: stage.type,
      name: stage.name,
      status: stage.status,
      requisiteStageRefIds: stage.requisiteStageRefIds,
      startTime: stage.startTime,
      endTime: stage.endTime,
      context: stage.context,
      outputs: stage.outputs,
      tasks: stage.tasks.map((task, index) => ({ id: String(index + 1), ...task })),
      error: stage.error,
    })),
  };
}

export type ExecutionView = ReturnType<typeof executionView>;
