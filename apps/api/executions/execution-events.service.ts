import { JIBE_CONFIG, type JibeConfig } from '@jibe/config';
import { EXECUTION_CHANNEL } from '@jibe/persistence';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { Client } from 'pg';

/**
 * One LISTEN connection per api process, fanned out to every SSE subscriber: Postgres NOTIFY (sent in the same
 * transaction as each execution change) tells which execution changed; subscribers then read it.
 */
@Injectable()
export class ExecutionEvents implements OnApplicationShutdown {
  private readonly logger = new Logger(ExecutionEvents.name);
  private readonly emitter = new EventEmitter();
  private client: Client | undefined;
  private connecting: Promise<void> | undefined;

  constructor(@Inject(JIBE_CONFIG) private readonly config: JibeConfig) {
    this.emitter.setMaxListeners(0);
  }

  /** Calls `listener` with the status each time the execution changes, until the returned function is called. */
  async subscribe(executionId: string, listener: (status: string) => void): Promise<() => void> {
    await this.connect();
    this.emitter.on(executionId, listener);
    return () => this.emitter.off(executionId, listener);
  }

  private connect(): Promise<void> {
    this.connecting ??= (async () => {
      const client = new Client({ connectionString: this.config.database.url, application_name: 'jibe-events' });
      client.on('notification', (message) => {
        if (!message.payload) return;
        const { id, status } = JSON.parse(message.payload) as { id: string; status: string };
        this.emitter.emit(id, status);
      });
      client.on('error', (error) => {
        // A dropped LISTEN connection: reconnect on the next subscription; live views fall back to their last state.
        this.logger.warn(`execution events connection lost: ${error.message}`);
        this.client = undefined;
        this.connecting = undefined;
      });
      await client.connect();
      await client.query(`LISTEN ${EXECUTION_CHANNEL}`);
      this.client = client;
    })().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }

  async onApplicationShutdown(): Promise<void> {
    this.emitter.removeAllListeners();
    await this.client?.end().catch(() => undefined);
  }
}
