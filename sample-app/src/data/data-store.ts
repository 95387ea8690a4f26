import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { ShopConfig } from '../config/shop-config.js';

/** The shop's own Redis (orders, job bookkeeping): a separate server from the lock nodes. */
@Injectable()
export class DataStore implements OnApplicationShutdown {
  readonly redis: Redis;
  private readonly logger = new Logger(DataStore.name);
  private down = false;

  constructor(config: ShopConfig) {
    this.redis = new Redis(config.dataRedisUrl, {
      // Fail a request quickly instead of queueing it while the store is unreachable: retries
      // alone do not bound it when something still accepts the connection (a proxy, a LB).
      maxRetriesPerRequest: 1,
      commandTimeout: 2_000,
      // ioredis waits this long on disconnect() for a socket that is already gone.
      disconnectTimeout: 200,
    });
    // Without a listener, a connection error would be an unhandled 'error' event; log once per outage.
    this.redis.on('error', (error: Error) => {
      if (!this.down) this.logger.warn(`data store unreachable: ${error.message}`);
      this.down = true;
    });
    this.redis.on('ready', () => {
      this.down = false;
    });
  }

  async onApplicationShutdown(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      // Already gone: nothing to say goodbye to.
    }
    this.redis.disconnect();
  }
}
