/** Settings of the sample shop. Read once from the environment; tests build their own. */
export class ShopConfig {
  /** Redis URLs of the independent lock nodes (Redlock needs a majority of them). */
  readonly lockNodeUrls: readonly string[];
  /** Redis URL of the data store: deliberately not one of the lock nodes. */
  readonly dataRedisUrl: string;
  /**
   * Pause between reading an order and writing it back. Exaggerates the window in which two
   * unlocked payments would overwrite each other, so the demo shows what the lock prevents.
   */
  readonly payGapMs: number;
  /**
   * PostgreSQL of the stock table (`postgres://user@host:port/db`). Undefined: an embedded,
   * in-memory PGlite, so the sample runs on a machine without a database server.
   */
  readonly databaseUrl: string | undefined;
  /** Schema of the stock table (created if missing); tests use one of their own per run. */
  readonly databaseSchema: string;

  constructor(settings: {
    lockNodeUrls: readonly string[];
    dataRedisUrl: string;
    payGapMs?: number;
    databaseUrl?: string;
    databaseSchema?: string;
  }) {
    if (settings.lockNodeUrls.length === 0) throw new Error('ShopConfig: at least one lock node URL is needed');
    this.lockNodeUrls = [...settings.lockNodeUrls];
    this.dataRedisUrl = settings.dataRedisUrl;
    this.payGapMs = settings.payGapMs ?? 25;
    this.databaseUrl = settings.databaseUrl || undefined;
    this.databaseSchema = settings.databaseSchema ?? 'shop';
    // Interpolated into SQL as an identifier: only plain lower-case names.
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(this.databaseSchema)) {
      throw new Error(`DATABASE_SCHEMA must be a plain lower-case SQL name, got ${JSON.stringify(this.databaseSchema)}`);
    }
  }

  /** REDIS_URLS (comma-separated lock nodes), DATA_REDIS_URL, and optionally PAY_GAP_MS, DATABASE_URL, DATABASE_SCHEMA. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): ShopConfig {
    const lockNodeUrls = (env.REDIS_URLS ?? '')
      .split(',')
      .map((url) => url.trim())
      .filter((url) => url.length > 0);
    if (lockNodeUrls.length === 0) {
      throw new Error('REDIS_URLS is not set: give the lock nodes as comma-separated redis:// URLs');
    }
    const dataRedisUrl = env.DATA_REDIS_URL?.trim();
    if (!dataRedisUrl) {
      throw new Error('DATA_REDIS_URL is not set: the shop keeps its orders in a Redis of its own, apart from the lock nodes');
    }
    const payGapMs = env.PAY_GAP_MS === undefined ? undefined : Number(env.PAY_GAP_MS);
    if (payGapMs !== undefined && !(Number.isInteger(payGapMs) && payGapMs >= 0)) {
      throw new Error(`PAY_GAP_MS must be a whole number of ms, got ${JSON.stringify(env.PAY_GAP_MS)}`);
    }
    return new ShopConfig({
      lockNodeUrls,
      dataRedisUrl,
      payGapMs,
      databaseUrl: env.DATABASE_URL?.trim(),
      databaseSchema: env.DATABASE_SCHEMA?.trim() || undefined,
    });
  }
}
