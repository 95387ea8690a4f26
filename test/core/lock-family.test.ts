import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redlock } from '../../lib/core/index.js';
import type { Lock } from '../../lib/core/index.js';
import { startRedisNodes } from '../support/redis-nodes.js';
import type { RedisNodes } from '../support/redis-nodes.js';

// The lock family on real, just-started redis-server nodes (default config): read/write locks,
// semaphores and fenced locks over the one engine.
let cluster: RedisNodes;
const open: Redlock[] = [];

beforeAll(async () => {
  cluster = await startRedisNodes(3, { plain: true });
});
afterAll(async () => {
  await Promise.all(open.map((rl) => rl.quit()));
  await cluster?.stop();
});

function redlock(): Redlock {
  const rl = new Redlock(cluster.urls(), { ttl: 2_000, retryDelay: 10, retryJitter: 10 });
  open.push(rl);
  return rl;
}

describe('read/write lock', () => {
  it('readers share a resource; a writer (and a plain lock) is kept out until the last reader leaves', async () => {
    const [a, b] = [redlock(), redlock()];
    const readers = await Promise.all([a.acquire('doc:1', { mode: 'read' }), b.acquire('doc:1', { mode: 'read' })]);
    expect(readers.map((r) => r.mode)).toEqual(['read', 'read']);
    expect(await a.tryAcquire('doc:1', { mode: 'write' })).toBeNull();
    expect(await b.tryAcquire('doc:1')).toBeNull();
    await readers[0].release();
    expect(await a.tryAcquire('doc:1')).toBeNull(); // one reader is still in
    await readers[1].release();
    const writer = await a.acquire('doc:1', { wait: 0 });
    expect(writer.mode).toBe('write');
    expect(await b.tryAcquire('doc:1', { mode: 'read' })).toBeNull();
    await writer.release();
    await (await b.acquire('doc:1', { mode: 'read', wait: 0 })).release();
  });

  it('a crashed reader\'s hold expires alone, without ending the other readers\' holds', async () => {
    const rl = redlock();
    const short = await rl.acquire('doc:2', { mode: 'read', ttl: 300 });
    const long = await rl.acquire('doc:2', { mode: 'read', ttl: 5_000 });
    await new Promise((r) => setTimeout(r, 400)); // the short reader never releases
    expect(long.remaining).toBeGreaterThan(3_000);
    await long.extend();
    expect(await rl.tryAcquire('doc:2')).toBeNull(); // the long reader still holds it
    await long.release();
    await (await rl.acquire('doc:2', { wait: 0 })).release();
    expect(short.signal.aborted).toBe(true);
    await expect(short.extend()).rejects.toMatchObject({ code: 'LOCK_LOST' });
  });

  it('a waiting writer is not starved by 8 readers in a loop: it gets in within 2 leases', async () => {
    const rl = redlock();
    const ttl = 500;
    let stop = false;
    const loops = Array.from({ length: 8 }, async () => {
      while (!stop) {
        const reader = await rl.tryAcquire('doc:3', { mode: 'read', ttl });
        if (reader) {
          await new Promise((r) => setTimeout(r, 20));
          await reader.release();
        } else await new Promise((r) => setTimeout(r, 5));
      }
    });
    await new Promise((r) => setTimeout(r, 100)); // readers are streaming
    const started = performance.now();
    const writer = await rl.acquire('doc:3', { ttl, wait: 4 * ttl });
    const waited = performance.now() - started;
    stop = true;
    await writer.release();
    await Promise.all(loops);
    expect(waited).toBeLessThan(2 * ttl);
  });

  it('a waiting writer keeps new readers out between its attempts, and lets them in once it gives up', async () => {
    const rl = redlock();
    const first = await rl.acquire('doc:4', { mode: 'read', ttl: 3_000 });
    const writer = rl.acquire('doc:4', { wait: 1_200 }).catch((e: unknown) => e);
    // The writer has tried (and cleaned up) several times by now, and sleeps between attempts.
    const refused: (Lock | null)[] = [];
    for (let i = 0; i < 8; i += 1) {
      await new Promise((r) => setTimeout(r, 100));
      refused.push(await rl.tryAcquire('doc:4', { mode: 'read' }));
    }
    expect(refused.filter(Boolean)).toEqual([]);
    expect(await writer).toMatchObject({ code: 'LOCK_BUSY' });
    // Given up: its mark is withdrawn at once, not left to expire.
    const next = await rl.tryAcquire('doc:4', { mode: 'read' });
    expect(next).not.toBeNull();
    await Promise.all([first.release(), next!.release()]);
  });
});

describe('semaphore', () => {
  it('at most `limit` holders at once; a released permit lets the next one in', async () => {
    const rl = redlock();
    const held: Lock[] = [];
    for (let i = 0; i < 3; i += 1) held.push((await rl.tryAcquire('export', { limit: 3 }))!);
    expect(held.map((l) => l.limit)).toEqual([3, 3, 3]);
    expect(await rl.tryAcquire('export', { limit: 3 })).toBeNull();
    expect(await rl.tryAcquire('export')).toBeNull(); // an exclusive lock waits for every permit
    await held[0].release();
    const next = await rl.acquire('export', { limit: 3, wait: 0 });
    await Promise.all([next, held[1], held[2]].map((l) => l.release()));
  });

  it('a crashed holder\'s permit comes back when its lease ends', async () => {
    const rl = redlock();
    await rl.acquire('slots', { limit: 1, ttl: 300 }); // never released
    expect(await rl.tryAcquire('slots', { limit: 1 })).toBeNull();
    const next = await rl.acquire('slots', { limit: 1, wait: 2_000 });
    await next.release();
  });

  it('a call whose limit differs from the holders\' fails with RedlockConfigError (field limit)', async () => {
    const rl = redlock();
    const held = await rl.acquire('pool', { limit: 2 });
    await expect(rl.acquire('pool', { limit: 5, wait: 0 })).rejects.toMatchObject({ code: 'INVALID_CONFIG', field: 'limit' });
    await expect(rl.acquire('pool', { mode: 'read', wait: 0 })).rejects.toMatchObject({ code: 'INVALID_CONFIG', field: 'limit' });
    await held.release();
  });
});

describe('fenced lock', () => {
  it('every later holder of a resource gets a strictly larger fence, across clients; extension keeps it', async () => {
    const clients = [redlock(), redlock(), redlock()];
    const fences: number[] = [];
    for (let i = 0; i < 9; i += 1) {
      const lock = await clients[i % 3].acquire('stock:sku-1', { fenced: true, wait: 1_000 });
      fences.push(lock.fence!);
      await lock.extend();
      expect(lock.fence).toBe(fences[fences.length - 1]);
      await lock.release();
    }
    for (let i = 1; i < fences.length; i += 1) expect(fences[i]).toBeGreaterThan(fences[i - 1]);
  });

  it('a node that lost its data is re-seeded from the quorum before its fence votes count', async () => {
    const rl = redlock();
    const before = await rl.acquire('stock:sku-2', { fenced: true });
    await before.release();
    await cluster.nodes[0].client().flushall();
    // Two other clients, which never saw the fence, take it while node 0 is out of the quorum and after.
    const fresh = redlock();
    const next = await fresh.acquire('stock:sku-2', { fenced: true, wait: 5_000 });
    expect(next.fence).toBeGreaterThan(before.fence!);
    await next.release();
    await new Promise((r) => setTimeout(r, 2_100)); // node 0's quarantine (one lease) is over
    // Node 1 is held by someone else, so no quorum can form without node 0: it must be re-seeded
    // (it says its fences are in doubt until then) before its vote on a fence counts.
    // Long enough that the lock can only come through node 0, however long it sits out (a client
    // that meets it within its first second may seal it again; a loaded machine stretches that).
    await cluster.nodes[1].client().set('lock:stock:sku-2', 'another-owner', 'PX', 30_000);
    const later = await redlock().acquire('stock:sku-2', { fenced: true, wait: 20_000 });
    expect(later.fence).toBeGreaterThan(next.fence!);
    await later.release();
    const stored = await cluster.nodes[0].client().get('lock:__redlock__:fence:stock:sku-2');
    expect(Number(stored?.split('/')[0])).toBe(later.fence);
    await cluster.nodes[1].client().del('lock:stock:sku-2');
  });
});

describe('options of the lock family', () => {
  it.each([
    [{ mode: 'shared' }, 'options.mode'],
    [{ limit: 0 }, 'options.limit'],
    [{ limit: 1.5 }, 'options.limit'],
    [{ limit: 2, mode: 'read' }, 'options.limit'],
    [{ fenced: 'yes' }, 'options.fenced'],
    [{ fenced: true, mode: 'read' }, 'options.fenced'],
    [{ fenced: true, limit: 2 }, 'options.fenced'],
  ])('%j is refused with RedlockConfigError naming %s', async (options, field) => {
    await expect(redlock().acquire('x', options as never)).rejects.toMatchObject({ code: 'INVALID_CONFIG', field });
  });
});
