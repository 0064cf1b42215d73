import { JIBE_CONFIG, type JibeConfig } from '@jibe/config';
import { EXECUTION_CHANNEL } from '@jibe/persistence';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { Client } from 'pg';

/** Delay before the first reconnect after the LISTEN connection drops; doubled per failed attempt up to the max. */
const RECONNECT_FIRST_MS = 50;
const RECONNECT_MAX_MS = 5_000;

/**
 * Called when the execution may have changed: with its new status from a NOTIFY, or with `undefined` after the
 * LISTEN connection came back, since notifications sent while it was down are lost and the listener must re-read.
 */
export type ExecutionListener = (status: string | undefined) => void;

/**
 * One LISTEN connection per api process, fanned out to every SSE subscriber: Postgres NOTIFY (sent in the same
 * transaction as each execution change) tells which execution changed; subscribers then read it. A dropped
 * connection is re-opened with backoff while anyone is subscribed, and then every subscriber is told to re-read.
 */
@Injectable()
export class ExecutionEvents implements OnApplicationShutdown {
  private readonly logger = new Logger(ExecutionEvents.name);
  private readonly emitter = new EventEmitter();
  private client: Client | undefined;
  private connecting: Promise<void> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private failedReconnects = 0;
  private closed = false;

  constructor(@Inject(JIBE_CONFIG) private readonly config: JibeConfig) {
    this.emitter.setMaxListeners(0);
  }

  /** Calls `listener` each time the execution may have changed, until the returned function is called. */
  async subscribe(executionId: string, listener: ExecutionListener): Promise<() => void> {
    await this.connect();
    this.emitter.on(executionId, listener);
    return () => this.emitter.off(executionId, listener);
  }

  private connect(): Promise<void> {
    this.connecting ??= this.open().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    const client = new Client({ connectionString: this.config.database.url, application_name: 'jibe-events' });
    let listening = false;
    let lost = false;
    const onLost = (error?: Error) => {
      // pg reports a terminated backend as 'error' then 'end'; a failed connect is the caller's to report.
      if (!listening || lost) return;
      lost = true;
      if (this.client === client) this.client = undefined;
      this.connecting = undefined;
      client.end().catch(() => undefined);
      if (this.closed) return;
      this.logger.warn(`execution events connection lost${error ? `: ${error.message}` : ''}; reconnecting`);
      this.scheduleReconnect();
    };
    client.on('notification', (message) => {
      if (!message.payload) return;
      const { id, status } = JSON.parse(message.payload) as { id: string; status: string };
      this.emitter.emit(id, status);
    });
    client.on('error', onLost);
    client.on('end', () => onLost());
    try {
      await client.connect();
      await client.query(`LISTEN ${EXECUTION_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    listening = true;
    this.client = client;
  }

  /**
   * Re-opens the connection while anyone is subscribed (with none, the next subscription connects). Once it is
   * back, every subscribed execution gets an event, because what changed while it was down was never notified.
   */
  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer || this.emitter.eventNames().length === 0) return;
    const backoff = Math.min(RECONNECT_FIRST_MS * 2 ** this.failedReconnects, RECONNECT_MAX_MS);
    const delay = backoff / 2 + Math.random() * (backoff / 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().then(
        () => {
          this.failedReconnects = 0;
          for (const id of this.emitter.eventNames()) this.emitter.emit(id, undefined);
        },
        (error: unknown) => {
          this.failedReconnects++;
          this.logger.warn(`execution events reconnect failed: ${(error as Error).message}`);
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.reconnectTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.emitter.removeAllListeners();
    await this.connecting?.catch(() => undefined);
    await this.client?.end().catch(() => undefined);
  }
}
