import { ConfigModule, JIBE_CONFIG, type JibeConfig } from '@jibe/config';
import { EngineModule } from '@jibe/engine';
import { KubernetesModule, type KubernetesOptions, kubernetesPortBinding } from '@jibe/kubernetes';
import { PersistenceModule } from '@jibe/persistence';
import { type DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { AccountsController } from './accounts/accounts.controller';
import { ApplicationsController } from './applications/applications.controller';
import { ExecutionEvents } from './executions/execution-events.service';
import { ExecutionsController } from './executions/executions.controller';
import { HealthController } from './health/health.controller';
import { RedisHealth } from './health/redis-health';
import { httpLoggerOptions } from './http/http-logger-options';
import { LocalModeShutdown } from './local-mode/local-mode-shutdown';
import { MetricsController } from './metrics/metrics.controller';
import { OpenApiController } from './openapi/openapi.controller';
import { PipelinesController } from './pipelines/pipelines.controller';
import { PipelinesService } from './pipelines/pipelines.service';
import { StageTypesController } from './stage-types/stage-types.controller';

@Module({})
export class ApiModule {
  /** The api with the given configuration; main.ts passes the parsed environment, tests their own database. */
  static forRoot(config: JibeConfig, kubernetes: KubernetesOptions = {}): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRootAsync({
          inject: [JIBE_CONFIG],
          useFactory: (config: JibeConfig) => httpLoggerOptions(config),
        }),
        PersistenceModule,
        // In local mode (role "all") this process is also the worker; in production the api only starts and
        // controls executions and separate worker Deployments run them.
        KubernetesModule.forRoot(config, kubernetes),
        EngineModule.forRoot({ consume: config.role === 'all', ports: [kubernetesPortBinding(config)] }),
      ],
      controllers: [
        HealthController,
        MetricsController,
        OpenApiController,
        ApplicationsController,
        PipelinesController,
        ExecutionsController,
        AccountsController,
        StageTypesController,
      ],
      providers: [RedisHealth, PipelinesService, ExecutionEvents, LocalModeShutdown],
    };
  }
}
