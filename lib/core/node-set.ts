import type { Clock } from './clock.js';
import type { LockNode } from './lock-node.js';
import { runRound } from './quorum.js';
import type { RoundOutcome } from './quorum.js';
import { ACQUIRE, EXTEND, RELEASE } from './scripts.js';

/**
 * The N configured masters and the three rounds the engine runs on them.
 * Keys arrive already prefixed; the token is the lock's owner value.
 */
export class NodeSet {
  constructor(
    readonly nodes: readonly LockNode[],
    private readonly clock: Clock,
  ) {}

  get size(): number {
    return this.nodes.length;
  }

  /**
   * Rule 2: one atomic write per node (Lua SET … PX over all keys). Rule 15: a node that
   * restarted within a lease still gets the write, but its yes counts as a failure.
   */
  acquire(keys: readonly string[], token: string, ttl: number, timeoutMs: number): Promise<RoundOutcome> {
    return runRound({
      nodes: this.nodes,
      timeoutMs,
      clock: this.clock,
      decideEarly: true,
      ask: async (node) => {
        const yes = (await node.run(ACQUIRE, keys, [token, ttl])) === 1;
        const veto = yes ? await node.acquireVeto?.() : undefined;
        if (veto) throw new Error(veto);
        return yes;
      },
    });
  }

  /** Rule 11: compare-value-then-PEXPIRE, quorum required. */
  extend(keys: readonly string[], token: string, ttl: number, timeoutMs: number): Promise<RoundOutcome> {
    return runRound({
      nodes: this.nodes,
      timeoutMs,
      clock: this.clock,
      decideEarly: true,
      ask: async (node) => (await node.run(EXTEND, keys, [token, ttl])) === 1,
    });
  }

  /**
   * Rules 7 and 13: compare-and-delete on all N, whatever we believe about each node,
   * bounded by the per-node timeout; a node votes yes when it deleted every key.
   */
  release(keys: readonly string[], token: string, timeoutMs: number): Promise<RoundOutcome> {
    return runRound({
      nodes: this.nodes,
      timeoutMs,
      clock: this.clock,
      decideEarly: false,
      ask: async (node) => (await node.run(RELEASE, keys, [token])) === keys.length,
    });
  }
}
