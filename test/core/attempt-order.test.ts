import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redlock } from '../../lib/core/index.js';
import { startRedisNodes, type RedisNodes } from '../support/redis-nodes.js';

// ttl 10 000 ms: a per-node timeout of 500 ms.
let nodes: RedisNodes;
beforeAll(async () => {
  nodes = await startRedisNodes(3, { plain: true });
});
afterAll(async () => {
  for (const node of nodes.nodes) node.resume();
  await nodes?.stop();
});

describe('rules 1 and 7: the attempts of one acquire share a token, so their takes and clean-ups run in order on each node', () => {
  it("a clean-up that waited for a hung node's take never lands after the next attempt's take there", async () => {
    const rl = new Redlock(nodes.urls(), { wakeUps: false });
    // Another owner holds node 1 only: the lock can only be won on nodes 0 and 2.
    const other = new Redlock([nodes.urls()[1]!]);
    try {
      await (await rl.acquire('order:warm')).release();
      const blocker = await other.acquire('order:r');
      nodes.nodes[2]!.pause();
      // Attempt 1: node 0 yes, node 1 busy, node 2 silent until the timeout. Its clean-up on node 2
      // must wait for that take (rule 7), and attempt 2's take there must wait for that clean-up.
      const acquiring = rl.acquire('order:r', { wait: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 1_250)); // attempt 2 is under way
      nodes.nodes[2]!.resume();
      const lock = await acquiring;
      await new Promise((resolve) => setTimeout(resolve, 200)); // whatever was queued has run
      const direct = nodes.nodes[2]!.client();
      try {
        // Out of order, attempt 1's clean-up would have deleted the hold attempt 2 won on node 2.
        expect(await direct.get('lock:order:r')).toBe(lock.value);
      } finally {
        direct.disconnect();
      }
      await expect(lock.extend()).resolves.toBeUndefined(); // nodes 0 and 2 still hold it
      await lock.release();
      await blocker.release();
    } finally {
      nodes.nodes[2]!.resume();
      await Promise.all([rl.quit(), other.quit()]);
    }
  });
});
