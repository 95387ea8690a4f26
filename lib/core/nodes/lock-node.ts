import type { LockScript } from './lock-script.js';

/**
 * One Redis master as the quorum logic sees it. The ioredis adapter implements it for real
 * nodes; unit tests implement it with scripted fake nodes.
 */
export interface LockNode {
  /** Position in the configured list (used in NodeError). */
  readonly index: number;
  /** `host:port` or a label; never holds credentials. */
  readonly address: string;
  /**
   * Run a script; rejects on any node-side or connection failure. No timeout here: engine/round.ts
   * applies one. `mustReach`: a script that gives something up (release, clean-up) is still sent
   * to a node that is not answering, to run when it can, while the caller is answered at once.
   */
  run(script: LockScript, keys: readonly string[], args: readonly (string | number)[], mustReach?: boolean): Promise<unknown>;
  /** A Cluster voter: rule 15 guards each of its hash slots apart. Absent on a plain node. */
  readonly slotted?: SlottedVoter | undefined;
  /** A round gave up waiting for this node's reply after `ms` (a node that keeps timing out is reported down). */
  noteTimeout?(ms: number): void;
}

/** A voter made of shards (an ioredis Cluster): each call runs in one hash slot. */
export interface SlottedVoter {
  /** The hash slot a call over these keys (as a plain node names them) runs in. */
  slotOf(keys: readonly string[]): number;
  /**
   * Run a guard script once in every hash slot (marking a fresh deployment), `first` before the
   * others: `all` settles when every slot did, `slot(s)` when slot s did (each rejects on
   * failure), and `onDone(s)` is called as each slot succeeds.
   */
  runInEverySlot(
    script: LockScript,
    keys: readonly string[],
    args: readonly (string | number)[],
    first?: number,
    onDone?: (slot: number) => void,
  ): { readonly all: Promise<void>; slot(slot: number): Promise<void> };
}
