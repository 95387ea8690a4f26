/**
 * The little the stock table needs from a SQL database, so the same repository runs on a
 * PostgreSQL server (pg) and on the embedded PGlite: positional parameters ($1, $2...) and the
 * number of rows a statement changed.
 */
export interface SqlDatabase {
  /** 'postgres (host:port/db)' or 'PGlite (in-memory)', for logs and the demo; never a password. */
  readonly description: string;
  query<Row>(sql: string, params?: readonly unknown[]): Promise<{ rows: Row[]; rowCount: number }>;
  close(): Promise<void>;
}

/**
 * A pool on `url` when given, else an in-memory PGlite. Each driver is imported only when used:
 * PGlite's WASM build takes seconds to load, pg is of no use without a server.
 */
export async function openSqlDatabase(url: string | undefined): Promise<SqlDatabase> {
  if (url) return (await import('./pg-database.js')).PgDatabase.open(url);
  return (await import('./pglite-database.js')).PgliteDatabase.open();
}
