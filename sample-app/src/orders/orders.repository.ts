import { Injectable } from '@nestjs/common';
import { DataStore } from '../data/data-store.js';
import type { Order } from './order.js';

/** Key prefix of orders in the data store; the lock keys live on other servers altogether. */
export const ORDER_KEY_PREFIX = 'shop:order:';

/** Orders as Redis hashes. Plain reads and writes: keeping them consistent is the lock's job. */
@Injectable()
export class OrdersRepository {
  constructor(private readonly store: DataStore) {}

  async find(id: string): Promise<Order | undefined> {
    const fields = await this.store.redis.hgetall(ORDER_KEY_PREFIX + id);
    if (fields.createdAt === undefined) return undefined;
    return {
      id,
      payments: Number(fields.payments ?? 0),
      paidCents: Number(fields.paidCents ?? 0),
      createdAt: Number(fields.createdAt),
    };
  }

  /** Opens the order, or resets it to unpaid when it exists. */
  async open(id: string, now = Date.now()): Promise<Order> {
    const order: Order = { id, payments: 0, paidCents: 0, createdAt: now };
    await this.save(order);
    return order;
  }

  async save(order: Order): Promise<void> {
    await this.store.redis.hset(ORDER_KEY_PREFIX + order.id, {
      payments: order.payments,
      paidCents: order.paidCents,
      createdAt: order.createdAt,
    });
  }

  async remove(id: string): Promise<void> {
    await this.store.redis.del(ORDER_KEY_PREFIX + id);
  }

  /** Every order id, by SCAN (never KEYS, which blocks the server). */
  async ids(): Promise<string[]> {
    const ids: string[] = [];
    for await (const keys of this.store.redis.scanStream({ match: `${ORDER_KEY_PREFIX}*`, count: 200 })) {
      for (const key of keys as string[]) ids.push(key.slice(ORDER_KEY_PREFIX.length));
    }
    return ids;
  }
}
