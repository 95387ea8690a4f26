import { RedlockConfigError } from '../core/index.js';
import type { Lock, LockMode } from '../core/index.js';

/** What a `@Locked` call (or a nested call) asks for: the primitive its options pick. */
export interface WantedKind {
  readonly mode: LockMode;
  readonly limit: number | undefined;
  readonly fenced: boolean;
}

/**
 * Whether a lock this async context already holds on a resource also serves a nested call that
 * asks for `wanted` on it. true = re-enter (the nested call takes nothing of its own).
 *
 * A write lock serves a nested write or read (a writer may read; API.md §4), and a nested fenced
 * call when the writer holds a fence (re-entry keeps the fence). A read lock serves reads only;
 * a semaphore permit serves a nested call with the same limit only.
 *
 * Everything else throws instead of acquiring: the nested call would wait on the hold of its own
 * caller (a reader asking for write waits for every reader to leave, itself included) until the
 * wait ran out, or would silently go without the fence it asked for.
 */
export function reentersHeld(held: Lock, resource: string, wanted: WantedKind, field: string): boolean {
  if (held.limit !== undefined || wanted.limit !== undefined) {
    if (held.limit === wanted.limit) return true;
    throw new RedlockConfigError(
      `${field}.limit`,
      `this call asks for ${describe(wanted)} on '${resource}', but its caller holds ${describeHeld(held)} of it in the same async context`,
    );
  }
  if (held.mode === 'read') {
    if (wanted.mode === 'read' && !wanted.fenced) return true;
    throw new RedlockConfigError(
      `${field}.mode`,
      `this call asks for ${describe(wanted)} on '${resource}' while its caller holds a read lock on it in the same async context: ` +
        'a read lock cannot be upgraded (the write would wait for its own caller to leave); take the write lock in the outer call',
    );
  }
  if (wanted.fenced && held.fence === undefined) {
    throw new RedlockConfigError(
      `${field}.fenced`,
      `this call asks for a fenced lock on '${resource}', but its caller holds an unfenced lock on it in the same async context ` +
        'and there is no fence to hand on; make the outer lock fenced',
    );
  }
  return true;
}

function describe(kind: WantedKind): string {
  if (kind.limit !== undefined) return `a permit of a semaphore with limit ${kind.limit}`;
  if (kind.fenced) return 'a fenced write lock';
  return kind.mode === 'read' ? 'a read lock' : 'a write lock';
}

function describeHeld(lock: Lock): string {
  if (lock.limit !== undefined) return `a permit of a semaphore with limit ${lock.limit}`;
  return lock.mode === 'read' ? 'a read lock' : 'a write lock';
}
