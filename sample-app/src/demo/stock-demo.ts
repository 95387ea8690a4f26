import type { StockDatabase } from '../stock/stock-database.js';
import type { StockRepository } from '../stock/stock.repository.js';

export interface StockDemoResult {
  readonly correct: boolean;
  /** What to print: a line or two. */
  readonly lines: readonly string[];
}

const SKU = 'demo-sku';
const UNITS = 10;
const RESERVATIONS = 15;

/**
 * The fenced stock write: 15 concurrent reservations of one unit against 10 units, then a late
 * write with the first holder's (older) fence, which the database must refuse.
 */
export async function runStockDemo(url: string, rows: StockRepository, database: StockDatabase): Promise<StockDemoResult> {
  const db = await database.database();
  await rows.remove(SKU); // left by an earlier run on other lock nodes (DATABASE_URL)
  const restocked = await send(`${url}/stock/${SKU}`, 'PUT', { quantity: UNITS });
  const firstFence = (restocked.body as { fence: number }).fence;
  const responses = await Promise.all(
    Array.from({ length: RESERVATIONS }, () => send(`${url}/stock/${SKU}/reserve`, 'POST', { count: 1 })),
  );
  const fences = responses.filter((r) => r.status === 201).map((r) => (r.body as { fence: number }).fence);
  const refused = responses.filter((r) => r.status === 409).length;
  const row = await rows.find(SKU);
  const staleRefused = !(await rows.writeQuantity(SKU, UNITS, firstFence));
  const after = await rows.find(SKU);

  const distinct = new Set(fences).size === fences.length;
  const correct = restocked.status === 200 && fences.length === UNITS && refused === RESERVATIONS - UNITS && distinct &&
    row?.quantity === 0 && staleRefused && after?.quantity === 0;
  const range = fences.length > 0 ? `fences ${Math.min(...fences)}..${Math.max(...fences)}` : 'no fences';
  return {
    correct,
    lines: [
      `Stock in ${db.description}, each write under the fenced lock "stock:${SKU}": ${RESERVATIONS} reservations of ${UNITS} units -> ` +
        `${fences.length} served (${range}), ${refused} answered 409, ${row?.quantity ?? '?'} left ${correct ? 'OK' : 'WRONG'}`,
      `A late write with the first holder's older fence ${firstFence}: ${staleRefused ? 'refused by the database (WHERE fence <= $2 matched no row)' : 'WRITTEN (fencing failed)'}`,
    ],
  };
}

async function send(url: string, method: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}
