// Reproduction for lib/core (found by the soak's contender pauses), not part of the soak itself:
//   node --import ./tools/ts-register.mjs soak/repro-signal-after-freeze.ts
// After the process is frozen past the lease (GC pause, swap, SIGSTOP; here a busy loop), the first
// continuation that runs sees lock.remaining === 0 while lock.signal.aborted is still false: the
// expiry-warning timer is due but has not run yet, because an earlier-due timer (the holder's own
// work) runs first. A holder that checks only the signal then writes on an expired lease; one that
// releases at that point never gets the signal aborted nor a 'lockLost' event.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redlock } from '../lib/core/index.js';
import { startRedisNodes } from '../test/support/redis-nodes.js';

const nodes = await startRedisNodes(3);
const redlock = new Redlock(nodes.urls(), { ttl: 1_000 });
let lockLost = 0;
redlock.on('lockLost', () => (lockLost += 1));
try {
  const lock = await redlock.acquire('k');
  const work = sleep(50); // the holder's work, due long before the lease ends
  const frozenUntil = performance.now() + 1_200;
  while (performance.now() < frozenUntil); // frozen past the lease
  await work;
  const seen = { remaining: lock.remaining, signalAborted: lock.signal.aborted, msPastValidUntil: Math.round(performance.now() - lock.validUntil) };
  console.log('first look after the freeze:', seen); // { remaining: 0, signalAborted: false, ... }
  await lock.release();
  await sleep(10);
  console.log('after release:', { signalAborted: lock.signal.aborted, lockLostEvents: lockLost }); // false, 0
} finally {
  await redlock.quit();
  await nodes.stop();
}
