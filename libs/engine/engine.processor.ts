import { JIBE_CONFIG, type JibeConfig } from '@jibe/config';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { type Job, Worker } from 'bullmq';
import { engineMessageSchema, type MessageKind, MESSAGE_KINDS } from './engine-message';
import { ENGINE_QUEUE_NAME } from './engine.queue';
import { ENGINE_SETTINGS, type EngineSettings } from './engine.tokens';
import { MESSAGE_HANDLERS, type MessageHandler } from './handlers/message-handler';
import { settlesWithin } from './settles-within';

/** How long shutdown waits for in-flight messages before closing by force. */
const SHUTDOWN_GRACE_MS = 10_000;

/**
 * Consumes the engine queue: validates each message and hands it to the one handler of its kind. Refuses to boot
 * with a message kind that has no handler, or two handlers for one kind.
 */
@Injectable()
export class EngineProcessor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(EngineProcessor.name);
  private readonly handlers = new Map<MessageKind, MessageHandler>();
  private worker: Worker | undefined;
  private connected = false;

  constructor(
    @Inject(JIBE_CONFIG) private readonly config: JibeConfig,
    @Inject(ENGINE_SETTINGS) private readonly settings: EngineSettings,
    @Inject(MESSAGE_HANDLERS) handlers: MessageHandler[],
  ) {
    for (const handler of handlers) {
      if (this.handlers.has(handler.kind)) throw new Error(`two handlers for engine message ${handler.kind}`);
      this.handlers.set(handler.kind, handler);
    }
    const missing = MESSAGE_KINDS.filter((kind) => !this.handlers.has(kind));
    if (missing.length > 0) throw new Error(`no handler for engine message(s): ${missing.join(', ')}`);
  }

  onApplicationBootstrap(): void {
    this.worker = new Worker(ENGINE_QUEUE_NAME, (job) => this.process(job), {
      connection: { url: this.config.redis.url, maxRetriesPerRequest: null },
      prefix: this.config.redis.queuePrefix,
      concurrency: this.settings.concurrency,
      lockDuration: this.settings.lockDurationMs,
      stalledInterval: this.settings.stalledIntervalMs,
    });
    this.worker.on('error', (error) => this.logger.warn(`worker connection: ${error.message}`));
    this.worker.waitUntilReady().then(
      () => (this.connected = true),
      () => undefined,
    );
    this.worker.on('failed', (job, error) =>
      this.logger.warn({ jobId: job?.id, err: error }, `engine message failed (attempt ${job?.attemptsMade ?? '?'})`),
    );
  }

  private async process(job: Job): Promise<void> {
    const message = engineMessageSchema.parse(job.data);
    await this.handlers.get(message.kind)!.handle(message);
  }

  /** Graceful shutdown: stop taking messages and let the in-flight ones finish (their state is committed or not). */
  async onApplicationShutdown(): Promise<void> {
    if (!this.worker) return;
    // In-flight messages get a grace period to finish; past it, or when Redis never answered (BullMQ's close then
    // never returns), the worker is cut off. Nothing is lost: unfinished steps are still due in Postgres.
    const grace = this.connected ? SHUTDOWN_GRACE_MS : 0;
    if (!(await settlesWithin(this.worker.close(), grace))) {
      if (this.connected) {
        this.logger.warn(`in-flight engine messages did not finish within ${grace} ms; the sweeper will resume them`);
      }
      void this.worker.close(true).catch(() => undefined);
      await settlesWithin(this.worker.disconnect(), 1_000);
    }
  }
}
