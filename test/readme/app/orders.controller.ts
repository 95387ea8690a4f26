// Stand-in for the reader's controller that the README's testing example tests (see your-code.ts):
// the quick start's handler, locked per order.
import { Body, Controller, Param, Post } from '@nestjs/common';
import { Locked } from '../../../lib/index.js';
import { OrdersService, PayDto } from './orders.service.js';

@Controller('orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post(':id/pay')
  @Locked('order:<id>')
  pay(@Param('id') id: string, @Body() body: PayDto) {
    return this.orders.pay(id, body.amount);
  }
}
