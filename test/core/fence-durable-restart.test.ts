import { afterEach, describe, expect, it } from '@jest/globals';
import { Redlock } from '../../lib/core/index.js';
import { BIRTH_MS } from '../../lib/core/nodes/amnesia-guard.js';
import type { NodeOutInfo } from '../../lib/core/nodes/amnesia-guard.js';
import { fenceOn, generationOn } from '../support/lock-state.js';
import { startRedisNodes } from '../support/redis-nodes.js';
import type { RedisNodes } from '../support/redis-nodes.js';

// Fences must survive restarts (CORRECTNESS.md): a later holder's fence is larger than every
// earlier one, whether a node came back from its AOF or came back empty. Nodes run with
// appendonly yes + appendfsync always unless a test restarts one without persistence.
const LEASE = 1_000;
/** Another owner's hold on one node: it outlasts the fenced acquire that must do without that node. */
const OTHER_HOLD = 3 * LEASE;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sets: RedisNodes[] = [];
const open: Redlock[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.quit()));
  await Promise.all(sets.splice(0).map((s) => s.stop()));
});

async function durableNodes(): Promise<RedisNodes> {
  const set = await startRedisNodes(3, { persist: true });
  sets.push(set);
  return set;
}

function redlock(urls: string[], outs?: NodeOutInfo[]): Redlock {
  const rl = new Redlock(urls, { ttl: LEASE, nodeTimeout: 250, retryDelay: 10, retryJitter: 10 });
  if (outs) rl.on('nodeOut', (info) => outs.push(info));
  open.push(rl);
  return rl;
}

/** Every connection of the client is up again (after a restart it reconnects with a backoff). */
async function connected(rl: Redlock): Promise<void> {
  for (let i = 0; i < 200 && !rl.clients.every((c) => c.status === 'ready'); i += 1) await sleep(10);
  expect(rl.clients.map((c) => c.status)).toEqual(['ready', 'ready', 'ready']);
}

async function fencedSection(rl: Redlock, resource: string, wait = 5_000): Promise<number> {
  const lock = await rl.acquire(resource, { fenced: true, wait });
  const fence = lock.fence!;
  await lock.release();
  return fence;
}

/**
 * A fenced acquire that must count every node but `blocked`: another owner holds the resource
 * there, so no quorum forms without the others (a node in doubt must be re-seeded first).
 */
async function fencedNeeding(cluster: RedisNodes, blocked: number, resource: string): Promise<number> {
  const hold = await redlock([cluster.nodes[blocked].url]).acquire(resource, { ttl: OTHER_HOLD });
  try {
    const fence = await fencedSection(redlock(cluster.urls()), resource);
    expect(hold.remaining).toBeGreaterThan(0); // the win did not come from the hold running out
    return fence;
  } finally {
    await hold.release();
  }
}

/**
 * A deployment is restarted long after it was born: within BIRTH_MS of its first marking, a
 * node without a marker is taken for one not marked yet (amnesia-guard.ts), not for one that
 * lost its data, which is not what these tests are about.
 */
const pastBirth = () => sleep(BIRTH_MS + 50);

describe('a durable node restarted from its AOF', () => {
  it('keeps its fence; the boot sentinel still doubts it (one lease out, then re-seeded); fences keep growing', async () => {
    const cluster = await durableNodes();
    const outs: NodeOutInfo[] = [];
    const rl = redlock(cluster.urls(), outs);
    let last = 0;
    for (let i = 0; i < 5; i += 1) {
      const fence = await fencedSection(rl, 'stock:a');
      expect(fence).toBeGreaterThan(last);
      last = fence;
    }
    await pastBirth();
    const node0 = cluster.nodes[0].client();
    expect(await fenceOn(node0, 'stock:a')).toEqual({ value: last, generation: '' });

    await cluster.nodes[0].restart(); // AOF kept
    // The data survived: the fence is there, as written, before any script of ours ran.
    expect(await fenceOn(cluster.nodes[0].client(), 'stock:a')).toEqual({ value: last, generation: '' });

    await connected(rl);
    const during = await fencedSection(rl, 'stock:a');
    expect(during).toBeGreaterThan(last);
    // The sentinel cannot tell a durable restart from a lossy one: node 0 sat out and its
    // generation moved on, so the fence it kept is doubted until re-seeded.
    expect(outs.map((o) => [o.node, o.reason])).toEqual([[0, 'it restarted or lost its data']]);
    const generation = await generationOn(cluster.nodes[0].client());
    expect(generation).not.toBe('');

    await sleep(LEASE + 100); // node 0's quarantine is over
    const later = await fencedNeeding(cluster, 1, 'stock:a');
    expect(later).toBeGreaterThan(during);
    expect(await fenceOn(cluster.nodes[0].client(), 'stock:a')).toEqual({ value: later, generation });
  });

  it('every node restarted from its AOF at once: one lease without a quorum, then fences continue above the last', async () => {
    const cluster = await durableNodes();
    const rl = redlock(cluster.urls());
    let last = 0;
    for (let i = 0; i < 3; i += 1) last = await fencedSection(rl, 'stock:b');
    await pastBirth();
    await Promise.all(cluster.nodes.map((n) => n.restart()));
    await connected(rl);
    await expect(rl.acquire('stock:b', { fenced: true, wait: 0 })).rejects.toMatchObject({ code: 'QUORUM_UNAVAILABLE' });
    await sleep(LEASE + 100);
    const after = await fencedSection(rl, 'stock:b');
    expect(after).toBeGreaterThan(last);
    // A client that never saw a fence of this resource continues above it too.
    expect(await fencedSection(redlock(cluster.urls()), 'stock:b')).toBeGreaterThan(after);
  });
});

describe('a node restarted empty (no persistence)', () => {
  it('is re-seeded from the quorum: fences still strictly grow', async () => {
    const cluster = await durableNodes();
    const rl = redlock(cluster.urls());
    let last = 0;
    for (let i = 0; i < 3; i += 1) last = await fencedSection(rl, 'stock:c');
    await pastBirth();
    await cluster.nodes[0].restart({ persist: false });
    expect(await fenceOn(cluster.nodes[0].client(), 'stock:c')).toBeUndefined();
    const during = await fencedSection(redlock(cluster.urls()), 'stock:c');
    expect(during).toBeGreaterThan(last);
    await sleep(LEASE + 100);
    const later = await fencedNeeding(cluster, 1, 'stock:c');
    expect(later).toBeGreaterThan(during);
    expect((await fenceOn(cluster.nodes[0].client(), 'stock:c'))?.value).toBe(later);
  });

  it('a rolling restart of every node, each coming back empty: fences still strictly grow', async () => {
    const cluster = await durableNodes();
    const rl = redlock(cluster.urls());
    let last = await fencedSection(rl, 'stock:d');
    await pastBirth();
    for (const node of cluster.nodes) {
      await node.restart({ persist: false });
      await connected(rl);
      // The restarted node sits out for a lease (its next vote is in doubt); no round is forced
      // to re-seed it before the next node goes, so the next round may find two nodes in doubt.
      const during = await fencedSection(rl, 'stock:d');
      expect(during).toBeGreaterThan(last);
      await sleep(LEASE + 100);
      last = await fencedSection(redlock(cluster.urls()), 'stock:d');
      expect(last).toBeGreaterThan(during);
    }
  });
});
