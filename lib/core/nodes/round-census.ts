import type { Clock, Timer } from '../time/clock.js';
import type { LockNode } from './lock-node.js';
import type { NodeStanding } from './node-standing.js';

/** What one node told an acquire round about itself: its standing, or that it failed or stayed silent. */
export type CensusEntry = NodeStanding | 'failed' | 'silent';

/**
 * The standings every node reported in one acquire round. Deciding whether a node without a
 * marker is fresh or amnesiac needs the other nodes' answers (rule 15): `complete()` waits for
 * all of them, bounded so that a hung node cannot hold the decision past the round.
 *
 * Costs nothing in the steady state: the timer starts only when someone waits.
 */
export class RoundCensus {
  private readonly entries: (CensusEntry | undefined)[];
  private recorded = 0;
  private waiting: Promise<readonly CensusEntry[]> | undefined;
  private finish: (() => void) | undefined;

  constructor(
    readonly nodes: readonly LockNode[],
    /** The round's number, in the order rounds started. */
    readonly round: number,
    private readonly clock: Clock,
    /** How long complete() waits for the stragglers, ms. */
    private readonly boundMs: number,
  ) {
    this.entries = new Array<CensusEntry | undefined>(nodes.length).fill(undefined);
  }

  record(node: number, entry: NodeStanding | 'failed'): void {
    if (this.entries[node] !== undefined) return;
    this.entries[node] = entry;
    this.recorded += 1;
    if (this.recorded === this.entries.length) this.finish?.();
  }

  /** Every node's entry once all have answered, or after the bound with 'silent' for the rest. */
  complete(): Promise<readonly CensusEntry[]> {
    this.waiting ??= new Promise((resolve) => {
      let timer: Timer | undefined;
      this.finish = () => {
        timer?.cancel();
        this.finish = undefined;
        resolve(this.entries.map((e) => e ?? 'silent'));
      };
      if (this.recorded === this.entries.length) this.finish();
      else timer = this.clock.setTimer(() => this.finish?.(), this.boundMs);
    });
    return this.waiting;
  }
}
