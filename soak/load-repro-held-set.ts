/**
 * Reproduction (found by soak/load.ts, reported to the owner of lib/core; fixed since, see docs/load-report.md; the output below is from before the fix):
 * a lock that is never released stays in the instance's held set for good, together with its
 * handle, AbortController and keys, after its lease is over and its keys are gone from Redis.
 * A program that takes locks and lets them expire (a once-per-window guard such as
 * `tryAcquire('nightly-job', { ttl: 60_000 })` never released) grows without bound, and
 * quit() later sends a release for every one of them.
 *
 *   node --expose-gc --import ./tools/ts-register.mjs soak/load-repro-held-set.ts
 *
 * Prints (numbers vary a little):
 *   0 locks left to expire: held set 0, heap 6.6 MB
 *   10000 locks left to expire: held set 10000, lockLost events 10000, keys left in Redis 0, heap 29.0 MB (+2350 bytes per lock)
 */
import { Redlock } from '../lib/core/index.js';
import { startRedisNodes } from '../test/support/redis-nodes.js';

const COUNT = 10_000;
const heapMb = () => {
  for (let i = 0; i < 4; i++) globalThis.gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
const heldSize = (r: Redlock) => (r as unknown as { held: Set<unknown> }).held.size; // private: read only

const cluster = await startRedisNodes(3);
// nodeTimeout only so that a busy machine does not fail the short-lease acquires.
const redlock = new Redlock(cluster.nodes.map((n) => `redis://${n.host}:${n.directPort}`), { nodeTimeout: 250 });
let lost = 0;
redlock.on('lockLost', () => lost++);
try {
  await (await redlock.acquire('warm')).release();
  const before = heapMb();
  console.log(`0 locks left to expire: held set ${heldSize(redlock)}, heap ${before.toFixed(1)} MB`);
  for (let i = 0; i < COUNT; i += 100) {
    // Taken and never released: each is meant to simply expire after 300 ms.
    await Promise.all(Array.from({ length: 100 }, (_, j) => redlock.acquire(`expire-me:${i + j}`, { ttl: 300 })));
  }
  await new Promise((resolve) => setTimeout(resolve, 600)); // every lease is over
  const keys = await redlock.clients[0].dbsize();
  const after = heapMb();
  console.log(
    `${COUNT} locks left to expire: held set ${heldSize(redlock)}, lockLost events ${lost}, keys left in Redis ${keys}, ` +
      `heap ${after.toFixed(1)} MB (+${Math.round(((after - before) * 2 ** 20) / COUNT)} bytes per lock)`,
  );
} finally {
  await redlock.quit();
  await cluster.stop();
}
