import {
  BadRequestException,
  Controller,
  DefaultValuePipe,
  type MessageEvent,
  Param,
  ParseIntPipe,
  Query,
  Sse,
} from '@nestjs/common';
import { concatMap, interval, type Observable, take } from 'rxjs';
import { Locked } from '../../../lib/index.js';
import { OrdersRepository } from './orders.repository.js';

/** A stream holds its lock for its whole life: keep it bounded. */
const MAX_AUDIT_MS = 60_000;

/**
 * A live audit of one order over Server-Sent Events. The order's lock is held for the whole
 * stream (and kept alive past its ttl), so no payment lands mid-audit; it is released when the
 * stream completes or the client goes away.
 */
@Controller('orders')
export class OrderAuditController {
  constructor(private readonly orders: OrdersRepository) {}

  @Sse(':id/audit')
  @Locked('order:<id>')
  audit(
    @Param('id') id: string,
    @Query('ticks', new DefaultValuePipe(5), ParseIntPipe) ticks: number,
    @Query('everyMs', new DefaultValuePipe(200), ParseIntPipe) everyMs: number,
  ): Observable<MessageEvent> {
    if (ticks < 1 || everyMs < 1 || ticks * everyMs > MAX_AUDIT_MS) {
      throw new BadRequestException(`ticks and everyMs must be positive and span at most ${MAX_AUDIT_MS} ms`);
    }
    return interval(everyMs).pipe(
      take(ticks),
      concatMap(async (tick) => ({
        data: { tick: tick + 1, of: ticks, order: (await this.orders.find(id)) ?? null },
      })),
    );
  }
}
