import { FINISHED, type ExecutionStatus } from '@jibe/domain';
import { ExecutionService, executionView, type ExecutionView } from '@jibe/engine';
import { ExecutionRepository } from '@jibe/persistence';
import { Body, Controller, Get, HttpCode, Param, Post, Query, Sse } from '@nestjs/common';
import { Observable } from 'rxjs';
import { type z } from 'zod';
import { ACTOR_ANONYMOUS } from '../http/actor';
import { pipelineId } from '../pipelines/pipelines.schemas';
import { ExecutionEvents } from './execution-events.service';
import {
  cancelBody,
  executionId,
  judgmentBody,
  listExecutionsQuery,
  stageId,
  startExecutionBody,
} from './executions.schemas';

/** Executions: start one from a pipeline, read them, and control them (Spinnaker's Gate operations, as REST). */
@Controller('api')
export class ExecutionsController {
  constructor(
    private readonly executions: ExecutionService,
    private readonly repository: ExecutionRepository,
    private readonly executionEvents: ExecutionEvents,
  ) {}

  @Post('pipelines/:id/executions')
  start(
    @Param('id', { schema: pipelineId }) id: string,
    @Body({ schema: startExecutionBody }) body: z.infer<typeof startExecutionBody>,
  ) {
    return this.executions.start(id, { ...body, user: body.user ?? ACTOR_ANONYMOUS });
  }

  @Get('executions')
  async list(@Query({ schema: listExecutionsQuery }) query: z.infer<typeof listExecutionsQuery>) {
    const page = await this.repository.list({
      ...(query.pipelineId ? { pipelineId: query.pipelineId } : {}),
      ...(query.application ? { application: query.application } : {}),
      ...(query.status ? { statuses: query.status } : {}),
      limit: query.limit,
      ...(query.cursor ? { cursor: query.cursor } : {}),
    });
    const stages = await this.repository.stagesOf(page.items.map((e) => e.id));
    return {
      items: page.items.map((e) =>
        executionView(
          e,
          stages.filter((s) => s.executionId === e.id),
        ),
      ),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
  }

  @Get('executions/:id')
  get(@Param('id', { schema: executionId }) id: string) {
    return this.executions.get(id);
  }

  @Post('executions/:id/cancel')
  @HttpCode(200)
  cancel(
    @Param('id', { schema: executionId }) id: string,
    @Body({ schema: cancelBody }) body: z.infer<typeof cancelBody>,
  ) {
    return this.executions.cancel(id, ACTOR_ANONYMOUS, body.reason);
  }

  @Post('executions/:id/pause')
  @HttpCode(200)
  pause(@Param('id', { schema: executionId }) id: string) {
    return this.executions.pause(id);
  }

  @Post('executions/:id/resume')
  @HttpCode(200)
  resume(@Param('id', { schema: executionId }) id: string) {
    return this.executions.resume(id);
  }

  @Post('executions/:id/stages/:stageId/restart')
  @HttpCode(200)
  restart(@Param('id', { schema: executionId }) id: string, @Param('stageId', { schema: stageId }) stage: string) {
    return this.executions.restartStage(id, stage, ACTOR_ANONYMOUS);
  }

  @Post('executions/:id/stages/:stageId/skip')
  @HttpCode(200)
  skip(@Param('id', { schema: executionId }) id: string, @Param('stageId', { schema: stageId }) stage: string) {
    return this.executions.skipStage(id, stage, ACTOR_ANONYMOUS);
  }

  @Post('executions/:id/stages/:stageId/judgment')
  @HttpCode(200)
  judge(
    @Param('id', { schema: executionId }) id: string,
    @Param('stageId', { schema: stageId }) stage: string,
    @Body({ schema: judgmentBody }) body: z.infer<typeof judgmentBody>,
  ) {
    return this.executions.judge(id, stage, body, ACTOR_ANONYMOUS);
  }

  /**
   * Server-sent events: the execution now, then again after every change (Postgres NOTIFY), ending after the
   * event that shows it finished.
   */
  @Sse('executions/:id/events')
  events(@Param('id', { schema: executionId }) id: string): Observable<{ type: string; data: ExecutionView }> {
    return new Observable((subscriber) => {
      let unsubscribe: (() => void) | undefined;
      let sending = Promise.resolve();
      const send = () => {
        sending = sending
          .then(async () => {
            const view = await this.executions.get(id);
            subscriber.next({ type: 'execution', data: view });
            if (FINISHED.has(view.status as ExecutionStatus)) subscriber.complete();
          })
          .catch((error: unknown) => subscriber.error(error));
      };
      this.executionEvents
        .subscribe(id, send)
        .then((off) => {
          unsubscribe = off;
          send();
        })
        .catch((error: unknown) => subscriber.error(error));
      return () => unsubscribe?.();
    });
  }
}
