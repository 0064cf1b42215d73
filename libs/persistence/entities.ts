import { ApplicationEntity } from './application.entity';
import { PipelineVersionEntity } from './pipeline-version.entity';
import { PipelineEntity } from './pipeline.entity';

/** Every entity; the data source and the migration check both use this list. */
export const entities = [ApplicationEntity, PipelineEntity, PipelineVersionEntity];
