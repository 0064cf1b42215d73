import { ExecutionRepository } from '@jibe/persistence';
import { Injectable } from '@nestjs/common';
import { type EntityManager } from 'typeorm';
import { type EngineMessage } from '../engine-message';
import { ExecutionRunner } from '../execution-runner';
import { ExecutionTransactor } from '../execution-transactor';
import { type ExecutionUnit } from '../execution-unit';
import { MessageHandler } from './message-handler';

/**
 * Starts an execution, unless its pipeline has no concurrency slot left (limitConcurrent, maxConcurrentExecutions):
 * then it waits, and a finishing execution of the pipeline wakes it. Of several waiting executions,
 * keepWaitingPipelines=false starts the newest and cancels the rest; true starts the oldest (Spinnaker's rules).
 */
@Injectable()
export class StartExecutionHandler extends MessageHandler {
  readonly kind = 'StartExecution' as const;

  constructor(
    private readonly transactor: ExecutionTransactor,
    private readonly runner: ExecutionRunner,
    private readonly executions: ExecutionRepository,
  ) {
    super();
  }

  async handle(message: EngineMessage): Promise<void> {
    const pipelineId = await this.pipelineOf(message.executionId);
    await this.transactor.run(
      message.executionId,
      async (unit, manager) => {
        const execution = unit.execution;
        if (!unit.isDue(execution, 'StartExecution', message.seq)) return;
        if (execution.status !== 'NOT_STARTED') return unit.clearDue(execution);
        if (pipelineId && !(await this.takeSlot(unit, manager, pipelineId))) return;
        await this.runner.start(unit, manager);
      },
      pipelineId ? { pipelineSlotLock: pipelineId } : {},
    );
  }

  private async pipelineOf(executionId: string): Promise<string | null> {
    return this.executions.pipelineIdOf(executionId);
  }

  /** Under the pipeline's advisory lock: may this execution run now? If not, it is left waiting. */
  private async takeSlot(unit: ExecutionUnit, manager: EntityManager, pipelineId: string): Promise<boolean> {
    const execution = unit.execution;
    const config = execution.pipelineConfig;
    const max = Number(config['maxConcurrentExecutions'] ?? 0);
    const limit = max > 0 ? max : config['limitConcurrent'] === false ? Infinity : 1;
    if (limit === Infinity) return true;
    if ((await this.executions.countRunning(manager, pipelineId)) >= limit) {
      this.wait(unit);
      return false;
    }
    const others = (await this.executions.waitingOf(manager, pipelineId)).filter((w) => w.id !== execution.id);
    if (others.length === 0) return true;
    // A slot is free and others wait for it too: the policy picks one, counting this execution among them.
    const candidates = [...others, { id: execution.id, buildTime: execution.buildTime, dueSeq: execution.dueSeq }].sort(
      (a, b) => a.buildTime - b.buildTime || a.id.localeCompare(b.id),
    );
    const keepWaiting = config['keepWaitingPipelines'] === true;
    const chosen = keepWaiting ? candidates[0]! : candidates[candidates.length - 1]!;
    if (chosen.id !== execution.id) {
      this.wait(unit);
      unit.messages.push({ kind: 'StartExecution', executionId: chosen.id, seq: chosen.dueSeq, delayMs: 0 });
      return false;
    }
    if (!keepWaiting) {
      const reason = `superseded by newer execution ${execution.id} (keepWaitingPipelines is off)`;
      await this.executions.cancelWaiting(
        manager,
        others.map((w) => w.id),
        unit.now,
        reason,
      );
    }
    return true;
  }

  /** Still due, but without a time: the sweeper leaves it alone, and a finishing execution sends the message. */
  private wait(unit: ExecutionUnit): void {
    unit.execution.waiting = true;
    unit.execution.dueAt = null;
    unit.touch(unit.execution);
  }
}
