import { defineStage, type TaskContext } from '@jibe/domain';
import { z } from 'zod';

const precondition = z.discriminatedUnion('type', [
  z.looseObject({
    type: z.literal('expression'),
    context: z.looseObject({
      expression: z.union([z.string().min(1), z.boolean()]),
      failureMessage: z.string().optional(),
    }),
    failPipeline: z.boolean().optional(),
  }),
  z.looseObject({
    type: z.literal('stageStatus'),
    context: z.looseObject({ stageName: z.string().min(1), stageStatus: z.string().min(1) }),
    failPipeline: z.boolean().optional(),
  }),
]);

type Precondition = z.infer<typeof precondition>;

/**
 * Checks conditions before the pipeline goes on (Spinnaker's `checkPreconditions`): expressions that must be true
 * (already evaluated when the stage started) and stages that must have a given status.
 */
export const checkPreconditionsStage = defineStage({
  type: 'checkPreconditions',
  description: 'Stop the pipeline unless every precondition holds.',
  config: z.looseObject({ preconditions: z.array(precondition).min(1, 'at least one precondition') }),
  tasks: [
    {
      name: 'checkPreconditions',
      inline: true,
      run: (context) => {
        const { preconditions } = context.stage.context;
        const results = preconditions.map((p, index) => ({ index, precondition: p, failure: check(p, context) }));
        const outputs = {
          preconditionResults: results.map((r) => ({ type: r.precondition.type, passed: r.failure === undefined })),
        };
        const failed = results.filter((r) => r.failure !== undefined);
        if (failed.length === 0) return Promise.resolve({ status: 'SUCCEEDED', outputs });
        const fatal = failed.some((r) => r.precondition.failPipeline !== false);
        return Promise.resolve({
          status: 'TERMINAL',
          outputs,
          error: {
            message: failed.map((r) => r.failure).join('; '),
            code: 'PRECONDITION_FAILED',
            details: failed.map((r) => ({ path: `preconditions[${r.index}]`, message: r.failure! })),
          },
          ...(fatal ? {} : { failureStatus: 'STOPPED' as const }),
        });
      },
    },
  ],
});

function check(p: Precondition, context: TaskContext): string | undefined {
  if (p.type === 'expression') {
    const value = p.context.expression;
    if (value === true || value === 'true') return undefined;
    if (value === false || value === 'false') return p.context.failureMessage ?? 'expression was false';
    return `expression must give true or false, gave ${JSON.stringify(value)}`;
  }
  const stage = context.stages.find((s) => s.name === p.context.stageName);
  if (!stage) return `no stage named "${p.context.stageName}"`;
  return stage.status === p.context.stageStatus
    ? undefined
    : `stage "${p.context.stageName}" is ${stage.status}, not ${p.context.stageStatus}`;
}
