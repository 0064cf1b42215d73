import { ExecutionRepository } from '@jibe/persistence';
import { Inject, Injectable } from '@nestjs/common';
import { EngineClock } from '../engine-clock';
import { type EngineMessage } from '../engine-message';
import { ENGINE_SETTINGS, type EngineSettings, STAGE_REGISTRY } from '../engine.tokens';
import { type StageRegistry } from '@jibe/domain';
import { ExecutionRunner } from '../execution-runner';
import { ExecutionTransactor } from '../execution-transactor';
import { type ExecutionUnit } from '../execution-unit';
import { MessageHandler } from './message-handler';

/**
 * Runs a stage's current task. Inline tasks run inside the transaction. Others run between two transactions: the
 * first takes a lease (the row is due again at the lease's end, so a dead worker's task is retried by the sweeper),
 * the second records the result only if the lease is still this worker's.
 */
@Injectable()
export class RunTaskHandler extends MessageHandler {
  readonly kind = 'RunTask' as const;

  constructor(
    private readonly transactor: ExecutionTransactor,
    private readonly runner: ExecutionRunner,
    @Inject(STAGE_REGISTRY) private readonly registry: StageRegistry,
    @Inject(ENGINE_SETTINGS) private readonly settings: EngineSettings,
    private readonly executions: ExecutionRepository,
    private readonly clock: EngineClock,
  ) {
    super();
  }

  async handle(message: EngineMessage): Promise<void> {
    const leased = await this.transactor.run(message.executionId, async (unit, manager) => {
      const stage = message.stageId ? unit.stageById(message.stageId) : undefined;
      if (!stage || !unit.isDue(stage, 'RunTask', message.seq)) return undefined;
      if (unit.execution.status === 'PAUSED') return undefined;
      if (unit.execution.status !== 'RUNNING' || stage.status !== 'RUNNING') {
        unit.clearDue(stage);
        return undefined;
      }
      const index = stage.tasks.findIndex((t) => t.status === 'RUNNING' || t.status === 'NOT_STARTED');
      const task = this.registry.require(stage.type).tasks[index];
      const state = stage.tasks[index];
      // Sent while paused before the task was marked running: it starts now, and its timeout counts from now.
      if (state?.status === 'NOT_STARTED') {
        state.status = 'RUNNING';
        state.startTime = unit.now;
        unit.touch(stage);
      }
      if (index < 0 || !task) {
        unit.clearDue(stage);
        await this.runner.advance(unit, stage, manager);
        return undefined;
      }
      if (task.inline) {
        const result = await this.runner.runTask(unit, stage, this.registry.require(stage.type), task, manager);
        unit.clearDue(stage);
        if (await this.runner.applyResult(unit, stage, index, result, manager))
          await this.runner.advance(unit, stage, manager);
        return undefined;
      }
      const lease = unit.expect(stage, 'RunTask', this.settings.taskLeaseMs);
      return { unit, stageId: stage.id, index, lease };
    });
    if (!leased) return;
    await this.runOutside(message, leased);
  }

  private async runOutside(
    message: EngineMessage,
    leased: { unit: ExecutionUnit; stageId: string; index: number; lease: number },
  ): Promise<void> {
    const stage = leased.unit.stageById(leased.stageId)!;
    const definition = this.registry.require(stage.type);
    const task = definition.tasks[leased.index]!;
    // The lease is renewed while the task runs, so a slow task is never taken over (and run twice at once) while
    // its worker lives; a dead worker stops renewing and the sweeper revives the task once the lease runs out.
    // Tasks bound their own calls (per-account request timeouts), so nothing here cuts a task short.
    const renewEvery = Math.max(1000, Math.floor(this.settings.taskLeaseMs / 3));
    const renewal = setInterval(() => {
      this.executions
        .renewLease(leased.stageId, leased.lease, this.clock.now() + this.settings.taskLeaseMs)
        .catch(() => undefined);
    }, renewEvery);
    let result: Awaited<ReturnType<ExecutionRunner['runTask']>>;
    try {
      result = await this.runner.runTask(leased.unit, stage, definition, task, undefined);
    } finally {
      clearInterval(renewal);
    }
    await this.transactor.run(message.executionId, async (unit, manager) => {
      const current = unit.stageById(leased.stageId);
      // Someone took over (lease ran out), or the stage was skipped, canceled or restarted meanwhile.
      if (!current || !unit.isDue(current, 'RunTask', leased.lease)) return;
      unit.clearDue(current);
      if (await this.runner.applyResult(unit, current, leased.index, result, manager)) {
        await this.runner.advance(unit, current, manager);
      }
    });
  }
}
