import 'reflect-metadata';
import { afterAll, beforeAll } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { Redlock, RedlockModule } from '../../lib/index.js';
import { startRedisNodes, type RedisNodes } from '../support/redis-nodes.js';
import { describeLockBehaviour } from './lock-behaviour.js';
import type { LockWorld, WorldParts } from './lock-behaviour.js';

// The behaviour suite on RedlockModule over 3 real redis-server nodes: what the fake must match.
let nodes: RedisNodes;
beforeAll(async () => {
  nodes = await startRedisNodes(3);
});
afterAll(async () => {
  await nodes?.stop();
});

async function redisWorld({ controllers, providers, options }: WorldParts): Promise<LockWorld> {
  const ref = await Test.createTestingModule({
    imports: [RedlockModule.forRoot({ nodes: nodes.urls(), ...options })],
    controllers,
    providers,
  }).compile();
  const app = ref.createNestApplication({ logger: false });
  await app.init();
  // Another owner: a Redlock of its own on the same nodes, as another instance of the app would be.
  const other = new Redlock(nodes.urls(), { wait: 0 });
  const [, second, third] = nodes.nodes;
  return {
    app,
    async holdElsewhere(resources, { ttl, ...kind } = {}) {
      const lock = await other.acquire(resources, { ...kind, ttl: ttl ?? 60_000, autoExtend: false });
      return { fence: lock.fence, release: async () => void (await lock.release()) };
    },
    async nodesDown() {
      // Paused (SIGSTOP): connected but silent, so every command times out; 2 of 3 leave no quorum.
      second!.pause();
      third!.pause();
    },
    async nodesUp() {
      second!.resume();
      third!.resume();
    },
    async close() {
      await app.close();
      await other.quit();
    },
  };
}

describeLockBehaviour('RedlockModule over real redis-server nodes', redisWorld);
