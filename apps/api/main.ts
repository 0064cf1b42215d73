import 'reflect-metadata';
import { loadConfigOrExit } from '@jibe/config';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { ApiModule } from './api.module';
import { configureApp } from './http/configure-app';

async function bootstrap(): Promise<void> {
  // Parse the configuration before anything else so a bad value stops the process with every problem listed.
  const config = loadConfigOrExit();
  const app = await NestFactory.create(ApiModule.forRoot(config), { bufferLogs: true, bodyParser: false });
  app.useLogger(app.get(Logger));
  configureApp(app, config);
  await app.listen(config.http.port, config.http.host);
  app.get(Logger).log(`Jibe api listening on ${await app.getUrl()}`);
}

void bootstrap();
