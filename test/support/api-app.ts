import { type JibeConfig, loadConfig } from '@jibe/config';
import { type KubernetesOptions } from '@jibe/kubernetes';
import { type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ApiModule } from '../../apps/api/api.module';
import { configureApp } from '../../apps/api/http/configure-app';
import { deleteQueueKeys } from './queue-keys';
import { createTestDatabase, type TestDatabase, testQueuePrefix, TEST_REDIS_URL } from './test-database';

/** A running api on an ephemeral port, with its own database, exactly as main.ts configures it. */
export interface RunningApi {
  readonly url: string;
  readonly app: INestApplication;
  readonly config: JibeConfig;
  readonly database: TestDatabase;
  close(): Promise<void>;
}

/**
 * `kubernetes` passes options to KubernetesModule: tests point the (local-mode) simulated accounts at an
 * in-process kube-sim with `{ simulatedClusters: { url: (name) => sim.cluster(name).url } }`.
 */
export async function startApi(
  env: Record<string, string> = {},
  kubernetes: KubernetesOptions = {},
): Promise<RunningApi> {
  const database = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    PORT: '0',
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: testQueuePrefix(),
    ...env,
  });
  const app = await NestFactory.create(ApiModule.forRoot(config, kubernetes), { bodyParser: false, logger: false });
  configureApp(app, config);
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    url,
    app,
    config,
    database,
    close: async () => {
      await app.close();
      await database.drop();
      // Leave the shared Redis as found (a test pointing the api at an unreachable Redis has nothing to remove).
      if (config.redis.url === TEST_REDIS_URL) await deleteQueueKeys(config.redis.queuePrefix, TEST_REDIS_URL);
    },
  };
}
