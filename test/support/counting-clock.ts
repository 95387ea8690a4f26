import { monotonicClock } from '../../lib/core/time/clock.js';
import type { Clock, Timer } from '../../lib/core/time/clock.js';

/**
 * The real monotonic clock, counting the engine's timers: every timer the engine schedules
 * goes through its Clock (the `clock` option), so `live()` is exactly how many it has pending.
 */
export interface CountingClock extends Clock {
  /** Timers set and neither fired nor cancelled yet. */
  live(): number;
  /** Timers set since creation. */
  created(): number;
}

export function countingClock(base: Clock = monotonicClock): CountingClock {
  let live = 0;
  let created = 0;
  return {
    now: () => base.now(),
    setTimer(fn: () => void, ms: number): Timer {
      live += 1;
      created += 1;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        live -= 1;
      };
      const timer = base.setTimer(() => {
        finish();
        fn();
      }, ms);
      return {
        cancel: () => {
          finish();
          timer.cancel();
        },
      };
    },
    live: () => live,
    created: () => created,
  };
}
