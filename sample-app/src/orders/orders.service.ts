import { Injectable, NotFoundException } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { Locked } from '../../../lib/index.js';
import { ShopConfig } from '../config/shop-config.js';
import { isAbandoned, type Order } from './order.js';
import { OrdersRepository } from './orders.repository.js';

/** The lock key of an order, typed: the same resource the routes lock with 'order:<id>'. */
const orderKey = (_self: OrdersService, order: Order): string => `order:${order.id}`;

@Injectable()
export class OrdersService {
  constructor(
    private readonly orders: OrdersRepository,
    private readonly config: ShopConfig,
  ) {}

  /**
   * Records one payment: a read-modify-write, so two unlocked payments of the same order would
   * both read the old state and one of them would be lost. Locked by a key function so that
   * every caller (a route, a job, a script) is safe; called from a route that already holds
   * `order:<id>`, the lock re-enters instead of waiting on itself.
   */
  @Locked(orderKey)
  async pay(order: Order, amountCents: number): Promise<Order> {
    // Read again under the lock: the caller's copy may be stale.
    const current = await this.orders.find(order.id);
    if (current === undefined) throw new NotFoundException(`order ${order.id} does not exist`);
    await sleep(this.config.payGapMs);
    const paid: Order = { ...current, payments: current.payments + 1, paidCents: current.paidCents + amountCents };
    await this.orders.save(paid);
    return paid;
  }

  /**
   * Deletes the order if it is still unpaid and older than `staleAfterMs`. An order that is
   * being paid right now is busy, hence not abandoned: skip it rather than wait.
   * Resolves true when removed, false when kept, undefined when skipped as busy.
   */
  @Locked(orderKey, { wait: 0, onBusy: 'skip' })
  async removeIfAbandoned(order: Order, staleAfterMs: number, now = Date.now()): Promise<boolean | undefined> {
    const current = await this.orders.find(order.id);
    if (current === undefined || !isAbandoned(current, staleAfterMs, now)) return false;
    await this.orders.remove(order.id);
    return true;
  }
}
