import { defineStage, FINISHED } from '@jibe/domain';
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
  /** The child execution, recorded when it starts. */
  state: z.object({ executionId: z.string() }),
  outputs: z.object({ executionId: z.string(), status: z.string() }),
  tasks: [
    {
      name: 'startPipeline',
      inline: true,
      run: async (context) => {
        // Safe to run twice: the child's id is recorded in the same transaction that starts it.
        if (context.stage.context.executionId !== undefined) return { status: 'SUCCEEDED' };
        const { application, pipeline, pipelineParameters } = context.stage.context;
        const executionId = await context.port(ChildPipelinePort).start({
          application,
          pipelineId: pipeline,
          parameters: pipelineParameters,
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
      run: async (context) => {
        const { executionId, waitForCompletion } = context.stage.context;
        if (executionId === undefined) {
          return {
            status: 'TERMINAL',
            error: { message: 'no child execution: startPipeline has not run', code: 'INTERNAL' },
          };
        }
        if (!waitForCompletion) return { status: 'SUCCEEDED', outputs: { executionId } };
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
