import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redlock } from '../../lib/core/index.js';
import type { RedlockOptions } from '../../lib/core/index.js';
import { startRedisNodes, type RedisNodes } from '../support/redis-nodes.js';

// ttl 20 000 ms gives a per-node timeout of 500 ms: what a hung node costs a round that waits for it.
const TTL = 20_000;
const NODE_TIMEOUT = 500;

let nodes: RedisNodes;
const open: Redlock[] = [];
function redlock(options: RedlockOptions = {}): Redlock {
  const instance = new Redlock(nodes.urls(), { ttl: TTL, ...options });
  open.push(instance);
  return instance;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

beforeAll(async () => {
  nodes = await startRedisNodes(3, { plain: true });
});
afterEach(async () => {
  for (const node of nodes.nodes) node.resume();
  await Promise.all(open.splice(0).map((r) => r.quit()));
});
afterAll(async () => {
  await nodes?.stop();
});

describe('a hung node (SIGSTOP: connected, answering nothing) costs nothing on the hot path', () => {
  it('a release answers once a quorum let go, not after the hung node timed out', async () => {
    const rl = redlock();
    await (await rl.acquire('hung:warm')).release();
    nodes.nodes[2]!.pause();
    for (let i = 0; i < 5; i++) {
      const lock = await rl.acquire(`hung:release:${i}`);
      const { value, ms } = await timed(() => lock.release());
      expect(value).toEqual({ released: true, nodes: 2 });
      expect(ms).toBeLessThan(NODE_TIMEOUT / 2);
    }
  });

  it('a node that keeps timing out is reported down once, is no longer waited on, and comes back when it answers', async () => {
    const rl = redlock();
    const down: string[] = [];
    const up: number[] = [];
    rl.on('nodeDown', ({ node, error }) => down.push(`${node}: ${error?.message ?? ''}`));
    rl.on('nodeUp', ({ node }) => up.push(node));
    // Another owner holds the resource on node 1 only, and node 2 hangs: no round can be decided without node 2.
    const other = new Redlock([nodes.urls()[1]!], { ttl: TTL });
    open.push(other);
    await (await rl.acquire('hung:needed')).release();
    const blocker = await other.acquire('hung:needed');
    nodes.nodes[2]!.pause();
    const waited: number[] = [];
    while (down.length === 0 && waited.length < 3) waited.push((await timed(() => rl.tryAcquire('hung:needed'))).ms);
    // Each call's take and its clean-up wait for node 2: the third timeout comes in the second call.
    expect(waited.map((ms) => (ms >= NODE_TIMEOUT * 0.9 ? 'waited' : Math.round(ms)))).toEqual(['waited', 'waited']);
    expect(down).toEqual([`2: no reply within ${NODE_TIMEOUT} ms, 3 calls in a row`]);

    const { value, ms } = await timed(() => rl.tryAcquire('hung:needed'));
    expect(value).toBeNull(); // busy: the hung node's failure is counted at once
    expect(ms).toBeLessThan(NODE_TIMEOUT / 2);

    nodes.nodes[2]!.resume();
    const deadline = performance.now() + 5_000;
    while (!up.includes(2) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(up).toEqual([2]);
    await blocker.release();
    // Its calls go out again: the next lock is taken on node 2 as well.
    const lock = await rl.acquire('hung:needed');
    const direct = nodes.nodes[2]!.client();
    try {
      let held: string | null = null;
      for (let i = 0; i < 50 && held !== lock.value; i++) {
        held = await direct.get('lock:hung:needed');
        if (held !== lock.value) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(held).toBe(lock.value);
    } finally {
      direct.disconnect();
    }
    expect((await lock.release()).released).toBe(true);
  });

  it('the first acquire of a new Redlock does not wait for a node that hangs from the start', async () => {
    nodes.nodes[1]!.pause();
    const rl = redlock();
    const { value: lock, ms } = await timed(() => rl.acquire('hung:first'));
    // Before, the first acquire waited 2 s for every node's first contact.
    expect(ms).toBeLessThan(1_500);
    expect((await lock.release()).released).toBe(true);
  });
});
