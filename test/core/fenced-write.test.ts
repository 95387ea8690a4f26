import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import { defaultFenceKey, fencedWrite, Redlock, RedlockConfigError } from '../../lib/core/index.js';
import { freePort } from '../support/free-port.js';
import { RedisProcess } from '../support/redis-process.js';
import { startRedisNodes } from '../support/redis-nodes.js';
import type { RedisNodes } from '../support/redis-nodes.js';

// The store's half of fencing on real redis-server processes: 3 lock nodes for the end-to-end
// case, and one more node as the protected data store.
let lockNodes: RedisNodes;
let storeNode: RedisNodes;
let store: Redis;
const open: Redlock[] = [];

beforeAll(async () => {
  [lockNodes, storeNode] = await Promise.all([startRedisNodes(3, { plain: true }), startRedisNodes(1, { plain: true })]);
  store = storeNode.nodes[0].client();
});
afterAll(async () => {
  await Promise.all(open.map((rl) => rl.quit()));
  await Promise.all([lockNodes?.stop(), storeNode?.stop()]);
});

describe('fencedWrite on one Redis', () => {
  it('accepts increasing fences and reports the highest one', async () => {
    expect(await fencedWrite(store, 'stock:a', 10, 1)).toEqual({ written: true, highestFence: 1 });
    expect(await fencedWrite(store, 'stock:a', 9, 2)).toEqual({ written: true, highestFence: 2 });
    expect(await fencedWrite(store, 'stock:a', '7', 5)).toEqual({ written: true, highestFence: 5 });
    expect(await store.get('stock:a')).toBe('7');
    expect(await store.get('{stock:a}:fence')).toBe('5');
  });

  it('refuses a smaller fence and leaves the value and the fence untouched', async () => {
    await fencedWrite(store, 'stock:b', 'new', 8);
    expect(await fencedWrite(store, 'stock:b', 'stale', 3)).toEqual({ written: false, highestFence: 8 });
    expect(await fencedWrite(store, 'stock:b', 'stale', 7)).toEqual({ written: false, highestFence: 8 });
    expect(await store.get('stock:b')).toBe('new');
    expect(await store.get('{stock:b}:fence')).toBe('8');
  });

  it('allows an equal fence (the same holder writing again)', async () => {
    await fencedWrite(store, 'stock:c', 'first', 4);
    expect(await fencedWrite(store, 'stock:c', 'second', 4)).toEqual({ written: true, highestFence: 4 });
    expect(await store.get('stock:c')).toBe('second');
  });

  it('keeps the fence in a custom fenceKey when given one', async () => {
    expect(await fencedWrite(store, 'stock:d', 1, 3, { fenceKey: 'fences:stock:d' })).toEqual({ written: true, highestFence: 3 });
    expect(await fencedWrite(store, 'stock:d', 2, 2, { fenceKey: 'fences:stock:d' })).toEqual({ written: false, highestFence: 3 });
    expect(await store.get('fences:stock:d')).toBe('3');
    expect(await store.exists('{stock:d}:fence')).toBe(0);
    expect(await store.get('stock:d')).toBe('1');
  });

  it('handles fences up to Number.MAX_SAFE_INTEGER exactly', async () => {
    const big = Number.MAX_SAFE_INTEGER;
    expect(await fencedWrite(store, 'stock:big', 'x', big - 1)).toEqual({ written: true, highestFence: big - 1 });
    expect(await fencedWrite(store, 'stock:big', 'y', big)).toEqual({ written: true, highestFence: big });
    expect(await fencedWrite(store, 'stock:big', 'z', big - 1)).toEqual({ written: false, highestFence: big });
  });

  it('works again after the server lost its script cache (EVALSHA falls back to EVAL)', async () => {
    await fencedWrite(store, 'stock:e', 1, 1);
    await store.script('FLUSH');
    expect(await fencedWrite(store, 'stock:e', 2, 2)).toEqual({ written: true, highestFence: 2 });
  });

  it('fails instead of writing when the fence key holds something else than a number', async () => {
    await store.set('{stock:f}:fence', 'garbage');
    await expect(fencedWrite(store, 'stock:f', 1, 1)).rejects.toThrow(/does not hold a number/);
    expect(await store.exists('stock:f')).toBe(0);
  });

  it.each<[string, () => Promise<unknown>, string]>([
    ['fence 0', () => fencedWrite(store, 'k', 1, 0), 'fence'],
    ['negative fence', () => fencedWrite(store, 'k', 1, -3), 'fence'],
    ['fractional fence', () => fencedWrite(store, 'k', 1, 1.5), 'fence'],
    ['unsafe fence', () => fencedWrite(store, 'k', 1, 2 ** 53), 'fence'],
    ['fence as a string', () => fencedWrite(store, 'k', 1, '3' as unknown as number), 'fence'],
    ['missing fence (a lock taken without fenced: true)', () => fencedWrite(store, 'k', 1, undefined as unknown as number), 'fence'],
    ['empty key', () => fencedWrite(store, '', 1, 1), 'key'],
    ['key not a string', () => fencedWrite(store, 42 as unknown as string, 1, 1), 'key'],
    ['value NaN', () => fencedWrite(store, 'k', Number.NaN, 1), 'value'],
    ['value an object', () => fencedWrite(store, 'k', {} as unknown as string, 1), 'value'],
    ['options not an object', () => fencedWrite(store, 'k', 1, 1, 'x' as unknown as object), 'options'],
    ['empty fenceKey', () => fencedWrite(store, 'k', 1, 1, { fenceKey: '' }), 'options.fenceKey'],
    ['fenceKey = key', () => fencedWrite(store, 'k', 1, 1, { fenceKey: 'k' }), 'options.fenceKey'],
    ['no default fence key can share the slot', () => fencedWrite(store, 'a}b', 1, 1), 'options.fenceKey'],
    ['not a client', () => fencedWrite({} as unknown as Redis, 'k', 1, 1), 'client'],
  ])('rejects %s with RedlockConfigError naming the field, before touching Redis', async (_name, call, field) => {
    const error = await call().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect(error).toMatchObject({ code: 'INVALID_CONFIG', field });
    expect(await store.exists('k', '{k}:fence')).toBe(0);
  });
});

describe('the default fence key shares the hash slot of the key', () => {
  let server: RedisProcess;
  let dir: string;
  let cluster: Cluster;

  // A one-node Redis Cluster owning every slot: enough for Redis to refuse a script whose keys
  // are in different slots (CROSSSLOT), which is what the default fence key must avoid.
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'redlock-cluster-'));
    const port = await freePort();
    server = await RedisProcess.start({
      port,
      dir,
      appendOnly: false,
      extraArgs: ['--cluster-enabled', 'yes', '--cluster-announce-ip', '127.0.0.1', '--cluster-config-file', join(dir, 'nodes.conf')],
    });
    const admin = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
    await admin.connect();
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    for (let i = 0; i < 100 && !String(await admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok'); i += 1) await sleep(50);
    admin.disconnect();
    cluster = new Cluster([{ host: '127.0.0.1', port }], { lazyConnect: true });
    cluster.on('error', () => {});
    await cluster.connect();
  });
  afterAll(async () => {
    cluster?.disconnect();
    await server?.kill();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const slotOf = async (key: string) => Number(await cluster.call('CLUSTER', 'KEYSLOT', key));

  it.each([
    ['stock:sku-1', '{stock:sku-1}:fence'],
    ['user:{42}:stock', 'user:{42}:stock:fence'],
    ['a{b', '{a{b}:fence'], // no closing brace, no tag: the whole key counts
    ['x{y}z{w}', 'x{y}z{w}:fence'], // only the first tag counts
  ])('%s -> %s, in the same slot, and a Cluster runs the write', async (key, expected) => {
    expect(defaultFenceKey(key)).toBe(expected);
    expect(await slotOf(expected)).toBe(await slotOf(key));
    expect(await fencedWrite(cluster, key, 'v', 2)).toEqual({ written: true, highestFence: 2 });
    expect(await fencedWrite(cluster, key, 'old', 1)).toEqual({ written: false, highestFence: 2 });
    expect(await cluster.get(key)).toBe('v');
  });

  it.each(['{}stock', 'x{}{y}', 'a}b'])('%s (a "}" but no tag: the whole key is hashed) needs a fenceKey', async (key) => {
    expect(() => defaultFenceKey(key)).toThrow(expect.objectContaining({ field: 'options.fenceKey' }) as unknown as Error);
    // Redis agrees that the key has no tag: appending to it moves it to another slot.
    expect(await slotOf(`${key}:fence`)).not.toBe(await slotOf(key));
  });

  it('a custom fenceKey in another slot is refused by the Cluster (so the default matters)', async () => {
    expect(await slotOf('other-fences')).not.toBe(await slotOf('stock:sku-2'));
    await expect(fencedWrite(cluster, 'stock:sku-2', 'v', 1, { fenceKey: 'other-fences' })).rejects.toThrow(/CROSSSLOT/);
  });
});

describe('end to end with a fenced lock', () => {
  it('a holder paused past its lease writes late and is refused; the newer holder\'s value stays', async () => {
    const [slow, fast] = [new Redlock(lockNodes.urls(), { ttl: 300, retryDelay: 20 }), new Redlock(lockNodes.urls(), { retryDelay: 20 })];
    open.push(slow, fast);
    // The slow holder takes the lock, reads, then stalls (a GC pause, say) with no auto-extension.
    const stale = await slow.acquire('stock:sku-9', { fenced: true });
    await sleep(400); // its lease has run out on the lock nodes, though it does not know
    expect(stale.remaining).toBe(0);

    const fresh = await fast.acquire('stock:sku-9', { fenced: true, wait: 0 });
    expect(fresh.fence!).toBeGreaterThan(stale.fence!);
    expect(await fencedWrite(store, 'stock:sku-9', 'from the new holder', fresh.fence!)).toEqual({ written: true, highestFence: fresh.fence });

    // The stale holder wakes up and writes what it computed before the pause.
    expect(await fencedWrite(store, 'stock:sku-9', 'from the stale holder', stale.fence!)).toEqual({ written: false, highestFence: fresh.fence });
    expect(await store.get('stock:sku-9')).toBe('from the new holder');
    await fresh.release();
  });
});
