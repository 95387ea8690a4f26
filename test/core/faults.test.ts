import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redlock } from '../../lib/core/redlock.js';
import { monotonicClock } from '../../lib/core/time/clock.js';
import type { Clock } from '../../lib/core/time/clock.js';
import { QuorumUnavailableError } from '../../lib/core/errors.js';
import { EXCLUSIVE_TAKE as ACQUIRE, mutex } from '../../lib/core/primitives/mutex.js';
import { startRedisNodes } from '../support/redis-nodes.js';
import type { RedisNodes } from '../support/redis-nodes.js';

// Faults on one node or a majority, during acquire and while holding (CORRECTNESS.md scenarios).
// ttl 2 000 gives a per-node timeout of 100 ms.
const TTL = 2_000;
const NODE_TIMEOUT = 100;

let cluster: RedisNodes;
const open: Redlock[] = [];

function redlock(count = 3): Redlock {
  const instance = new Redlock(cluster.urls().slice(0, count), { ttl: TTL, retryDelay: 20, retryJitter: 20 });
  open.push(instance);
  return instance;
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  cluster = await startRedisNodes(5);
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.quit()));
  for (const node of cluster.nodes) {
    node.resume();
    node.proxy.reset();
    if (node.pid === undefined) await node.restart();
  }
  await Promise.all(cluster.nodes.map((n) => n.flush()));
});
afterAll(async () => {
  await cluster?.stop();
});

describe('one node failing: acquire still succeeds on a quorum and returns quickly', () => {
  it('a killed node', async () => {
    const rl = redlock();
    await (await rl.acquire('warm')).release(); // connections are up
    await cluster.nodes[2].kill();
    const { value: lock, ms } = await timed(() => rl.acquire('k'));
    expect(ms).toBeLessThan(500);
    expect(lock.remaining).toBeGreaterThan(TTL / 2);
    const released = await lock.release();
    expect(released).toEqual({ released: true, nodes: 2 });
  });

  it('quit() does not wait for a killed node to say goodbye (its client is between reconnect attempts)', async () => {
    const rl = new Redlock(cluster.urls().slice(0, 3), { ttl: TTL });
    await (await rl.acquire('warm')).release();
    await cluster.nodes[2].kill();
    await sleep(300); // its client is reconnecting by now
    const { ms } = await timed(() => rl.quit());
    // It used to wait a whole second for an 'end' event that ioredis never sends in that state.
    expect(ms).toBeLessThan(900);
    // And the client stopped for good: when the node comes back, nothing of ours reconnects.
    await cluster.nodes[2].restart();
    await sleep(500); // past the client's next reconnect attempt (50-200 ms apart)
    const clients = String(await cluster.nodes[2].client().client('LIST')).trim().split('\n');
    expect(clients).toHaveLength(1); // the admin connection asking
  });

  it('a node paused (SIGSTOP) past the ttl', async () => {
    const rl = redlock();
    await (await rl.acquire('warm')).release();
    cluster.nodes[1].pause();
    const { value: lock, ms } = await timed(() => rl.acquire('k'));
    expect(ms).toBeLessThan(500);
    // release is bounded by the per-node timeout although the paused node never answers
    const { value: released, ms: releaseMs } = await timed(() => lock.release());
    expect(released).toEqual({ released: true, nodes: 2 });
    expect(releaseMs).toBeLessThan(NODE_TIMEOUT + 400);
    await sleep(TTL + 200);
    cluster.nodes[1].resume();
    const again = await rl.acquire('k');
    await again.release();
  });

  it('a node slowed past the per-node timeout by the proxy', async () => {
    const rl = redlock();
    await (await rl.acquire('warm')).release();
    cluster.nodes[0].proxy.setLatency(NODE_TIMEOUT * 4);
    const { value: lock, ms } = await timed(() => rl.acquire('k'));
    expect(ms).toBeLessThan(NODE_TIMEOUT * 3);
    await lock.release();
  });

  it('a hung (stalled) node never stalls acquire or release', async () => {
    const rl = redlock(5);
    await (await rl.acquire('warm')).release();
    cluster.nodes[3].proxy.stall();
    cluster.nodes[4].proxy.stall();
    const { value: lock, ms } = await timed(() => rl.acquire('k'));
    expect(ms).toBeLessThan(500);
    const { value: released, ms: releaseMs } = await timed(() => lock.release());
    expect(released.released).toBe(true);
    expect(releaseMs).toBeLessThan(NODE_TIMEOUT + 400);
  });
});

describe('a blocked event loop', () => {
  const block = (ms: number) => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  };

  it('longer than the node timeout does not fail a round whose replies arrived in time', async () => {
    // Direct connections: the proxies run in this process and would be blocked too.
    const rl = new Redlock(
      cluster.nodes.slice(0, 3).map((n) => `redis://${n.host}:${n.directPort}`),
      { ttl: TTL },
    );
    open.push(rl);
    const lock0 = await rl.acquire('warm');
    await lock0.extend();
    await lock0.release(); // connected, scripts loaded
    // Block right after the round's writes went out, as a GC pause would: the replies are in
    // the sockets before the per-node timers fire.
    let stallAfter = 0;
    for (const client of rl.clients) {
      const evalsha = client.evalsha.bind(client) as (...args: unknown[]) => Promise<unknown>;
      (client as unknown as { evalsha: unknown }).evalsha = (...args: unknown[]) => {
        const reply = evalsha(...args);
        // The round's writes leave together on the next tick (nodes/turn-queue.ts): block after that.
        if (stallAfter > 0 && --stallAfter === 0) process.nextTick(() => block(NODE_TIMEOUT * 2));
        return reply;
      };
    }
    stallAfter = 3;
    const lock = await rl.acquire('stalled');
    stallAfter = 3;
    await lock.extend();
    expect(lock.signal.aborted).toBe(false);
    await lock.release();
  });
});

describe('a majority failing: QUORUM_UNAVAILABLE within the wait bound, never a hang', () => {
  it('two of three nodes killed', async () => {
    const rl = redlock();
    await (await rl.acquire('warm')).release();
    await cluster.nodes[0].kill();
    await cluster.nodes[1].kill();
    const { value: error, ms } = await timed(() => rl.acquire('k', { wait: 5_000 }).catch((e: unknown) => e));
    expect(error).toBeInstanceOf(QuorumUnavailableError);
    const nodeErrors = (error as QuorumUnavailableError).nodeErrors;
    expect(nodeErrors.map((e) => e.node).sort()).toEqual([0, 1]);
    expect(ms).toBeLessThan(1_000);
  });

  it('two of three nodes paused: decided by the per-node timeout', async () => {
    const rl = redlock();
    await (await rl.acquire('warm')).release();
    cluster.nodes[0].pause();
    cluster.nodes[2].pause();
    const { value: error, ms } = await timed(() => rl.acquire('k', { wait: 5_000 }).catch((e: unknown) => e));
    expect(error).toMatchObject({ code: 'QUORUM_UNAVAILABLE' });
    expect(ms).toBeLessThan(NODE_TIMEOUT + 500);
  });

  it('the system recovers by itself when the nodes return', async () => {
    const rl = redlock();
    await (await rl.acquire('warm')).release();
    await cluster.nodes[0].kill();
    await cluster.nodes[1].kill();
    await expect(rl.acquire('k')).rejects.toMatchObject({ code: 'QUORUM_UNAVAILABLE' });
    await cluster.nodes[0].restart();
    await cluster.nodes[1].restart();
    let lock = null;
    for (let i = 0; i < 100 && !lock; i++) {
      lock = await rl.acquire('k').catch(() => null);
      if (!lock) await sleep(100);
    }
    expect(lock).not.toBeNull();
    await lock!.release();
  });
});

describe('even split and late writes', () => {
  it('N=4 split 2:2 settles at once as busy, and within `wait` when waiting', async () => {
    await Promise.all([0, 1].map((i) => cluster.nodes[i].client().set('lock:k', 'other', 'PX', 10_000)));
    const rl = redlock(4);
    const { value: lock, ms } = await timed(() => rl.tryAcquire('k'));
    expect(lock).toBeNull();
    expect(ms).toBeLessThan(300);
    const waited = await timed(() => rl.acquire('k', { wait: 300 }).catch((e: unknown) => e));
    expect(waited.value).toMatchObject({ code: 'LOCK_BUSY' });
    expect(waited.ms).toBeLessThan(1_000);
  });

  it('rule 7: a failed attempt is cleaned up on all N, including a node that timed out', async () => {
    await cluster.nodes[0].client().set('lock:k', 'other', 'PX', 10_000);
    const rl = redlock();
    await (await rl.acquire('warm')).release();
    cluster.nodes[1].proxy.setLatency(NODE_TIMEOUT * 3); // its write lands after we gave up on it
    expect(await rl.tryAcquire('k')).toBeNull();
    await sleep(NODE_TIMEOUT * 8);
    const values = await Promise.all([0, 1, 2].map((i) => cluster.nodes[i].client().get('lock:k')));
    expect(values).toEqual(['other', null, null]);
  });

  const scriptCalls = (i: number) => cluster.nodes[i].client().info('commandstats').then((text) => Number(/cmdstat_evalsha:calls=(\d+)/.exec(text)?.[1] ?? 0));
  async function countedAcquire(rl: Redlock, resources: string | string[], options: Record<string, unknown>, wait = 300): Promise<{ attempts: number; calls: number[] }> {
    const attempts: number[] = [];
    const listener = (report: { attempts: number }) => attempts.push(report.attempts);
    rl.on('acquireSettled', listener);
    const before = await Promise.all([0, 1, 2].map(scriptCalls));
    await expect(rl.acquire(resources, { wait, ...options })).rejects.toMatchObject({ code: 'LOCK_BUSY' });
    rl.off('acquireSettled', listener);
    const calls = (await Promise.all([0, 1, 2].map(scriptCalls))).map((n, i) => n - before[i]!);
    return { attempts: attempts[0]!, calls };
  }

  it('rule 7 between attempts: a mutex cleans up where its write may be (yes, not heard), not where a node answered no; the last clean-up goes to all N', async () => {
    await cluster.nodes[1].client().set('lock:k', 'other', 'PX', 10_000);
    const rl = redlock();
    await (await rl.acquire('warm')).release();
    // Node 2 answers after the node timeout: not heard when each round is decided.
    cluster.nodes[2].proxy.setLatency(NODE_TIMEOUT);
    const { attempts: n, calls } = await countedAcquire(rl, 'k', {}, 2_500);
    expect(n).toBeGreaterThan(2);
    // Node 0 (yes): each attempt's take, then its clean-up. Node 2 (not heard): every attempt's
    // clean-up too (once it counts as not answering, takes fail without being sent, clean-ups
    // still go), so more calls than attempts. Node 1 said no: its takes, and the final withdraw
    // (twice at most: a last attempt that ends just before the wait runs out is cleaned up, then
    // withdrawn); cleaning up on all N would have sent it 2n.
    expect(calls[0]).toBeGreaterThanOrEqual(2 * n);
    expect(calls[2]).toBeGreaterThan(n);
    expect(calls[1]).toBeLessThanOrEqual(n + 2);
    cluster.nodes[2].proxy.reset();
    await sleep(NODE_TIMEOUT * 4);
    const values = await Promise.all([0, 1, 2].map((i) => cluster.nodes[i].client().get('lock:k')));
    expect(values).toEqual([null, 'other', null]);
  });

  it.each([
    ['a fair lock (a no while not first in line)', 'k', { fair: true }],
    ['a lock over two resources (the first may be ours when the second says no)', ['k2', 'k'], {}],
  ])('rule 7 between attempts: %s is cleaned up on all N', async (_, resources, options) => {
    await Promise.all([1, 2].map((i) => cluster.nodes[i].client().set('lock:k', 'other', 'PX', 10_000)));
    const rl = redlock();
    await (await rl.acquire('warm')).release();
    const { attempts: n, calls } = await countedAcquire(rl, resources, options);
    expect(n).toBeGreaterThan(2);
    // Nodes 1 and 2 said no every time, and each got every attempt's clean-up too.
    for (const count of calls) expect(count).toBeGreaterThanOrEqual(2 * n);
    const left = await Promise.all([0, 1, 2].map((i) => cluster.nodes[i].client().get('lock:k2')));
    expect(left).toEqual([null, null, null]);
  });

  it('rule 7: the clean-up runs even when the caller aborts during the attempt', async () => {
    const rl = redlock();
    await (await rl.acquire('warm')).release();
    cluster.nodes[1].proxy.setLatency(NODE_TIMEOUT / 4); // each way
    cluster.nodes[2].proxy.setLatency(NODE_TIMEOUT / 4);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 10);
    await expect(rl.acquire('k', { signal: controller.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    await sleep(NODE_TIMEOUT * 3);
    const values = await Promise.all([0, 1, 2].map((i) => cluster.nodes[i].client().get('lock:k')));
    expect(values).toEqual([null, null, null]);
  });

  it('rule 7: the clean-up of a failed attempt runs even when the caller aborts during it', async () => {
    // Nodes 1 and 2 are taken: the attempt fails as soon as they answer, while our write to the
    // slow node 0 is still on its way. The abort comes during the clean-up, which must go on.
    await Promise.all([1, 2].map((i) => cluster.nodes[i].client().set('lock:k', 'other', 'PX', 10_000)));
    const rl = redlock();
    await (await rl.acquire('warm')).release();
    cluster.nodes[0].proxy.setLatency(NODE_TIMEOUT / 4); // each way
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 5);
    await expect(rl.acquire('k', { signal: controller.signal, wait: 2_000 })).rejects.toMatchObject({ code: 'ABORTED' });
    await sleep(NODE_TIMEOUT * 3);
    const values = await Promise.all([0, 1, 2].map((i) => cluster.nodes[i].client().get('lock:k')));
    expect(values).toEqual([null, 'other', 'other']);
  });

  it('rule 1: a late write of our own earlier attempt does not block our retry', async () => {
    // Node 0 is slow: attempt 1 loses it (timeout) and is busy on node 1, so it retries;
    // by then node 0 may hold our own token, which must count as a yes, not as busy.
    const rl = redlock();
    await (await rl.acquire('warm')).release();
    await cluster.nodes[1].client().set('lock:k', 'other', 'PX', 300);
    cluster.nodes[0].proxy.setLatency(NODE_TIMEOUT * 2);
    const lock = await rl.acquire('k', { wait: 3_000 });
    expect(lock.remaining).toBeGreaterThan(0);
    await lock.release();
  });
});

describe('rule 1: one token per acquire call, and our own token counts as ours', () => {
  it('the acquire script takes a key that holds our token (refreshing its lease) and refuses another token', async () => {
    const client = cluster.nodes[0].client();
    await client.set('lock:own', 'our-token', 'PX', 500);
    // KEYS: the resource's keys (lock, shared, kind, writer-waiting), then the node's guard keys
    // (marker, quarantine, birth, generation). A node without a marker replies in full,
    // {taken, standing, ms, birth, token, detail, value, fence}; a served one (the usual case)
    // briefly, {token, largest lease} when taken and {token, largest lease, holder's ms left} when busy.
    const guard = ['marker', 'quarantine', 'birth', 'generation'].map((k) => `lock:__redlock__:${k}`);
    const keys = [...mutex.keysFor('lock:', ['own']).take, ...guard];
    const acquire = async (token: string) => (await client.eval(ACQUIRE.source, keys.length, ...keys, token, 5_000)) as unknown[];
    const marker = await client.get(guard[0]!);
    await client.del(guard[0]!);
    expect((await acquire('our-token')).slice(0, 6)).toEqual([1, 2, 0, 0, 'our-token', 0]);
    expect(await client.pttl('lock:own')).toBeGreaterThan(4_000);
    expect((await acquire('their-token')).slice(0, 6)).toEqual([0, 2, 0, 0, 'their-token', 1]);
    await client.set(guard[0]!, 7_000);
    expect(await acquire('our-token')).toEqual(['our-token', 7_000]);
    expect(await acquire('their-token')).toEqual(['their-token', 7_000, expect.any(Number)]);
    expect(await client.get('lock:own')).toBe('our-token');
    if (marker === null) await client.del(guard[0]!);
    else await client.set(guard[0]!, marker);
  });

  it('every attempt of one acquire call writes the same token, the one the lock ends up with', async () => {
    const rl = redlock();
    await (await rl.acquire('warm')).release();
    const tokens: string[] = [];
    for (const client of rl.clients) {
      const evalsha = client.evalsha.bind(client) as (...args: unknown[]) => Promise<unknown>;
      (client as unknown as { evalsha: unknown }).evalsha = (...args: unknown[]) => {
        // EVALSHA sha numkeys ...keys token ttl: the token follows the keys (ioredis flattens arrays among them).
        const flat = args.flat();
        if (flat[0] === ACQUIRE.sha && flat[2] === 'lock:retried') tokens.push(String(flat[2 + Number(flat[1])]));
        return evalsha(...args);
      };
    }
    // Busy on a majority for 300 ms: several attempts before it is free.
    await Promise.all([0, 1].map((i) => cluster.nodes[i].client().set('lock:retried', 'other', 'PX', 300)));
    const lock = await rl.acquire('retried', { wait: 3_000 });
    expect(tokens.length).toBeGreaterThanOrEqual(6); // at least two attempts on three nodes
    expect(new Set(tokens)).toEqual(new Set([lock.value]));
    const second = await rl.acquire('other-call');
    expect(second.value).not.toBe(lock.value);
    await Promise.all([lock.release(), second.release()]);
  });
});

describe('rule 6: a quorum is not enough without validity left', () => {
  it('a round that outlasts the lease fails as QUORUM_UNAVAILABLE ("too late") and is cleaned up on every node', async () => {
    // The engine's clock jumps past the whole lease while the round is on the wire, as a long
    // pause between the writes and their replies would make it: every node says yes, in vain.
    let offset = 0;
    const clock: Clock = { now: () => monotonicClock.now() + offset, setTimer: monotonicClock.setTimer };
    const rl = new Redlock(cluster.urls().slice(0, 3), { ttl: TTL, clock });
    open.push(rl);
    await (await rl.acquire('warm')).release();
    let jumps = 0;
    for (const client of rl.clients) {
      const evalsha = client.evalsha.bind(client) as (...args: unknown[]) => Promise<unknown>;
      (client as unknown as { evalsha: unknown }).evalsha = (...args: unknown[]) => {
        const flat = args.flat();
        if (flat[0] === ACQUIRE.sha && flat[2] === 'lock:late' && jumps++ === 0) offset += TTL * 2;
        return evalsha(...args);
      };
    }
    const error = await rl.acquire('late', { wait: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuorumUnavailableError);
    expect((error as Error).message).toMatch(/too late to leave any validity/);
    const values = await Promise.all([0, 1, 2].map((i) => cluster.nodes[i].client().get('lock:late')));
    expect(values).toEqual([null, null, null]);
  });
});
