import { ConfigModule, loadConfig } from '@jibe/config';
import { type StageRegistry } from '@jibe/domain';
import { EngineModule, type EngineSettings } from '@jibe/engine';
import { createDataSource, PersistenceModule } from '@jibe/persistence';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import { deleteQueueKeys } from './queue-keys';
import { Client } from 'pg';

// Benchmarks run outside vitest, so they cannot use test-database.ts (it reads vitest's provided context).
const POSTGRES_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

async function admin(sql: string): Promise<void> {
  const client = new Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * A database and queue prefix of a benchmark's own: the database is created empty and migrated (benchmarks run
 * outside vitest, so there is no template to clone), and `drop` removes both it and the prefix's Redis keys.
 */
export interface BenchEnvironment {
  readonly databaseUrl: string;
  readonly queuePrefix: string;
  readonly redisUrl: string;
  drop(): Promise<void>;
}

export async function createBenchEnvironment(): Promise<BenchEnvironment> {
  const id = randomBytes(5).toString('hex');
  const name = `jibe_bench_${id}`;
  const queuePrefix = `jibe-bench-${id}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  const dataSource = createDataSource(url.toString());
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  await dataSource.destroy();
  return {
    databaseUrl: url.toString(),
    queuePrefix,
    redisUrl: REDIS_URL,
    drop: async () => {
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await deleteQueueKeys(queuePrefix, REDIS_URL);
    },
  };
}

/** The engine in this process on a benchmark's environment; `consume: false` gives only the api's side. */
export async function startBenchEngine(
  env: BenchEnvironment,
  options: { consume: boolean; registry?: StageRegistry; settings?: Partial<EngineSettings> },
): Promise<INestApplicationContext> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: env.redisUrl,
    QUEUE_PREFIX: env.queuePrefix,
  });

  @Module({ imports: [ConfigModule.forRoot(config), PersistenceModule, EngineModule.forRoot(options)] })
  class BenchEngineModule {}

  const app = await NestFactory.createApplicationContext(BenchEngineModule, { logger: ['error'] });
  await app.init();
  return app;
}
