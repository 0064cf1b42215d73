import { ApplicationEntity } from './application.entity';
import { ExecutionEntity } from './execution.entity';
import { PipelineVersionEntity } from './pipeline-version.entity';
import { PipelineEntity } from './pipeline.entity';
import { StageExecutionEntity } from './stage-execution.entity';

/** Every entity; the data source and the migration check both use this list. */
export const entities = [
  ApplicationEntity,
  PipelineEntity,
  PipelineVersionEntity,
  ExecutionEntity,
  StageExecutionEntity,
];
