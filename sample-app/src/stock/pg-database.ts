import pg from 'pg';
import type { SqlDatabase } from './sql-database.js';

/** A PostgreSQL server through a pg connection pool. */
export class PgDatabase implements SqlDatabase {
  private constructor(
    private readonly pool: pg.Pool,
    readonly description: string,
  ) {}

  static open(url: string): PgDatabase {
    const pool = new pg.Pool({ connectionString: url, max: 5, connectionTimeoutMillis: 5_000 });
    // An idle client whose server went away emits 'error' on the pool: without a listener that
    // would crash the process; the next query fails (and is answered 500) instead.
    pool.on('error', () => undefined);
    const { host, pathname } = new URL(url); // host is hostname:port; no user or password
    return new PgDatabase(pool, `PostgreSQL (${host}${pathname})`);
  }

  async query<Row>(sql: string, params: readonly unknown[] = []): Promise<{ rows: Row[]; rowCount: number }> {
    const result = await this.pool.query(sql, [...params]);
    return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
