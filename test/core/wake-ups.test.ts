import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { LockBusyError, Redlock } from '../../lib/core/index.js';
import type { RedlockOptions } from '../../lib/core/index.js';
import { startRedisNodes, type RedisNodes } from '../support/redis-nodes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let nodes: RedisNodes;
const open: Redlock[] = [];
function redlock(options: RedlockOptions = {}): Redlock {
  const instance = new Redlock(nodes.urls(), options);
  open.push(instance);
  return instance;
}

beforeAll(async () => {
  nodes = await startRedisNodes(3, { plain: true });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.quit()));
});
afterAll(async () => {
  await nodes?.stop();
});

/** Clients connected to each node right now (CLIENT LIST), read directly. */
async function connectedClients(): Promise<number[]> {
  return Promise.all(
    nodes.nodes.map(async (node) => {
      const direct = new Redis({ port: node.directPort, lazyConnect: true });
      try {
        await direct.connect();
        const list = (await direct.client('LIST')) as string;
        return list.trim().split('\n').length - 1; // minus this one
      } finally {
        direct.disconnect();
      }
    }),
  );
}

describe('wake-ups: a release wakes the waiters', () => {
  // Holders lease 10 s and waiters poll every 3 s: only a wake-up gets a waiter in soon after a release.
  const slowPolling = { retryDelay: 3_000, retryJitter: 0 };

  it('waiters that arrive together share one subscription and sleep on it: two attempts each, no polling', async () => {
    const holder = redlock();
    const waiting = redlock();
    const held = await holder.acquire('herd:together');
    const attempts: number[] = [];
    waiting.on('acquireSettled', (report) => attempts.push(report.attempts));
    // retryDelay 20 ms: a waiter that polled until its subscription was answered would try again and again.
    const waiters = Array.from({ length: 20 }, () =>
      waiting.acquire('herd:together', { wait: 10_000, retryDelay: 20, retryJitter: 0 }).then(async (lock) => {
        await sleep(2);
        await lock.release();
      }),
    );
    await sleep(300);
    await held.release();
    await Promise.all(waiters);
    expect(attempts).toHaveLength(20);
    // Each: its first attempt, then the one a release woke it for; the waiter that subscribed
    // also looks once more right after (a release may have gone by unheard meanwhile).
    expect(attempts.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(20 * 2 + 3);
  });

  it('a waiter gets the lock right after the release, not at its next timer', async () => {
    const holder = redlock();
    const waiting = redlock(slowPolling);
    const held = await holder.acquire('wake:mutex');
    const started = performance.now();
    const next = waiting.acquire('wake:mutex', { wait: 8_000 });
    await sleep(200);
    await held.release();
    const lock = await next;
    expect(performance.now() - started).toBeLessThan(2_000);
    await lock.release();
  });

  it("a release lets a waiter of the same Redlock go at once: its take follows the release on each connection, before any node's message could come back", async () => {
    const rl = redlock(slowPolling);
    // Calls made together share one batch command per node: run one, so its script is loaded.
    await Promise.all((await Promise.all([rl.acquire('wake:warm:1'), rl.acquire('wake:warm:2')])).map((lock) => lock.release()));
    const held = await rl.acquire('wake:local');
    const attempts: number[] = [];
    rl.on('acquireSettled', (report) => attempts.push(report.attempts));
    const next = rl.acquire('wake:local', { wait: 8_000 });
    await sleep(200); // its first attempt found the lock busy: it sleeps
    // 50 ms each way: a wake-up message comes back 100 ms after the release leaves at the
    // earliest, so a take it started could not be answered before 200 ms.
    for (const node of nodes.nodes) node.proxy.setLatency(50);
    try {
      const releasedAt = performance.now();
      const released = held.release();
      const lock = await next;
      expect(performance.now() - releasedAt).toBeLessThan(200);
      expect(attempts).toEqual([3]); // busy, busy again once subscribed, then right behind the release
      expect(await released).toEqual({ released: true, nodes: 3 });
      await lock.release();
    } finally {
      for (const node of nodes.nodes) node.proxy.setLatency(0);
    }
  });

  it("a release sent again after NOSCRIPT can be overtaken by the waiter it woke here: the nodes' messages then wake that waiter again, long before its fallback", async () => {
    // Without the restart guard, so that a flushed script cache does not also quarantine the nodes.
    const rl = redlock({ ...slowPolling, restartGuard: false });
    await Promise.all(nodes.nodes.map((node) => node.client().script('FLUSH')));
    const held = await rl.acquire('wake:noscript'); // loads the take script, not the give script
    const next = rl.acquire('wake:noscript', { wait: 8_000 });
    await sleep(200); // busy: it sleeps, with a 3 s fallback
    const releasedAt = await new Promise<number>((resolve) =>
      // From a timer callback: the give goes out alone and meets NOSCRIPT; the waiter's take goes next.
      setTimeout(() => {
        resolve(performance.now());
        void held.release();
      }, 0),
    );
    try {
      const lock = await next;
      expect(performance.now() - releasedAt).toBeLessThan(1_500);
      await lock.release();
    } finally {
      // The boot check quarantined every node (it cannot tell a flush from a restart): start afresh.
      await Promise.all(nodes.nodes.map((node) => node.flush()));
    }
  });

  it('with wakeUps: false a waiter only polls (the same waiter comes in at its timer)', async () => {
    const holder = redlock({ wakeUps: false });
    const waiting = redlock({ ...slowPolling, wakeUps: false });
    const held = await holder.acquire('wake:polling');
    const started = performance.now();
    const next = waiting.acquire('wake:polling', { wait: 8_000 });
    await sleep(200);
    await held.release();
    const lock = await next;
    expect(performance.now() - started).toBeGreaterThanOrEqual(2_900);
    await lock.release();
  });

  it('a release without wake-ups (another program, or PUBLISH denied) still reaches the waiter through its fallback timer', async () => {
    const holder = redlock({ wakeUps: false });
    const waiting = redlock({ retryDelay: 200, retryJitter: 0 });
    const held = await holder.acquire('wake:silent');
    const next = waiting.acquire('wake:silent', { wait: 5_000 });
    await sleep(100);
    await held.release();
    await expect(next).resolves.toMatchObject({ resources: ['wake:silent'] });
    await (await next).release();
  });

  it('a user whose ACL allows neither PUBLISH nor SUBSCRIBE still locks and releases; waiters fall back to their timer', async () => {
    for (const node of nodes.nodes) {
      const admin = node.client();
      try {
        await admin.call('ACL', 'SETUSER', 'nopubsub', 'reset', 'on', '>pw', '~*', '+@all', '-publish', '-subscribe', '-psubscribe');
      } finally {
        admin.disconnect();
      }
    }
    const urls = nodes.nodes.map((node) => `redis://nopubsub:pw@127.0.0.1:${node.port}`);
    const holder = new Redlock(urls);
    const waiting = new Redlock(urls, { retryDelay: 200, retryJitter: 0 });
    open.push(holder, waiting);
    const held = await holder.acquire('wake:acl');
    const next = waiting.acquire('wake:acl', { wait: 5_000 });
    await sleep(100);
    // Granted by a quorum: a node the holder's first take reached late (still connecting) may
    // have had the waiter's take first, so it is released on that quorum.
    expect(await held.release()).toMatchObject({ released: true });
    const lock = await next;
    expect((await lock.release()).released).toBe(true);
  });

  it('one release wakes one waiter, not the herd: 8 waiters take turns', async () => {
    const holder = redlock();
    const waiting = redlock(slowPolling);
    let lock = await holder.acquire('wake:herd');
    const order: number[] = [];
    const waiters = Array.from({ length: 8 }, (_, i) =>
      waiting.acquire('wake:herd', { wait: 8_000 }).then(async (got) => {
        order.push(i);
        await sleep(20);
        await got.release();
      }));
    await sleep(200);
    const started = performance.now();
    await lock.release();
    await Promise.all(waiters);
    // Each handoff is a wake-up (a timer would cost 3 s each).
    expect(performance.now() - started).toBeLessThan(2_500);
    expect(order.sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    lock = await holder.acquire('wake:herd');
    await lock.release();
  });

  it('readers waiting behind a writer all wake when it leaves', async () => {
    const writer = redlock();
    const readers = redlock(slowPolling);
    const held = await writer.acquire('wake:rw');
    const reads = Array.from({ length: 4 }, () => readers.acquire('wake:rw', { mode: 'read', wait: 8_000 }));
    await sleep(200);
    const started = performance.now();
    await held.release();
    const locks = await Promise.all(reads);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(locks.every((l) => l.remaining > 0)).toBe(true); // all four hold it at once
    await Promise.all(locks.map((l) => l.release()));
  });

  it('a released semaphore permit wakes a waiting holder', async () => {
    const holders = redlock();
    const waiting = redlock(slowPolling);
    const permits = await Promise.all([holders.acquire('wake:sem', { limit: 2 }), holders.acquire('wake:sem', { limit: 2 })]);
    const started = performance.now();
    const third = waiting.acquire('wake:sem', { limit: 2, wait: 8_000 });
    await sleep(200);
    await permits[0]!.release();
    const lock = await third;
    expect(performance.now() - started).toBeLessThan(2_000);
    await Promise.all([lock.release(), permits[1]!.release()]);
  });

  it('quit() closes the subscriber connections and a waiter leaves no subscription behind', async () => {
    const before = await connectedClients();
    const holder = redlock();
    const waiting = redlock(slowPolling);
    const held = await holder.acquire('wake:quit');
    const next = waiting.acquire('wake:quit', { wait: 8_000 });
    await sleep(200);
    // Per node: the holder's and the waiter's command connections, and the waiter's subscriber.
    expect((await connectedClients()).map((n, i) => n - before[i]!)).toEqual([3, 3, 3]);
    await held.release();
    await (await next).release();
    await Promise.all([holder.quit(), waiting.quit()]);
    expect(await connectedClients()).toEqual(before);
  });
});

describe('the busy answer knows when the holder frees the lock', () => {
  it("LockBusyError.retryAfterMs is the holder's remaining lease, not the lease asked for", async () => {
    const holder = redlock();
    const held = await holder.acquire('busy:remaining', { ttl: 2_500 });
    const error = (await redlock().acquire('busy:remaining', { ttl: 30_000, wait: 0 }).catch((e: unknown) => e)) as LockBusyError;
    expect(error).toBeInstanceOf(LockBusyError);
    expect(error.retryAfterMs).toBeGreaterThan(1_500);
    expect(error.retryAfterMs).toBeLessThanOrEqual(2_500);
    await held.release();
  });

  it('a waiter never sleeps past the end of the holder lease (an expiry announces nothing)', async () => {
    const holder = redlock({ wakeUps: false });
    // The holder "crashes": its lock is never released, only its lease ends.
    await holder.acquire('busy:expiry', { ttl: 600 });
    const started = performance.now();
    const lock = await redlock({ retryDelay: 5_000, retryJitter: 0 }).acquire('busy:expiry', { wait: 8_000 });
    expect(performance.now() - started).toBeLessThan(2_000);
    await lock.release();
  });
});

describe('a waiting acquire keeps the process alive', () => {
  it.each(['on', 'off'])('a program whose only work is waiting for a lock waits for it (wake-ups %s)', async (wakeUps) => {
    const holder = redlock();
    const held = await holder.acquire('wait-only', { ttl: 10_000 });
    const child = spawn(process.execPath, ['--import', './tools/ts-register.mjs', 'test/core/fixtures/wait-only-child.ts', ...nodes.urls()], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '', WAKE_UPS: wakeUps },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines: string[] = [];
    let releasedAt = Infinity;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        lines.push(`${line}${line === 'got' && performance.now() >= releasedAt ? ' after release' : ''}`);
        // The child is waiting now: keep it waiting a while, with nothing else to do.
        if (line === 'busy') {
          setTimeout(() => {
            releasedAt = performance.now();
            void held.release();
          }, 700);
        }
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, lines }).toEqual({ code: 0, lines: ['busy', 'got after release'] });
  });
});
