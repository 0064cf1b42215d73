import { JIBE_CONFIG, type JibeConfig } from '@jibe/config';
import { type StageRegistry } from '@jibe/domain';
import { ExecutionRepository, PipelineRepository } from '@jibe/persistence';
import { GitTemplateSourceAdapter, stageRegistry, TemplateSourcePort } from '@jibe/stages';
import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { childPipelineBinding } from './child-pipeline.adapter';
import { EngineClock } from './engine-clock';
import { EngineProcessor } from './engine.processor';
import { EngineQueue } from './engine.queue';
import {
  DEFAULT_ENGINE_SETTINGS,
  ENGINE_SETTINGS,
  type EngineSettings,
  PORT_BINDINGS,
  type PortBinding,
  STAGE_REGISTRY,
} from './engine.tokens';
import { ExecutionRunner } from './execution-runner';
import { ExecutionTransactor } from './execution-transactor';
import { ExecutionService } from './execution.service';
import { MESSAGE_HANDLERS } from './handlers/message-handler';
import { RunTaskHandler } from './handlers/run-task.handler';
import { StartExecutionHandler } from './handlers/start-execution.handler';
import { StartStageHandler } from './handlers/start-stage.handler';
import { WakeStageHandler } from './handlers/wake-stage.handler';
import {
  DEFAULT_RETENTION_POLICY,
  RETENTION_POLICY,
  type RetentionPolicy,
  RetentionService,
} from './retention.service';
import { MetricsService } from './metrics.service';
import { SweeperService } from './sweeper.service';

export interface EngineModuleOptions {
  /** Consume the queue (worker role): the processor, the sweeper and retention run in this process. */
  readonly consume: boolean;
  readonly registry?: StageRegistry;
  readonly settings?: Partial<EngineSettings>;
  readonly retention?: Partial<RetentionPolicy>;
  /** Port implementations besides the engine's own (later capabilities bind Kubernetes here). */
  readonly ports?: readonly PortBinding[];
}

const gitTemplateSource = new GitTemplateSourceAdapter();

/** The execution engine: the api uses it to start and control executions, the worker to run them. */
@Module({})
export class EngineModule {
  static forRoot(options: EngineModuleOptions): DynamicModule {
    const handlers = [StartExecutionHandler, StartStageHandler, RunTaskHandler, WakeStageHandler];
    const providers: Provider[] = [
      EngineClock,
      EngineQueue,
      ExecutionRunner,
      ExecutionTransactor,
      ExecutionService,
      MetricsService,
      { provide: STAGE_REGISTRY, useValue: options.registry ?? stageRegistry },
      {
        provide: ENGINE_SETTINGS,
        inject: [JIBE_CONFIG],
        useFactory: (config: JibeConfig): EngineSettings => ({
          ...DEFAULT_ENGINE_SETTINGS,
          concurrency: config.engine.concurrency,
          taskLeaseMs: config.engine.taskLeaseSeconds * 1000,
          sweepGraceMs: config.engine.sweepGraceSeconds * 1000,
          sweepIntervalMs: config.engine.sweepIntervalSeconds * 1000,
          maxTransientRetries: config.engine.maxTransientRetries,
          retryBackoffMs: config.engine.retryBackoffMs,
          ...options.settings,
        }),
      },
      {
        provide: RETENTION_POLICY,
        inject: [JIBE_CONFIG],
        useFactory: (config: JibeConfig): RetentionPolicy => {
          const retention = config.executions.retention;
          return {
            ...DEFAULT_RETENTION_POLICY,
            enabled: retention.enabled,
            maxAgeDays: retention.maxAgeDays,
            keepPerPipeline: retention.keepPerPipeline,
            batchSize: retention.batchSize,
            intervalMs: retention.intervalMinutes * 60_000,
            ...options.retention,
          };
        },
      },
      {
        provide: PORT_BINDINGS,
        inject: [PipelineRepository, ExecutionRepository],
        useFactory: (pipelines: PipelineRepository, executions: ExecutionRepository) => [
          childPipelineBinding(pipelines, executions),
          // bakeManifest from a Git repository; https, ssh and git remotes (never local paths) by default.
          { token: TemplateSourcePort, create: () => gitTemplateSource },
          ...(options.ports ?? []),
        ],
      },
      ...handlers,
      { provide: MESSAGE_HANDLERS, inject: handlers, useFactory: (...instances: unknown[]) => instances },
      ...(options.consume ? [EngineProcessor, SweeperService, RetentionService] : []),
    ];
    return {
      module: EngineModule,
      providers,
      exports: [
        ExecutionService,
        EngineQueue,
        EngineClock,
        MetricsService,
        ...(options.consume ? [SweeperService, RetentionService] : []),
      ],
    };
  }
}
