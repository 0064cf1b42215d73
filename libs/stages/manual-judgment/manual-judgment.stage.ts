import { defineStage } from '@jibe/domain';
import { z } from 'zod';

/** How long a judgment may wait before the stage times out, unless stageTimeoutMs says otherwise (Spinnaker: 3 days). */
const DEFAULT_JUDGMENT_TIMEOUT_MS = 3 * 24 * 3600 * 1000;
/** A judgment arrives through the API, which wakes the task at once; this re-check is only a safety net. */
const RECHECK_MS = 15 * 60 * 1000;

/** Stops until a person continues or stops the pipeline, optionally choosing one of the offered inputs. */
export const manualJudgmentStage = defineStage({
  type: 'manualJudgment',
  description: 'Wait for a person to continue or stop the pipeline.',
  config: z.looseObject({
    instructions: z.string().max(10_000).optional(),
    judgmentInputs: z.array(z.looseObject({ value: z.string().min(1, 'must not be empty') })).default([]),
    propagateAuthenticationContext: z.boolean().optional(),
    selectedStageRoles: z.array(z.string()).optional(),
  }),
  tasks: [
    {
      name: 'waitForJudgment',
      inline: true,
      timeoutMs: DEFAULT_JUDGMENT_TIMEOUT_MS,
      run: (context) => {
        const { judgmentStatus, judgmentInput, lastModifiedBy } = context.stage.context;
        const outputs = { judgmentStatus, judgmentInput: judgmentInput ?? null, judgedBy: lastModifiedBy ?? null };
        if (judgmentStatus === 'continue') return Promise.resolve({ status: 'SUCCEEDED', outputs });
        if (judgmentStatus === 'stop') {
          return Promise.resolve({
            status: 'TERMINAL',
            outputs,
            error: {
              message: `stopped at manual judgment by ${typeof lastModifiedBy === 'string' ? lastModifiedBy : 'someone'}`,
              code: 'JUDGMENT_STOPPED',
            },
          });
        }
        return Promise.resolve({ status: 'RUNNING', retryAfterMs: RECHECK_MS });
      },
    },
  ],
});
