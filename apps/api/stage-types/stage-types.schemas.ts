import { type StageDefinition } from '@jibe/domain';
import { z } from 'zod';

/** A stage type as `GET /api/stage-types` serves it: what the UI and CLI need to offer and check a stage. */
export const stageTypeView = z.object({
  type: z.string(),
  description: z.string(),
  /** JSON Schema (draft 2020-12) of the stage's own config keys, besides the keys every stage has. */
  config: z.record(z.string(), z.unknown()),
});
export type StageTypeView = z.infer<typeof stageTypeView>;

export function toStageTypeView(definition: StageDefinition): StageTypeView {
  return {
    type: definition.type,
    description: definition.description,
    config: z.toJSONSchema(definition.config, {
      io: 'input',
      unrepresentable: 'any',
      target: 'draft-2020-12',
    }),
  };
}
