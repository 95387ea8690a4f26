import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { BIRTH_MS } from '../../lib/core/nodes/amnesia-guard.js';
import type { NodeOutInfo } from '../../lib/core/nodes/amnesia-guard.js';
import { Redlock } from '../../lib/core/redlock.js';
import type { RedlockOptions } from '../../lib/core/options.js';
import { startRedisNodes } from '../support/redis-nodes.js';
import type { RedisNodes } from '../support/redis-nodes.js';
import { startSentinelGroup } from '../support/redis-sentinel.js';
import type { SentinelGroup } from '../support/redis-sentinel.js';

// One of three voters is a Sentinel-managed master (1 master, 1 replica, 1 sentinel; real
// processes), the others plain nodes. A failover promotes the replica: a new server process for
// the boot sentinel, so rule 15 keeps that voter out for the largest lease it recorded, which is
// what makes a replica that missed the last lock write harmless.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LEASE = 2_000;
let group: SentinelGroup;
let plain: RedisNodes;
const open: Redlock[] = [];

function redlock(options: RedlockOptions = {}): Redlock {
  // failoverDetector: the client hears +switch-master and moves at once (without it, it stays on the
  // demoted master until Sentinel reconfigures that one, about 10 s here).
  const sentinelVoter = { sentinels: [...group.sentinels], name: group.name, failoverDetector: true, maxRetriesPerRequest: 1, connectTimeout: 1_000 };
  // A node timeout of 1 s, not 5 % of the lease: the suite shares two cores with these processes.
  const instance = new Redlock([sentinelVoter, ...plain.urls()], { ttl: LEASE, nodeTimeout: 1_000, retryDelay: 20, retryJitter: 20, ...options });
  open.push(instance);
  return instance;
}

async function talksToMaster(rl: Redlock, port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const client = rl.clients[0]!;
    if (client.status === 'ready') {
      const info = await client.info('server').catch(() => '');
      if (new RegExp(`tcp_port:${port}\\b`).test(info)) return;
    }
    await sleep(50);
  }
  throw new Error(`the Sentinel voter did not reconnect to the new master on port ${port}`);
}

beforeAll(async () => {
  const [g, p] = await Promise.allSettled([startSentinelGroup(1), startRedisNodes(2, { persist: false })]);
  // Whatever started is stopped by afterAll, even when the other failed.
  if (g.status === 'fulfilled') group = g.value;
  if (p.status === 'fulfilled') plain = p.value;
  for (const r of [g, p]) if (r.status === 'rejected') throw r.reason;
}, 30_000);
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.quit()));
});
afterAll(async () => {
  await Promise.all([group?.stop(), plain?.stop()]);
});

describe('a Sentinel-managed master as a voter', () => {
  it('locks, extends and releases', async () => {
    const rl = redlock();
    const lock = await rl.acquire('report');
    await lock.extend(LEASE);
    // The Sentinel voter holds it (its write may land just after the quorum answered):
    const master = group.direct(await group.masterPort());
    for (let i = 0; i < 50 && (await master.get('lock:report')) !== lock.value; i++) await sleep(20);
    expect(await master.get('lock:report')).toBe(lock.value);
    expect(await master.pttl('lock:report')).toBeGreaterThan(LEASE / 2);
    expect(await lock.release()).toEqual({ released: true, nodes: expect.any(Number) });
    for (let i = 0; i < 50 && (await master.exists('lock:report')) === 1; i++) await sleep(20);
    expect(await master.exists('lock:report')).toBe(0);
    const busy = await rl.acquire('busy');
    const refused = await rl.tryAcquire('busy');
    expect(refused).toBeNull();
    await busy.release();
  });

  it('a real failover while a lock is held: the promoted replica sits out for the largest lease, so the write it missed cannot grant the lock twice', async () => {
    const holder = redlock({ restartGuard: false });
    const guarded = redlock();
    const unguarded = redlock({ restartGuard: false });
    const out: NodeOutInfo[] = [];
    guarded.on('nodeOut', (info) => out.push(info));
    await Promise.all([holder, guarded, unguarded].map(async (r) => (await r.acquire('warm')).release()));
    await sleep(BIRTH_MS + 100);

    const oldMaster = await group.masterPort();
    const replicaPort = group.ports.find((p) => p !== oldMaster)!;
    const held = await holder.acquire('order:7', { ttl: 3_000 });
    await sleep(100); // every node has the write, the replica too
    // The lock rests on a bare quorum (the Sentinel voter and the first plain node), and the
    // replica misses it, as a replica that lagged behind its master when it failed:
    expect(await plain.nodes[1]!.client().del('lock:order:7')).toBe(1);
    expect(await group.direct(replicaPort).del('lock:order:7')).toBe(1);

    const failoverStarted = performance.now();
    expect(await group.failover()).toBe(replicaPort);
    await Promise.all([holder, guarded, unguarded].map((r) => talksToMaster(r, replicaPort)));
    expect(await group.direct(replicaPort).get('lock:order:7')).toBeNull();

    const refused = await guarded.tryAcquire('order:7').catch((e: unknown) => e);
    const second = await unguarded.tryAcquire('order:7');
    const stillHeld = held.remaining > 0;
    const failoverMs = performance.now() - failoverStarted;
    await second?.release();
    expect(failoverMs).toBeLessThan(3_000); // the held lock (3 s) outlived the failover
    expect(refused).toBeNull(); // the promoted replica's yes does not count
    expect(second).not.toBeNull(); // the hazard, without the guard
    expect(stillHeld).toBe(true);
    expect(out).toEqual([expect.objectContaining({ node: 0, address: 'sentinel master mymaster', reason: expect.stringMatching(/restarted or lost its data/) })]);
    const countsAgainInMs = out[0]!.countsAgainInMs!;
    expect(countsAgainInMs).toBeGreaterThan(3_000 - 500); // the largest lease recorded there: 3 s
    expect(countsAgainInMs).toBeLessThanOrEqual(3_000);

    // The held lock is still the holder's to extend and release, the promoted replica included.
    await held.release();
    // Once that lease has passed, the Sentinel voter counts again: a lock that needs its vote (the
    // first plain node is held by a stranger) is granted.
    await plain.nodes[0]!.client().set('lock:after', 'a stranger', 'PX', 10_000);
    expect(await guarded.tryAcquire('after')).toBeNull();
    await sleep(countsAgainInMs + 100);
    const after = await guarded.acquire('after', { wait: 1_000 });
    await after.release();
  }, 40_000);
});
