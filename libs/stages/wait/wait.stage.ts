import { defineStage, EXPRESSION } from '@jibe/domain';
import { z } from 'zod';

const MAX_WAIT_S = 30 * 24 * 3600;

const config = z.looseObject({
  // A whole number of seconds; `${ parameters.soak }` gives the parameter's string, so a numeric string is one too.
  // One string branch for both, so a wrong string is told what a right one looks like.
  waitTime: z.union([
    z.number().int().min(0).max(MAX_WAIT_S),
    z
      .string()
      .regex(new RegExp(`^\\s*\\d+\\s*$|${EXPRESSION.source}`), 'expected a number of seconds or a ${ } expression'),
  ]),
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
      run: (context) => {
        // skipRemainingWait is Spinnaker's key, set on the running stage; the loose config lets it through as unknown.
        const { waitTime, skipRemainingWait } = context.stage.context;
        const seconds = typeof waitTime === 'string' ? Number(waitTime) : waitTime;
        // A `${ }` expression left unevaluated (the pipeline set skipExpressionEvaluation) is no number of seconds.
        if (!Number.isFinite(seconds)) {
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
