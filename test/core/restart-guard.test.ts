import { afterAll, afterEach, describe, expect, it, jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { BIRTH_MS } from '../../lib/core/nodes/amnesia-guard.js';
import type { NodeOutInfo } from '../../lib/core/nodes/amnesia-guard.js';
import { QuorumUnavailableError } from '../../lib/core/errors.js';
import { NodeSet } from '../../lib/core/engine/node-set.js';
import { Redlock } from '../../lib/core/redlock.js';
import { startRedisNodes } from '../support/redis-nodes.js';
import type { RedisNodes } from '../support/redis-nodes.js';

// Rule 15 against real nodes: a node that lost acknowledged lock writes can grant a lock twice;
// the guard (on by default) keeps its votes out for the largest lease, and a fresh deployment
// counts at once. Scripted edge cases: amnesia-guard.test.ts.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LEASE = 1_500;
const sets: RedisNodes[] = [];
const open: Redlock[] = [];
const clients: Redis[] = [];

async function nodes(count: number, opts: Parameters<typeof startRedisNodes>[1] = { persist: false }): Promise<RedisNodes> {
  const set = await startRedisNodes(count, opts);
  sets.push(set);
  return set;
}

function redlock(cluster: RedisNodes, options: ConstructorParameters<typeof Redlock>[1] = {}): Redlock {
  const instance = new Redlock(cluster.urls(), { ttl: LEASE, retryDelay: 20, retryJitter: 20, ...options });
  open.push(instance);
  return instance;
}

async function allReady(...instances: Redlock[]): Promise<void> {
  for (let i = 0; i < 100 && !instances.every((r) => r.clients.every((c) => c.status === 'ready')); i++) await sleep(20);
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.quit()));
  for (const client of clients.splice(0)) client.disconnect();
});
afterAll(async () => {
  await Promise.all(sets.map((s) => s.stop()));
});

describe('a new user\'s first minute (rule 15 must not refuse a fresh deployment)', () => {
  it('plain `redis-server --port P` nodes, just started, and ioredis clients the user made: the first acquire succeeds in the first round', async () => {
    const cluster = await nodes(3, { plain: true });
    const users = cluster.nodes.map((n) => new Redis({ port: n.directPort }));
    clients.push(...users);
    const rl = new Redlock(users);
    open.push(rl);
    const rounds = jest.spyOn(NodeSet.prototype, 'take');
    try {
      const lock = await rl.acquire('first'); // default options
      expect(rounds).toHaveBeenCalledTimes(1); // granted in the first round
      expect(lock.remaining).toBeGreaterThan(9_000);
      expect(await lock.release()).toEqual({ released: true, nodes: 3 });
    } finally {
      rounds.mockRestore();
    }
    // Another process joining the deployment a moment later counts the marked nodes at once too.
    const second = new Redlock(cluster.nodes.map((n) => `redis://127.0.0.1:${n.directPort}`));
    open.push(second);
    await (await second.acquire('first', { wait: 0 })).release();
  });

  it('one call with a 30 s lease does not put healthy nodes out after a reconnection', async () => {
    const cluster = await nodes(3);
    const rl = redlock(cluster);
    await (await rl.acquire('long', { ttl: 30_000 })).release();
    for (const node of cluster.nodes) node.proxy.dropConnections();
    await sleep(50);
    await allReady(rl);
    await (await rl.acquire('short', { wait: 0 })).release();
  });
});

describe('a node that lost acknowledged lock writes sits out of the quorum', () => {
  /**
   * The holder takes `order:7` on nodes 0 and 1 only (node 2 is cut off), so the lock rests on a
   * bare quorum; then `loseData` makes node 0 forget it. A rival that counted node 0's "yes"
   * together with node 2's would hold the lock a second time.
   */
  async function bareQuorumThen(
    loseData: (cluster: RedisNodes) => Promise<void>,
    opts?: Parameters<typeof startRedisNodes>[1],
    setUp?: (cluster: RedisNodes) => void,
    afterWarmUp?: (cluster: RedisNodes) => Promise<unknown>,
  ) {
    const cluster = await nodes(3, opts);
    setUp?.(cluster);
    const holder = redlock(cluster, { restartGuard: false });
    const guarded = redlock(cluster);
    const unguarded = redlock(cluster, { restartGuard: false });
    const out: NodeOutInfo[] = [];
    guarded.on('nodeOut', (info) => out.push(info));
    await Promise.all([holder, guarded, unguarded].map(async (r) => (await r.acquire('warm')).release()));
    await afterWarmUp?.(cluster);
    await sleep(BIRTH_MS + 100); // the deployment's birth is over: its nodes are all marked

    cluster.nodes[2].proxy.refuse(true);
    cluster.nodes[2].proxy.dropConnections();
    const held = await holder.acquire('order:7');
    cluster.nodes[2].proxy.refuse(false);
    await loseData(cluster);
    await allReady(holder, guarded, unguarded);
    // A write queued while node 2 was cut off may land after the reconnect: node 2 missed it.
    await cluster.nodes[2].client().del('lock:order:7');
    expect(await cluster.nodes[0].client().get('lock:order:7')).toBeNull(); // node 0 forgot it
    expect(held.remaining).toBeGreaterThan(0);

    const refused = await guarded.tryAcquire('order:7').catch((e: unknown) => e);
    const second = await unguarded.tryAcquire('order:7');
    const stillHeld = held.remaining > 0;
    await second?.release();
    await held.release();
    return { refused, second, stillHeld, out };
  }

  function expectRefusedWithoutGuardGranted(result: Awaited<ReturnType<typeof bareQuorumThen>>, reason: RegExp) {
    expect(result.refused).toBeNull(); // guarded: node 0's yes does not count, only node 2 said yes
    expect(result.second).not.toBeNull(); // the hazard: nodes 0 and 2 form a quorum while the first lock is valid
    expect(result.stillHeld).toBe(true);
    expect(result.out).toEqual([expect.objectContaining({ node: 0, reason: expect.stringMatching(reason), countsAgainInMs: expect.any(Number) })]);
    expect(result.out[0].countsAgainInMs).toBeGreaterThan(LEASE - 300);
  }

  it('restarted without persistence (empty)', async () => {
    const result = await bareQuorumThen((c) => c.nodes[0].restart({ persist: false }));
    expectRefusedWithoutGuardGranted(result, /restarted or lost its data|lost its data/);
  });

  it('FLUSHALL while the lock is held (same server process, same connection)', async () => {
    const result = await bareQuorumThen((c) => c.nodes[0].flush());
    expectRefusedWithoutGuardGranted(result, /lost its data \(its marker is gone\)/);
  });

  it('restarted from an RDB snapshot taken before the lock (the marker survived, the lock did not)', async () => {
    const result = await bareQuorumThen(
      (c) => c.nodes[0].restart({ data: 'snapshot' }),
      { persist: false },
      undefined,
      // The snapshot is taken after the warm-up marked the node, before order:7 is taken.
      (c) => c.nodes[0].client().save(),
    );
    expectRefusedWithoutGuardGranted(result, /restarted or lost its data/);
  });

  it('restarted empty behind a proxy that keeps the client connection open (no reconnection to notice)', async () => {
    const result = await bareQuorumThen(
      (c) => c.nodes[0].restart({ persist: false }),
      { persist: false },
      (c) => c.nodes[0].proxy.keepClientsOnServerLoss(true),
    );
    expectRefusedWithoutGuardGranted(result, /restarted or lost its data|lost its data/);
  });

  it('a durable node (AOF, appendfsync always) replaced by an empty one', async () => {
    const result = await bareQuorumThen((c) => c.nodes[0].restart({ persist: true, data: 'wiped' }), { persist: true });
    expectRefusedWithoutGuardGranted(result, /restarted or lost its data|lost its data/);
  });
});

describe('sitting out ends, and says when', () => {
  it('a quorum that sits out answers QUORUM_UNAVAILABLE with the reason and when it counts again, then counts', async () => {
    const cluster = await nodes(3);
    const rl = redlock(cluster);
    await (await rl.acquire('x')).release();
    // Every node looks restarted: its script cache is gone (as after a restart), the marker is not.
    await Promise.all(cluster.nodes.map((n) => n.client().script('FLUSH')));
    const error = await rl.acquire('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuorumUnavailableError);
    const unavailable = error as QuorumUnavailableError;
    expect(unavailable.message).toMatch(/sits out of the quorum: it restarted or lost its data; its votes count again in \d+ ms/);
    expect(unavailable.retryAfterMs).toBeGreaterThan(LEASE - 300);
    expect(unavailable.retryAfterMs).toBeLessThanOrEqual(LEASE);
    await sleep(unavailable.retryAfterMs! + 50);
    await (await rl.acquire('x', { wait: 0 })).release();
  });

  it('the largest lease recorded on the nodes sets how long, also for a client that never used it', async () => {
    const cluster = await nodes(3);
    const longLease = redlock(cluster);
    await (await longLease.acquire('y', { ttl: 4_000 })).release();
    const shortLease = redlock(cluster, { ttl: 500 });
    await (await shortLease.acquire('y')).release();
    await sleep(BIRTH_MS + 100);
    await cluster.nodes[0].flush();
    const out: NodeOutInfo[] = [];
    shortLease.on('nodeOut', (info) => out.push(info));
    cluster.nodes[1].proxy.refuse(true); // so node 0's verdict decides the round
    cluster.nodes[1].proxy.dropConnections();
    await shortLease.tryAcquire('z').catch(() => undefined);
    expect(out).toEqual([expect.objectContaining({ node: 0, countsAgainInMs: 4_000 })]);
  });

  it('acquires made together, whose takes share one batch per node, meet a node whose script cache is gone: the boot check runs first and the node sits out for all of them', async () => {
    const cluster = await nodes(3);
    const rl = redlock(cluster);
    await (await rl.acquire('batch:warm')).release();
    await cluster.nodes[0].client().script('FLUSH'); // as after a restart that kept the data
    const out: NodeOutInfo[] = [];
    rl.on('nodeOut', (info) => out.push(info));
    const locks = await Promise.all(Array.from({ length: 20 }, (_, i) => rl.acquire(`batch:${i}`, { wait: 0 })));
    // Nodes 1 and 2 decide the rounds; node 0 answers later (NOSCRIPT, the boot check, then the batch by EVAL).
    for (let i = 0; i < 100 && out.length === 0; i++) await sleep(20);
    expect(out).toEqual([expect.objectContaining({ node: 0, reason: expect.stringMatching(/restarted/) })]);
    // The sentinel quarantined node 0 before the batch ran there: its takes read the quarantine.
    expect(await cluster.nodes[0].client().pttl('lock:__redlock__:quarantine')).toBeGreaterThan(0);
    const more = await Promise.all(Array.from({ length: 10 }, (_, i) => rl.acquire(`batch:more:${i}`, { wait: 0 })));
    expect(out).toHaveLength(1); // one episode, reported once
    await Promise.all([...locks, ...more].map((lock) => lock.release()));
  });

  it('restartGuard: false counts a node that lost its data at once', async () => {
    const cluster = await nodes(3);
    const rl = redlock(cluster, { restartGuard: false });
    await (await rl.acquire('w')).release();
    await Promise.all(cluster.nodes.map((n) => n.client().script('FLUSH')));
    await (await rl.acquire('w', { wait: 0 })).release();
  });

  it('restartGuard is validated', () => {
    expect(() => new Redlock(['redis://127.0.0.1:1'], { restartGuard: -1 })).toThrow(expect.objectContaining({ field: 'options.restartGuard' }));
    expect(() => new Redlock(['redis://127.0.0.1:1'], { restartGuard: 'yes' as never })).toThrow(expect.objectContaining({ field: 'options.restartGuard' }));
  });

  it('the library\'s own key names cannot be taken as a resource', async () => {
    const rl = new Redlock(['redis://127.0.0.1:1']);
    open.push(rl);
    await expect(rl.acquire('__redlock__:marker')).rejects.toMatchObject({ code: 'INVALID_CONFIG', field: 'resources' });
  });
});

describe('an ACL user limited to the scripts on keys under the prefix', () => {
  // Everything the engine runs: EVALSHA / EVAL, and inside the scripts GET, SET, PTTL, DEL and
  // PEXPIRE on keys under the prefix. No INFO, no CONFIG. (HELLO and AUTH are how ioredis logs in.)
  const RULES = ['on', '>locker-pw', 'resetkeys', '~lock:*', 'resetchannels', '-@all', '+hello', '+auth', '+evalsha', '+eval', '+get', '+set', '+pttl', '+del', '+pexpire'];

  it('locks a fresh deployment at once and still tells a node that lost its data', async () => {
    const cluster = await nodes(3);
    await Promise.all(cluster.nodes.map((n) => n.client().acl('SETUSER', 'locker', ...RULES)));
    const users = cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port, username: 'locker', password: 'locker-pw', enableReadyCheck: false }));
    const rl = new Redlock(users, { ttl: LEASE, retryDelay: 20, retryJitter: 20 });
    open.push(rl);
    const out: NodeOutInfo[] = [];
    rl.on('nodeOut', (info) => out.push(info));
    await (await rl.acquire('acl', { wait: 0 })).release();
    await sleep(BIRTH_MS + 100);
    await cluster.nodes[0].flush();
    await (await rl.acquire('acl', { wait: 0 })).release(); // nodes 1 and 2 still make a quorum
    expect(out).toEqual([expect.objectContaining({ node: 0, reason: expect.stringMatching(/lost its data/) })]);
    // A restart (its script cache gone) is told the same way, with the same permissions.
    await Promise.all([1, 2].map((i) => cluster.nodes[i].client().script('FLUSH')));
    const error = await rl.acquire('acl', { wait: 0 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'QUORUM_UNAVAILABLE', message: expect.stringMatching(/restarted or lost its data/) });
  });
});
