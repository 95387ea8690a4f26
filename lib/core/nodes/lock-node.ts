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
  /** A round gave up waiting for this node's reply after `ms` (a node that keeps timing out is reported down). */
  noteTimeout?(ms: number): void;
}
