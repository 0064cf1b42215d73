import { defineStage } from '@jibe/domain';
import { z } from 'zod';

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
});
