// Reproduction for lib/core (found by `npm run soak -- --workload semaphore`), not part of the soak:
//   node --import ./tools/ts-register.mjs soak/repro-semaphore-limit.ts
// A semaphore of limit 3 on 5 nodes grants 5 permits at once. Each node admits at most 3 holders,
// and a permit needs 3 nodes (a majority), but 5 holders on 5 different triples of nodes fill every
// node exactly to 3: per-node limits with a majority quorum bound the holders by N*k/quorum, not k.
// (For a mutex, k = 1, two majorities always share a node, so it holds.) Here each client sees only
// its own 3 of the 5 nodes (a partition; the other two addresses refuse connections), which makes
// it deterministic; the soak shows the same with every node reachable, from concurrent acquires.
import { Redlock } from '../lib/core/index.js';
import { freePort } from '../test/support/free-port.js';
import { startRedisNodes } from '../test/support/redis-nodes.js';

const nodes = await startRedisNodes(5);
const unreachable = `redis://127.0.0.1:${await freePort()}`;
// Five triples of the five nodes in which every node appears exactly three times.
const triples = [[0, 1, 2], [2, 3, 4], [0, 1, 3], [1, 2, 4], [0, 3, 4]];
const clients = triples.map(
  (triple) => new Redlock(nodes.urls().map((url, i) => (triple.includes(i) ? url : unreachable)), { ttl: 10_000, wait: 0, restartGuard: false }),
);
try {
  const permits = [];
  for (const [i, client] of clients.entries()) {
    const lock = await client.tryAcquire('export', { limit: 3 });
    console.log(`client ${i} (nodes ${triples[i].join(', ')}): ${lock ? 'granted' : 'busy'}`);
    if (lock) permits.push(lock);
  }
  console.log(`${permits.length} permits held at once with limit 3`); // 5
  await Promise.all(permits.map((p) => p.release()));
  // The same partition cannot grant a mutex twice: any two triples share a node.
  const first = await clients[0].tryAcquire('job');
  const second = await clients[1].tryAcquire('job');
  console.log(`mutex under the same partition: first ${first ? 'granted' : 'busy'}, second ${second ? 'granted' : 'busy'}`);
  await first?.release();
  await second?.release();
} finally {
  await Promise.all(clients.map((c) => c.quit()));
  await nodes.stop();
}
