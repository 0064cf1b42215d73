import { type StageRegistry } from '@jibe/domain';
import { Inject, Injectable } from '@nestjs/common';
import { type EngineMessage } from '../engine-message';
import { STAGE_REGISTRY } from '../engine.tokens';
import { ExecutionTransactor } from '../execution-transactor';
import { MessageHandler } from './message-handler';

/** Something a stage waits for happened elsewhere (its child pipeline ended): check now rather than at the next poll. */
@Injectable()
export class WakeStageHandler extends MessageHandler {
  readonly kind = 'WakeStage' as const;

  constructor(
    private readonly transactor: ExecutionTransactor,
    @Inject(STAGE_REGISTRY) private readonly registry: StageRegistry,
  ) {
    super();
  }

  async handle(message: EngineMessage): Promise<void> {
    await this.transactor.run(message.executionId, (unit) => {
      const stage = message.stageId ? unit.stageById(message.stageId) : undefined;
      if (!stage || stage.status !== 'RUNNING' || stage.dueMessage !== 'RunTask') return Promise.resolve();
      if (unit.execution.status !== 'RUNNING') return Promise.resolve();
      const index = stage.tasks.findIndex((t) => t.status === 'RUNNING');
      // Only a polling inline task may be woken: rescheduling a leased task would run it twice.
      if (index < 0 || !this.registry.require(stage.type).tasks[index]?.inline) return Promise.resolve();
      unit.schedule(stage, 'RunTask', 0);
      return Promise.resolve();
    });
  }
}
