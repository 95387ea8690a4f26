import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Cluster } from 'ioredis';
import { NodeSet } from '../../lib/core/engine/node-set.js';
import { RedlockConfigError } from '../../lib/core/errors.js';
import type { NodeOutInfo } from '../../lib/core/nodes/amnesia-guard.js';
import { BIRTH_MS } from '../../lib/core/nodes/amnesia-guard.js';
import { slotOfKey, slotTag } from '../../lib/core/nodes/hash-slots.js';
import { EXCLUSIVE_TAKE } from '../../lib/core/primitives/mutex.js';
import { Redlock } from '../../lib/core/redlock.js';
import type { RedlockOptions } from '../../lib/core/options.js';
import { startRedisCluster } from '../support/redis-cluster.js';
import { startRedisNodes } from '../support/redis-nodes.js';
import type { RedisCluster } from '../support/redis-cluster.js';

// Three Redis Clusters of three masters each as the three voters of one Redlock (real
// cluster-mode redis-server processes). Every script runs in one hash slot per voter; rule 15
// guards each slot apart, so one shard that restarts empty (or whose process is new) sits out
// for its slots only.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LEASE = 2_000;
let clusters: RedisCluster[] = [];
const open: Redlock[] = [];

function voters(options?: Parameters<RedisCluster['client']>[0]): Cluster[] {
  return clusters.map((c) => c.client(options));
}

function redlock(options: RedlockOptions = {}, clients: Cluster[] = voters()): Redlock {
  // A node timeout of 1 s, not 5 % of the lease: nine cluster processes share two cores with the
  // rest of the suite, and marking a fresh deployment runs in the background at first.
  const instance = new Redlock(clients, { ttl: LEASE, nodeTimeout: 1_000, retryDelay: 20, retryJitter: 20, ...options });
  open.push(instance);
  return instance;
}

/** A resource name that falls in a slot served by the given master index (0..2) of every voter. */
function resourceOnShard(shard: number, base: string): string {
  const [first, last] = clusters[0]!.masters[shard]!.slots;
  for (let i = 0; ; i++) {
    const name = `${base}:${i}`;
    const slot = slotOfKey(`lock:${name}`);
    if (slot >= first && slot <= last) return name;
  }
}

beforeAll(async () => {
  const started = await Promise.allSettled([0, 1, 2].map(() => startRedisCluster(3)));
  clusters = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])); // stopped by afterAll either way
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}, 30_000);
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.quit()));
});
afterAll(async () => {
  await Promise.all(clusters.map((c) => c.stop()));
});

describe('a fresh deployment of Cluster voters', () => {
  it('locks in the first round, and every slot of every voter is marked afterwards', async () => {
    const rl = redlock();
    const rounds = jest.spyOn(NodeSet.prototype, 'take');
    try {
      const lock = await rl.acquire('first');
      expect(rounds).toHaveBeenCalledTimes(1);
      expect(await lock.release()).toEqual({ released: true, nodes: expect.any(Number) });
    } finally {
      rounds.mockRestore();
    }
    // Marking goes on in the background: every slot gets its marker on every voter.
    const deadline = Date.now() + 15_000;
    const counts = async () =>
      Promise.all(
        clusters.flatMap((c) =>
          c.masters.map(async (m) => {
            const direct = m.direct();
            try {
              const keys = (await direct.keys('lock:__redlock__:marker:*')).length;
              return keys === m.slots[1] - m.slots[0] + 1;
            } finally {
              direct.disconnect();
            }
          }),
        ),
      );
    while (!(await counts()).every(Boolean) && Date.now() < deadline) await sleep(100);
    expect((await counts()).every(Boolean)).toBe(true);
    await sleep(BIRTH_MS); // the deployment's birth is over
  }, 30_000);
});

describe('the key layout of a Cluster voter', () => {
  it('computes slots as the server does, braces in names included, and a tag for every slot', async () => {
    const direct = clusters[0]!.masters[0]!.direct();
    try {
      for (const key of ['lock:a', 'lock:{order:7}:items', 'lock:x{}{a}', 'lock:}{', 'lock:{}', 'lock:é{ü}z', `lock:${'k'.repeat(300)}`]) {
        expect(slotOfKey(key)).toBe(Number(await direct.call('CLUSTER', 'KEYSLOT', key)));
      }
      for (const slot of [0, 1, 777, 8191, 16383]) {
        expect(Number(await direct.call('CLUSTER', 'KEYSLOT', `lock:__redlock__:marker:{${slotTag(slot)}}`))).toBe(slot);
      }
    } finally {
      direct.disconnect();
    }
  });

  it('keeps the lock key as a plain node names it, and puts the library\'s records of a resource in its slot', async () => {
    const rl = redlock();
    const name = 'a}b{c'; // braces that are not a hash tag of the name itself
    const lock = await rl.acquire(name, { mode: 'read' });
    await sleep(100); // the round was decided by the first two voters: let the third one's write land
    const slot = slotOfKey(`lock:${name}`);
    const direct = clusters[1]!.masterOf(slot).direct();
    try {
      expect(await direct.exists(`lock:__redlock__:shared:{${slotTag(slot)}}${name}`)).toBe(1);
      expect(await direct.exists(`lock:__redlock__:kind:{${slotTag(slot)}}${name}`)).toBe(1);
    } finally {
      direct.disconnect();
    }
    await lock.release();
    const write = await rl.acquire(name);
    await sleep(100);
    const holder = clusters[2]!.masterOf(slot).direct();
    try {
      expect(await holder.get(`lock:${name}`)).toBe(write.value);
    } finally {
      holder.disconnect();
    }
    await write.release();
  });
});

describe('locks on Cluster voters', () => {
  it('a mutex: acquire, extend, release, isLocked', async () => {
    const rl = redlock();
    const lock = await rl.acquire('mutex');
    expect(await rl.isLocked('mutex')).toBe(true);
    await lock.extend(LEASE * 2);
    expect(lock.remaining).toBeGreaterThan(LEASE);
    expect(await rl.tryAcquire('mutex')).toBeNull();
    expect(await lock.release()).toEqual({ released: true, nodes: 3 });
    expect(await rl.isLocked('mutex')).toBe(false);
  });

  it('contention: one holder at a time, and a read-modify-write counter that ends exact', async () => {
    const instances = [redlock(), redlock(), redlock()];
    let inside = 0;
    let overlaps = 0;
    let counter = 0;
    await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        instances[i % 3]!.using('contended', async () => {
          inside += 1;
          if (inside > 1) overlaps += 1;
          const seen = counter;
          await sleep(2);
          counter = seen + 1;
          inside -= 1;
        }, { wait: 20_000 }),
      ),
    );
    expect(overlaps).toBe(0);
    expect(counter).toBe(24);
  }, 30_000);

  it('a read/write lock and a semaphore', async () => {
    const rl = redlock();
    const r1 = await rl.acquire('rw', { mode: 'read' });
    const r2 = await rl.acquire('rw', { mode: 'read' });
    expect(await rl.tryAcquire('rw')).toBeNull(); // a writer waits for the readers
    await Promise.all([r1.release(), r2.release()]);
    const w = await rl.acquire('rw', { wait: 2_000 });
    expect(await rl.tryAcquire('rw', { mode: 'read' })).toBeNull();
    await w.release();

    const p1 = await rl.acquire('sem', { limit: 2 });
    const p2 = await rl.acquire('sem', { limit: 2 });
    expect(await rl.tryAcquire('sem', { limit: 2 })).toBeNull();
    await p1.release();
    const p3 = await rl.acquire('sem', { limit: 2, wait: 2_000 });
    await Promise.all([p2.release(), p3.release()]);
  });

  it('a fenced lock (fences grow across holders) and a fair lock', async () => {
    const rl = redlock();
    const first = await rl.acquire('fenced', { fenced: true });
    await first.release();
    const second = await rl.acquire('fenced', { fenced: true });
    expect(second.fence).toBeGreaterThan(first.fence!);
    await second.release();
    const fair = await rl.acquire('fair', { fair: true });
    expect(await rl.tryAcquire('fair', { fair: true })).toBeNull();
    await fair.release();
    await (await rl.acquire('fair', { fair: true, wait: 2_000 })).release();
  });

  it('a lock over several resources: in one slot by a common hash tag, refused across slots', async () => {
    const rl = redlock();
    const both = await rl.acquire(['{order:42}:items', '{order:42}:payment']);
    expect(await rl.tryAcquire('{order:42}:payment')).toBeNull();
    await both.release();
    const refused = await rl.acquire(['items', 'payment']).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RedlockConfigError);
    expect((refused as RedlockConfigError).field).toBe('resources');
    expect((refused as Error).message).toMatch(/hash slots/);
  });

  it('a key prefix with a brace, or a Cluster client with its own keyPrefix, is refused (before any connection opens)', () => {
    const clients = voters();
    expect(() => new Redlock(clients, { keyPrefix: '{locks}:' })).toThrow(expect.objectContaining({ field: 'keyPrefix' }));
    // A Cluster client that prefixes keys itself would move them out of the slots computed here.
    const prefixing = clusters[0]!.client({ keyPrefix: 'app:' });
    expect(() => new Redlock([prefixing, ...clients.slice(1)])).toThrow(expect.objectContaining({ field: 'nodes[0]' }));
  });

  it('a release wakes a waiter on a Cluster voter (pub/sub works across the shards)', async () => {
    const rl = redlock();
    const held = await rl.acquire('wake');
    const started = performance.now();
    setTimeout(() => void held.release(), 100);
    const next = await rl.acquire('wake', { wait: 5_000, retryDelay: 3_000, retryJitter: 0 });
    const waited = performance.now() - started;
    await next.release();
    expect(waited).toBeLessThan(1_000); // not the 3 s retry delay, nor the 1 s fallback
  });

  it('quit() leaves the Cluster clients the caller passed in open', async () => {
    const clients = voters();
    const rl = new Redlock(clients, { ttl: LEASE, nodeTimeout: 1_000 });
    await (await rl.acquire('owned')).release();
    await rl.quit();
    expect(clients.map((c) => c.status)).toEqual(['ready', 'ready', 'ready']);
    expect(await clients[0]!.ping()).toBe('PONG');
  });
});

describe('rule 15 per hash slot on a Cluster voter', () => {
  /**
   * The holder's lock on `resource` rests on voters 0 and 1 only (voter 2 lost it: deleted
   * directly); then `forget` makes voter 0's shard of that slot a new process. A rival that
   * counted voter 0's yes with voter 2's would hold the lock a second time
   * (docs/restart-hazard.md). `other` lives on another shard of voter 0, held by a stranger on
   * voter 2: it can only be locked if voter 0 still counts there.
   */
  let lastResource = '';
  async function bareQuorumThen(shard: number, otherShard: number, forget: (shard: number) => Promise<void>) {
    const resource = resourceOnShard(shard, `hazard-${Date.now()}`);
    lastResource = resource;
    const other = resourceOnShard(otherShard, `other-${Date.now()}`);
    const slot = slotOfKey(`lock:${resource}`);
    const holder = redlock({ restartGuard: false });
    const guarded = redlock();
    const unguarded = redlock({ restartGuard: false });
    const out: NodeOutInfo[] = [];
    guarded.on('nodeOut', (info) => out.push(info));
    await Promise.all([holder, guarded, unguarded].map(async (r) => (await r.acquire('warm')).release()));

    const held = await holder.acquire(resource, { ttl: 10_000 });
    const voter2 = clusters[2]!.masterOf(slot).direct();
    const stranger = clusters[2]!.masterOf(slotOfKey(`lock:${other}`)).direct();
    try {
      await sleep(100); // the third voter's write has landed
      expect(await voter2.del(`lock:${resource}`)).toBe(1);
      await forget(shard);
      const voter0 = clusters[0]!.masterOf(slot).direct();
      expect(await voter0.get(`lock:${resource}`)).toBeNull(); // voter 0 forgot it
      voter0.disconnect();
      await stranger.set(`lock:${other}`, 'a stranger', 'PX', 10_000);

      const refused = await guarded.tryAcquire(resource).catch((e: unknown) => e);
      const otherLock = await guarded.tryAcquire(other);
      const second = await unguarded.tryAcquire(resource);
      const stillHeld = held.remaining > 0;
      await Promise.all([second?.release(), otherLock?.release()]);
      return { refused, second, otherLock, stillHeld, out, slot };
    } finally {
      await held.release();
      for (const c of [voter2, stranger]) c.disconnect();
    }
  }

  function expectOnlyThatSlotOut(result: Awaited<ReturnType<typeof bareQuorumThen>>, reason: RegExp) {
    expect(result.refused).toBeNull(); // guarded: voter 0's yes in that slot does not count
    expect(result.second).not.toBeNull(); // the hazard, without the guard
    expect(result.stillHeld).toBe(true);
    expect(result.otherLock).not.toBeNull(); // voter 0's other shard still counts
    expect(result.out).toEqual([expect.objectContaining({ node: 0, slot: result.slot, reason: expect.stringMatching(reason), countsAgainInMs: expect.any(Number) })]);
    expect(result.out[0]!.countsAgainInMs).toBeGreaterThan(LEASE);
  }

  it('a shard master restarted empty (same port, same nodes.conf): its slots sit out, the voter\'s other shards count', async () => {
    const result = await bareQuorumThen(1, 2, async (shard) => {
      await clusters[0]!.masters[shard]!.restartEmpty();
      await clusters[0]!.waitUntilOk();
    });
    expectOnlyThatSlotOut(result, /lost its data/);
  }, 30_000);

  it('a shard whose server process is new but kept its data (an empty script cache and the last lock write missing, as on a promoted replica)', async () => {
    const result = await bareQuorumThen(0, 2, async (shard) => {
      const master = clusters[0]!.masters[shard]!.direct();
      try {
        await master.script('FLUSH');
        // Another client's take already ran on the new process, so our EVALSHA finds the take
        // script: only the slot's boot sentinel, asked in the same pipeline, tells the process is new.
        await master.script('LOAD', EXCLUSIVE_TAKE.source);
        const [first] = clusters[0]!.masters[shard]!.slots;
        expect(await master.exists(`lock:__redlock__:marker:{${slotTag(first)}}`)).toBe(1); // the markers are still there
      } finally {
        master.disconnect();
      }
      // The lock write that the new process never received:
      const slot = slotOfKey(`lock:${lastResource}`);
      const holder = clusters[0]!.masterOf(slot).direct();
      await holder.del(`lock:${lastResource}`);
      holder.disconnect();
    });
    expectOnlyThatSlotOut(result, /restarted or lost its data/);
  }, 30_000);
});

describe('a real failover inside a Cluster voter (mixed with plain nodes)', () => {
  it('the promoted replica is a new process: the slots of its shard sit out for the largest lease, the voter\'s other shard counts', async () => {
    // Voter 0: a cluster of 2 masters with a replica each; voters 1 and 2: plain nodes.
    const [c, p] = await Promise.allSettled([startRedisCluster(2, { replicas: 1 }), startRedisNodes(2, { persist: false })]);
    if (c.status === 'rejected' || p.status === 'rejected') {
      await Promise.all([c.status === 'fulfilled' && c.value.stop(), p.status === 'fulfilled' && p.value.stop()]);
      throw c.status === 'rejected' ? c.reason : (p as PromiseRejectedResult).reason;
    }
    const [withReplicas, plain] = [c.value, p.value];
    const extra: Redlock[] = [];
    try {
      const make = (options: RedlockOptions) => {
        const rl = new Redlock([withReplicas.client(), ...plain.urls()], { ttl: LEASE, nodeTimeout: 1_000, retryDelay: 20, retryJitter: 20, ...options });
        extra.push(rl);
        return rl;
      };
      const holder = make({ restartGuard: false });
      const guarded = make({});
      const out: NodeOutInfo[] = [];
      guarded.on('nodeOut', (info) => out.push(info));
      await Promise.all([holder, guarded].map(async (r) => (await r.acquire('warm')).release()));
      // Every slot of the cluster voter is marked (in the background), the replicas have the markers too.
      const markersOn = async (servers: readonly { direct(): import('ioredis').Redis }[]) =>
        Promise.all(
          servers.map(async (server) => {
            const direct = server.direct();
            try {
              return (await direct.keys('lock:__redlock__:marker:*')).length;
            } finally {
              direct.disconnect();
            }
          }),
        );
      const slotsOf = withReplicas.masters.map((m) => m.slots[1] - m.slots[0] + 1);
      for (let i = 0; i < 300; i++) {
        const counts = await markersOn(withReplicas.replicas);
        if (counts.every((n, shard) => n === slotsOf[shard])) break;
        await sleep(100);
      }
      expect(await markersOn(withReplicas.replicas)).toEqual(slotsOf);
      await sleep(BIRTH_MS);

      // Shard 0 of the cluster voter holds `resource`, shard 1 holds `other`.
      const inShard = (shard: number, base: string) => {
        const [first, last] = withReplicas.masters[shard]!.slots;
        for (let i = 0; ; i++) {
          const slot = slotOfKey(`lock:${base}:${i}`);
          if (slot >= first && slot <= last) return `${base}:${i}`;
        }
      };
      const resource = inShard(0, 'failover');
      const other = inShard(1, 'elsewhere');
      const held = await holder.acquire(resource, { ttl: 8_000 });
      await sleep(100);

      // The shard's master dies; its replica takes over (TAKEOVER: at once, without a vote).
      await withReplicas.masters[0]!.kill();
      const promoted = withReplicas.replicas[0]!.direct();
      try {
        await promoted.call('CLUSTER', 'FAILOVER', 'TAKEOVER');
        expect(await promoted.get(`lock:${resource}`)).toBe(held.value); // the replica had the lock write
      } finally {
        promoted.disconnect();
      }
      await plain.nodes[1]!.client().set(`lock:${other}`, 'a stranger', 'PX', 10_000);

      // The client follows the new master (slots refreshed after the first failed call).
      let refused: unknown;
      for (let i = 0; i < 100; i++) {
        refused = await guarded.tryAcquire(resource).catch((e: unknown) => e);
        if (out.length > 0) break;
        await sleep(50);
      }
      expect(refused).toBeNull();
      const slot = slotOfKey(`lock:${resource}`);
      expect(out).toEqual([expect.objectContaining({ node: 0, slot, reason: expect.stringMatching(/restarted or lost its data/) })]);
      expect(out[0]!.countsAgainInMs).toBeGreaterThan(8_000 - 1_000); // the largest lease recorded in that slot
      // `other` needs voter 0's vote (voter 2 is held by a stranger): its shard did not fail over.
      const otherLock = await guarded.tryAcquire(other);
      expect(otherLock).not.toBeNull();
      await otherLock?.release();
      await held.release();
    } finally {
      await Promise.all(extra.map((r) => r.quit()));
      await Promise.all([withReplicas.stop(), plain.stop()]);
    }
  }, 40_000);
});
