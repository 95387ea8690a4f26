import 'reflect-metadata';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Param, Post } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Locked, RedlockModule } from '../../lib/index.js';
import { startRedisNodes, type RedisNodes } from '../support/redis-nodes.js';
import { CapturingLogger } from './lock-keys.js';

// Rule 15 as a new NestJS user meets it: plain redis-server nodes started a moment ago, the
// module's defaults, and a locked route that must answer at once; and when nodes do sit out, a
// 503 that says when to come back, and one log line that says why.
@Controller('orders')
class OrdersController {
  @Post(':id/pay')
  @Locked('order:<id>')
  pay(@Param('id') id: string) {
    return { paid: id };
  }
}

let cluster: RedisNodes | undefined;
let app: INestApplication | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
  await cluster?.stop();
  cluster = undefined;
});

async function startApp(nodes: string[], logger: CapturingLogger, ttl?: number): Promise<string> {
  const ref = await Test.createTestingModule({
    imports: [RedlockModule.forRoot({ nodes, ...(ttl === undefined ? {} : { ttl }) })],
    controllers: [OrdersController],
  })
    .setLogger(logger)
    .compile();
  app = ref.createNestApplication(new ExpressAdapter());
  await app.listen(0, '127.0.0.1');
  return app.getUrl();
}

describe('a new NestJS app on fresh nodes', () => {
  it('plain `redis-server --port P` nodes just started: a locked route answers 2xx within the first second', async () => {
    const startedAt = performance.now();
    cluster = await startRedisNodes(3, { plain: true });
    const logger = new CapturingLogger();
    const url = await startApp(cluster.nodes.map((n) => `redis://127.0.0.1:${n.directPort}`), logger);
    const res = await request(url).post('/orders/1/pay').expect(201);
    const tookMs = performance.now() - startedAt;
    expect(res.body).toEqual({ paid: '1' });
    expect(tookMs).toBeLessThan(1_000); // from the first redis-server spawn to the answer
    expect(logger.lines.filter((l) => /does not count towards a lock quorum/.test(l))).toEqual([]);
  });

  it('nodes that sit out answer 503 with Retry-After (when they count again) and are logged once with the reason', async () => {
    cluster = await startRedisNodes(3, { persist: false });
    const logger = new CapturingLogger();
    const url = await startApp(cluster.urls(), logger, 3_000);
    await request(url).post('/orders/1/pay').expect(201);
    // Every node looks restarted (its script cache is gone): each sits out for the largest lease.
    await Promise.all(cluster.nodes.map((n) => n.client().script('FLUSH')));
    const first = await request(url).post('/orders/1/pay').expect(503);
    expect(first.body).toMatchObject({ statusCode: 503, code: 'QUORUM_UNAVAILABLE' });
    expect(Number(first.headers['retry-after'])).toBeGreaterThanOrEqual(2);
    expect(Number(first.headers['retry-after'])).toBeLessThanOrEqual(3);
    await request(url).post('/orders/2/pay').expect(503);
    const out = logger.lines.filter((l) => /does not count towards a lock quorum/.test(l));
    expect(out).toHaveLength(3); // one per node, not one per request
    expect(out[0]).toMatch(/^warn Redis node #\d \(127\.0\.0\.1:\d+\) does not count towards a lock quorum: it restarted or lost its data; it counts again in 3 s/);
  });
});
