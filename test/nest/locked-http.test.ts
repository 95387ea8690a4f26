import 'reflect-metadata';
// Some parameters exist only for the key templates that name them.
/* eslint-disable @typescript-eslint/no-unused-vars */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  Body,
  Controller,
  Get,
  HttpException,
  Injectable,
  Param,
  ParseIntPipe,
  Post,
  Query,
  Sse,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import type { CallHandler, CanActivate, ExecutionContext, INestApplication, MessageEvent, NestInterceptor } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { get as httpGet } from 'node:http';
import { interval, map, take } from 'rxjs';
import type { Observable } from 'rxjs';
import request from 'supertest';
import { Locked, Redlock, RedlockModule, RedlockService } from '../../lib/index.js';
import { startRedisNodes, type RedisNodes } from '../support/redis-nodes.js';
import { CapturingLogger, keysOn } from './lock-keys.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

@Injectable()
class OrderService {
  constructor(private readonly redlock: RedlockService) {}

  @Locked('order:<id>', { wait: 0 })
  async pay(id: number): Promise<readonly string[] | undefined> {
    return this.redlock.current()?.resources;
  }

  @Locked('inventory:<sku>', { wait: 0, ttl: 4_000 })
  async reserve(sku: string): Promise<string> {
    return `reserved ${sku}`;
  }
}

class AdminGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers['x-role'] === 'admin';
  }
}

let skippedRuns = 0;

/** Says in a header whether it ran inside the lock of the handler it wraps. */
@Injectable()
class LockProbe implements NestInterceptor {
  constructor(private readonly redlock: RedlockService) {}

  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const held = this.redlock.current()?.resources.join(',') ?? 'none';
    return next.handle().pipe(map((body) => ({ body, probe: held })));
  }
}

@Controller('orders')
class OrdersController {
  constructor(
    private readonly orders: OrderService,
    private readonly redlock: RedlockService,
  ) {}

  @Locked('order:<id>', { wait: 0 })
  @Post(':id/pay')
  @UseGuards(AdminGuard)
  async pay(@Param('id', ParseIntPipe) id: number) {
    const handler = this.redlock.current()?.resources;
    return { id, type: typeof id, handler, service: await this.orders.pay(id) };
  }

  @Get(':id')
  @Locked('order:<id>', { wait: 0, ttl: 2_500 })
  get(@Param('id') id: string) {
    return { id };
  }

  @Get(':id/teapot')
  @Locked('order:<id>', { wait: 0 })
  teapot(): never {
    throw new HttpException({ message: 'short and stout', custom: true }, 418);
  }

  @Get(':id/skip')
  @Locked('order:<id>', { wait: 0, onBusy: 'skip' })
  skip() {
    skippedRuns++;
    return 'ran';
  }

  @Sse(':id/events')
  @Locked('order:<id>', { ttl: 300 })
  events(@Query('count') count: string): Observable<MessageEvent> {
    return interval(100).pipe(take(Number(count)), map((n) => ({ data: { n } })));
  }

  @Sse(':id/skippable')
  @Locked('order:<id>', { wait: 0, onBusy: 'skip' })
  skippable(): Observable<MessageEvent> {
    skippedRuns++;
    return interval(20).pipe(take(2), map((n) => ({ data: { n } })));
  }

  @Sse(':id/forever')
  @Locked('order:<id>', { ttl: 300 })
  forever(): Observable<MessageEvent> {
    return interval(50).pipe(map((n) => ({ data: { n } })));
  }

  @Get('by-query/lookup')
  @Locked('order:<query.id>', { wait: 0 })
  byQuery(@Query('id') id: string) {
    return { resources: this.redlock.current()?.resources, id };
  }

  @Post('by-body/create')
  @Locked(['order:<body.order.id>', 'tenant:<headers.x-tenant>'], { wait: 0 })
  byBody(@Body() body: { order: { id: string } }) {
    return { resources: this.redlock.current()?.resources, id: body.order.id };
  }

  @Get(':id/probe-above')
  @UseInterceptors(LockProbe)
  @Locked('order:<id>', { wait: 0 })
  probeAbove() {
    return 'ok';
  }

  @Get(':id/probe-below')
  @Locked('order:<id>', { wait: 0 })
  @UseInterceptors(LockProbe)
  probeBelow() {
    return 'ok';
  }

  @Get('broken/:id')
  @Locked('order:<orderId>')
  broken() {
    return 'never';
  }

  /** Not locked itself: the locked service method throws LockBusyError, which must still be a 409. */
  @Get('inventory/:sku')
  reserve(@Param('sku') sku: string) {
    return this.orders.reserve(sku);
  }
}

type Kind = 'express' | 'fastify';

async function createApp(kind: Kind, nodes: string[], logger: CapturingLogger): Promise<INestApplication> {
  const ref = await Test.createTestingModule({
    imports: [RedlockModule.forRoot({ nodes })],
    controllers: [OrdersController],
    providers: [OrderService],
  })
    .setLogger(logger)
    .compile();
  const app =
    kind === 'express'
      ? ref.createNestApplication(new ExpressAdapter())
      : ref.createNestApplication<NestFastifyApplication>(new FastifyAdapter());
  await app.listen(0, '127.0.0.1');
  return app;
}

/** Opens an SSE stream; resolves with the events received until it ends, or lets the caller cut it. */
function openStream(url: string): { events: string[]; raw: string[]; firstEvent: Promise<void>; ended: Promise<number>; cut: () => void } {
  const events: string[] = [];
  const raw: string[] = [];
  let cut = () => {};
  let gotFirst!: () => void;
  const firstEvent = new Promise<void>((resolve) => (gotFirst = resolve));
  const ended = new Promise<number>((resolve, reject) => {
    const req = httpGet(url, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw.push(chunk);
        events.push(...chunk.split('\n').filter((l) => l.startsWith('data:')));
        if (events.length > 0) gotFirst();
      });
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(-1));
    });
    req.on('error', (e) => (req.destroyed ? resolve(-1) : reject(e)));
    cut = () => req.destroy();
  });
  return { events, raw, firstEvent, ended, cut };
}

describe.each<Kind>(['express', 'fastify'])('@Locked on HTTP handlers (%s)', (kind) => {
  let cluster: RedisNodes;
  let app: INestApplication;
  let url: string;
  const logger = new CapturingLogger();

  beforeAll(async () => {
    cluster = await startRedisNodes(3);
    app = await createApp(kind, cluster.urls(), logger);
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(async () => {
    await app?.close();
    await cluster?.stop();
  });

  it('@Locked above @Post keeps the route, the guard and the pipe, and the method keeps its name', async () => {
    await request(url).post('/orders/1/pay').expect(403);
    const res = await request(url).post('/orders/1/pay').set('x-role', 'admin').expect(201);
    expect(res.body).toEqual({ id: 1, type: 'number', handler: ['order:1'], service: ['order:1'] });
    expect(OrdersController.prototype.pay.name).toBe('pay');
  });

  it('@Locked below @Get keeps the route', async () => {
    const res = await request(url).get('/orders/2').expect(200);
    expect(res.body).toEqual({ id: '2' });
  });

  it('acquires exactly once per request, even when the handler calls a service locked on the same key', async () => {
    const acquire = jest.spyOn(app.get(Redlock), 'acquire');
    try {
      await request(url).post('/orders/3/pay').set('x-role', 'admin').expect(201);
      expect(acquire).toHaveBeenCalledTimes(1);
      expect(acquire.mock.calls[0]![0]).toEqual(['order:3']);
      // A guard that refuses stops the request before any acquisition.
      await request(url).post('/orders/3/pay').expect(403);
      expect(acquire).toHaveBeenCalledTimes(1);
    } finally {
      acquire.mockRestore();
    }
  });

  it("answers 409 Conflict with Retry-After (the holder's remaining lease, in seconds) when the lock is busy", async () => {
    const lock = await app.get(RedlockService).acquire('order:4');
    try {
      const res = await request(url).get('/orders/4').expect(409);
      // The holder leases 10 s (the default) and the handler asks for 2.5 s: the holder's lease counts.
      expect(res.headers['retry-after']).toBe('10');
      expect(res.body).toEqual({
        statusCode: 409,
        error: 'Conflict',
        code: 'LOCK_BUSY',
        message: 'The resource is locked by another request; retry later',
      });
    } finally {
      await lock.release();
    }
    await request(url).get('/orders/4').expect(200);
  });

  it('answers 409 (not 500) when a locked service method called by a plain handler is busy', async () => {
    const lock = await app.get(RedlockService).acquire('inventory:sku-1');
    try {
      const res = await request(url).get('/orders/inventory/sku-1').expect(409);
      expect(res.headers['retry-after']).toBe('10'); // the holder's lease, not the 4 s the method asks for
      expect(res.body.code).toBe('LOCK_BUSY');
    } finally {
      await lock.release();
    }
    await request(url).get('/orders/inventory/sku-1').expect(200);
  });

  it("passes the handler's own HttpException through untouched and releases the lock", async () => {
    const res = await request(url).get('/orders/5/teapot').expect(418);
    expect(res.body).toEqual({ message: 'short and stout', custom: true });
    expect((await keysOn(cluster, 'lock:order:5')).flat()).toEqual([]);
  });

  it('the next request to the same app gets the lock at once, every time', async () => {
    for (let i = 0; i < 30; i++) {
      await request(url).get('/orders/6').expect(200);
      await request(url).post('/orders/6/pay').set('x-role', 'admin').expect(201);
    }
  });

  it('releases before the response is sent, as seen from another process with faster links to the nodes', async () => {
    // The app reaches the nodes through slow proxies, the other contender directly: a release
    // still in flight when the response left would show up as a busy lock on the other side.
    const other = new Redlock(cluster.nodes.map((n) => n.client()), { wait: 0 });
    for (const node of cluster.nodes) node.proxy.setLatency(15);
    try {
      for (let i = 0; i < 8; i++) {
        await request(url).get('/orders/60').expect(200);
        const lock = await other.tryAcquire('order:60');
        expect(lock).not.toBeNull();
        await lock!.release();
      }
    } finally {
      for (const node of cluster.nodes) node.proxy.setLatency(0);
      await other.quit();
    }
  });

  it("with onBusy 'skip' answers without running the handler while the lock is held", async () => {
    const lock = await app.get(RedlockService).acquire('order:7');
    try {
      skippedRuns = 0;
      const res = await request(url).get('/orders/7/skip').expect(200);
      expect(res.text).toBe('');
      expect(skippedRuns).toBe(0);
    } finally {
      await lock.release();
    }
    expect((await request(url).get('/orders/7/skip').expect(200)).text).toBe('ran');
  });

  it("with onBusy 'skip' an SSE stream ends at once with no event while the lock is held", async () => {
    const lock = await app.get(RedlockService).acquire('order:17');
    try {
      skippedRuns = 0;
      const stream = openStream(`${url}/orders/17/skippable`);
      expect(await stream.ended).toBe(200);
      expect(stream.raw.join('').trim()).toBe(''); // not even an event without data (Nest opens with a blank line)
      expect(skippedRuns).toBe(0);
    } finally {
      await lock.release();
    }
    const stream = openStream(`${url}/orders/17/skippable`);
    expect(await stream.ended).toBe(200);
    expect(stream.events).toHaveLength(2);
  });

  it('a method interceptor written above @Locked runs inside the lock, one written below it outside', async () => {
    expect((await request(url).get('/orders/31/probe-above').expect(200)).body).toEqual({ body: 'ok', probe: 'order:31' });
    expect((await request(url).get('/orders/31/probe-below').expect(200)).body).toEqual({ body: 'ok', probe: 'none' });
  });

  it('resolves placeholders from the query, the body and the headers, whatever the handler names its parameters', async () => {
    const q = await request(url).get('/orders/by-query/lookup?id=q1').expect(200);
    expect(q.body.resources).toEqual(['order:q1']);
    const b = await request(url).post('/orders/by-body/create').set('x-tenant', 'acme').send({ order: { id: 'b1' } }).expect(201);
    expect(b.body.resources).toEqual(['order:b1', 'tenant:acme']);
  });

  it('answers 500 for a placeholder the request cannot resolve (a programming error), naming it in the log', async () => {
    await request(url).get('/orders/broken/8').expect(500);
    expect(logger.lines.join('\n')).toContain('invalid @Locked key of OrdersController#broken: placeholder <orderId> resolved to undefined');
  });

  it('an SSE stream holds the lock, auto-extended past its ttl, until it completes', async () => {
    const stream = openStream(`${url}/orders/9/events?count=7`);
    await stream.firstEvent;
    await sleep(400); // past the 300 ms ttl: only auto-extension keeps it
    await request(url).get('/orders/9').expect(409);
    expect(await stream.ended).toBe(200);
    expect(stream.events).toHaveLength(7);
    await request(url).get('/orders/9').expect(200);
  });

  it('a client that disconnects from an SSE stream releases its lock', async () => {
    const stream = openStream(`${url}/orders/10/forever`);
    await stream.firstEvent;
    await request(url).get('/orders/10').expect(409);
    stream.cut();
    await stream.ended;
    let keys: string[] = ['pending'];
    for (let i = 0; i < 50 && keys.length > 0; i++) {
      await sleep(20);
      keys = (await keysOn(cluster, 'lock:order:10')).flat();
    }
    expect(keys).toEqual([]);
    await request(url).get('/orders/10').expect(200);
  });

  it('answers 503 Service Unavailable when two of three nodes are down', async () => {
    await Promise.all([cluster.nodes[1]!.kill(), cluster.nodes[2]!.kill()]);
    const res = await request(url).get('/orders/11').expect(503);
    expect(res.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      code: 'QUORUM_UNAVAILABLE',
      message: 'The lock service is unavailable; retry later',
    });
    // The same through the filter, from a locked service method.
    expect((await request(url).get('/orders/inventory/sku-9').expect(503)).body.code).toBe('QUORUM_UNAVAILABLE');
  });
});
