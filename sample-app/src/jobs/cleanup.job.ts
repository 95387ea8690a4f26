import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { Locked } from '../../../lib/index.js';
import { DataStore } from '../data/data-store.js';
import { isAbandoned } from '../orders/order.js';
import { OrdersRepository } from '../orders/orders.repository.js';
import { OrdersService } from '../orders/orders.service.js';

/** Name of the interval in the SchedulerRegistry (tests stop it and trigger runs by hand). */
export const CLEANUP_INTERVAL = 'orders-cleanup';
/** Data-store counter of completed runs: shows how many callers actually did the work. */
export const CLEANUP_RUNS_KEY = 'shop:jobs:cleanup:runs';
/** An order nobody paid within this long is abandoned. */
export const STALE_AFTER_MS = 60 * 60_000;

export interface CleanupReport {
  readonly scanned: number;
  readonly removed: number;
}

/**
 * Removes abandoned unpaid orders. Every instance of the app schedules it; the lock with
 * `wait: 0, onBusy: 'skip'` lets one of them run it while the others return undefined at once,
 * instead of queueing up to do the same sweep again.
 */
@Injectable()
export class CleanupJob {
  private readonly logger = new Logger(CleanupJob.name);

  constructor(
    private readonly orders: OrdersRepository,
    private readonly ordersService: OrdersService,
    private readonly store: DataStore,
  ) {}

  @Interval(CLEANUP_INTERVAL, 30_000)
  @Locked('job:cleanup', { wait: 0, onBusy: 'skip' })
  async run(): Promise<CleanupReport | undefined> {
    const now = Date.now();
    const ids = await this.orders.ids();
    let removed = 0;
    for (const id of ids) {
      const order = await this.orders.find(id);
      // A cheap unlocked look first; removeIfAbandoned checks again under the order's lock.
      if (order === undefined || !isAbandoned(order, STALE_AFTER_MS, now)) continue;
      if (await this.ordersService.removeIfAbandoned(order, STALE_AFTER_MS, now)) removed += 1;
    }
    await this.store.redis.incr(CLEANUP_RUNS_KEY);
    if (removed > 0) this.logger.log(`removed ${removed} abandoned order(s)`);
    return { scanned: ids.length, removed };
  }
}
