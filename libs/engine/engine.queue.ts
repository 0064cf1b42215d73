import { JIBE_CONFIG, type JibeConfig } from '@jibe/config';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import { type EngineMessage, jobIdOf, type OutgoingMessage } from './engine-message';
import { settlesWithin } from './settles-within';

const SEND_TIMEOUT_MS = 2_000;

/** The one BullMQ queue of the engine. */
export const ENGINE_QUEUE_NAME = 'engine';

/**
 * Admission control: StartExecution messages go to BullMQ's prioritized set, which workers serve only when the
 * plain wait list (every other message: the next steps of executions already running) is empty. Under a burst of
 * new executions, running ones keep moving at once instead of queueing behind thousands of starts.
 */
const ADMISSION_PRIORITY = 1;

/**
 * Sends engine messages. Sending is best effort by design: the state in Postgres already says what is due, so a
 * send that fails (Redis down) is repaired by the sweeper rather than retried here.
 */
@Injectable()
export class EngineQueue implements OnApplicationShutdown {
  private readonly logger = new Logger(EngineQueue.name);
  readonly queue: Queue;

  constructor(@Inject(JIBE_CONFIG) config: JibeConfig) {
    this.queue = new Queue(ENGINE_QUEUE_NAME, {
      connection: { url: config.redis.url, maxRetriesPerRequest: null },
      prefix: config.redis.queuePrefix,
      defaultJobOptions: {
        // No finished job may stay behind: its deterministic id would make BullMQ drop the sweeper's resend of the
        // same step as a duplicate, and a row whose message failed for good (or stalled twice) would never move again.
        removeOnComplete: true,
        removeOnFail: true,
        attempts: 5,
        backoff: { type: 'exponential', delay: 200 },
      },
    });
    this.queue.on('error', (error) => this.logger.warn(`queue connection: ${error.message}`));
  }

  async send(messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    try {
      // While Redis is unreachable BullMQ queues commands instead of failing them; a send must not wait for that,
      // because the rows it would announce are already due in Postgres and the sweeper will announce them.
      const sent = this.queue.addBulk(
        messages.map(({ delayMs, ...message }) => ({
          name: message.kind,
          data: message satisfies EngineMessage,
          opts: {
            jobId: jobIdOf(message),
            ...(delayMs > 0 ? { delay: delayMs } : {}),
            ...(message.kind === 'StartExecution' ? { priority: ADMISSION_PRIORITY } : {}),
          },
        })),
      );
      if (!(await settlesWithin(sent, SEND_TIMEOUT_MS))) {
        this.logger.warn(
          `Redis did not take ${messages.length} message(s) within ${SEND_TIMEOUT_MS} ms; the sweeper will resend them`,
        );
        sent.catch(() => undefined);
        return;
      }
      await sent;
    } catch (error) {
      this.logger.warn(
        `could not enqueue ${messages.length} message(s), the sweeper will resend them: ${(error as Error).message}`,
      );
    }
  }

  async onApplicationShutdown(): Promise<void> {
    // BullMQ's close() never returns while Redis is unreachable; the queue holds nothing to flush, so cut it off.
    if (!(await settlesWithin(this.queue.close(), 2_000))) await this.queue.disconnect().catch(() => undefined);
  }
}
