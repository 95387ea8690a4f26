import type { LockBusyError } from '../core/index.js';

/**
 * The lease (ms) a busy acquisition asked for, by error: a LockBusyError does not carry it,
 * and the HTTP layer that turns the error into a 409 is far from the call that knew it.
 */
const leaseOfBusy = new WeakMap<LockBusyError, number>();

/** The innermost call that saw the error knows its lease best: later notes do not overwrite it. */
export function noteBusyLease(error: LockBusyError, ttl: number): void {
  if (!leaseOfBusy.has(error)) leaseOfBusy.set(error, ttl);
}

/**
 * Retry-After, in whole seconds (at least 1): the lease length of the lock that was asked for.
 * The holder's remaining time is not known without another round trip; a holder that crashed
 * frees the lock within one lease, and a live one usually releases it sooner.
 */
export function retryAfterSeconds(error: LockBusyError, fallbackTtl: number): number {
  return Math.max(1, Math.ceil((leaseOfBusy.get(error) ?? fallbackTtl) / 1000));
}
