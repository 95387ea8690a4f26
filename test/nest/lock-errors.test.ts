import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Catch, Controller, Get, HttpException, Injectable, Module, UseGuards } from '@nestjs/common';
import type { ArgumentsHost, CanActivate, ExceptionFilter, INestApplication } from '@nestjs/common';
import { APP_FILTER, HttpAdapterHost } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Locked, RedlockModule, RedlockService } from '../../lib/index.js';
import { startRedisNodes, type RedisNodes } from '../support/redis-nodes.js';
import { CapturingLogger } from './lock-keys.js';

/** A user's own global catch-all filter, as many apps have: non-HTTP errors become 500. */
@Catch()
class AllExceptionsFilter implements ExceptionFilter {
  constructor(private readonly adapterHost: HttpAdapterHost) {}
  catch(error: unknown, host: ArgumentsHost): void {
    const status = error instanceof HttpException ? error.getStatus() : 500;
    this.adapterHost.httpAdapter.reply(host.getArgByIndex(1), { handledBy: 'app', status }, status);
  }
}

@Injectable()
class Inventory {
  @Locked('sku:<sku>', { wait: 0, ttl: 7_000 })
  async reserve(sku: string): Promise<string> {
    return `reserved ${sku}`;
  }
}

@Injectable()
class ReservingGuard implements CanActivate {
  constructor(private readonly inventory: Inventory) {}
  async canActivate(): Promise<boolean> {
    await this.inventory.reserve('guarded');
    return true;
  }
}

@Controller()
class ShopController {
  constructor(private readonly inventory: Inventory) {}

  @Get('reserve')
  reserve() {
    return this.inventory.reserve('s1');
  }

  @Get('guarded')
  @UseGuards(ReservingGuard)
  guarded() {
    return 'in';
  }

  @Get('gone')
  gone(): never {
    throw new HttpException('gone', 410);
  }
}

/** Imported after RedlockModule: Nest tries its global filter before RedlockExceptionFilter. */
@Module({ providers: [{ provide: APP_FILTER, useClass: AllExceptionsFilter }] })
class CoreModule {}

type Kind = 'express' | 'fastify';

describe.each<Kind>(['express', 'fastify'])('lock errors in HTTP (%s)', (kind) => {
  let cluster: RedisNodes;
  let withOwnFilter: INestApplication;
  let plain: INestApplication;

  async function create(imports: unknown[]): Promise<INestApplication> {
    const ref = await Test.createTestingModule({ imports: imports as never[], controllers: [ShopController], providers: [Inventory, ReservingGuard] })
      .setLogger(new CapturingLogger())
      .compile();
    const app = ref.createNestApplication(kind === 'express' ? new ExpressAdapter() : new FastifyAdapter());
    await app.init();
    if (kind === 'fastify') await app.getHttpAdapter().getInstance().ready();
    return app;
  }

  beforeAll(async () => {
    cluster = await startRedisNodes(3);
    withOwnFilter = await create([RedlockModule.forRoot({ nodes: cluster.urls() }), CoreModule]);
    plain = await create([RedlockModule.forRoot({ nodes: cluster.urls() })]);
  });
  afterAll(async () => {
    await withOwnFilter?.close();
    await plain?.close();
    await cluster?.stop();
  });

  it("a busy locked service method is a 409 with Retry-After even when the app's own catch-all filter answers", async () => {
    const lock = await withOwnFilter.get(RedlockService).acquire('sku:s1', { ttl: 4_500 });
    try {
      const res = await request(withOwnFilter.getHttpServer()).get('/reserve').expect(409);
      expect(res.body).toEqual({ handledBy: 'app', status: 409 });
      expect(res.headers['retry-after']).toBe('5'); // the holder's 4.5 s lease rounded up, not the 7 s the method asks for
    } finally {
      await lock.release();
    }
    await request(withOwnFilter.getHttpServer()).get('/reserve').expect(200);
  });

  it("the app's own HttpExceptions keep their status", async () => {
    await request(withOwnFilter.getHttpServer()).get('/gone').expect(410);
    await request(plain.getHttpServer()).get('/gone').expect(410);
  });

  it('a lock error thrown by a guard (before any interceptor) is a 409 through RedlockExceptionFilter', async () => {
    const lock = await plain.get(RedlockService).acquire('sku:guarded', { ttl: 4_500 });
    try {
      const res = await request(plain.getHttpServer()).get('/guarded').expect(409);
      expect(res.body.code).toBe('LOCK_BUSY');
      expect(res.headers['retry-after']).toBe('5'); // the holder's 4.5 s lease rounded up, not the 7 s the method asks for
    } finally {
      await lock.release();
    }
    await request(plain.getHttpServer()).get('/guarded').expect(200);
  });
});
