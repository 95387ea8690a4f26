import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redlock } from '../../lib/core/redlock.js';
import { LockAbortedError, LockBusyError } from '../../lib/core/errors.js';
import { startRedisNodes } from '../support/redis-nodes.js';
import type { RedisNodes } from '../support/redis-nodes.js';

let cluster: RedisNodes;
const open: Redlock[] = [];

function redlock(count: number, options: ConstructorParameters<typeof Redlock>[1] = {}): Redlock {
  const instance = new Redlock(cluster.urls().slice(0, count), options);
  open.push(instance);
  return instance;
}

/** What each node holds for `key`, read directly (not through the proxies). */
async function holders(key: string, count = 5): Promise<(string | null)[]> {
  return Promise.all(cluster.nodes.slice(0, count).map((n) => n.client().get(key)));
}

beforeAll(async () => {
  cluster = await startRedisNodes(5);
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.quit()));
  await Promise.all(cluster.nodes.map((n) => n.flush()));
});
afterAll(async () => {
  await cluster?.stop();
});

describe('Redlock against real redis-server nodes', () => {
  it.each([1, 2, 3, 4, 5])('N=%i: acquire holds our token on a quorum at once (all N soon), release removes it', async (n) => {
    const rl = redlock(n);
    const lock = await rl.acquire('order:42');
    expect(lock.resources).toEqual(['order:42']);
    expect(lock.remaining).toBeGreaterThan(9_000);
    // rule 4: acquire returns as soon as a quorum said yes; the last writes may still be in flight
    const held = (await holders('lock:order:42', n)).filter((v) => v === lock.value).length;
    expect(held).toBeGreaterThanOrEqual(Math.floor(n / 2) + 1);
    expect(await lock.release()).toEqual({ released: true, nodes: n });
    expect(await holders('lock:order:42', n)).toEqual(Array(n).fill(null));
  });

  it('rule 1: the owner token is 128 random bits, fresh per acquire call', async () => {
    const rl = redlock(1);
    const tokens = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const lock = await rl.acquire('t');
      expect(lock.value).toMatch(/^[0-9a-f]{32}$/);
      tokens.add(lock.value);
      await lock.release();
    }
    expect(tokens.size).toBe(20);
  });

  it('rule 2: keys are prefixed and leased with a PX expiry', async () => {
    const rl = redlock(3, { keyPrefix: 'myapp:locks:' });
    const lock = await rl.acquire('job', { ttl: 4_000 });
    const direct = cluster.nodes[0].client();
    expect(await direct.get('job')).toBeNull();
    expect(await direct.get('myapp:locks:job')).toBe(lock.value);
    const pttl = await direct.pttl('myapp:locks:job');
    expect(pttl).toBeGreaterThan(3_000);
    expect(pttl).toBeLessThanOrEqual(4_000);
    await lock.release();
  });

  describe('N=3 with every subset of nodes pre-occupied by another owner', () => {
    const masks = Array.from({ length: 8 }, (_, mask) => mask);
    it.each(masks)('occupied mask %i: granted exactly when a quorum was free; a failed try leaves nothing behind', async (mask) => {
      const occupied = [0, 1, 2].filter((i) => mask & (1 << i));
      await Promise.all(occupied.map((i) => cluster.nodes[i].client().set('lock:res', 'other', 'PX', 10_000)));
      const rl = redlock(3);
      const lock = await rl.tryAcquire('res');
      const after = await holders('lock:res', 3);
      if (occupied.length <= 1) {
        expect(lock).not.toBeNull();
        expect(after.filter((v) => v === lock!.value)).toHaveLength(3 - occupied.length);
        await lock!.release();
      } else {
        expect(lock).toBeNull();
        // rule 7: our writes on the free nodes were cleaned up
        expect(after).toEqual([0, 1, 2].map((i) => (occupied.includes(i) ? 'other' : null)));
      }
      // the other owner's keys are never touched
      expect((await holders('lock:res', 3)).filter((v) => v === 'other')).toHaveLength(occupied.length);
    });
  });

  it('a held lock makes a second acquire wait, then succeed once released', async () => {
    const rl = redlock(3);
    const first = await rl.acquire('queue');
    const started = performance.now();
    const second = rl.acquire('queue', { wait: 3_000 });
    setTimeout(() => void first.release(), 300);
    const lock = await second;
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
    await lock.release();
  });

  it('busy: acquire rejects with LockBusyError after about `wait`, with attempts and waitedMs (polling)', async () => {
    // Polling only, so the pace of attempts is retryDelay's (wake-ups: wake-ups.test.ts).
    const rl = redlock(3, { retryDelay: 20, retryJitter: 10, wakeUps: false });
    const held = await rl.acquire('busy');
    const error = (await rl.acquire('busy', { wait: 400 }).catch((e) => e)) as LockBusyError;
    expect(error).toBeInstanceOf(LockBusyError);
    expect(error.code).toBe('LOCK_BUSY');
    expect(error.resources).toEqual(['busy']);
    expect(error.attempts).toBeGreaterThan(3);
    expect(error.waitedMs).toBeGreaterThanOrEqual(400);
    expect(error.waitedMs).toBeLessThan(1_500);
    expect(await rl.tryAcquire('busy')).toBeNull();
    await held.release();
  });

  it('multi-resource: one lock over all resources, all-or-nothing on every node', async () => {
    const rl = redlock(3);
    const lock = await rl.acquire(['a', 'b', 'c']);
    expect(await rl.tryAcquire('b')).toBeNull();
    expect(await rl.tryAcquire(['c', 'd'])).toBeNull();
    expect(await holders('lock:d', 3)).toEqual([null, null, null]); // the failed try took nothing
    expect(await lock.release()).toEqual({ released: true, nodes: 3 });
    const again = await rl.tryAcquire(['c', 'd']);
    expect(again).not.toBeNull();
    await again!.release();
  });

  it('rule 9: an AbortSignal stops the wait with LockAbortedError', async () => {
    const rl = redlock(3);
    const held = await rl.acquire('abort');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const started = performance.now();
    await expect(rl.acquire('abort', { wait: 5_000, signal: controller.signal })).rejects.toBeInstanceOf(LockAbortedError);
    expect(performance.now() - started).toBeLessThan(1_000);
    await expect(rl.acquire('abort', { signal: controller.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    await held.release();
  });

  it('await using releases the lock at the end of the block', async () => {
    const rl = redlock(3);
    {
      await using lock = await rl.acquire('scoped');
      expect(await rl.tryAcquire('scoped')).toBeNull();
      expect(lock.remaining).toBeGreaterThan(0);
    }
    const after = await rl.tryAcquire('scoped');
    expect(after).not.toBeNull();
    await after!.release();
  });

  it('extend keeps the lock alive past its first lease', async () => {
    const rl = redlock(3);
    // A lease of 1 s (node timeout 50 ms): shorter ones made the extension round race the
    // per-node timeout on a loaded machine.
    const lock = await rl.acquire('ext', { ttl: 1_000 });
    const before = lock.validUntil;
    await new Promise((r) => setTimeout(r, 500));
    await lock.extend(2_500);
    expect(lock.validUntil).toBeGreaterThan(before + 1_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await rl.tryAcquire('ext')).toBeNull();
    expect(lock.signal.aborted).toBe(false);
    await lock.release();
  });

  it('quit releases the locks it holds and refuses new ones, leaving passed-in clients open', async () => {
    const passed = cluster.nodes[0].client();
    const rl = new Redlock([passed]);
    const lock = await rl.acquire('q');
    await rl.quit();
    expect(await passed.get('lock:q')).toBeNull();
    expect(lock.remaining).toBe(0);
    expect(passed.status).toBe('ready');
    await expect(rl.acquire('q')).rejects.toMatchObject({ code: 'QUORUM_UNAVAILABLE' });
  });

  it('quit closes the connections it created from URLs', async () => {
    const rl = new Redlock(cluster.urls().slice(0, 3));
    await (await rl.acquire('c')).release();
    await rl.quit();
    expect(rl.clients.map((c) => c.status)).toEqual(['end', 'end', 'end']);
  });
});
