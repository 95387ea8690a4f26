import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LockBusyError, QuorumUnavailableError, Redlock } from '../../lib/core/index.js';
import type { AcquireOptions, Lock } from '../../lib/core/index.js';
import { resourceKeys } from '../../lib/core/primitives/resource-keys.js';
import { fenceOn, lockKeysOn } from '../support/lock-state.js';
import { startRedisNodes } from '../support/redis-nodes.js';
import type { RedisNodes } from '../support/redis-nodes.js';

// Every kind of lock against every subset of N = 3 nodes that another owner holds: a quorum of
// 2 free nodes grants it, and a lost attempt leaves nothing of its own on any node (rule 7:
// clean-up on all N). Then, per kind, what lock-family.test.ts does not show on real nodes: one
// holder's expiry, extension, release, and busy against unavailable.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const OPTIONS = { ttl: 2_000, nodeTimeout: 250, retryDelay: 10, retryJitter: 10 };
/** Another owner's holds outlast every test that meets them. */
const OTHER_TTL = 10_000;

interface Kind {
  readonly name: string;
  /** The lock under test. */
  readonly options: AcquireOptions;
  /** What another owner holds on a node to keep this kind out there... */
  readonly occupant: AcquireOptions;
  /** ...and how many such holds fill a node (a semaphore's limit). */
  readonly occupants: number;
  /** Free nodes of the three it needs (primitives/quorum.ts). */
  readonly quorum: number;
}

const WRITE: Kind = { name: 'write (mutex)', options: {}, occupant: {}, occupants: 1, quorum: 2 };
const READ: Kind = { name: 'read', options: { mode: 'read' }, occupant: { mode: 'write' }, occupants: 1, quorum: 2 };
// Limit 2 on 3 nodes: 3 holders on 3 different pairs would fill every node to 2, so a permit needs all 3.
const SEMAPHORE: Kind = { name: 'semaphore (limit 2)', options: { limit: 2 }, occupant: { limit: 2 }, occupants: 2, quorum: 3 };
const FENCED: Kind = { name: 'fenced', options: { fenced: true }, occupant: { fenced: true }, occupants: 1, quorum: 2 };
/** A writer kept out by readers marks itself waiting on their nodes: a mark its clean-up must remove. */
const WRITE_AFTER_READERS: Kind = { name: 'write, nodes held by readers', options: { mode: 'write' }, occupant: { mode: 'read' }, occupants: 1, quorum: 2 };

const SUBSETS: readonly (readonly number[])[] = [[], [0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2]];

let cluster: RedisNodes;
const open: Redlock[] = [];
let rl: Redlock;
/** Another owner's client over exactly the nodes of a subset. */
const occupantClients = new Map<string, Redlock>();

function redlock(urls: string[]): Redlock {
  const instance = new Redlock(urls, OPTIONS);
  open.push(instance);
  return instance;
}

function occupantOn(subset: readonly number[]): Redlock {
  const label = subset.join(',');
  let client = occupantClients.get(label);
  if (!client) {
    client = redlock(subset.map((i) => cluster.nodes[i].url));
    occupantClients.set(label, client);
  }
  return client;
}

/** Every command a client has sent so far has run (a round may be decided before its last node wrote). */
async function settled(client: Redlock): Promise<void> {
  await Promise.all(client.clients.map((c) => c.ping()));
}

/** What locks left on each node (direct connections; guard keys and fences left out). */
function dumps(): Promise<Record<string, string>[]> {
  return Promise.all(cluster.nodes.map((node) => lockKeysOn(node.client())));
}

/** The node holds `token` for `resource`: as the exclusive holder or as a shared holder. */
function holds(dump: Record<string, string>, resource: string, token: string): boolean {
  const keys = resourceKeys(rl.keyPrefix, resource);
  return dump[keys.lock] === token || (dump[keys.shared] ?? '').split(' ').includes(token);
}

/** Every key of `before` is still there with the same value (other keys may have appeared). */
function keeps(before: Record<string, string>, now: Record<string, string>): boolean {
  return Object.entries(before).every(([key, value]) => now[key] === value);
}

beforeAll(async () => {
  cluster = await startRedisNodes(3, { persist: false });
  rl = redlock(cluster.urls());
  await (await rl.acquire('warm-up')).release(); // the deployment is marked before subsets meet it
});
afterAll(async () => {
  await Promise.all(open.map((r) => r.quit()));
  await cluster?.stop();
});

describe.each([WRITE, READ, SEMAPHORE, FENCED, WRITE_AFTER_READERS])('$name', (kind) => {
  it.each(SUBSETS.map((subset) => ({ subset, label: subset.length === 0 ? 'none' : subset.join(' and ') })))(
    'nodes held by another owner: $label',
    async ({ subset }) => {
      const resource = `subset:${kind.name}:${subset.join('')}`;
      const occupant = subset.length > 0 ? occupantOn(subset) : undefined;
      const theirs: Lock[] = [];
      for (let i = 0; i < kind.occupants && occupant; i += 1) {
        theirs.push(await occupant.acquire(resource, { ...kind.occupant, ttl: OTHER_TTL, wait: 0 }));
      }
      if (occupant) await settled(occupant);
      const before = await dumps();
      cluster.nodes.forEach((_, i) => expect(Object.keys(before[i]).length > 0).toBe(subset.includes(i)));

      if (3 - subset.length >= kind.quorum) {
        // Enough free nodes for this kind's quorum.
        const lock = await rl.tryAcquire(resource, kind.options);
        expect(lock).not.toBeNull();
        await settled(rl);
        const during = await dumps();
        for (let i = 0; i < 3; i += 1) {
          expect(holds(during[i], resource, lock!.value)).toBe(!subset.includes(i));
          expect(keeps(before[i], during[i])).toBe(true); // the other owner's holds are untouched
          if (kind === FENCED && !subset.includes(i)) {
            expect((await fenceOn(cluster.nodes[i].client(), resource))?.value).toBe(lock!.fence);
          }
        }
        expect(await lock!.release()).toEqual({ released: true, nodes: 3 - subset.length });
      } else {
        // Busy, not unavailable: every node answered, too few were free. Each entry point says so.
        await expect(rl.acquire(resource, { ...kind.options, wait: 0 })).rejects.toBeInstanceOf(LockBusyError);
        expect(await dumps()).toEqual(before);
        expect(await rl.tryAcquire(resource, kind.options)).toBeNull();
        expect(await dumps()).toEqual(before);
        let ran = false;
        const using = rl.using(resource, () => (ran = true), { ...kind.options, wait: 50 });
        await expect(using).rejects.toBeInstanceOf(LockBusyError);
        expect(ran).toBe(false);
      }
      // Nothing of ours is left anywhere, whatever happened: the nodes are as the other owner left them.
      expect(await dumps()).toEqual(before);

      await Promise.all(theirs.map((lock) => lock.release()));
      expect((await dumps()).map((d) => Object.keys(d).filter((key) => key.includes(resource)))).toEqual([[], [], []]);
    },
  );
});

/** For each kind: what it excludes (a writer, for readers), and who fills the rest of a semaphore. */
const CONTENDED = [
  { kind: WRITE, contender: WRITE.options, companions: 0 },
  { kind: READ, contender: READ.occupant, companions: 0 },
  { kind: SEMAPHORE, contender: SEMAPHORE.options, companions: 1 },
  { kind: FENCED, contender: FENCED.options, companions: 0 },
].map((c) => ({ ...c, name: c.kind.name }));

describe.each(CONTENDED)('$name on three real nodes', ({ kind, contender, companions }) => {
  async function companionsOf(resource: string): Promise<Lock[]> {
    const other = redlock(cluster.urls());
    return Promise.all(Array.from({ length: companions }, () => other.acquire(resource, { ...kind.options, ttl: OTHER_TTL })));
  }

  it('one holder that never releases: its lease ends alone, then the next one gets in; its late release frees nothing', async () => {
    const resource = `expiry:${kind.name}`;
    const others = await companionsOf(resource);
    const [a, b] = [redlock(cluster.urls()), redlock(cluster.urls())];
    const short = await a.acquire(resource, { ...kind.options, ttl: 300 });
    const takenAt = performance.now();
    expect(await b.tryAcquire(resource, contender)).toBeNull();
    const next = await b.acquire(resource, { ...contender, wait: 3_000 });
    const grantedAfter = performance.now() - takenAt;
    expect(grantedAfter).toBeGreaterThan(250); // not before the short lease ran out on the nodes
    expect(grantedAfter).toBeLessThan(300 + 700);
    expect(short.signal.aborted).toBe(true);
    await expect(short.extend()).rejects.toMatchObject({ code: 'LOCK_LOST' });
    expect((await short.release()).released).toBe(false);
    expect(await redlock(cluster.urls()).tryAcquire(resource, contender)).toBeNull(); // the next holder still holds
    if (kind === FENCED) expect(next.fence).toBeGreaterThan(short.fence!);
    await Promise.all([next, ...others].map((lock) => lock.release()));
  });

  it('an extension outlives the first lease on a quorum; release frees it on every node at once', async () => {
    const resource = `extend:${kind.name}`;
    const others = await companionsOf(resource);
    const [a, b] = [redlock(cluster.urls()), redlock(cluster.urls())];
    const holder = await a.acquire(resource, { ...kind.options, ttl: 400 });
    await holder.extend(2_000);
    expect(holder.remaining).toBeGreaterThan(1_500);
    await sleep(600); // past the first lease
    expect(holder.signal.aborted).toBe(false);
    expect(await b.tryAcquire(resource, contender)).toBeNull();
    expect(holder.fence).toEqual(kind === FENCED ? expect.any(Number) : undefined);
    expect(await holder.release()).toEqual({ released: true, nodes: 3 });
    await settled(a);
    for (const dump of await dumps()) expect(holds(dump, resource, holder.value)).toBe(false);
    const next = await b.acquire(resource, { ...contender, wait: 0 });
    if (kind === FENCED) expect(next.fence).toBeGreaterThan(holder.fence!);
    await Promise.all([next, ...others].map((lock) => lock.release()));
  });
});

describe('two of three nodes stopped: unavailable, not busy', () => {
  let down: RedisNodes;
  let client: Redlock;

  beforeAll(async () => {
    down = await startRedisNodes(3, { persist: false });
    client = redlock(down.urls());
    await (await client.acquire('warm-up')).release();
    await Promise.all([down.nodes[0].kill(), down.nodes[1].kill()]);
  });
  afterAll(async () => {
    await down?.stop();
  });

  // Only a mutex ran here before: the first fenced take meets NOSCRIPT and is sent again after
  // the boot check, while its clean-up (the mutex's release script) is cached and goes at once.
  // The clean-up must still run after the take on the node that answered, not before it.
  it.each([WRITE, READ, SEMAPHORE, FENCED])('$name: acquire and tryAcquire reject with QuorumUnavailableError at once', async (kind) => {
    const resource = `down:${kind.name}`;
    const started = performance.now();
    const error = await client.acquire(resource, { ...kind.options, wait: 5_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuorumUnavailableError);
    // A semaphore that needs all three nodes knows it has lost at the first failure.
    const failed = (error as QuorumUnavailableError).nodeErrors.map((e) => e.node).sort();
    if (kind === SEMAPHORE) expect(failed.length > 0 && failed.every((n) => n === 0 || n === 1)).toBe(true);
    else expect(failed).toEqual([0, 1]);
    expect(performance.now() - started).toBeLessThan(1_000); // no waiting out `wait` for nodes that are gone
    await expect(client.tryAcquire(resource, kind.options)).rejects.toBeInstanceOf(QuorumUnavailableError);
    expect(await lockKeysOn(down.nodes[2].client())).toEqual({}); // cleaned up on the node that answered
  });
});
