import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { type z } from 'zod';
import { ACTOR_ANONYMOUS } from '../http/actor';
import {
  deleteQuery,
  diffQuery,
  listPipelinesQuery,
  pipelineBody,
  pipelineId,
  revertBody,
  updatePipelineBody,
} from './pipelines.schemas';
import { versionText } from '../http/common.schemas';
import { PipelinesService } from './pipelines.service';

@Controller('api/pipelines')
export class PipelinesController {
  constructor(private readonly pipelines: PipelinesService) {}

  @Post()
  create(@Body({ schema: pipelineBody }) body: z.infer<typeof pipelineBody>) {
    return this.pipelines.create(body, ACTOR_ANONYMOUS);
  }

  @Get()
  list(@Query({ schema: listPipelinesQuery }) query: z.infer<typeof listPipelinesQuery>) {
    return this.pipelines.list(query);
  }

  @Get(':id')
  get(@Param('id', { schema: pipelineId }) id: string) {
    return this.pipelines.get(id);
  }

  @Put(':id')
  update(
    @Param('id', { schema: pipelineId }) id: string,
    @Body({ schema: updatePipelineBody }) body: z.infer<typeof updatePipelineBody>,
  ) {
    return this.pipelines.update(id, body, ACTOR_ANONYMOUS);
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(
    @Param('id', { schema: pipelineId }) id: string,
    @Query({ schema: deleteQuery }) query: z.infer<typeof deleteQuery>,
  ): Promise<void> {
    await this.pipelines.delete(id, query.version);
  }

  @Get(':id/history')
  history(@Param('id', { schema: pipelineId }) id: string) {
    return this.pipelines.history(id);
  }

  @Get(':id/history/:version')
  version(@Param('id', { schema: pipelineId }) id: string, @Param('version', { schema: versionText }) version: number) {
    return this.pipelines.getVersion(id, version);
  }

  @Get(':id/diff')
  diff(
    @Param('id', { schema: pipelineId }) id: string,
    @Query({ schema: diffQuery }) query: z.infer<typeof diffQuery>,
  ) {
    return this.pipelines.diff(id, query.from, query.to);
  }

  @Post(':id/revert')
  revert(
    @Param('id', { schema: pipelineId }) id: string,
    @Body({ schema: revertBody }) body: z.infer<typeof revertBody>,
  ) {
    return this.pipelines.revert(id, body.version, body.expectedVersion, ACTOR_ANONYMOUS);
  }
}
