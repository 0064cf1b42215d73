import {
  failsExecutionImmediately,
  failureStatus,
  finalStatus,
  type ExecutionError,
  type ExecutionStatus,
  type PortToken,
  readyStages,
  type StageDefinition,
  type StageRegistry,
  type StageState,
  type TaskContext,
  type TaskDefinition,
  type TaskResult,
  TransientError,
} from '@jibe/domain';
import { ExecutionRepository, type StageExecutionEntity } from '@jibe/persistence';
import { Inject, Injectable } from '@nestjs/common';
import { type EntityManager } from 'typeorm';
import { ENGINE_SETTINGS, type EngineSettings, PORT_BINDINGS, type PortBinding, STAGE_REGISTRY } from './engine.tokens';
import { type ExecutionUnit } from './execution-unit';
import { evaluateStageConfig, isStageEnabled } from './stage-expressions';

/**
 * The execution state machine, applied to one locked {@link ExecutionUnit}. Every method is a transition: it reads
 * the rows, changes them, and schedules the messages that continue the work. Nothing here talks to the queue or
 * commits; handlers do that, so each transition is all-or-nothing.
 */
@Injectable()
export class ExecutionRunner {
  constructor(
    @Inject(STAGE_REGISTRY) private readonly registry: StageRegistry,
    @Inject(PORT_BINDINGS) private readonly ports: readonly PortBinding[],
    @Inject(ENGINE_SETTINGS) private readonly settings: EngineSettings,
    private readonly executions: ExecutionRepository,
  ) {}

  /** Marks the execution RUNNING and sends a StartStage for every initial stage. */
  async start(unit: ExecutionUnit, manager: EntityManager): Promise<void> {
    const execution = unit.execution;
    execution.status = 'RUNNING';
    execution.waiting = false;
    execution.startTime = unit.now;
    unit.clearDue(execution);
    for (const stage of readyStages(graphOf(unit))) unit.schedule(stage as StageExecutionEntity, 'StartStage', 0);
    await this.completeIfDone(unit, manager);
  }

  /** Starts one stage: `stageEnabled`, expressions, then its tasks (inline ones right here). */
  async startStage(unit: ExecutionUnit, stage: StageExecutionEntity, manager: EntityManager): Promise<void> {
    unit.clearDue(stage);
    stage.startTime = unit.now;
    stage.pausedMsAtStart = unit.execution.pausedMs;
    const enabled = isStageEnabled(unit, stage);
    if (!enabled.ok) return this.finishStage(unit, stage, failureStatus(stage.config), enabled.error, manager);
    if (!enabled.enabled) return this.finishStage(unit, stage, 'SKIPPED', null, manager);
    const evaluated = evaluateStageConfig(unit, stage);
    if (!evaluated.ok) return this.finishStage(unit, stage, failureStatus(stage.config), evaluated.error, manager);
    const definition = this.registry.require(stage.type);
    stage.status = 'RUNNING';
    stage.context = { ...evaluated.context, ...stage.context };
    stage.tasks = definition.tasks.map((t) => ({
      name: t.name,
      status: 'NOT_STARTED',
      startTime: null,
      endTime: null,
      attempts: 0,
    }));
    unit.touch(stage);
    await this.advance(unit, stage, manager);
  }

  /**
   * Runs the stage's tasks in order from the first unfinished one, inline tasks right away, until one must wait
   * (RunTask later), must run outside the transaction (RunTask now), fails, or the stage is done.
   */
  async advance(unit: ExecutionUnit, stage: StageExecutionEntity, manager: EntityManager): Promise<void> {
    const definition = this.registry.require(stage.type);
    for (;;) {
      if (stage.status !== 'RUNNING') return;
      // Paused: leave the next step due; resume sends it again.
      if (unit.execution.status === 'PAUSED') return unit.schedule(stage, 'RunTask', 0);
      const index = stage.tasks.findIndex((t) => t.status !== 'SUCCEEDED' && t.status !== 'SKIPPED');
      if (index < 0) return this.finishStage(unit, stage, 'SUCCEEDED', null, manager);
      const timedOut = this.stageTimeout(unit, stage);
      if (timedOut) return this.finishStage(unit, stage, failureStatus(stage.config), timedOut, manager);
      const task = stage.tasks[index]!;
      if (task.status === 'NOT_STARTED') {
        task.status = 'RUNNING';
        task.startTime = unit.now;
        unit.touch(stage);
      }
      const taskDefinition = definition.tasks[index]!;
      if (!taskDefinition.inline) {
        unit.schedule(stage, 'RunTask', 0);
        return;
      }
      const result = await this.runTask(unit, stage, definition, taskDefinition, manager);
      const done = await this.applyResult(unit, stage, index, result, manager);
      if (!done) return;
    }
  }

  /** Runs one task and turns whatever it throws into a result: retries for transient errors, TERMINAL otherwise. */
  async runTask(
    unit: ExecutionUnit,
    stage: StageExecutionEntity,
    _definition: StageDefinition,
    task: TaskDefinition,
    manager: EntityManager | undefined,
  ): Promise<TaskResult | { status: 'RETRY'; error: string; retryAfterMs?: number }> {
    try {
      return await task.run(this.taskContext(unit, stage, manager));
    } catch (error) {
      if (error instanceof TransientError)
        return { status: 'RETRY', error: error.message, retryAfterMs: error.retryAfterMs };
      return {
        status: 'TERMINAL',
        error: {
          message: `task ${task.name} failed: ${error instanceof Error ? error.message : String(error)}`,
          code: 'TASK_FAILED',
        },
      };
    }
  }

  /**
   * Records a task's result. Returns true when the task succeeded and the stage can go on to its next task.
   */
  async applyResult(
    unit: ExecutionUnit,
    stage: StageExecutionEntity,
    index: number,
    result: TaskResult | { status: 'RETRY'; error: string; retryAfterMs?: number },
    manager: EntityManager,
  ): Promise<boolean> {
    const task = stage.tasks[index]!;
    const taskDefinition = this.registry.require(stage.type).tasks[index]!;
    task.attempts += 1;
    unit.touch(stage);
    if (result.status === 'RETRY') {
      const retries = Number(stage.context['jibe.transientRetries'] ?? 0);
      if (retries >= this.settings.maxTransientRetries) {
        await this.failTask(
          unit,
          stage,
          index,
          { message: `task ${task.name} kept failing: ${result.error}`, code: 'RETRIES_EXHAUSTED' },
          undefined,
          manager,
        );
        return false;
      }
      stage.context = {
        ...stage.context,
        // The consecutive count bounds the retries of this task; the total stays for people reading the stage.
        'jibe.transientRetries': retries + 1,
        'jibe.transientFailures': Number(stage.context['jibe.transientFailures'] ?? 0) + 1,
        'jibe.lastTransientError': result.error,
      };
      unit.schedule(stage, 'RunTask', result.retryAfterMs ?? this.settings.retryBackoffMs * 2 ** retries);
      return false;
    }
    // Retries count consecutive transient failures only: a task that got an answer starts afresh.
    if (stage.context['jibe.transientRetries'] !== undefined) {
      const { 'jibe.transientRetries': _retries, ...rest } = stage.context;
      stage.context = rest;
    }
    if (result.context) stage.context = { ...stage.context, ...result.context };
    if (result.status !== 'RUNNING' && result.outputs) stage.outputs = { ...stage.outputs, ...result.outputs };
    if (result.status === 'SUCCEEDED') {
      task.status = 'SUCCEEDED';
      task.endTime = unit.now;
      return true;
    }
    if (result.status === 'TERMINAL') {
      await this.failTask(unit, stage, index, result.error, result.failureStatus, manager);
      return false;
    }
    const stageTimedOut = this.stageTimeout(unit, stage);
    if (stageTimedOut) {
      await this.failTask(unit, stage, index, stageTimedOut, undefined, manager);
      return false;
    }
    const elapsed = unit.now - (task.startTime ?? unit.now) - (unit.execution.pausedMs - stage.pausedMsAtStart);
    if (taskDefinition.timeoutMs !== undefined && elapsed >= taskDefinition.timeoutMs) {
      await this.failTask(
        unit,
        stage,
        index,
        { message: `task ${task.name} timed out after ${formatDuration(taskDefinition.timeoutMs)}`, code: 'TIMEOUT' },
        undefined,
        manager,
      );
      return false;
    }
    unit.schedule(
      stage,
      'RunTask',
      Math.min(result.retryAfterMs, this.remainingBeforeTimeout(unit, stage, taskDefinition, elapsed)),
    );
    return false;
  }

  private async failTask(
    unit: ExecutionUnit,
    stage: StageExecutionEntity,
    index: number,
    error: ExecutionError,
    status: ExecutionStatus | undefined,
    manager: EntityManager,
  ): Promise<void> {
    const task = stage.tasks[index]!;
    task.status = 'TERMINAL';
    task.endTime = unit.now;
    await this.finishStage(unit, stage, status ?? failureStatus(stage.config), error, manager);
  }

  /** Ends a stage, then starts whatever became ready and completes the execution if nothing else can run. */
  async finishStage(
    unit: ExecutionUnit,
    stage: StageExecutionEntity,
    status: ExecutionStatus,
    error: ExecutionError | null,
    manager: EntityManager,
  ): Promise<void> {
    stage.status = status;
    stage.error = error;
    stage.endTime = unit.now;
    if (stage.startTime === null) stage.startTime = unit.now;
    for (const task of stage.tasks) {
      if (task.status === 'RUNNING' || task.status === 'NOT_STARTED') {
        task.status = status === 'SUCCEEDED' ? 'SUCCEEDED' : status === 'CANCELED' ? 'CANCELED' : 'SKIPPED';
        task.endTime = unit.now;
      }
    }
    unit.clearDue(stage);
    unit.touch(stage);
    // A stage can also end while the execution is paused (a skip, a task result recorded during the pause): what
    // comes next is still decided now, and held until resume (messages for a paused execution stay due).
    const paused = unit.execution.status === 'PAUSED';
    if (unit.execution.status !== 'RUNNING' && !paused) return;
    if (failsExecutionImmediately(stage as unknown as StageState)) {
      this.cancelRunningStages(unit, `stage "${stage.name}" failed`);
      await this.completeExecution(unit, 'TERMINAL', manager);
      return;
    }
    const ready = readyStages(graphOf(unit)).filter((r) => r.requisiteStageRefIds.includes(stage.refId));
    if (ready.length === 1 || paused) {
      for (const next of ready) unit.schedule(next as StageExecutionEntity, 'StartStage', 0);
    } else {
      // A fan-out starts every ready stage now, in this transaction: one StartStage message each would only queue for
      // this execution's row lock one after another (and hold a connection while waiting), so nothing runs in
      // parallel that does not here. Tasks that run outside the transaction still go out as parallel RunTasks.
      for (const next of ready as StageExecutionEntity[]) {
        if (unit.execution.status !== 'RUNNING' || next.status !== 'NOT_STARTED') continue;
        await this.startStage(unit, next, manager);
      }
    }
    await this.completeIfDone(unit, manager);
  }

  /** Ends the execution when nothing can run any more (Spinnaker's final-status rules). */
  async completeIfDone(unit: ExecutionUnit, manager: EntityManager): Promise<void> {
    if (unit.execution.status !== 'RUNNING' && unit.execution.status !== 'PAUSED') return;
    if (unit.stages.some((s) => s.dueMessage === 'StartStage')) return;
    const status = finalStatus(graphOf(unit));
    if (status) await this.completeExecution(unit, status, manager);
  }

  async completeExecution(unit: ExecutionUnit, status: ExecutionStatus, manager: EntityManager): Promise<void> {
    const execution = unit.execution;
    execution.status = status;
    execution.endTime = unit.now;
    if (execution.pausedAt !== null) {
      execution.pausedMs += unit.now - execution.pausedAt;
      execution.pausedAt = null;
    }
    unit.clearDue(execution);
    unit.touch(execution);
    for (const stage of unit.stages) unit.clearDue(stage);
    await this.afterExecutionEnded(unit, manager);
  }

  /**
   * A finished execution frees its concurrency slot and wakes its parent stage. Both are messages to OTHER
   * executions: locking another execution from here could deadlock, so their handlers do the work.
   */
  async afterExecutionEnded(unit: ExecutionUnit, manager: EntityManager): Promise<void> {
    const execution = unit.execution;
    if (execution.parentExecutionId && execution.parentStageId) {
      unit.messages.push({
        kind: 'WakeStage',
        executionId: execution.parentExecutionId,
        stageId: execution.parentStageId,
        seq: 0,
        delayMs: 0,
      });
    }
    if (execution.pipelineId) {
      for (const waiting of await this.executions.waitingOf(manager, execution.pipelineId)) {
        unit.messages.push({ kind: 'StartExecution', executionId: waiting.id, seq: waiting.dueSeq, delayMs: 0 });
      }
    }
  }

  cancelRunningStages(unit: ExecutionUnit, reason: string): void {
    for (const stage of unit.stages) {
      if (stage.status !== 'RUNNING') continue;
      stage.status = 'CANCELED';
      stage.endTime = unit.now;
      stage.error = { message: `canceled: ${reason}`, code: 'CANCELED' };
      for (const task of stage.tasks) {
        if (task.status === 'RUNNING' || task.status === 'NOT_STARTED') {
          task.status = 'CANCELED';
          task.endTime = unit.now;
        }
      }
      unit.clearDue(stage);
      unit.touch(stage);
    }
  }

  /** The stage's own timeout (`stageTimeoutMs`), paused time excluded; undefined while within it. */
  private stageTimeout(unit: ExecutionUnit, stage: StageExecutionEntity): ExecutionError | undefined {
    const limit = Number(stage.context['stageTimeoutMs'] ?? NaN);
    if (!Number.isFinite(limit) || stage.startTime === null) return undefined;
    const elapsed = unit.now - stage.startTime - (unit.execution.pausedMs - stage.pausedMsAtStart);
    if (elapsed < limit) return undefined;
    return { message: `stage "${stage.name}" timed out after ${formatDuration(limit)}`, code: 'TIMEOUT' };
  }

  private remainingBeforeTimeout(
    unit: ExecutionUnit,
    stage: StageExecutionEntity,
    task: TaskDefinition,
    taskElapsed: number,
  ): number {
    const limits: number[] = [];
    if (task.timeoutMs !== undefined) limits.push(task.timeoutMs - taskElapsed);
    const stageLimit = Number(stage.context['stageTimeoutMs'] ?? NaN);
    if (Number.isFinite(stageLimit) && stage.startTime !== null) {
      limits.push(stageLimit - (unit.now - stage.startTime - (unit.execution.pausedMs - stage.pausedMsAtStart)));
    }
    return Math.max(0, Math.min(Number.MAX_SAFE_INTEGER, ...limits));
  }

  taskContext(unit: ExecutionUnit, stage: StageExecutionEntity, manager: EntityManager | undefined): TaskContext {
    const view = (s: StageExecutionEntity) => ({
      id: s.id,
      refId: s.refId,
      name: s.name,
      type: s.type,
      status: s.status as ExecutionStatus,
      context: s.context,
      outputs: s.outputs,
      startTime: s.startTime,
    });
    const execution = unit.execution;
    return {
      execution: {
        id: execution.id,
        application: execution.application,
        pipelineId: execution.pipelineId,
        name: execution.name,
        trigger: execution.trigger,
      },
      stage: view(stage),
      stages: unit.stages.map(view),
      now: unit.now,
      port: <T>(token: PortToken<T>): T => {
        const binding = this.ports.find((p) => p.token === token);
        if (!binding) throw new Error(`no implementation bound for port ${token.name}`);
        return binding.create({ manager, unit }) as T;
      },
    };
  }
}

function graphOf(unit: ExecutionUnit): { stages: StageState[] } {
  return { stages: unit.stages as unknown as StageState[] };
}

function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}
