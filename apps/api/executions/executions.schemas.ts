import { EXECUTION_STATUSES } from '@jibe/domain';
import { z } from 'zod';

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'not an id');

/**
 * Keys of a trigger only Jibe itself may set: a client claiming to be a parent execution, or the engine's own
 * bookkeeping, is refused rather than believed.
 */
const SERVER_OWNED_TRIGGER_KEYS = ['parentExecution', 'parentExecutionId', 'parentPipelineStageId', 'correlationId'];

/** Spinnaker's trigger map; `parameters` are checked against the pipeline's parameterConfig. */
export const startExecutionBody = z
  .looseObject({
    type: z.string().min(1).max(64).default('manual'),
    user: z.string().min(1).max(256).optional(),
    parameters: z.record(z.string(), z.unknown()).default({}),
    artifacts: z.array(z.looseObject({})).default([]),
  })
  .superRefine((body, issues) => {
    for (const key of SERVER_OWNED_TRIGGER_KEYS) {
      if (key in body) issues.addIssue({ code: 'custom', path: [key], message: 'set by Jibe, not by a client' });
    }
  });

export const listExecutionsQuery = z.object({
  pipelineId: id.optional(),
  application: z.string().min(1).max(63).optional(),
  status: z
    .string()
    .transform((value) => value.split(',').filter((s) => s !== ''))
    .pipe(z.array(z.enum(EXECUTION_STATUSES)))
    .optional(),
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().max(2048).optional(),
});

export const cancelBody = z.object({ reason: z.string().max(1000).optional() }).default({});
export const judgmentBody = z.object({
  judgmentStatus: z.enum(['continue', 'stop']),
  judgmentInput: z.string().max(1000).optional(),
});
export const executionId = id;
export const stageId = id;

const stageView = z.object({
  id: z.string(),
  refId: z.string(),
  type: z.string(),
  name: z.string(),
  status: z.enum(EXECUTION_STATUSES),
  requisiteStageRefIds: z.array(z.string()),
  startTime: z.number().nullable(),
  endTime: z.number().nullable(),
  context: z.record(z.string(), z.unknown()),
  outputs: z.record(z.string(), z.unknown()),
  tasks: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      status: z.string(),
      startTime: z.number().nullable(),
      endTime: z.number().nullable(),
      attempts: z.number(),
    }),
  ),
  error: z
    .object({
      message: z.string(),
      code: z.string().optional(),
      details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    })
    .nullable(),
});

/** The execution JSON the API serves (close to Orca's). */
export const executionViewSchema = z.object({
  id: z.string(),
  type: z.literal('PIPELINE'),
  application: z.string(),
  name: z.string(),
  pipelineConfigId: z.string().nullable(),
  pipelineVersion: z.number().nullable(),
  status: z.enum(EXECUTION_STATUSES),
  waiting: z.boolean(),
  buildTime: z.number(),
  startTime: z.number().nullable(),
  endTime: z.number().nullable(),
  canceled: z.boolean(),
  canceledBy: z.string().nullable(),
  cancellationReason: z.string().nullable(),
  paused: z.object({ pauseTime: z.number().nullable(), pausedMs: z.number() }).nullable(),
  trigger: z.record(z.string(), z.unknown()),
  parentExecution: z.object({ id: z.string(), stageId: z.string().nullable() }).nullable(),
  limitConcurrent: z.boolean(),
  keepWaitingPipelines: z.boolean(),
  stages: z.array(stageView),
});
