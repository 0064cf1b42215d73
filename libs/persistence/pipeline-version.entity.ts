import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { PipelineEntity } from './pipeline.entity';

/** One saved version of a pipeline; never updated, deleted only with its pipeline. */
@Entity({ name: 'pipeline_versions' })
export class PipelineVersionEntity {
  @PrimaryColumn({ name: 'pipeline_id', type: 'text' })
  pipelineId!: string;

  @PrimaryColumn({ type: 'integer' })
  version!: number;

  @ManyToOne(() => PipelineEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'pipeline_id' })
  pipeline?: PipelineEntity;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'jsonb' })
  config!: Record<string, unknown>;

  /** Set when this version was made by reverting to an older one. */
  @Column({ name: 'reverted_from', type: 'integer', nullable: true })
  revertedFrom!: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'created_by', type: 'text' })
  createdBy!: string;
}
