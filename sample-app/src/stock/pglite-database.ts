import { PGlite } from '@electric-sql/pglite';
import type { SqlDatabase } from './sql-database.js';

/** PostgreSQL compiled to WASM, in this process and in memory: gone when the app stops. */
export class PgliteDatabase implements SqlDatabase {
  readonly description = 'PGlite (embedded, in-memory)';

  private constructor(private readonly db: PGlite) {}

  static async open(): Promise<PgliteDatabase> {
    return new PgliteDatabase(await PGlite.create());
  }

  async query<Row>(sql: string, params: readonly unknown[] = []): Promise<{ rows: Row[]; rowCount: number }> {
    const result = await this.db.query<Row>(sql, [...params]);
    return { rows: result.rows, rowCount: result.affectedRows ?? 0 };
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
