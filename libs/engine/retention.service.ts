import { ExecutionRepository } from '@jibe/persistence';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { EngineClock } from './engine-clock';
import { settlesWithin } from './settles-within';

/** How long finished executions are kept; from the config file's `executions.retention`. */
export interface RetentionPolicy {
  readonly enabled: boolean;
  readonly maxAgeDays: number;
  /** The newest executions of each pipeline kept whatever their age. */
  readonly keepPerPipeline: number;
  readonly batchSize: number;
  readonly intervalMs: number;
}

export const RETENTION_POLICY = Symbol('RETENTION_POLICY');

export const DEFAULT_RETENTION_POLICY: RetentionPolicy = {
  enabled: true,
  maxAgeDays: 30,
  keepPerPipeline: 20,
  batchSize: 500,
  intervalMs: 10 * 60_000,
};

/**
 * Deletes old finished executions in small batches with pauses between them, so retention never holds locks or
 * the connection pool long enough to slow the engine. Stages go with their execution (ON DELETE CASCADE).
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RetentionService.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopping = false;

  constructor(
    private readonly executions: ExecutionRepository,
    private readonly clock: EngineClock,
    @Inject(RETENTION_POLICY) private readonly policy: RetentionPolicy,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.policy.enabled) return;
    this.timer = setInterval(() => {
      this.running ??= this.purge()
        .catch((error: unknown) => {
          this.logger.warn(`retention pass failed: ${(error as Error).message}`);
          return 0;
        })
        .finally(() => (this.running = undefined));
    }, this.policy.intervalMs);
    this.timer.unref();
  }

  /** Deletes everything the policy allows; returns how many executions went. */
  async purge(): Promise<number> {
    const before = this.clock.now() - this.policy.maxAgeDays * 24 * 3600 * 1000;
    let total = 0;
    for (;;) {
      const deleted = await this.executions.deleteOld(before, this.policy.keepPerPipeline, this.policy.batchSize);
      total += deleted;
      if (deleted < this.policy.batchSize || this.stopping) break;
      await sleep(50);
    }
    if (total > 0) this.logger.log(`retention deleted ${total} execution(s) older than ${this.policy.maxAgeDays} days`);
    return total;
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    if (this.running) await settlesWithin(this.running, 10_000);
  }
}
