import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { Redlock } from '../../lib/core/redlock.js';
import { startRedisNodes } from '../support/redis-nodes.js';
import type { RedisNodes } from '../support/redis-nodes.js';

// The root cause of the double grant the INFO-based guard let through (issue 8): INFO's
// uptime_in_seconds is the difference of two whole wall-clock seconds, so a server started at
// x.95 s reports 1 s of uptime at (x+1).0 s. A guard that dated the restart as now − uptime
// counted such a node's votes up to a second early: with a 1 s lease, at once.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const TTL = 1_000;
let cluster: RedisNodes | undefined;
const open: Redlock[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.quit()));
});
afterAll(async () => {
  await cluster?.stop();
});

/** Resolves when the wall clock's millisecond within the second is in [from, from + 40). */
async function atWallMillisecond(from: number): Promise<void> {
  for (;;) {
    const ms = Date.now() % 1_000;
    if (ms >= from && ms < from + 40) return;
    await sleep(ms < from ? Math.max(1, from - ms - 5) : 1_000 - ms + from - 5);
  }
}

describe('rule 15: a node restarted empty just before a wall-clock second ends', () => {
  it('does not count for a full lease after its restart (it would, dated by INFO uptime)', async () => {
    cluster = await startRedisNodes(3, { persist: false });
    const make = (options: ConstructorParameters<typeof Redlock>[1]) => {
      const r = new Redlock(cluster!.urls(), { ttl: TTL, retryDelay: 20, retryJitter: 20, ...options });
      open.push(r);
      return r;
    };
    const holder = make({ restartGuard: false });
    const guarded = make({});
    const ready = () => [holder, guarded].every((r) => r.clients.every((c) => c.status === 'ready'));
    // Past the start-up of fresh nodes, whatever the guard does with them.
    await sleep(TTL + 1_600);
    await Promise.all([holder, guarded].map(async (r) => (await r.acquire('warm')).release()));

    // The holder's lock rests on nodes 0 and 1 (node 2 is cut off while it is taken).
    cluster.nodes[2].proxy.refuse(true);
    cluster.nodes[2].proxy.dropConnections();
    await atWallMillisecond(900);
    const held = await holder.acquire('order:7');
    cluster.nodes[2].proxy.refuse(false);
    // Node 0 comes back empty, its server started in the last tenth of a wall-clock second.
    await cluster.nodes[0].restart({ persist: false });
    for (let i = 0; i < 100 && !ready(); i++) await sleep(10);
    await cluster.nodes[2].client().del('lock:order:7'); // a queued write may land late on node 2
    expect(held.remaining).toBeGreaterThan(0);

    const rival = await guarded.tryAcquire('order:7');
    const overlapped = rival !== null && held.remaining > 0;
    await rival?.release();
    await held.release();
    expect(overlapped).toBe(false);
  });
});
