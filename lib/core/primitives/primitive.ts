import type { LockScript } from '../nodes/lock-script.js';

/** Exclusive (write, the default) or shared with other readers. */
export type LockMode = 'write' | 'read';

/** The keys each of a primitive's scripts takes for one lock (the engine appends the node's guard keys). */
export interface PrimitiveKeys {
  readonly take: readonly string[];
  readonly extend: readonly string[];
  readonly give: readonly string[];
  /** Each resource's wake channel (resource-keys.ts), announced by give. */
  readonly wake: readonly string[];
}

/**
 * What a kind of lock supplies to the one engine: its keys and the three scripts each node runs.
 * Everything else (rounds, the lease step, attempts and clean-up, waiting, the Lock handle,
 * extension, release) is the engine's, the same for every kind.
 *
 * The scripts' contract:
 * - take: KEYS = `keys.take` + guard keys, ARGV = [token, ttl, ...takeArgs]; replies through
 *   TAKE_PREAMBLE's `reply(taken, detail, value, fence)` (take-reply.ts);
 * - extend: KEYS = `keys.extend` + the node's marker, ARGV = [token, ttl]; 1 when every hold was
 *   extended, 0 when any was no longer ours (an expired hold is never resurrected, rule 11);
 * - give: KEYS = `keys.give`, ARGV = [token, withdraw (1/0), ...wake channels (none with wake-ups off)]; how many
 *   of the lock's resources it let go (rule 13), announcing each on its channel (WAKE_UP).
 */
export interface Primitive {
  readonly mode: LockMode;
  /** A semaphore's number of permits; undefined for the other kinds. */
  readonly limit: number | undefined;
  readonly take: LockScript;
  readonly extend: LockScript;
  readonly give: LockScript;
  keysFor(keyPrefix: string, resources: readonly string[]): PrimitiveKeys;
  /** Yes votes a take or an extension needs out of `nodeCount` (how votes combine; verdict.ts). */
  quorum(nodeCount: number): number;
  /**
   * A take of one resource that answered no holds nothing of ours on that node (rule 7 between
   * attempts): true only where the script looks at our own hold before it can answer no (the
   * plain mutex: a key with our token is a yes, rule 1). A fair take answers no while we are not first in line, a
   * fenced one while its fence is behind, a shared one while a writer waits: each may keep a hold
   * an earlier attempt left there, so their lost attempts are cleaned up on all N.
   */
  readonly noHoldsNothingOfOurs: boolean;
  /**
   * Its release names who may go next (a fair line, computed on the nodes): a waiter of this
   * process cannot be woken by the release alone, only by the nodes' wake-up messages.
   */
  readonly namesNextInLine?: boolean;
  /** ARGV after token and ttl; `proposal` is a fenced take's fence or a fair take's ticket; `entryMs` how long a fair waiter's place lasts. */
  takeArgs(proposal: number, entryMs: number): readonly (string | number)[];
}
