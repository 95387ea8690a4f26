import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * Where a shop under test keeps its stock: the PostgreSQL of DATABASE_URL when it is set (CI
 * sets it), else the embedded PGlite, which vanishes with the app. On PostgreSQL every shop gets
 * a schema of its own, dropped by drop(), so runs never see each other's rows.
 */
export interface TestDatabase {
  readonly url: string | undefined;
  readonly schema: string;
  readonly kind: DatabaseKind;
  /** Drops the schema (PostgreSQL only; call after the app has closed its pool). */
  drop(): Promise<void>;
}

/** The databases the e2e tests can run on here: PGlite always, PostgreSQL when DATABASE_URL is set. */
export type DatabaseKind = 'PGlite' | 'PostgreSQL';
export const DATABASE_KINDS: readonly DatabaseKind[] = process.env.DATABASE_URL?.trim() ? ['PGlite', 'PostgreSQL'] : ['PGlite'];

/** `kind` defaults to PostgreSQL when DATABASE_URL is set, else PGlite. */
export function testDatabase(kind?: DatabaseKind): TestDatabase {
  const envUrl = process.env.DATABASE_URL?.trim() || undefined;
  if (kind === 'PostgreSQL' && !envUrl) throw new Error('testDatabase: PostgreSQL needs DATABASE_URL');
  const url = kind === 'PGlite' ? undefined : envUrl;
  const schema = `shop_e2e_${process.pid}_${randomBytes(4).toString('hex')}`;
  return {
    url,
    schema,
    kind: url ? 'PostgreSQL' : 'PGlite',
    drop: async () => {
      if (!url) return;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Schemas of e2e runs still in the database (a test asserts its own is gone). */
export async function schemaExists(url: string, schema: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema]);
    return rowCount === 1;
  } finally {
    await client.end();
  }
}
