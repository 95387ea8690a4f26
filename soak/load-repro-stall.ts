/**
 * Reproduction (found by soak/load.ts, reported to the owner of lib/core; fixed since, see docs/load-report.md; the output below is from before the fix):
 * when the event loop is blocked for longer than the node timeout while a round is in flight,
 * the round fails with "no reply within N ms" on every node although Redis answered in about a
 * millisecond. After the stall, Node runs the timers phase (the per-node timeouts of
 * runRound) before the poll phase that would read the replies already waiting in the sockets.
 * An acquire then throws QUORUM_UNAVAILABLE, and an extension declares the lock lost (signal
 * aborted) with most of its lease left, while the key is still ours on every node. Under load
 * (soak/load.ts phase 2: 10 000 auto-extended locks, ttl 3 s, node timeout 150 ms) GC pauses
 * and bursts of socket writes stall the loop that long, and locks are lost in most runs.
 *
 *   node --import ./tools/ts-register.mjs soak/load-repro-stall.ts           # as the engine is
 *   node --import ./tools/ts-register.mjs soak/load-repro-stall.ts --defer   # timeouts one setImmediate late
 *
 * Prints as the engine is:
 *   acquire: QuorumUnavailableError - cannot lock a: 2 of 3 nodes failed (#0 …: no reply within 150 ms; #1 …: no reply within 150 ms)
 *   extend with 2965 ms left: LockLostError - lock on "b" lost: too few nodes answered the extension; signal.aborted = true
 *   the key is still ours on node 0: pttl 2797 ms (the extension was applied there)
 * and with --defer (a clock whose timers run their callback one setImmediate after they fire,
 * i.e. after the poll phase has read the replies):
 *   acquire: ok
 *   extend with 2967 ms left: ok
 *   the key is still ours on node 0: pttl 2798 ms
 */
import { Redlock } from '../lib/core/index.js';
import { startRedisNodes } from '../test/support/redis-nodes.js';
import { deferredClock } from './load-probes.js';

const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

const cluster = await startRedisNodes(3);
const redlock = new Redlock(
  cluster.nodes.map((n) => `redis://${n.host}:${n.directPort}`),
  process.argv.includes('--defer') ? { clock: deferredClock() } : {},
);
// Test-only shim: block the loop for 200 ms right after the third EVALSHA of a round was written
// (a stand-in for a GC pause or a burst of synchronous work elsewhere in the process).
let stallAfter = 0;
for (const client of redlock.clients) {
  const evalsha = client.evalsha.bind(client) as (...args: unknown[]) => Promise<unknown>;
  (client as unknown as { evalsha: unknown }).evalsha = (...args: unknown[]) => {
    const reply = evalsha(...args);
    // The round's writes leave together on the next tick (nodes/turn-queue.ts): block after that.
    if (stallAfter > 0 && --stallAfter === 0) process.nextTick(() => busy(200));
    return reply;
  };
}
try {
  // Connected, all three scripts loaded (so no NOSCRIPT fallback adds a round trip).
  const warm = await redlock.acquire('warm', { ttl: 3_000 });
  await warm.extend();
  await warm.release();

  // 1. acquire, ttl 3 000 ms, so the node timeout is 150 ms.
  stallAfter = 3;
  await redlock.acquire('a', { ttl: 3_000 }).then(
    async (lock) => {
      console.log('acquire: ok');
      await lock.release();
    },
    (error: Error) => console.log(`acquire: ${error.name} - ${error.message}`),
  );

  // 2. extend a lock with nearly all of its 3 s lease left.
  const lock = await redlock.acquire('b', { ttl: 3_000 });
  const left = Math.round(lock.remaining);
  stallAfter = 3;
  await lock.extend().then(
    () => console.log(`extend with ${left} ms left: ok`),
    (error: Error) =>
      console.log(`extend with ${left} ms left: ${error.name} - ${error.message}; signal.aborted = ${lock.signal.aborted}`),
  );
  console.log(`the key is still ours on node 0: pttl ${await redlock.clients[0].pttl('lock:b')} ms`);
  await lock.release();
} finally {
  await redlock.quit();
  await cluster.stop();
}
