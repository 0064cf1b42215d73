import { type ExecutionEntity, type StageExecutionEntity } from '@jibe/persistence';
import { type MessageKind, type OutgoingMessage } from './engine-message';

type Row = ExecutionEntity | StageExecutionEntity;

/**
 * One locked execution while a handler works on it: the rows, what changed, and the messages to send after commit.
 * Scheduling a message and recording that the row waits for it are one operation, so the state always says which
 * message is due; that is what lets the sweeper revive lost messages.
 */
export class ExecutionUnit {
  readonly messages: OutgoingMessage[] = [];
  private readonly dirty = new Set<Row>();
  private readonly byRef: Map<string, StageExecutionEntity>;

  constructor(
    readonly execution: ExecutionEntity,
    readonly stages: StageExecutionEntity[],
    readonly now: number,
  ) {
    this.byRef = new Map(stages.map((s) => [s.refId, s]));
  }

  stageByRef(refId: string): StageExecutionEntity | undefined {
    return this.byRef.get(refId);
  }

  stageById(id: string): StageExecutionEntity | undefined {
    return this.stages.find((s) => s.id === id);
  }

  touch(row: Row): void {
    this.dirty.add(row);
  }

  isDirty(row: Row): boolean {
    return this.dirty.has(row);
  }

  /** Records that `row` waits for `kind` in `delayMs`, and queues that message for after commit. */
  schedule(row: Row, kind: MessageKind, delayMs: number): void {
    this.expect(row, kind, delayMs);
    this.messages.push({
      kind,
      executionId: this.execution.id,
      ...(row === this.execution ? {} : { stageId: row.id }),
      seq: row.dueSeq,
      delayMs: Math.max(0, Math.round(delayMs)),
    });
  }

  /**
   * Records that `row` waits for `kind` by `now + withinMs` without sending it: a lease. If the worker holding it
   * dies, the sweeper sends the message once the lease has run out.
   */
  expect(row: Row, kind: MessageKind, withinMs: number): number {
    row.dueSeq += 1;
    row.dueMessage = kind;
    row.dueAt = this.now + Math.max(0, Math.round(withinMs));
    this.touch(row);
    return row.dueSeq;
  }

  clearDue(row: Row): void {
    if (row.dueMessage === null && row.dueAt === null) return;
    row.dueMessage = null;
    row.dueAt = null;
    this.touch(row);
  }

  /** Whether `row` still waits for exactly this message; anything else means the message is stale. */
  isDue(row: Row, kind: MessageKind, seq: number): boolean {
    return row.dueMessage === kind && row.dueSeq === seq;
  }

  dirtyRows(): { execution: boolean; stages: StageExecutionEntity[] } {
    return {
      execution: this.dirty.has(this.execution),
      stages: this.stages.filter((s) => this.dirty.has(s)),
    };
  }
}
