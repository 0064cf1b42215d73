import { ExecutionRepository } from '@jibe/persistence';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { EngineClock } from '../engine-clock';
import { type EngineMessage } from '../engine-message';
import { ENGINE_SETTINGS, type EngineSettings, STAGE_REGISTRY } from '../engine.tokens';
import { type StageRegistry } from '@jibe/domain';
import { ExecutionRunner } from '../execution-runner';
import { ExecutionTransactor } from '../execution-transactor';
import { type ExecutionUnit } from '../execution-unit';
import { type LeaseLostReason, MetricsService } from '../metrics.service';
import { MessageHandler } from './message-handler';

/**
 * Runs a stage's current task. Inline tasks run inside the transaction. Others run between two transactions: the
 * first takes a lease (the row is due again at the lease's end, so a dead worker's task is retried by the sweeper),
 * the second records the result only if the lease is still this worker's. A run that finds its lease gone (taken
 * over after it ran out, or the stage moved on) is logged and counted in `jibe_task_lease_lost_total`, and its
 * result is discarded.
 */
@Injectable()
export class RunTaskHandler extends MessageHandler {
  readonly kind = 'RunTask' as const;
  private readonly logger = new Logger(RunTaskHandler.name);

  constructor(
    private readonly transactor: ExecutionTransactor,
    private readonly runner: ExecutionRunner,
    @Inject(STAGE_REGISTRY) private readonly registry: StageRegistry,
    @Inject(ENGINE_SETTINGS) private readonly settings: EngineSettings,
    private readonly executions: ExecutionRepository,
    private readonly clock: EngineClock,
    private readonly metrics: MetricsService,
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
    const ids = {
      executionId: message.executionId,
      stageId: leased.stageId,
      stageType: stage.type,
      task: task.name,
      lease: leased.lease,
    };
    // Reported once per run: by the renewal that first finds the lease gone, else by the commit that does.
    let lostNoticed = false;
    const reportLost = (reason: LeaseLostReason, noticedBy: 'renewal' | 'commit') => {
      this.metrics.taskLeaseLost.inc({ reason });
      this.logger.warn(
        { ...ids, reason, noticedBy },
        reason === 'taken_over'
          ? "task lease lost: another worker took the task over; this run's result is discarded"
          : "task lease lost: the stage no longer runs this task; this run's result is discarded",
      );
    };
    // The lease is renewed while the task runs, so a slow task is never taken over (and run twice at once) while
    // its worker lives; a dead worker stops renewing and the sweeper revives the task once the lease runs out.
    // Tasks bound their own calls (per-account request timeouts), so nothing here cuts a task short.
    const renewEvery = Math.max(1000, Math.floor(this.settings.taskLeaseMs / 3));
    let finished = false;
    let renewing = false;
    const renewal = setInterval(() => {
      if (renewing || lostNoticed) return;
      renewing = true;
      this.executions
        .renewLease(leased.stageId, leased.lease, this.clock.now() + this.settings.taskLeaseMs)
        .then(async (held) => {
          // After the task returned, the commit below is what decides, and it may already have cleared the lease.
          if (held || finished || lostNoticed) return;
          lostNoticed = true;
          clearInterval(renewal);
          reportLost(await this.whyLost(message.executionId, leased.stageId, leased.lease), 'renewal');
        })
        .catch((error: unknown) => {
          this.metrics.taskLeaseRenewalErrors.inc();
          this.logger.warn(
            { ...ids, err: error },
            'task lease renewal failed; the lease runs out unless a renewal succeeds',
          );
        })
        .finally(() => (renewing = false));
    }, renewEvery);
    let result: Awaited<ReturnType<ExecutionRunner['runTask']>>;
    try {
      result = await this.runner.runTask(leased.unit, stage, definition, task, undefined);
    } finally {
      finished = true;
      clearInterval(renewal);
    }
    await this.transactor.run(message.executionId, async (unit, manager) => {
      const current = unit.stageById(leased.stageId);
      // Someone took over (lease ran out), or the stage was skipped, canceled or restarted meanwhile.
      if (!current || !unit.isDue(current, 'RunTask', leased.lease)) {
        if (!lostNoticed) {
          lostNoticed = true;
          reportLost(lostReason(current, leased.lease), 'commit');
        }
        return;
      }
      unit.clearDue(current);
      if (await this.runner.applyResult(unit, current, leased.index, result, manager)) {
        await this.runner.advance(unit, current, manager);
      }
    });
  }

  /** Why the lease is gone, read after a renewal found it so (outside any transaction: a hint for people). */
  private async whyLost(executionId: string, stageId: string, lease: number): Promise<LeaseLostReason> {
    const stages = await this.executions.stagesOf([executionId]).catch(() => []);
    return lostReason(
      stages.find((s) => s.id === stageId),
      lease,
    );
  }
}

/** The stage runs the same task under a newer lease (taken over), or no longer runs it (see LEASE_LOST_REASONS). */
function lostReason(stage: { dueMessage: string | null; dueSeq: number } | undefined, lease: number): LeaseLostReason {
  return stage?.dueMessage === 'RunTask' && stage.dueSeq > lease ? 'taken_over' : 'stage_changed';
}
