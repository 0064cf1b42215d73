import { JIBE_CONFIG, type JibeConfig } from '@jibe/config';
import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApplicationRepository } from './application.repository';
import { dataSourceOptions } from './data-source';
import { ExecutionRepository } from './execution.repository';
import { PipelineRepository } from './pipeline.repository';

/** Postgres through TypeORM, and the repositories that are the only code touching it. */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [JIBE_CONFIG],
      useFactory: (config: JibeConfig) => ({
        ...dataSourceOptions(config.database.url),
        retryAttempts: 3,
        retryDelay: 500,
      }),
    }),
  ],
  providers: [ApplicationRepository, PipelineRepository, ExecutionRepository],
  exports: [ApplicationRepository, PipelineRepository, ExecutionRepository],
})
export class PersistenceModule {}
