import 'reflect-metadata';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { RedlockConfigError, RedlockModule } from '../../lib/index.js';
import { RedlockHealthIndicator } from '../../lib/terminus/index.js';
import type { NodeHealth, RedlockHealthDetails } from '../../lib/terminus/index.js';
import { startRedisNodes, type RedisNodes } from '../support/redis-nodes.js';

// Terminus 12 has a 'degraded' status; the NestJS 11 leg runs Terminus 11, which has not.
const TERMINUS_DEGRADES = typeof (new HealthIndicatorService().check('probe') as { degraded?: unknown }).degraded === 'function';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly redlock: RedlockHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.redlock.isHealthy('locks', { timeout: 300 })]);
  }
}

@Module({ imports: [TerminusModule], controllers: [HealthController], providers: [RedlockHealthIndicator] })
class HealthModule {}

type Body = { status: string; details: { locks: RedlockHealthDetails & { status: string } } };

let nodes: RedisNodes;
let app: INestApplication;

// Fresh nodes per test: killed nodes stay dead.
beforeEach(async () => {
  nodes = await startRedisNodes(3);
  const ref = await Test.createTestingModule({
    imports: [RedlockModule.forRoot({ nodes: nodes.urls() }), HealthModule],
  }).compile();
  app = ref.createNestApplication({ logger: false });
  await app.init();
});
afterEach(async () => {
  await app?.close();
  await nodes?.stop();
});

async function health(): Promise<{ code: number; body: Body }> {
  const response = await request(app.getHttpServer()).get('/health');
  return { code: response.status, body: response.body as Body };
}

const statuses = (list: readonly NodeHealth[]) => list.map((node) => node.status);

describe('RedlockHealthIndicator through a Terminus health check', () => {
  it('reports every node up with its PING latency', async () => {
    const { code, body } = await health();
    expect(code).toBe(200);
    expect(body.status).toBe('ok');
    const locks = body.details.locks;
    expect(locks.status).toBe('up');
    expect(locks.quorum).toBe(2);
    expect(locks.nodesUp).toBe(3);
    expect(locks.degraded).toBeUndefined();
    expect(statuses(locks.nodes)).toEqual(['up', 'up', 'up']);
    for (const [index, node] of locks.nodes.entries()) {
      expect(node.node).toBe(index);
      expect(node.address).toBe(`127.0.0.1:${nodes.nodes[index]!.port}`);
      expect(node.latencyMs).toEqual(expect.any(Number));
      expect(node.latencyMs!).toBeGreaterThanOrEqual(0);
      expect(node.latencyMs!).toBeLessThan(300);
    }
  });

  it('is degraded, still 200, with one of three nodes killed', async () => {
    await nodes.nodes[1]!.kill();
    const { code, body } = await health();
    expect(code).toBe(200);
    const locks = body.details.locks;
    expect(body.status).toBe(TERMINUS_DEGRADES ? 'degraded' : 'ok');
    expect(locks.status).toBe(TERMINUS_DEGRADES ? 'degraded' : 'up');
    expect(locks.degraded).toBe(true);
    expect(locks.nodesUp).toBe(2);
    expect(statuses(locks.nodes)).toEqual(['up', 'down', 'up']);
    expect(locks.nodes[1]!.latencyMs).toBeNull();
    expect(locks.nodes[1]!.error).toEqual(expect.any(String));
    expect(locks.nodes[0]!.latencyMs).toEqual(expect.any(Number));
  });

  it('is down, 503, with two of three nodes killed', async () => {
    await nodes.nodes[0]!.kill();
    await nodes.nodes[2]!.kill();
    const { code, body } = await health();
    expect(code).toBe(503);
    expect(body.status).toBe('error');
    const locks = body.details.locks;
    expect(locks.status).toBe('down');
    expect(locks.nodesUp).toBe(1);
    expect(statuses(locks.nodes)).toEqual(['down', 'up', 'down']);
    expect(locks.nodes[1]!.latencyMs).toEqual(expect.any(Number));
  });

  it('counts a node that does not answer within the timeout as down, without waiting for it', async () => {
    nodes.nodes[2]!.pause();
    const started = performance.now();
    const { code, body } = await health();
    const took = performance.now() - started;
    expect(code).toBe(200);
    const hung = body.details.locks.nodes[2]!;
    expect(hung).toMatchObject({ status: 'down', latencyMs: null, error: 'no answer within 300 ms' });
    // One PING timeout, not one per node in a row (the PINGs run in parallel).
    expect(took).toBeLessThan(2_000);
  });

  it('refuses a bad timeout with RedlockConfigError naming the field', async () => {
    const indicator = app.get(RedlockHealthIndicator);
    await expect(indicator.isHealthy('locks', { timeout: 0 })).rejects.toThrow(RedlockConfigError);
    await expect(indicator.isHealthy('locks', { timeout: 0 })).rejects.toThrow(/options\.timeout/);
    await expect(indicator.isHealthy('')).rejects.toThrow(/key/);
  });
});
