import { ConfigModule, JIBE_CONFIG, type JibeConfig, loggerOptions } from '@jibe/config';
import { EngineModule } from '@jibe/engine';
import { KubernetesModule, kubernetesPortBinding } from '@jibe/kubernetes';
import { PersistenceModule } from '@jibe/persistence';
import { type DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';

/** The worker role: consumes the engine's queue, sweeps for lost messages and applies retention. */
@Module({})
export class WorkerModule {
  static forRoot(config: JibeConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRootAsync({
          inject: [JIBE_CONFIG],
          useFactory: (jibeConfig: JibeConfig) => ({ pinoHttp: loggerOptions(jibeConfig) }),
        }),
        PersistenceModule,
        KubernetesModule.forRoot(config),
        EngineModule.forRoot({ consume: true, ports: [kubernetesPortBinding(config)] }),
      ],
    };
  }
}
