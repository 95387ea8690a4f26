import type { AmnesiaGuard } from './amnesia-guard.js';
import type { Clock } from './clock.js';
import type { LockNode } from './lock-node.js';
import { standingOf } from './node-standing.js';
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
    /** Rule 15: judges where each node stands before its acquire vote counts. */
    private readonly amnesia: AmnesiaGuard,
  ) {}

  get size(): number {
    return this.nodes.length;
  }

  /**
   * Rule 2: one atomic write per node (Lua SET … PX over all keys). Rule 15: a node that sits
   * out of the quorum (amnesia-guard.ts) still gets the write, but its yes counts as a failure.
   */
  acquire(keys: readonly string[], token: string, ttl: number, timeoutMs: number): Promise<RoundOutcome> {
    const scriptKeys = [...keys, ...this.amnesia.keys];
    // The census waits a little less than a node may take, so its verdict still counts.
    const census = this.amnesia.enabled ? this.amnesia.census(this.nodes, Math.max(1, Math.floor(timeoutMs * 0.75))) : undefined;
    return runRound({
      nodes: this.nodes,
      timeoutMs,
      clock: this.clock,
      decideEarly: true,
      ask: async (node) => {
        let reply: unknown;
        try {
          reply = await node.run(ACQUIRE, scriptKeys, [token, ttl]);
        } catch (error) {
          census?.record(node.index, 'failed');
          throw error;
        }
        const standing = standingOf(reply, token);
        if (census) {
          census.record(node.index, standing);
          await this.amnesia.judge(node, standing, census);
        }
        return standing.taken;
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
      ask: async (node) => (await node.run(EXTEND, [...keys, this.amnesia.keys[0]], [token, ttl])) === 1,
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
