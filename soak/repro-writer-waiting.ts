// Reproduction for lib/core (found by `npm run soak -- --workload rw`: in 369 of 379 writer waits
// that ended LOCK_BUSY, new readers entered while the writer waited), not part of the soak:
//   node --import ./tools/ts-register.mjs soak/repro-writer-waiting.ts
// A writer waiting behind a reader should keep new readers out (the writer-waiting mark of the
// exclusive take), so that a stream of readers cannot starve it. But the clean-up after each lost
// attempt (rule 7) runs the give script, which deletes that mark again: between two attempts the
// node holds no mark, and every new reader is granted while the writer waits.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redlock } from '../lib/core/index.js';
import { startRedisNodes } from '../test/support/redis-nodes.js';

const nodes = await startRedisNodes(3);
const readers = new Redlock(nodes.urls(), { ttl: 3_000 });
const writers = new Redlock(nodes.urls(), { ttl: 3_000 });
const inspect = nodes.nodes[0].client();
try {
  const first = await readers.acquire('doc', { mode: 'read' });
  const writer = writers.acquire('doc', { wait: 5_000 });
  let granted = 0;
  for (let i = 1; i <= 8; i++) {
    await sleep(100);
    const marks = (await inspect.keys('*doc*')).filter((k) => k.includes('aiting'));
    const reader = await readers.tryAcquire('doc', { mode: 'read' });
    console.log(`${i * 100} ms into the writer's wait: new reader ${reader ? 'granted' : 'refused'}; writer-waiting keys on node 0: ${marks.length}`);
    if (reader) granted += 1;
    await reader?.release();
  }
  console.log(`${granted} of 8 new readers granted while a writer waited (expected: 0)`);
  await first.release();
  await (await writer).release();
} finally {
  await readers.quit();
  await writers.quit();
  await nodes.stop();
}
