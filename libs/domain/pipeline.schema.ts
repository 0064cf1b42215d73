import { z } from 'zod';
import { orExpression } from './stage-definition';

const refId = z.union([z.string().min(1, 'must not be empty'), z.number().int()]);

/** Keys every stage has, whatever its type (docs/spinnaker.md#common-stage-fields). */
export const stageCommonSchema = z.looseObject({
  refId,
  requisiteStageRefIds: z.array(refId).default([]),
  type: z.string().min(1, 'must not be empty'),
  name: z.string().optional(),
  stageEnabled: z
    .looseObject({ type: z.literal('expression'), expression: z.string().min(1, 'must not be empty') })
    .optional(),
  failPipeline: z.boolean().optional(),
  continuePipeline: z.boolean().optional(),
  completeOtherBranchesThenFail: z.boolean().optional(),
  stageTimeoutMs: orExpression(z.number().int().positive()).optional(),
  notifications: z.array(z.looseObject({ type: z.string() })).optional(),
  comments: z.string().optional(),
});

/** The common stage keys, which a stage type's own schema does not see. */
export const COMMON_STAGE_KEYS: ReadonlySet<string> = new Set([
  ...Object.keys(stageCommonSchema.shape),
  'sendNotifications',
  'overrideTimeout',
  'restrictExecutionDuringTimeWindow',
  'restrictedExecutionWindow',
  'skipWindowText',
  'failOnFailedExpressions',
  'isNew',
  'group',
  'alias',
]);

const parameterSchema = z.looseObject({
  name: z.string().min(1, 'must not be empty'),
  label: z.string().optional(),
  description: z.string().optional(),
  default: z.union([z.string(), z.number(), z.boolean()]).nullable().optional(),
  required: z.boolean().optional(),
  pinned: z.boolean().optional(),
  hasOptions: z.boolean().optional(),
  options: z.array(z.looseObject({ value: z.union([z.string(), z.number(), z.boolean()]) })).optional(),
});

const triggerSchema = z.looseObject({
  type: z.string().min(1, 'must not be empty'),
  enabled: z.boolean().optional(),
});

/**
 * A pipeline in Spinnaker's JSON format. Unknown top-level keys are kept, so exported Spinnaker pipelines round-trip.
 * Stage configs are checked separately, against the schema of each stage's type.
 */
export const pipelineSchema = z.looseObject({
  id: z.string().optional(),
  application: z.string().min(1, 'must not be empty'),
  name: z.string().trim().min(1, 'must not be empty').max(256),
  stages: z.array(z.looseObject({})),
  triggers: z.array(triggerSchema).default([]),
  parameterConfig: z.array(parameterSchema).default([]),
  notifications: z.array(z.looseObject({})).default([]),
  limitConcurrent: z.boolean().default(true),
  maxConcurrentExecutions: z.number().int().min(0).optional(),
  keepWaitingPipelines: z.boolean().default(false),
  disabled: z.boolean().optional(),
  description: z.string().optional(),
});

export type StageCommon = z.infer<typeof stageCommonSchema>;
/** A stage as stored: the common keys plus its type's own keys. */
export type StageConfig = StageCommon & Record<string, unknown>;
// An intersection, not Omit: Omit over a loose object's index signature would erase the known keys.
export type PipelineConfig = z.infer<typeof pipelineSchema> & { stages: StageConfig[] };
export type ParameterConfig = z.infer<typeof parameterSchema>;

/** Keys the server owns: whatever a client sends for them is dropped and the stored values are served instead. */
export const SERVER_OWNED_PIPELINE_KEYS = ['id', 'version', 'createTs', 'updateTs', 'lastModifiedBy', 'index'] as const;
