import type { LockBusyError } from '../core/index.js';

/**
 * The lease (ms) a busy acquisition asked for, by error: the fallback for Retry-After when the
 * nodes did not say how long the holder's lease still runs.
 */
const leaseOfBusy = new WeakMap<LockBusyError, number>();

/** The innermost call that saw the error knows its lease best: later notes do not overwrite it. */
export function noteBusyLease(error: LockBusyError, ttl: number): void {
  if (!leaseOfBusy.has(error)) leaseOfBusy.set(error, ttl);
}

/**
 * Retry-After, in whole seconds (at least 1): when the holder's lease ends (the latest the lock
 * frees itself; a live holder usually releases it sooner), as the nodes told the last attempt.
 * Without that, the lease of the lock that was asked for.
 */
export function retryAfterSeconds(error: LockBusyError, fallbackTtl: number): number {
  const ms = error.retryAfterMs ?? leaseOfBusy.get(error) ?? fallbackTtl;
  return Math.max(1, Math.ceil(ms / 1000));
}
