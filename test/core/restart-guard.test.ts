import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { Redlock } from '../../lib/core/redlock.js';
import { startRedisNodes } from '../support/redis-nodes.js';
import type { RedisNodes } from '../support/redis-nodes.js';

// Rule 15 against real nodes: a node that restarts empty can grant a lock twice; the client's
// restart guard (on by default) keeps such a node's votes out for one lease.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sets: RedisNodes[] = [];
const open: Redlock[] = [];

function redlock(cluster: RedisNodes, options: ConstructorParameters<typeof Redlock>[1]): Redlock {
  const instance = new Redlock(cluster.urls(), { retryDelay: 20, retryJitter: 20, ...options });
  open.push(instance);
  return instance;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.quit()));
});
afterAll(async () => {
  await Promise.all(sets.map((s) => s.stop()));
});

describe('the restart guard (rule 15, delayed restart enforced by the client)', () => {
  it('freshly started nodes without persistence are kept out for one lease, then count', async () => {
    const cluster = await startRedisNodes(3, { persist: false });
    sets.push(cluster);
    const rl = redlock(cluster, { ttl: 1_500 });
    const error = await rl.acquire('fresh').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'QUORUM_UNAVAILABLE' });
    expect(String((error as Error).message)).toMatch(/restarted recently/);
    await sleep(1_600);
    const lock = await rl.acquire('fresh');
    await lock.release();
  });

  it('durable nodes (AOF, appendfsync always) count at once, also right after a kill and restart', async () => {
    const cluster = await startRedisNodes(3, { persist: true });
    sets.push(cluster);
    const rl = redlock(cluster, {});
    await (await rl.acquire('durable')).release();
    await cluster.nodes[0].kill();
    await cluster.nodes[0].restart({ persist: true });
    for (let i = 0; i < 50 && rl.clients[0].status !== 'ready'; i++) await sleep(50);
    const lock = await rl.acquire('durable');
    expect(await lock.release()).toEqual({ released: true, nodes: 3 });
  });

  it('a node that restarts empty while a lock is held: without the guard the lock is granted twice, with it never', async () => {
    const WINDOW = 1_500;
    const cluster = await startRedisNodes(3, { persist: false });
    sets.push(cluster);
    // every node has been up longer than the window (INFO reports whole seconds, rounded down)
    await sleep(WINDOW + 1_100);
    const holder = redlock(cluster, { ttl: WINDOW, restartGuard: false });
    const guarded = redlock(cluster, { ttl: WINDOW });
    const unguarded = redlock(cluster, { ttl: WINDOW, restartGuard: false });
    await Promise.all([holder, guarded, unguarded].map(async (r) => (await r.acquire('warm')).release()));

    // The holder takes the lock on nodes 0 and 1 while node 2 is cut off ...
    cluster.nodes[2].proxy.refuse(true);
    cluster.nodes[2].proxy.dropConnections();
    const held = await holder.acquire('order:7');
    cluster.nodes[2].proxy.refuse(false);
    // ... then node 0 crashes and comes back empty.
    await cluster.nodes[0].restart({ persist: false });
    const allReady = () => [holder, guarded, unguarded].every((r) => r.clients.every((c) => c.status === 'ready'));
    for (let i = 0; i < 100 && !allReady(); i++) await sleep(20);
    // A write queued while node 2 was cut off may land after the reconnect: node 2 missed it.
    await cluster.nodes[2].client().del('lock:order:7');
    expect(held.remaining).toBeGreaterThan(0);

    const refused = await guarded.tryAcquire('order:7');
    expect(refused).toBeNull(); // node 0's yes does not count: only node 2 said yes

    const second = await unguarded.tryAcquire('order:7');
    expect(second).not.toBeNull(); // the hazard: nodes 0 and 2 form a quorum while the first lock is valid
    expect(held.remaining).toBeGreaterThan(0);
    await second!.release();
    await held.release();
  });

  it('restartGuard is validated', () => {
    expect(() => new Redlock(['redis://127.0.0.1:1'], { restartGuard: -1 })).toThrow(expect.objectContaining({ field: 'options.restartGuard' }));
    expect(() => new Redlock(['redis://127.0.0.1:1'], { restartGuard: 'yes' as never })).toThrow(expect.objectContaining({ field: 'options.restartGuard' }));
  });
});
