import { Body, Controller, Get, NotFoundException, Param, Post, Put } from '@nestjs/common';
import { Locked, RedlockService } from '../../../lib/index.js';
import { wholeNumberOf, type Stock } from './stock.js';
import { StockRepository } from './stock.repository.js';
import { StockService } from './stock.service.js';

/**
 * Writes to a product's stock hold the fenced lock `stock:<sku>`, and hand its fence to the
 * database, which refuses a write from an older holder (see StockRepository).
 */
@Controller('stock')
export class StockController {
  constructor(
    private readonly stock: StockService,
    private readonly rows: StockRepository,
    private readonly redlock: RedlockService,
  ) {}

  @Get(':sku')
  async get(@Param('sku') sku: string): Promise<Stock> {
    const stock = await this.rows.find(sku);
    if (stock === undefined) throw new NotFoundException(`no stock for ${sku}`);
    return stock;
  }

  /** Sets the quantity of a product (body `{ quantity }`), creating it if new. */
  @Put(':sku')
  @Locked('stock:<sku>', { fenced: true })
  restock(@Param('sku') sku: string, @Body() body?: unknown): Promise<Stock> {
    return this.stock.restock(sku, wholeNumberOf(body, 'quantity', 0), this.fence());
  }

  /** Takes `count` units (body `{ count }`, default 1): 201 with what is left, 409 when too few are. */
  @Post(':sku/reserve')
  @Locked('stock:<sku>', { fenced: true })
  reserve(@Param('sku') sku: string, @Body() body?: unknown): Promise<Stock> {
    return this.stock.reserve(sku, wholeNumberOf(body, 'count', 1, 1), this.fence());
  }

  /** The fence of the lock this call holds (a fenced @Locked always sets it). */
  private fence(): number {
    const fence = this.redlock.current()?.fence;
    if (fence === undefined) throw new Error('stock writes must run under a fenced lock');
    return fence;
  }
}
