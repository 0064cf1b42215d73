import { type DynamicModule, Global, Module } from '@nestjs/common';
import { type JibeConfig } from './config.schema';
import { loadConfig } from './load-config';

/** DI token of the frozen {@link JibeConfig}. */
export const JIBE_CONFIG = Symbol('JIBE_CONFIG');

/** Provides the configuration: the one given (tests) or the one parsed from the environment and config file. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: JibeConfig = loadConfig()): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: JIBE_CONFIG, useValue: config }], exports: [JIBE_CONFIG] };
  }
}
