// Stand-ins for the reader's own code that README examples import (`./your-code.js`,
// `./orders.service.js`, ...). The checked-examples test links this folder's files beside the
// extracted blocks; being linked, they import the library by its path in lib/ (a block imports it
// as `nestjs-redlock`, mapped to the same files). Runnable examples call these for real, so they
// do a little honest work and nothing else.
export interface Order {
  readonly id: number;
  readonly amount: number;
}

export async function loadOrder(id: number): Promise<Order> {
  return { id, amount: 100 };
}

export async function pay(order: Order): Promise<{ orderId: number; paid: number }> {
  return { orderId: order.id, paid: order.amount };
}

export async function moveStock(signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw new Error('lock lost before moving stock');
}

export async function step1(): Promise<void> {}

export async function step2(): Promise<void> {}
