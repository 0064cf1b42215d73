import { defineStage, FINISHED, type TaskContext, type TaskResult } from '@jibe/domain';
import { z } from 'zod';
import { ChildPipelinePort } from './child-pipeline.port';

/** The child's completion wakes this stage at once; the re-check only covers a lost wake-up. */
const RECHECK_MS = 30_000;

/** Runs another pipeline as a child and (by default) waits for it (Spinnaker's `pipeline` stage). */
export const pipelineStage = defineStage({
  type: 'pipeline',
  description: 'Run another pipeline and wait for it to finish.',
  config: z.looseObject({
    application: z.string().min(1),
    pipeline: z.string().min(1).describe('id of the pipeline to run'),
    pipelineParameters: z.record(z.string(), z.unknown()).default({}),
    waitForCompletion: z.boolean().default(true),
  }),
  tasks: [
    {
      name: 'startPipeline',
      inline: true,
      run: async (context: TaskContext): Promise<TaskResult> => {
        // Safe to run twice: the child's id is recorded in the same transaction that starts it.
        if (typeof context.stage.context['executionId'] === 'string') return { status: 'SUCCEEDED' };
        const { application, pipeline, pipelineParameters } = context.stage.context;
        const executionId = await context.port(ChildPipelinePort).start({
          application: String(application),
          pipelineId: String(pipeline),
          parameters: (pipelineParameters ?? {}) as Record<string, unknown>,
          parentExecutionId: context.execution.id,
          parentStageId: context.stage.id,
          user: typeof context.execution.trigger['user'] === 'string' ? context.execution.trigger['user'] : 'anonymous',
        });
        return { status: 'SUCCEEDED', context: { executionId }, outputs: { executionId } };
      },
    },
    {
      name: 'monitorPipeline',
      inline: true,
      run: async (context: TaskContext): Promise<TaskResult> => {
        const executionId = String(context.stage.context['executionId']);
        if (context.stage.context['waitForCompletion'] === false)
          return { status: 'SUCCEEDED', outputs: { executionId } };
        const status = await context.port(ChildPipelinePort).status(executionId);
        if (!FINISHED.has(status)) return { status: 'RUNNING', retryAfterMs: RECHECK_MS };
        if (status === 'SUCCEEDED') return { status: 'SUCCEEDED', outputs: { executionId, status } };
        return {
          status: 'TERMINAL',
          outputs: { executionId, status },
          error: { message: `child pipeline execution ${executionId} ended ${status}`, code: 'CHILD_PIPELINE_FAILED' },
        };
      },
    },
  ],
});
