/** What came back from one batch of concurrent payments. */
export interface BatchResult {
  readonly label: string;
  readonly requests: number;
  /** 2xx: the payment was made. */
  readonly served: number;
  /** 409: the order stayed busy longer than the lock's `wait`. */
  readonly conflicts: number;
  /** 503: too few lock nodes answered. */
  readonly unavailable: number;
  /** Anything else, including network errors. */
  readonly other: number;
  readonly elapsedMs: number;
  /** Successful payments per order id, to check the data store against. */
  readonly paidByOrder: ReadonlyMap<string, number>;
}

export interface BatchOptions {
  readonly amountCents: number;
  /** Called after each response with how many have arrived so far. */
  readonly onResponse?: (done: number) => void | Promise<void>;
}

/** Fires one POST /orders/:id/pay per entry of `orderIds`, all at once, and tallies the statuses. */
export async function payConcurrently(
  baseUrl: string,
  label: string,
  orderIds: readonly string[],
  options: BatchOptions,
): Promise<BatchResult> {
  const statuses: number[] = [];
  const paidByOrder = new Map<string, number>(orderIds.map((id) => [id, 0]));
  const started = performance.now();
  await Promise.all(
    orderIds.map(async (id) => {
      const status = await pay(baseUrl, id, options.amountCents);
      statuses.push(status);
      if (status >= 200 && status < 300) paidByOrder.set(id, (paidByOrder.get(id) ?? 0) + 1);
      await options.onResponse?.(statuses.length);
    }),
  );
  const elapsedMs = performance.now() - started;
  const count = (match: (status: number) => boolean): number => statuses.filter(match).length;
  const served = count((s) => s >= 200 && s < 300);
  const conflicts = count((s) => s === 409);
  const unavailable = count((s) => s === 503);
  return {
    label,
    requests: orderIds.length,
    served,
    conflicts,
    unavailable,
    other: orderIds.length - served - conflicts - unavailable,
    elapsedMs,
    paidByOrder,
  };
}

/** The HTTP status, or 0 when the request itself failed. */
async function pay(baseUrl: string, orderId: string, amountCents: number): Promise<number> {
  try {
    const response = await fetch(`${baseUrl}/orders/${encodeURIComponent(orderId)}/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ amountCents }),
      signal: AbortSignal.timeout(30_000),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}
