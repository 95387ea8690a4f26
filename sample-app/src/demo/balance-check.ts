import type { OrdersRepository } from '../orders/orders.repository.js';

export interface BalanceCheck {
  /** Successful payments according to the HTTP responses. */
  readonly expectedPayments: number;
  /** Payments recorded in the data store. */
  readonly storedPayments: number;
  /** One line per order whose stored state disagrees with its responses. */
  readonly mismatches: readonly string[];
}

/**
 * Compares the data store with the responses: every 2xx must be exactly one recorded payment of
 * exactly its amount. A lost update (two payments reading the same old state) shows up here.
 */
export async function checkBalances(
  orders: OrdersRepository,
  paidByOrder: ReadonlyMap<string, number>,
  amountCents: number,
): Promise<BalanceCheck> {
  let expectedPayments = 0;
  let storedPayments = 0;
  const mismatches: string[] = [];
  for (const [id, paid] of paidByOrder) {
    const order = await orders.find(id);
    const payments = order?.payments ?? 0;
    const cents = order?.paidCents ?? 0;
    expectedPayments += paid;
    storedPayments += payments;
    if (payments !== paid || cents !== paid * amountCents) {
      mismatches.push(`order ${id}: ${paid} payment(s) answered 2xx, data store has ${payments} totalling ${cents} cents`);
    }
  }
  return { expectedPayments, storedPayments, mismatches };
}
