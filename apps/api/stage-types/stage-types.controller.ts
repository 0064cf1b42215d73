import { NotFoundError } from '@jibe/domain';
import { stageRegistry } from '@jibe/stages';
import { Controller, Get, Param } from '@nestjs/common';
import { type StageTypeView, toStageTypeView } from './stage-types.schemas';

/**
 * `GET /api/stage-types[/:type]`: every stage type a pipeline may use, with its description and the JSON Schema of
 * its config, from the same registry and zod schemas that validate a pipeline on save.
 */
@Controller('api/stage-types')
export class StageTypesController {
  private readonly views: readonly StageTypeView[] = stageRegistry
    .types()
    .map((type) => toStageTypeView(stageRegistry.require(type)));

  @Get()
  list(): { items: readonly StageTypeView[] } {
    return { items: this.views };
  }

  @Get(':type')
  get(@Param('type') type: string): StageTypeView {
    const view = this.views.find((v) => v.type === type);
    if (!view) throw new NotFoundError(`no stage type "${type}" (known: ${stageRegistry.types().join(', ')})`);
    return view;
  }
}
