import { defineStage, orExpression } from '@jibe/domain';
import { z } from 'zod';

/** Waits a number of seconds (Spinnaker's `wait` stage). */
export const waitStage = defineStage({
  type: 'wait',
  description: 'Wait a number of seconds before the next stage starts.',
  config: z.looseObject({
    waitTime: orExpression(
      z
        .number()
        .int()
        .min(0)
        .max(30 * 24 * 3600),
    ),
    skipWaitText: z.string().optional(),
  }),
});
