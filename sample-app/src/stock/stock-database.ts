import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ShopConfig } from '../config/shop-config.js';
import { openSqlDatabase, type SqlDatabase } from './sql-database.js';

/**
 * The shop's SQL database (DATABASE_URL, or an embedded PGlite) with the stock table in
 * DATABASE_SCHEMA. Opened on first use, not at start-up: PGlite takes seconds to load, and the
 * parts of the shop that never touch stock should not wait for it.
 */
@Injectable()
export class StockDatabase implements OnApplicationShutdown {
  private opening: Promise<SqlDatabase> | undefined;

  constructor(private readonly config: ShopConfig) {}

  /** The quoted table name, for the repository's SQL. */
  get table(): string {
    return `"${this.config.databaseSchema}".stock`;
  }

  /** The database, with the schema and table created if missing. */
  database(): Promise<SqlDatabase> {
    this.opening ??= this.open();
    return this.opening;
  }

  private async open(): Promise<SqlDatabase> {
    const db = await openSqlDatabase(this.config.databaseUrl);
    try {
      await db.query(`CREATE SCHEMA IF NOT EXISTS "${this.config.databaseSchema}"`);
      // fence: the largest lock fence that wrote the row (0 = never written under a fenced lock).
      await db.query(`CREATE TABLE IF NOT EXISTS ${this.table} (
        sku text PRIMARY KEY,
        quantity integer NOT NULL CHECK (quantity >= 0),
        fence bigint NOT NULL DEFAULT 0
      )`);
      return db;
    } catch (error) {
      await db.close().catch(() => undefined);
      this.opening = undefined; // the next request tries again
      throw error;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    const opening = this.opening;
    this.opening = undefined;
    const db = await opening?.catch(() => undefined);
    await db?.close();
  }
}
