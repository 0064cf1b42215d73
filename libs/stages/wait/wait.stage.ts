import { defineStage, orExpression, type TaskContext, type TaskResult } from '@jibe/domain';
import { z } from 'zod';

const config = z.looseObject({
  waitTime: orExpression(
    z
      .number()
      .int()
      .min(0)
      .max(30 * 24 * 3600),
  ),
  skipWaitText: z.string().optional(),
});

/** Waits a number of seconds (Spinnaker's `wait` stage); `skipRemainingWait` in the context ends it early. */
export const waitStage = defineStage({
  type: 'wait',
  description: 'Wait a number of seconds before the next stage starts.',
  config,
  tasks: [
    {
      name: 'wait',
      inline: true,
      run: (context: TaskContext): Promise<TaskResult> => {
        const { waitTime, skipRemainingWait } = context.stage.context;
        const seconds = typeof waitTime === 'string' ? Number(waitTime) : waitTime;
        if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
          return Promise.resolve({
            status: 'TERMINAL',
            error: {
              message: `waitTime must be a number of seconds, got ${JSON.stringify(waitTime)}`,
              code: 'INVALID_CONFIG',
            },
          });
        }
        const remaining = (context.stage.startTime ?? context.now) + seconds * 1000 - context.now;
        if (remaining <= 0 || skipRemainingWait === true) return Promise.resolve({ status: 'SUCCEEDED' });
        return Promise.resolve({ status: 'RUNNING', retryAfterMs: remaining });
      },
    },
  ],
});
