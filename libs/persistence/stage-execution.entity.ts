import { type ExecutionError, type TaskState } from '@jibe/domain';
import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { epochMs } from './epoch-ms';
import { ExecutionEntity } from './execution.entity';

/** One stage of one execution, with its tasks; same due-message scheme as {@link ExecutionEntity}. */
@Entity({ name: 'execution_stages' })
@Index('execution_stages_execution_idx', ['executionId', 'position'])
@Index('execution_stages_due_idx', ['dueAt'], { where: 'due_message IS NOT NULL' })
export class StageExecutionEntity {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ name: 'execution_id', type: 'text' })
  executionId!: string;

  @ManyToOne(() => ExecutionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'execution_id' })
  execution?: ExecutionEntity;

  /** Order of the stage in the pipeline JSON. */
  @Column({ type: 'integer' })
  position!: number;

  @Column({ name: 'ref_id', type: 'text' })
  refId!: string;

  @Column({ type: 'text' })
  type!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ name: 'requisite_stage_ref_ids', type: 'jsonb' })
  requisiteStageRefIds!: string[];

  @Column({ type: 'jsonb' })
  config!: Record<string, unknown>;

  @Column({ type: 'text' })
  status!: string;

  @Column({ type: 'jsonb' })
  context!: Record<string, unknown>;

  @Column({ type: 'jsonb' })
  outputs!: Record<string, unknown>;

  @Column({ type: 'jsonb' })
  tasks!: TaskState[];

  @Column({ type: 'jsonb', nullable: true })
  error!: ExecutionError | null;

  @Column({ name: 'start_time', type: 'bigint', nullable: true, transformer: epochMs })
  startTime!: number | null;

  /** The execution's paused time when this stage started, so the stage's timeout can leave out pauses. */
  @Column({ name: 'paused_ms_at_start', type: 'bigint', default: 0, transformer: epochMs })
  pausedMsAtStart!: number;

  @Column({ name: 'end_time', type: 'bigint', nullable: true, transformer: epochMs })
  endTime!: number | null;

  @Column({ name: 'due_message', type: 'text', nullable: true })
  dueMessage!: string | null;

  @Column({ name: 'due_seq', type: 'integer', default: 0 })
  dueSeq!: number;

  @Column({ name: 'due_at', type: 'bigint', nullable: true, transformer: epochMs })
  dueAt!: number | null;
}
