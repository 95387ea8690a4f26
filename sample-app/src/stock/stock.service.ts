import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { ShopConfig } from '../config/shop-config.js';
import type { Stock } from './stock.js';
import { StockRepository } from './stock.repository.js';

/**
 * Stock changes, each a read-modify-write done by the holder of the fenced lock `stock:<sku>`
 * (the controller takes it) and written with that lock's fence.
 */
@Injectable()
export class StockService {
  constructor(
    private readonly stock: StockRepository,
    private readonly config: ShopConfig,
  ) {}

  async restock(sku: string, quantity: number, fence: number): Promise<Stock> {
    if (!(await this.stock.restock(sku, quantity, fence))) throw staleFence(sku, fence);
    return { sku, quantity, fence };
  }

  /** Takes `count` units: 409 when fewer are left, or when a newer lock holder wrote first. */
  async reserve(sku: string, count: number, fence: number): Promise<Stock> {
    const current = await this.stock.find(sku);
    if (current === undefined) throw new NotFoundException(`no stock for ${sku}`);
    if (current.quantity < count) throw new ConflictException(`only ${current.quantity} of ${sku} left, ${count} asked`);
    // The same pause as a payment's: without the lock, concurrent reservations would all read
    // the same quantity here and oversell.
    await sleep(this.config.payGapMs);
    const left = current.quantity - count;
    if (!(await this.stock.writeQuantity(sku, left, fence))) throw staleFence(sku, fence);
    return { sku, quantity: left, fence };
  }
}

/** Our lock ran out while we worked and a newer holder wrote: nothing of ours was written. */
function staleFence(sku: string, fence: number): ConflictException {
  return new ConflictException(`stock of ${sku} was written by a newer lock holder than fence ${fence}: nothing changed, try again`);
}
