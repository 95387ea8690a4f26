import { LockBusyError } from '../core/index.js';
import type { Lock } from '../core/index.js';
import { notHeld, runHolding } from './lock-context.js';
import type { LockedDefinition } from '../decorators/locked-definition.js';
import type { RedlockService } from '../redlock.service.js';

/** How one `@Locked` call starts: it re-enters a lock its context holds, acquires one, or is skipped. */
export type LockedEntry =
  | { readonly kind: 'reentered' }
  | { readonly kind: 'acquired'; readonly lock: Lock }
  | { readonly kind: 'skipped' };

const REENTERED: LockedEntry = { kind: 'reentered' };
const SKIPPED: LockedEntry = { kind: 'skipped' };

/**
 * One acquisition per call, and none for resources this context already holds (re-entrancy).
 * When only some are held, only the others are acquired: the held ones stay protected by the
 * enclosing call's lock, which outlives this one.
 */
export async function enterLockedCall(
  service: RedlockService,
  resources: readonly string[],
  definition: LockedDefinition,
  signal?: AbortSignal,
): Promise<LockedEntry> {
  const missing = notHeld(service.redlock, resources, definition, `@Locked options of ${definition.where}`);
  if (missing.length === 0) return REENTERED;
  try {
    const lock = await service.acquire(missing, {
      ttl: definition.ttl,
      wait: definition.wait,
      autoExtend: definition.autoExtend,
      mode: definition.mode,
      limit: definition.limit,
      fenced: definition.fenced,
      fair: definition.fair,
      signal,
    });
    return { kind: 'acquired', lock };
  } catch (error) {
    if (definition.onBusy === 'skip' && error instanceof LockBusyError) return SKIPPED;
    throw error;
  }
}

/**
 * A provider method's call: enter, run it in a context holding the lock, and release before
 * returning. Rule 14: the lock never replaces the method's result or error (release never rejects).
 */
export async function callLocked<T>(
  service: RedlockService,
  resources: readonly string[],
  definition: LockedDefinition,
  run: () => T | Promise<T>,
): Promise<T | undefined> {
  const entry = await enterLockedCall(service, resources, definition);
  if (entry.kind === 'skipped') return undefined;
  const lock = entry.kind === 'acquired' ? entry.lock : undefined;
  try {
    return await runHolding(service.redlock, lock, run);
  } finally {
    await lock?.release();
  }
}
