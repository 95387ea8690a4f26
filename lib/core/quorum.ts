import type { Clock, Timer } from './clock.js';
import type { NodeError } from './errors.js';
import type { LockNode } from './lock-node.js';

/** Q = floor(N/2) + 1 of the configured N (never of the nodes that happen to be up). */
export function quorumOf(nodeCount: number): number {
  return Math.floor(nodeCount / 2) + 1;
}

export interface RoundOutcome {
  /** Nodes that said yes. */
  readonly yes: number;
  /** Nodes that answered no (held by someone else / not ours). */
  readonly no: number;
  /** Nodes that failed or did not answer within the per-node timeout. Never counted as yes. */
  readonly errors: readonly NodeError[];
  /** Nodes still silent when the round was decided early. */
  readonly pending: number;
}

export type Verdict = 'won' | 'busy' | 'unavailable';

/**
 * The one place that turns votes into a decision (rules 6, 8, 9): won once Q said yes,
 * whatever the others did; unavailable when so many nodes failed that Q could not have been
 * reached even if every other node had said yes; otherwise busy.
 */
export function verdictOf(outcome: RoundOutcome, nodeCount: number): Verdict {
  const quorum = quorumOf(nodeCount);
  if (outcome.yes >= quorum) return 'won';
  if (outcome.errors.length > nodeCount - quorum) return 'unavailable';
  return 'busy';
}

export interface RoundSpec {
  readonly nodes: readonly LockNode[];
  readonly timeoutMs: number;
  readonly clock: Clock;
  /** Rule 4: settle as soon as the verdict cannot change. Off for release, which wants every count. */
  readonly decideEarly: boolean;
  /** Ask one node; resolves to its vote. A rejection counts as a node error. */
  ask(node: LockNode): Promise<boolean>;
}

/**
 * Rule 3: fan out to every node in parallel, each with its own reply timeout, and resolve as
 * soon as the outcome is decided (rule 4) — so an even split or a hung node cannot stall it.
 * Replies that arrive after the decision are ignored; no timer of the round outlives it.
 */
export function runRound(spec: RoundSpec): Promise<RoundOutcome> {
  const { nodes, timeoutMs, clock } = spec;
  const quorum = quorumOf(nodes.length);
  return new Promise((resolve) => {
    let yes = 0;
    let no = 0;
    const errors: NodeError[] = [];
    const timers = new Set<Timer>();
    let decided = false;

    const settle = () => {
      decided = true;
      for (const timer of timers) timer.cancel();
      timers.clear();
      resolve({ yes, no, errors, pending: nodes.length - yes - no - errors.length });
    };
    const afterVote = () => {
      if (decided) return;
      const answered = yes + no + errors.length;
      const cannotWin = no + errors.length > nodes.length - quorum;
      if (answered === nodes.length || (spec.decideEarly && (yes >= quorum || cannotWin))) settle();
    };

    for (const node of nodes) {
      let answered = false;
      const timer = clock.setTimer(() => {
        timers.delete(timer);
        // After the event loop was blocked (GC pause, a burst of synchronous work) the timers
        // phase runs before the poll phase that reads replies already waiting in the sockets.
        // Judge the timeout one turn later, after that I/O, so a node that did answer in time
        // is not counted as failed. (Validity is measured from t0 either way.)
        setImmediate(() => {
          if (answered || decided) return;
          answered = true;
          errors.push({ node: node.index, address: node.address, message: `no reply within ${timeoutMs} ms` });
          afterVote();
        });
      }, timeoutMs);
      timers.add(timer);

      let reply: Promise<boolean>;
      try {
        reply = spec.ask(node);
      } catch (error) {
        reply = Promise.reject(error);
      }
      reply.then(
        (vote) => {
          if (answered || decided) return;
          answered = true;
          timer.cancel();
          timers.delete(timer);
          if (vote) yes += 1;
          else no += 1;
          afterVote();
        },
        (error: unknown) => {
          if (answered || decided) return;
          answered = true;
          timer.cancel();
          timers.delete(timer);
          errors.push(nodeErrorOf(node, error));
          afterVote();
        },
      );
    }
  });
}

function nodeErrorOf(node: LockNode, error: unknown): NodeError {
  const message = error instanceof Error ? error.message : String(error);
  const countsAgainInMs = (error as { countsAgainInMs?: unknown } | null)?.countsAgainInMs;
  return typeof countsAgainInMs === 'number'
    ? { node: node.index, address: node.address, message, countsAgainInMs }
    : { node: node.index, address: node.address, message };
}

/**
 * An unavailable round's way back, ms (rule 15): the quorum counts again once enough failed nodes
 * are back, so when at least that many only sit out for a known time, the soonest such moment.
 */
export function quorumReturnsIn(outcome: RoundOutcome, nodeCount: number): number | undefined {
  const needed = outcome.errors.length - (nodeCount - quorumOf(nodeCount));
  const known = outcome.errors.flatMap((e) => (e.countsAgainInMs === undefined ? [] : [e.countsAgainInMs])).sort((a, b) => a - b);
  return needed > 0 && known.length >= needed ? known[needed - 1] : undefined;
}
