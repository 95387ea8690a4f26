import type { INestApplication } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { SchedulerRegistry } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { AppModule } from '../../src/app.module.js';
import { ShopConfig } from '../../src/config/shop-config.js';
import { CLEANUP_INTERVAL } from '../../src/jobs/cleanup.job.js';
import { LocalRedis } from '../../src/local/local-redis.js';
import { testDatabase, type DatabaseKind, type TestDatabase } from './test-database.js';

/** Every e2e test runs once per HTTP platform: locking must not depend on it. */
export const ADAPTERS = ['express', 'fastify'] as const;
export type AdapterName = (typeof ADAPTERS)[number];

/** The Redis nodes a shop runs on: its lock nodes and its data node. */
export interface ShopRedis {
  readonly lockUrls: readonly string[];
  readonly dataUrl: string;
  stop(): Promise<void>;
}

export interface ShopUnderTest<Nodes extends ShopRedis = LocalRedis> {
  readonly app: INestApplication;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** 3 lock nodes and 1 data node of its own, so tests may kill them. */
  readonly redis: Nodes;
  /** The stock table's database: PostgreSQL (DATABASE_URL) in a schema of its own, or PGlite. */
  readonly database: TestDatabase;
  /** Closes the app, then stops its Redis nodes and drops its database schema. */
  close(): Promise<void>;
}

export interface ShopOptions {
  /** The pause inside each payment's read-modify-write (default 20 ms). */
  readonly payGapMs?: number;
  /** The stock table's database; default: PostgreSQL when DATABASE_URL is set, else PGlite. */
  readonly database?: DatabaseKind;
}

/** The whole AppModule on fresh redis-server processes, listening on a free loopback port. */
export async function startShop(adapter: AdapterName, options: ShopOptions = {}): Promise<ShopUnderTest> {
  return startShopOn(await LocalRedis.start(3), adapter, options);
}

/**
 * The whole AppModule on the given nodes, listening on a free loopback port; the shop owns them
 * from here: close() stops them, and so does a failed start.
 */
export async function startShopOn<Nodes extends ShopRedis>(redis: Nodes, adapter: AdapterName, options: ShopOptions = {}): Promise<ShopUnderTest<Nodes>> {
  const database = testDatabase(options.database);
  let app: INestApplication | undefined;
  try {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .overrideProvider(ShopConfig)
      .useValue(new ShopConfig({
        lockNodeUrls: redis.lockUrls,
        dataRedisUrl: redis.dataUrl,
        payGapMs: options.payGapMs ?? 20,
        databaseUrl: database.url,
        databaseSchema: database.schema,
      }))
      .compile();
    app = moduleRef.createNestApplication(adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter(), {
      logger: ['error'],
    });
    await app.init();
    // Tests run the job by hand; a scheduled run in the background would race with them.
    app.get(SchedulerRegistry).deleteInterval(CLEANUP_INTERVAL);
    await app.listen(0, '127.0.0.1');
    const url = await app.getUrl();
    const running = app;
    return {
      app: running,
      url,
      redis,
      database,
      close: async () => {
        await running.close();
        await redis.stop();
        await database.drop();
      },
    };
  } catch (error) {
    await app?.close().catch(() => undefined);
    await redis.stop();
    await database.drop().catch(() => undefined);
    throw error;
  }
}
