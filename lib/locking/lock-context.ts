import { AsyncLocalStorage } from 'node:async_hooks';
import type { Lock } from '../core/index.js';
import { reentersHeld } from './reentry.js';
import type { WantedKind } from './reentry.js';

interface HeldLock {
  /** The Redlock instance that holds it: the same name on another node set is another lock. */
  readonly owner: object;
  readonly lock: Lock;
}

/**
 * Marks the one handler invocation whose lock an interceptor already holds, so the method
 * wrapper of that very call does not acquire it a second time. Taken once: a recursive call of
 * the same method inside the handler is a new call.
 */
interface HandledCall {
  readonly definition: object;
  taken: boolean;
}

interface Frame {
  readonly held: readonly HeldLock[];
  readonly current: Lock | undefined;
  readonly handled: HandledCall | undefined;
}

/**
 * The locks held by the enclosing `@Locked` calls of this async context. This is what makes
 * locks re-entrant: a lock is not re-entrant in Redis, so a locked controller calling a locked
 * service with the same key would otherwise wait on itself until its ttl ran out.
 */
const frames = new AsyncLocalStorage<Frame>();

/** The lock of the innermost enclosing `@Locked` call (or `using()` routine), if any. */
export function currentLock(): Lock | undefined {
  return frames.getStore()?.current;
}

/**
 * The resources of `resources` that this context does not already hold through `owner` in a way
 * that serves `wanted` (reentry.ts; a held lock that cannot serve it throws, naming `field`).
 */
export function notHeld(owner: object, resources: readonly string[], wanted: WantedKind, field: string): string[] {
  const held = frames.getStore()?.held ?? [];
  // A lock that was lost or released no longer protects anything: acquire afresh then.
  const live = held.filter((h) => h.owner === owner && h.lock.remaining > 0);
  return resources.filter((r) => {
    // One holder at most: a nested call never takes a resource its context already holds.
    const holder = live.find((h) => h.lock.resources.includes(r));
    return !holder || !reentersHeld(holder.lock, r, wanted, field);
  });
}

/**
 * Run `fn` in a context that also holds `lock` (undefined: a re-entered call, which adds
 * nothing). `handled` marks the handler call an interceptor locked on its behalf.
 */
export function runHolding<T>(owner: object, lock: Lock | undefined, fn: () => T, handled?: object): T {
  const parent = frames.getStore();
  const frame: Frame = {
    held: lock ? [...(parent?.held ?? []), { owner, lock }] : (parent?.held ?? []),
    current: lock ?? parent?.current,
    handled: handled ? { definition: handled, taken: false } : undefined,
  };
  return frames.run(frame, fn);
}

/** true (once) when an interceptor holds the lock for this invocation of `definition`. */
export function takeHandled(definition: object): boolean {
  const handled = frames.getStore()?.handled;
  if (!handled || handled.definition !== definition || handled.taken) return false;
  handled.taken = true;
  return true;
}
