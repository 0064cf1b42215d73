import { ExecutionRepository, type StageExecutionEntity, type ExecutionEntity } from '@jibe/persistence';
import { Injectable } from '@nestjs/common';
import { type EntityManager } from 'typeorm';
import { EngineClock } from './engine-clock';
import { EngineQueue } from './engine.queue';
import { ExecutionUnit } from './execution-unit';

/**
 * The handler skeleton of docs/architecture.md#the-execution-engine: one transaction, lock the execution row, let
 * `work` apply a transition, write what changed, NOTIFY, commit, and only then send the messages the transition
 * scheduled.
 */
@Injectable()
export class ExecutionTransactor {
  constructor(
    private readonly executions: ExecutionRepository,
    private readonly queue: EngineQueue,
    private readonly clock: EngineClock,
  ) {}

  /** Returns what `work` returned, or undefined when the execution does not exist. */
  async run<T>(
    executionId: string,
    work: (unit: ExecutionUnit, manager: EntityManager) => Promise<T>,
    options: { pipelineSlotLock?: string } = {},
  ): Promise<T | undefined> {
    const outgoing: ExecutionUnit[] = [];
    const result = await this.executions.locked(
      executionId,
      async (execution, stages, manager) => {
        const unit = new ExecutionUnit(execution, stages, this.clock.now());
        const value = await work(unit, manager);
        await this.flush(unit, manager);
        outgoing.push(unit);
        return { value };
      },
      options,
    );
    for (const unit of outgoing) await this.queue.send(unit.messages);
    return result?.value;
  }

  /** Writes a unit's dirty rows (and those of units created inside it, such as child executions). */
  async flush(unit: ExecutionUnit, manager: EntityManager): Promise<void> {
    const dirty = unit.dirtyRows();
    if (dirty.execution || dirty.stages.length > 0) {
      await this.executions.saveChanges(manager, unit.execution, dirty.execution, dirty.stages);
    }
  }

  /** Inserts a new execution inside an open transaction; its StartExecution goes out with `parent`'s messages. */
  async insert(
    manager: EntityManager,
    execution: ExecutionEntity,
    stages: StageExecutionEntity[],
    parent: { messages: { kind: 'StartExecution'; executionId: string; seq: number; delayMs: number }[] },
  ): Promise<void> {
    await this.executions.insert(manager, execution, stages);
    await this.executions.notify(manager, execution);
    parent.messages.push({ kind: 'StartExecution', executionId: execution.id, seq: execution.dueSeq, delayMs: 0 });
  }
}
