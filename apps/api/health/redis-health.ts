import { JIBE_CONFIG, type JibeConfig } from '@jibe/config';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';

/** A Redis connection used only to answer /readyz; it fails fast rather than queueing commands while Redis is down. */
@Injectable()
export class RedisHealth implements OnApplicationShutdown {
  private readonly client: Redis;
  /** The connection's last error, which says more ("connect ECONNREFUSED …") than a failed command does. */
  private lastError: string | undefined;

  constructor(@Inject(JIBE_CONFIG) config: JibeConfig) {
    this.client = new Redis(config.redis.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 2000,
    });
    // Errors surface through ping(); without a listener ioredis would log every reconnect attempt as unhandled.
    this.client.on('error', (error: Error) => {
      this.lastError = error.message;
    });
    this.client.on('ready', () => {
      this.lastError = undefined;
    });
  }

  async ping(): Promise<void> {
    try {
      if (this.client.status === 'wait' || this.client.status === 'end') await this.client.connect();
      await this.client.ping();
    } catch (error) {
      throw new Error(this.lastError ?? (error as Error).message, { cause: error });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.client.disconnect();
    return Promise.resolve();
  }
}
