// A worker process for the chaos test and the engine benchmarks: the engine (processor, sweeper) with the test-only
// `effect` and `noop` stages, on the database and queue prefix it is given. The chaos test SIGKILLs it at random.
//   node -r @swc-node/register test/support/chaos-worker.ts
// Environment: CHAOS_DATABASE_URL, CHAOS_REDIS_URL, CHAOS_QUEUE_PREFIX, CHAOS_WORKER_NAME, CHAOS_ENGINE_SETTINGS (JSON).
import { ConfigModule, loadConfig } from '@jibe/config';
import { EngineModule, type EngineSettings } from '@jibe/engine';
import { PersistenceModule } from '@jibe/persistence';
import { stageRegistry } from '@jibe/stages';
import { ConsoleLogger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Pool } from 'pg';
import { effectStage, noopStage } from './engine-test-stages';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

async function main(): Promise<void> {
  const databaseUrl = required('CHAOS_DATABASE_URL');
  const worker = required('CHAOS_WORKER_NAME');
  const settings = JSON.parse(process.env['CHAOS_ENGINE_SETTINGS'] ?? '{}') as Partial<EngineSettings>;
  const pool = new Pool({ connectionString: databaseUrl, max: 4 });
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    REDIS_URL: required('CHAOS_REDIS_URL'),
    QUEUE_PREFIX: required('CHAOS_QUEUE_PREFIX'),
  });

  @Module({
    imports: [
      ConfigModule.forRoot(config),
      PersistenceModule,
      EngineModule.forRoot({
        consume: true,
        registry: stageRegistry.with([effectStage(pool, worker), noopStage]),
        settings,
      }),
    ],
  })
  class ChaosWorkerModule {}

  // Warnings as JSON lines: the chaos test reads the engine's lost-lease reports from them.
  const app = await NestFactory.createApplicationContext(ChaosWorkerModule, {
    logger: new ConsoleLogger({ json: true, logLevels: ['error', 'warn'] }),
  });
  await app.init();
  process.once('SIGTERM', () => {
    void app
      .close()
      .then(() => pool.end())
      .finally(() => process.exit(0));
  });
  process.stdout.write(`ready ${worker} ${process.pid}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`chaos worker failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
