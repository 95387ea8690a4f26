import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { LockLostError, QuorumUnavailableError } from '../../lib/core/errors.js';
import { Redlock } from '../../lib/core/redlock.js';
import { countingClock } from '../support/counting-clock.js';
import { startRedisNodes } from '../support/redis-nodes.js';
import type { RedisNodes } from '../support/redis-nodes.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** After a restart the clients reconnect with back-off; until then acquire fails fast. */
async function waitUntilUsable(rl: Redlock): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const lock = await rl.tryAcquire('probe').catch(() => null);
    if (lock) return void (await lock.release());
    await sleep(100);
  }
  throw new Error('nodes did not come back');
}

let cluster: RedisNodes;
const open: Redlock[] = [];

function redlock(options: ConstructorParameters<typeof Redlock>[1] = {}): Redlock {
  const instance = new Redlock(cluster.urls(), options);
  open.push(instance);
  return instance;
}

beforeAll(async () => {
  cluster = await startRedisNodes(3);
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.quit()));
  for (const node of cluster.nodes) if (node.pid === undefined) await node.restart();
  await Promise.all(cluster.nodes.map((n) => n.flush()));
});
afterAll(async () => {
  await cluster?.stop();
});

describe('expiry while holding (rules 10, 11, 13)', () => {
  it('the signal aborts before validUntil; extend after expiry rejects LOCK_LOST; release resolves released: false', async () => {
    const rl = redlock();
    const lock = await rl.acquire('exp', { ttl: 500 });
    const lost: LockLostError[] = [];
    rl.on('lockLost', ({ error }) => lost.push(error));
    const abortedAt = await new Promise<number>((resolve) =>
      lock.signal.addEventListener('abort', () => resolve(performance.now()), { once: true }),
    );
    expect(abortedAt).toBeLessThan(lock.validUntil);
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
    expect(lost).toHaveLength(1);
    await sleep(600); // the keys have expired in Redis too
    await expect(lock.extend()).rejects.toMatchObject({ code: 'LOCK_LOST' });
    expect(await lock.release()).toEqual({ released: false, nodes: 0 });
  });

  it('rule 11: a lost lock is never resurrected: extend does not re-create expired keys', async () => {
    const rl = redlock();
    const lock = await rl.acquire('res', { ttl: 300 });
    await sleep(400);
    await expect(lock.extend(5_000)).rejects.toBeInstanceOf(LockLostError);
    const values = await Promise.all(cluster.nodes.map((n) => n.client().get('lock:res')));
    expect(values).toEqual([null, null, null]);
  });

  it('rule 10: an extension that fails (our keys taken over) aborts the signal at once', async () => {
    const rl = redlock();
    const lock = await rl.acquire('stolen', { ttl: 5_000 });
    await Promise.all(cluster.nodes.slice(0, 2).map((n) => n.client().set('lock:stolen', 'intruder')));
    await expect(lock.extend()).rejects.toMatchObject({ code: 'LOCK_LOST' });
    expect(lock.signal.aborted).toBe(true);
    expect(lock.remaining).toBe(0);
    // release only deletes what is ours: the intruder's keys stay
    expect(await lock.release()).toEqual({ released: false, nodes: 1 });
    expect(await cluster.nodes[0].client().get('lock:stolen')).toBe('intruder');
  });
});

describe('locks left to expire', () => {
  it('are forgotten once lost: quit() has nothing to release and nothing stays in memory', async () => {
    const rl = redlock();
    // white-box: the set of locks quit() would release
    const held = () => (rl as unknown as { held: Set<unknown> }).held.size;
    const locks = await Promise.all(Array.from({ length: 20 }, (_, i) => rl.acquire(`expire-me:${i}`, { ttl: 300 })));
    expect(held()).toBe(20);
    await sleep(400);
    expect(locks.every((l) => l.signal.aborted)).toBe(true);
    expect(held()).toBe(0);
  });
});

describe('using (rules 12 and 14)', () => {
  it('returns the routine result while auto-extension keeps the lock past its ttl', async () => {
    const clock = countingClock();
    const rl = redlock({ clock });
    const result = await rl.using(
      'job',
      async (lock) => {
        await sleep(900); // three times the ttl
        expect(lock.signal.aborted).toBe(false);
        expect(lock.remaining).toBeGreaterThan(0);
        expect(await rl.tryAcquire('job')).toBeNull();
        return { done: true };
      },
      { ttl: 300 },
    );
    expect(result).toEqual({ done: true });
    expect(clock.live()).toBe(0); // rule 12: no timer survives using()'s return
    expect(await cluster.nodes[0].client().get('lock:job')).toBeNull();
  });

  it('rethrows the routine error unchanged and releases', async () => {
    const clock = countingClock();
    const rl = redlock({ clock });
    const failure = new TypeError('payment declined');
    await expect(rl.using('job', async () => Promise.reject(failure))).rejects.toBe(failure);
    expect(clock.live()).toBe(0);
    const again = await rl.tryAcquire('job');
    expect(again).not.toBeNull();
    await again!.release();
  });

  it('rule 14: a failing release never replaces the result or the error', async () => {
    const clock = countingClock();
    // A short lease: the restarted nodes sit out one lease (rule 15) before waitUntilUsable succeeds.
    const rl = redlock({ clock, ttl: 1_000 });
    const result = await rl.using('job', async () => {
      await Promise.all(cluster.nodes.map((n) => n.kill())); // release will fail everywhere
      return 42;
    });
    expect(result).toBe(42);
    await Promise.all(cluster.nodes.map((n) => n.restart()));
    await waitUntilUsable(rl);
    const failure = new Error('own error');
    await expect(
      rl.using('job2', async () => {
        await Promise.all(cluster.nodes.map((n) => n.kill()));
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(clock.live()).toBe(0);
  });

  it('autoExtend: false lets the lease run out while the routine works, and the signal says so', async () => {
    const rl = redlock();
    const aborted = await rl.using(
      'short',
      async (lock) => {
        await sleep(400);
        return lock.signal.aborted;
      },
      { ttl: 300, autoExtend: false },
    );
    expect(aborted).toBe(true);
  });
});

describe('scripts (rule 2, NOSCRIPT fallback)', () => {
  it('survive SCRIPT FLUSH and a node restarted empty', async () => {
    const rl = redlock({ ttl: 1_000 });
    await (await rl.acquire('s')).release();
    await Promise.all(cluster.nodes.map((n) => n.client().script('FLUSH')));
    // An empty script cache looks like a restart: the nodes sit out one lease (rule 15), then count.
    const out = await rl.acquire('s').catch((e: unknown) => e as QuorumUnavailableError);
    expect(out).toBeInstanceOf(QuorumUnavailableError);
    await sleep((out as QuorumUnavailableError).retryAfterMs! + 20);
    const lock = await rl.acquire('s');
    await lock.extend();
    expect(await lock.release()).toEqual({ released: true, nodes: 3 });
    await cluster.nodes[0].restart({ persist: false }); // empty: no script cache either
    for (let i = 0; i < 50 && rl.clients[0].status !== 'ready'; i++) await sleep(100);
    const again = await rl.acquire('s');
    expect(await again.release()).toEqual({ released: true, nodes: 3 });
  });
});
