/** An order as the shop stores it: how many payments it received and how much they add up to. */
export interface Order {
  readonly id: string;
  readonly payments: number;
  readonly paidCents: number;
  /** Date.now() when the order was opened. */
  readonly createdAt: number;
}

/** Never paid, and opened longer than `staleAfterMs` ago. */
export function isAbandoned(order: Order, staleAfterMs: number, now: number): boolean {
  return order.payments === 0 && now - order.createdAt > staleAfterMs;
}
