// A process that only stands in fair lines (the fair workload's hot keys), to be killed there by
// the kill-waiter fault: a waiter that crashes while in line must not block the ones behind it
// (its place lapses on the nodes on its own). It never touches the data: the contenders'
// counters stay exact, and what it holds it holds only briefly.
import { Redlock } from '../lib/core/index.js';

interface StanderConfig {
  readonly lockUrls: readonly string[];
  readonly keys: readonly string[];
  readonly ttl: number;
  readonly restartGuard: boolean | undefined;
}

const config = JSON.parse(process.argv[2] ?? '{}') as StanderConfig;
const redlock = new Redlock([...config.lockUrls], {
  ttl: config.ttl,
  ...(config.restartGuard === false ? { restartGuard: false } : {}),
});
let told = false;

// Several waits at once, one per key: wherever it dies, it has a place in line.
await Promise.all(
  config.keys.map(async (key) => {
    for (;;) {
      const acquiring = redlock.acquire(key, { fair: true, wait: 60_000 });
      if (!told) {
        told = true;
        setTimeout(() => process.send?.({ type: 'in-line' }), 100);
      }
      try {
        const lock = await acquiring;
        await new Promise((resolve) => setTimeout(resolve, 5));
        await lock.release();
      } catch {
        // busy or unavailable: stand in line again
      }
    }
  }),
);
