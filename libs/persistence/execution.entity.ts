import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { epochMs } from './epoch-ms';

/**
 * One run of a pipeline. Postgres is the source of truth: `due_message`/`due_seq`/`due_at` say which queue message
 * the row is waiting for, so a lost message is found and sent again by the sweeper.
 */
@Entity({ name: 'executions' })
@Index('executions_pipeline_build_idx', ['pipelineId', 'buildTime'])
@Index('executions_application_build_idx', ['application', 'buildTime'])
@Index('executions_status_idx', ['status'])
@Index('executions_due_idx', ['dueAt'], { where: 'due_message IS NOT NULL' })
export class ExecutionEntity {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ type: 'text' })
  application!: string;

  /** Null for a pipeline deleted since: its executions stay readable. */
  @Column({ name: 'pipeline_id', type: 'text', nullable: true })
  pipelineId!: string | null;

  @Column({ name: 'pipeline_version', type: 'integer', nullable: true })
  pipelineVersion!: number | null;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  status!: string;

  @Column({ type: 'jsonb' })
  trigger!: Record<string, unknown>;

  /** The pipeline JSON as it was when the execution started (concurrency settings, notifications, …). */
  @Column({ name: 'pipeline_config', type: 'jsonb' })
  pipelineConfig!: Record<string, unknown>;

  /** Waiting for a concurrency slot (limitConcurrent / maxConcurrentExecutions). */
  @Column({ type: 'boolean', default: false })
  waiting!: boolean;

  @Column({ type: 'boolean', default: false })
  canceled!: boolean;

  @Column({ name: 'canceled_by', type: 'text', nullable: true })
  canceledBy!: string | null;

  @Column({ name: 'cancellation_reason', type: 'text', nullable: true })
  cancellationReason!: string | null;

  @Column({ name: 'paused_at', type: 'bigint', nullable: true, transformer: epochMs })
  pausedAt!: number | null;

  /** Total time spent paused, which timeouts do not count. */
  @Column({ name: 'paused_ms', type: 'bigint', default: 0, transformer: epochMs })
  pausedMs!: number;

  @Column({ name: 'parent_execution_id', type: 'text', nullable: true })
  parentExecutionId!: string | null;

  @Column({ name: 'parent_stage_id', type: 'text', nullable: true })
  parentStageId!: string | null;

  @Column({ name: 'build_time', type: 'bigint', transformer: epochMs })
  buildTime!: number;

  @Column({ name: 'start_time', type: 'bigint', nullable: true, transformer: epochMs })
  startTime!: number | null;

  @Column({ name: 'end_time', type: 'bigint', nullable: true, transformer: epochMs })
  endTime!: number | null;

  @Column({ name: 'due_message', type: 'text', nullable: true })
  dueMessage!: string | null;

  @Column({ name: 'due_seq', type: 'integer', default: 0 })
  dueSeq!: number;

  @Column({ name: 'due_at', type: 'bigint', nullable: true, transformer: epochMs })
  dueAt!: number | null;
}
