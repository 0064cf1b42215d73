import { ConfigModule, JIBE_CONFIG, type JibeConfig, loggerOptions } from '@jibe/config';
import { PersistenceModule } from '@jibe/persistence';
import { type DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { ApplicationsController } from './applications/applications.controller';
import { HealthController } from './health/health.controller';
import { RedisHealth } from './health/redis-health';
import { OpenApiController } from './openapi/openapi.controller';
import { PipelinesController } from './pipelines/pipelines.controller';
import { PipelinesService } from './pipelines/pipelines.service';

@Module({})
export class ApiModule {
  /** The api with the given configuration; main.ts passes the parsed environment, tests their own database. */
  static forRoot(config: JibeConfig): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRootAsync({
          inject: [JIBE_CONFIG],
          useFactory: (config: JibeConfig) => ({
            pinoHttp: {
              ...loggerOptions(config),
              // Health probes every few seconds would drown the log.
              autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
              // One short line per request: headers may carry credentials and are noise anyway.
              serializers: {
                req: (req: { id: unknown; method: string; url: string }) => ({
                  id: req.id,
                  method: req.method,
                  url: req.url,
                }),
                res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
              },
            },
          }),
        }),
        PersistenceModule,
      ],
      controllers: [HealthController, OpenApiController, ApplicationsController, PipelinesController],
      providers: [RedisHealth, PipelinesService],
    };
  }
}
