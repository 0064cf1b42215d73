import { ConfigModule, type JibeConfig, loadConfig } from '@jibe/config';
import { type StageRegistry } from '@jibe/domain';
import { EngineModule, type EngineSettings, ExecutionService, type ExecutionView } from '@jibe/engine';
import { PersistenceModule } from '@jibe/persistence';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { deleteQueueKeys } from './queue-keys';
import { createTestDatabase, type TestDatabase, testQueuePrefix, TEST_REDIS_URL } from './test-database';

/** The engine in one process (service + processor + sweeper) on a database and queue prefix of its own. */
export interface EngineHarness {
  readonly app: INestApplicationContext;
  readonly executions: ExecutionService;
  readonly config: JibeConfig;
  readonly database: TestDatabase;
  /** Polls until the execution ends (or `until` holds), failing after `timeoutMs`. */
  waitFor(id: string, until?: (e: ExecutionView) => boolean, timeoutMs?: number): Promise<ExecutionView>;
  close(): Promise<void>;
}

export async function startEngine(
  options: {
    registry?: StageRegistry;
    settings?: Partial<EngineSettings>;
    database?: TestDatabase;
    queuePrefix?: string;
  } = {},
): Promise<EngineHarness> {
  const database = options.database ?? (await createTestDatabase());
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: options.queuePrefix ?? testQueuePrefix(),
  });

  @Module({
    imports: [
      ConfigModule.forRoot(config),
      PersistenceModule,
      EngineModule.forRoot({
        consume: true,
        ...(options.registry ? { registry: options.registry } : {}),
        settings: { sweepIntervalMs: 500, sweepGraceMs: 1000, ...options.settings },
      }),
    ],
  })
  class HarnessModule {}

  const app = await NestFactory.createApplicationContext(HarnessModule, { logger: ['error'] });
  await app.init();
  const executions = app.get(ExecutionService);
  return {
    app,
    executions,
    config,
    database,
    waitFor: async (id, until = (e) => FINAL.has(e.status), timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const execution = await executions.get(id);
        if (until(execution)) return execution;
        if (Date.now() > deadline) {
          throw new Error(
            `execution ${id} is still ${execution.status} after ${timeoutMs} ms: ${JSON.stringify(execution.stages.map((s) => [s.refId, s.status]))}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: async () => {
      await app.close();
      if (!options.database) await database.drop();
      // A prefix the caller passed may be shared with other instances; only this harness's own is removed.
      if (!options.queuePrefix) await deleteQueueKeys(config.redis.queuePrefix, TEST_REDIS_URL);
    },
  };
}

const FINAL = new Set(['SUCCEEDED', 'TERMINAL', 'CANCELED', 'STOPPED', 'FAILED_CONTINUE']);
