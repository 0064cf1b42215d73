import { Injectable } from '@nestjs/common';
import { type EngineMessage } from '../engine-message';
import { ExecutionRunner } from '../execution-runner';
import { ExecutionTransactor } from '../execution-transactor';
import { MessageHandler } from './message-handler';

/** Starts a stage whose requisites are complete; inline tasks run at once, in the same transaction. */
@Injectable()
export class StartStageHandler extends MessageHandler {
  readonly kind = 'StartStage' as const;

  constructor(
    private readonly transactor: ExecutionTransactor,
    private readonly runner: ExecutionRunner,
  ) {
    super();
  }

  async handle(message: EngineMessage): Promise<void> {
    await this.transactor.run(message.executionId, async (unit, manager) => {
      const stage = message.stageId ? unit.stageById(message.stageId) : undefined;
      if (!stage || !unit.isDue(stage, 'StartStage', message.seq)) return;
      // Paused: stays due; resume sends it again.
      if (unit.execution.status === 'PAUSED') return;
      if (unit.execution.status !== 'RUNNING' || stage.status !== 'NOT_STARTED') return unit.clearDue(stage);
      await this.runner.startStage(unit, stage, manager);
    });
  }
}
