import { Body, Controller, Get, NotFoundException, Param, Post, Put } from '@nestjs/common';
import { Locked } from '../../../lib/index.js';
import type { Order } from './order.js';
import { OrdersRepository } from './orders.repository.js';
import { OrdersService } from './orders.service.js';
import { amountOf, type PaymentDto } from './payment.dto.js';

@Controller('orders')
export class OrdersController {
  constructor(
    private readonly orders: OrdersRepository,
    private readonly payments: OrdersService,
  ) {}

  /** Opens (or resets) an order. */
  @Put(':id')
  open(@Param('id') id: string): Promise<Order> {
    return this.orders.open(id);
  }

  /** A handler's own HttpException (404 here) passes through untouched. */
  @Get(':id')
  async get(@Param('id') id: string): Promise<Order> {
    return this.existing(id);
  }

  /**
   * One lock per order: payments of one order queue up (up to the module's `wait`), payments
   * of different orders run side by side. Busy past `wait` -> 409, lock nodes down -> 503.
   */
  @Post(':id/pay')
  @Locked('order:<id>')
  async pay(@Param('id') id: string, @Body() body?: PaymentDto): Promise<Order> {
    const amount = amountOf(body);
    return this.payments.pay(await this.existing(id), amount);
  }

  /** The same payment, but fails at once with 409 + Retry-After when the order is busy. */
  @Post(':id/pay-now')
  @Locked('order:<id>', { wait: 0 })
  async payNow(@Param('id') id: string, @Body() body?: PaymentDto): Promise<Order> {
    const amount = amountOf(body);
    return this.payments.pay(await this.existing(id), amount);
  }

  private async existing(id: string): Promise<Order> {
    const order = await this.orders.find(id);
    if (order === undefined) throw new NotFoundException(`order ${id} does not exist`);
    return order;
  }
}
