import type { NodeError } from '../core/index.js';
import { quorumOf, semaphoreQuorumOf } from '../core/primitives/quorum.js';

/**
 * The nodes the in-process engine pretends to have: only which of them answer. A node that is
 * down keeps its data (it is unreachable, not wiped): when it comes back, the holds are as the
 * other nodes left them. Quorums are the engine's own (quorum.ts): a majority, more for a
 * semaphore, always of the configured count.
 */
export class SimulatedNodes {
  private readonly down = new Set<number>();

  constructor(readonly size: number) {}

  /** How many nodes answer now. */
  get up(): number {
    return this.size - this.down.size;
  }

  /** Yes votes a lock of this kind needs. */
  quorumFor(limit: number | undefined): number {
    return limit === undefined ? quorumOf(this.size) : semaphoreQuorumOf(this.size, limit);
  }

  /** The failures of a round that needs `quorum` nodes, or undefined when enough answer. */
  failuresBelow(quorum: number): NodeError[] | undefined {
    return this.up >= quorum ? undefined : this.errors();
  }

  errors(): NodeError[] {
    return [...this.down].sort((a, b) => a - b).map((node) => ({
      node,
      address: addressOf(node),
      message: 'the node is down (RedlockTestingControls.nodesDown)',
    }));
  }

  /** Takes `count` more nodes down (the highest-numbered that are up); returns the ones it took down. */
  takeDown(count: number): number[] {
    const taken: number[] = [];
    for (let node = this.size - 1; node >= 0 && taken.length < count; node -= 1) {
      if (this.down.has(node)) continue;
      this.down.add(node);
      taken.push(node);
    }
    return taken;
  }

  /** Brings every node back; returns the ones that were down. */
  bringUp(): number[] {
    const back = [...this.down].sort((a, b) => a - b);
    this.down.clear();
    return back;
  }
}

/** What stands for `host:port` in messages and events: there is no host. */
export function addressOf(node: number): string {
  return `in-memory#${node}`;
}
