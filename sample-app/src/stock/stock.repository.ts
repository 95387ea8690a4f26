import { Injectable } from '@nestjs/common';
import type { Stock } from './stock.js';
import { StockDatabase } from './stock-database.js';

interface StockRow {
  sku: string;
  quantity: number;
  fence: string | number | bigint;
}

/**
 * The stock table. Every write carries the writer's lock fence, and the database itself
 * refuses a write whose fence is smaller than the one already on the row. The lock alone
 * cannot guarantee one writer at a time: a holder that was paused (GC, swap, a slow network)
 * past its lease still believes it holds the lock and writes late, after the next holder. With
 * `fence <= $2` in the WHERE clause that late write matches no row and changes nothing. An
 * equal fence is the same holder writing again, which is allowed.
 */
@Injectable()
export class StockRepository {
  constructor(private readonly db: StockDatabase) {}

  async find(sku: string): Promise<Stock | undefined> {
    const db = await this.db.database();
    const { rows } = await db.query<StockRow>(`SELECT sku, quantity, fence FROM ${this.db.table} WHERE sku = $1`, [sku]);
    return rows[0] === undefined ? undefined : toStock(rows[0]);
  }

  /** Creates the row or sets its quantity; false (and nothing written) when a newer fence wrote it. */
  async restock(sku: string, quantity: number, fence: number): Promise<boolean> {
    const db = await this.db.database();
    const { rowCount } = await db.query(
      `INSERT INTO ${this.db.table} AS s (sku, quantity, fence) VALUES ($1, $2, $3)
       ON CONFLICT (sku) DO UPDATE SET quantity = EXCLUDED.quantity, fence = EXCLUDED.fence
       WHERE s.fence <= EXCLUDED.fence`,
      [sku, quantity, fence],
    );
    return rowCount === 1;
  }

  /**
   * Deletes a product whatever its fence: for a fresh start only. Fences come from the lock
   * nodes, so new, empty lock nodes count from 1 again, and a row written under the old ones
   * would refuse every write (the demo, which starts its own nodes, begins with this).
   */
  async remove(sku: string): Promise<void> {
    const db = await this.db.database();
    await db.query(`DELETE FROM ${this.db.table} WHERE sku = $1`, [sku]);
  }

  /** Sets the quantity if `fence` is at least the row's; false (and nothing written) otherwise. */
  async writeQuantity(sku: string, quantity: number, fence: number): Promise<boolean> {
    const db = await this.db.database();
    const { rowCount } = await db.query(
      `UPDATE ${this.db.table} SET quantity = $1, fence = $2 WHERE sku = $3 AND fence <= $2`,
      [quantity, fence, sku],
    );
    return rowCount === 1;
  }
}

function toStock(row: StockRow): Stock {
  // bigint comes back as a string (pg) or a number/bigint (PGlite); fences are safe integers.
  return { sku: row.sku, quantity: Number(row.quantity), fence: Number(row.fence) };
}
