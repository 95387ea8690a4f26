import { watchAbort } from './shared-abort.js';

/**
 * Time as the engine sees it. Rule 5: elapsed time comes from a monotonic clock only,
 * never Date.now(), so a wall-clock step cannot make an expired lock look valid.
 * The interface exists so timing logic can be driven by a fake clock in unit tests.
 */
export interface Timer {
  cancel(): void;
}

export interface TimerOptions {
  /** Keep the process alive until the timer fires (a waiting acquire). Default false. */
  readonly keepAlive?: boolean;
}

export interface Clock {
  /** Monotonic milliseconds (performance.now() by default). */
  now(): number;
  /**
   * Run `fn` once after `ms`. Timers do not keep the process alive on their own (a held lock's
   * housekeeping must not hold up an exit), unless `keepAlive` asks for it.
   */
  setTimer(fn: () => void, ms: number, options?: TimerOptions): Timer;
}

export const monotonicClock: Clock = {
  now: () => performance.now(),
  setTimer(fn, ms, options) {
    const handle = setTimeout(fn, Math.max(0, ms));
    if (options?.keepAlive !== true) handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};

/** Rule 6: drift allowance for a lease of `ttl` ms (clock drift between nodes plus 2 ms of slack). */
export function driftFor(ttl: number, driftFactor: number): number {
  return ttl * driftFactor + 2;
}

/**
 * Rule 6 / rule 11: the monotonic deadline of a lease whose writes started at `startedAt`.
 * Measuring from the start of the round (not its end) charges the round's own duration
 * against the lease.
 */
export function leaseDeadline(startedAt: number, ttl: number, driftFactor: number): number {
  return startedAt + ttl - driftFor(ttl, driftFactor);
}

/** Sleep that a signal can cut short; resolves `false` when aborted. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const timer = clock.setTimer(() => {
      unwatch?.();
      resolve(true);
    }, ms);
    const unwatch = signal && watchAbort(signal, () => {
      timer.cancel();
      resolve(false);
    });
  });
}
