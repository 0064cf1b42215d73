import {
  ConflictError,
  downstreamOf,
  readyStages,
  FINISHED,
  InvalidRequestError,
  NotFoundError,
  type ExecutionStatus,
  type StageState,
} from '@jibe/domain';
import { ExecutionRepository, PipelineRepository, type StageExecutionEntity } from '@jibe/persistence';
import { Injectable } from '@nestjs/common';
import { EngineClock } from './engine-clock';
import { EngineQueue } from './engine.queue';
import { buildExecution, type TriggerRequest } from './execution-factory';
import { ExecutionRunner } from './execution-runner';
import { ExecutionTransactor } from './execution-transactor';
import { type ExecutionUnit } from './execution-unit';
import { executionView, type ExecutionView } from './execution-view';

/**
 * Starting executions and the control operations people use (cancel, pause, resume, restart, skip, judgment).
 * Each is one transaction on the locked execution, applying the same transitions the handlers use, so a control
 * operation racing a worker is serialised by the row lock and never half-applied.
 */
@Injectable()
export class ExecutionService {
  constructor(
    private readonly transactor: ExecutionTransactor,
    private readonly runner: ExecutionRunner,
    private readonly executions: ExecutionRepository,
    private readonly pipelines: PipelineRepository,
    private readonly queue: EngineQueue,
    private readonly clock: EngineClock,
  ) {}

  async start(pipelineId: string, trigger: TriggerRequest): Promise<ExecutionView> {
    const pipeline = await this.pipelines.get(pipelineId);
    if (pipeline.config['disabled'] === true) {
      throw new ConflictError(`pipeline "${pipeline.name}" is disabled`, 'PIPELINE_DISABLED');
    }
    const { execution, stages } = buildExecution(pipeline, trigger, this.clock.now());
    await this.executions.transaction(async (manager) => {
      await this.executions.insert(manager, execution, stages);
      await this.executions.notify(manager, execution);
    });
    await this.queue.send([{ kind: 'StartExecution', executionId: execution.id, seq: execution.dueSeq, delayMs: 0 }]);
    return executionView(execution, stages);
  }

  async get(id: string): Promise<ExecutionView> {
    const { execution, stages } = await this.executions.get(id);
    return executionView(execution, stages);
  }

  async cancel(id: string, user: string, reason: string | undefined): Promise<ExecutionView> {
    const children: string[] = [];
    const view = await this.control(id, async (unit, manager) => {
      const execution = unit.execution;
      if (FINISHED.has(execution.status as ExecutionStatus)) {
        throw new ConflictError(`execution ${id} already ended ${execution.status}`, 'ALREADY_FINISHED');
      }
      execution.canceled = true;
      execution.canceledBy = user;
      execution.cancellationReason = reason ?? null;
      unit.touch(execution);
      for (const stage of unit.stages) {
        const child = stage.context['executionId'];
        if (stage.type === 'pipeline' && stage.status === 'RUNNING' && typeof child === 'string') children.push(child);
      }
      if (execution.status === 'NOT_STARTED') {
        execution.waiting = false;
        execution.startTime = null;
      }
      this.runner.cancelRunningStages(unit, reason ?? `canceled by ${user}`);
      await this.runner.completeExecution(unit, 'CANCELED', manager);
    });
    // Children are other executions: canceled after this commit, each in its own transaction (no lock nesting).
    for (const child of children) {
      await this.cancel(child, user, `parent execution ${id} was canceled`).catch((error: unknown) => {
        if (!(error instanceof ConflictError)) throw error;
      });
    }
    return view;
  }

  async pause(id: string): Promise<ExecutionView> {
    return this.control(id, (unit) => {
      const execution = unit.execution;
      if (execution.status !== 'RUNNING') {
        throw new ConflictError(
          `only a RUNNING execution can be paused; this one is ${execution.status}`,
          'NOT_RUNNING',
        );
      }
      execution.status = 'PAUSED';
      execution.pausedAt = unit.now;
      unit.touch(execution);
      return Promise.resolve();
    });
  }

  async resume(id: string): Promise<ExecutionView> {
    return this.control(id, (unit) => {
      const execution = unit.execution;
      if (execution.status !== 'PAUSED') {
        throw new ConflictError(
          `only a PAUSED execution can be resumed; this one is ${execution.status}`,
          'NOT_PAUSED',
        );
      }
      execution.status = 'RUNNING';
      execution.pausedMs += unit.now - (execution.pausedAt ?? unit.now);
      execution.pausedAt = null;
      unit.touch(execution);
      // Whatever came due while paused is sent again (its messages were dropped while paused) with the SAME sequence
      // number: a task running outside the transaction under a lease keeps its lease and records its result.
      for (const stage of unit.stages) {
        if (stage.dueMessage === 'StartStage' || stage.dueMessage === 'RunTask') {
          unit.messages.push({
            kind: stage.dueMessage,
            executionId: unit.execution.id,
            stageId: stage.id,
            seq: stage.dueSeq,
            delayMs: Math.max(0, (stage.dueAt ?? unit.now) - unit.now),
          });
        }
      }
      return Promise.resolve();
    });
  }

  /** Runs a finished stage again, and everything downstream of it (Spinnaker's RestartStage). */
  async restartStage(id: string, stageId: string, user: string): Promise<ExecutionView> {
    return this.control(id, (unit) => {
      const stage = this.stageOf(unit, stageId);
      if (!FINISHED.has(stage.status as ExecutionStatus)) {
        throw new ConflictError(
          `stage "${stage.name}" is ${stage.status}; only a finished stage can be restarted`,
          'NOT_FINISHED',
        );
      }
      if (unit.execution.status === 'PAUSED') throw new ConflictError('resume the execution first', 'PAUSED');
      const previousError = stage.error;
      const reset = [
        stage,
        ...(downstreamOf(
          { stages: unit.stages as unknown as StageState[] },
          stage.refId,
        ) as unknown as StageExecutionEntity[]),
      ];
      for (const s of reset) {
        s.status = 'NOT_STARTED';
        s.context = {};
        s.outputs = {};
        s.tasks = [];
        s.error = null;
        s.startTime = null;
        s.endTime = null;
        unit.clearDue(s);
        unit.touch(s);
      }
      stage.context = {
        restartDetails: { restartedBy: user, restartTime: unit.now, previousException: previousError },
      };
      const execution = unit.execution;
      execution.status = 'RUNNING';
      execution.endTime = null;
      execution.canceled = false;
      execution.canceledBy = null;
      execution.cancellationReason = null;
      unit.touch(execution);
      // Stages of other branches that were canceled when this one failed are not restarted: they stay as they ended.
      // But a stage that was ready when the execution ended lost its StartStage then: it is sent again now, or the
      // execution would wait forever on a stage no message reaches.
      for (const ready of readyStages({
        stages: unit.stages as unknown as StageState[],
      }) as unknown as StageExecutionEntity[]) {
        if (ready !== stage && ready.dueMessage !== 'StartStage') unit.schedule(ready, 'StartStage', 0);
      }
      unit.schedule(stage, 'StartStage', 0);
      return Promise.resolve();
    });
  }

  /** Ends a running or waiting stage as SKIPPED; downstream stages then run as after a success. */
  async skipStage(id: string, stageId: string, user: string): Promise<ExecutionView> {
    return this.control(id, async (unit, manager) => {
      const stage = this.stageOf(unit, stageId);
      if (unit.execution.status !== 'RUNNING' && unit.execution.status !== 'PAUSED') {
        throw new ConflictError(`execution is ${unit.execution.status}`, 'NOT_RUNNING');
      }
      if (stage.status !== 'RUNNING' && stage.status !== 'NOT_STARTED') {
        throw new ConflictError(
          `stage "${stage.name}" is ${stage.status}; only a running or waiting stage can be skipped`,
          'NOT_SKIPPABLE',
        );
      }
      stage.context = { ...stage.context, manualSkip: true, skippedBy: user };
      await this.runner.finishStage(unit, stage, 'SKIPPED', null, manager);
    });
  }

  async judge(
    id: string,
    stageId: string,
    judgment: { judgmentStatus: 'continue' | 'stop'; judgmentInput?: string },
    user: string,
  ): Promise<ExecutionView> {
    return this.control(id, (unit) => {
      const stage = this.stageOf(unit, stageId);
      if (stage.type !== 'manualJudgment') {
        throw new InvalidRequestError(`stage "${stage.name}" is a ${stage.type}, not a manualJudgment`);
      }
      if (stage.status !== 'RUNNING') {
        throw new ConflictError(`stage "${stage.name}" is ${stage.status}, not waiting for a judgment`, 'NOT_WAITING');
      }
      if (stage.context['judgmentStatus'] !== undefined) {
        throw new ConflictError(
          `stage "${stage.name}" was already judged: ${JSON.stringify(stage.context['judgmentStatus'])}`,
          'ALREADY_JUDGED',
        );
      }
      const inputs = ((stage.context['judgmentInputs'] ?? []) as { value: string }[]).map((i) => i.value);
      if (judgment.judgmentInput !== undefined && inputs.length > 0 && !inputs.includes(judgment.judgmentInput)) {
        throw new InvalidRequestError('judgmentInput is not one of the offered inputs', [
          { path: 'judgmentInput', message: `must be one of ${inputs.map((i) => JSON.stringify(i)).join(', ')}` },
        ]);
      }
      stage.context = {
        ...stage.context,
        judgmentStatus: judgment.judgmentStatus,
        judgmentInput: judgment.judgmentInput ?? null,
        lastModifiedBy: user,
        judgedAt: unit.now,
      };
      unit.touch(stage);
      if (unit.execution.status === 'RUNNING') unit.schedule(stage, 'RunTask', 0);
      return Promise.resolve();
    });
  }

  private stageOf(unit: ExecutionUnit, stageId: string): StageExecutionEntity {
    const stage = unit.stageById(stageId) ?? unit.stageByRef(stageId);
    if (!stage) throw new NotFoundError(`execution ${unit.execution.id} has no stage "${stageId}"`);
    return stage;
  }

  private async control(
    id: string,
    work: (unit: ExecutionUnit, manager: Parameters<Parameters<ExecutionTransactor['run']>[1]>[1]) => Promise<void>,
  ): Promise<ExecutionView> {
    const view = await this.transactor.run(id, async (unit, manager) => {
      await work(unit, manager);
      return executionView(unit.execution, unit.stages);
    });
    if (!view) throw new NotFoundError(`no execution with id "${id}"`);
    return view;
  }
}
