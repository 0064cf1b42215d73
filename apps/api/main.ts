import 'reflect-metadata';
import { loadConfigOrExit } from '@jibe/config';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { ApiModule } from './api.module';
import { configureApp } from './http/configure-app';
import { startLocalClusters } from './local-mode/local-clusters';
import { LocalModeShutdown } from './local-mode/local-mode-shutdown';
import { seedSampleApplication } from './local-mode/sample-application';

async function bootstrap(): Promise<void> {
  // Parse the configuration before anything else so a bad value stops the process with every problem listed.
  const config = loadConfigOrExit();
  const local = await startLocalClusters(config);
  const app = await NestFactory.create(
    ApiModule.forRoot(config, local ? { simulatedClusters: local.simulatedClusters } : {}),
    { bufferLogs: true, bodyParser: false },
  );
  app.useLogger(app.get(Logger));
  configureApp(app, config);
  if (local) app.get(LocalModeShutdown).register(local.sim);
  await app.listen(config.http.port, config.http.host);
  const logger = app.get(Logger);
  logger.log(`Jibe api listening on ${await app.getUrl()}`);
  if (local) {
    const sample = await seedSampleApplication(app);
    logger.log(
      `Local mode: simulated clusters ${local.sim.clusters.map((c) => `${c.name} (${c.url})`).join(', ')}; ` +
        `kubeconfig at ${local.kubeconfigPath}. Sample pipeline "${sample.name}" (${sample.id}): ` +
        `curl -XPOST ${await app.getUrl()}/api/pipelines/${sample.id}/executions -H 'content-type: application/json' -d '{}'`,
    );
  }
}

void bootstrap();
