import { ExecutionRepository } from '@jibe/persistence';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { EngineClock } from './engine-clock';
import { settlesWithin } from './settles-within';
import { type OutgoingMessage } from './engine-message';
import { EngineQueue } from './engine.queue';
import { ENGINE_SETTINGS, type EngineSettings } from './engine.tokens';

const SWEEP_BATCH = 1000;

/**
 * Finds work the state says is due but that no queue message is carrying (a crash between commit and send, a
 * flushed Redis, a worker that died holding a task lease) and sends it again. Deterministic job ids make a resend
 * of a message that still exists harmless, so every worker may sweep.
 */
@Injectable()
export class SweeperService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SweeperService.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly executions: ExecutionRepository,
    private readonly queue: EngineQueue,
    private readonly clock: EngineClock,
    @Inject(ENGINE_SETTINGS) private readonly settings: EngineSettings,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running ??= this.sweep()
        .then(() => undefined)
        .catch((error: unknown) => this.logger.warn(`sweep failed: ${(error as Error).message}`))
        .finally(() => (this.running = undefined));
    }, this.settings.sweepIntervalMs);
    this.timer.unref();
  }

  /** One pass; returns how many messages it sent. */
  async sweep(): Promise<number> {
    const overdue = await this.executions.overdue(this.clock.now(), this.settings.sweepGraceMs, SWEEP_BATCH);
    const messages: OutgoingMessage[] = overdue.map((row) => ({
      kind: row.dueMessage as OutgoingMessage['kind'],
      executionId: row.executionId,
      ...(row.stageId ? { stageId: row.stageId } : {}),
      seq: row.dueSeq,
      delayMs: 0,
    }));
    for (const pipelineId of await this.executions.stalledWaitingPipelines(SWEEP_BATCH)) {
      const waiting = await this.executions.waitingOf(this.executions.manager(), pipelineId);
      for (const w of waiting) messages.push({ kind: 'StartExecution', executionId: w.id, seq: w.dueSeq, delayMs: 0 });
    }
    if (messages.length > 0) {
      this.logger.log(`resending ${messages.length} overdue engine message(s)`);
      await this.queue.send(messages);
    }
    return messages.length;
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    if (this.running) await settlesWithin(this.running, 10_000);
  }
}
