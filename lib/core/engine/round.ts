import type { NodeError } from '../errors.js';
import type { LockNode } from '../nodes/lock-node.js';
import type { Clock, Timer } from '../time/clock.js';
import { quorumOf } from './verdict.js';

/** One node's answer in a round: yes or no, and what else the primitive reads from its reply. */
export interface Vote<V> {
  readonly yes: boolean;
  readonly value?: V;
  /**
   * Once a vote says this, a lost round waits for every node's answer (each bounded by the
   * timeout) instead of settling early: a fenced node in doubt is re-seeded from the others'
   * replies, which an early settle would drop (fencing.ts).
   */
  readonly hearAll?: boolean;
}

export interface RoundOutcome<V> {
  /** Nodes that said yes. */
  readonly yes: number;
  /** Nodes that answered no (held by someone else / not ours). */
  readonly no: number;
  /** Nodes that failed or did not answer within the per-node timeout. Never counted as yes. */
  readonly errors: readonly NodeError[];
  /** Nodes still silent when the round was decided early. */
  readonly pending: number;
  /** Yes votes this round needed (the primitive's quorum: a majority, more for a semaphore). */
  readonly quorum: number;
  /** Each answering node's vote value, by node index (undefined: no answer, or no value). */
  readonly values: readonly (V | undefined)[];
}

export interface RoundSpec<V> {
  readonly nodes: readonly LockNode[];
  readonly timeoutMs: number;
  readonly clock: Clock;
  /** Yes votes needed to win; default the majority, floor(N/2) + 1. */
  readonly quorum?: number;
  /**
   * Rule 4: settle as soon as the verdict cannot change ('at-once', for acquire and extend), or
   * then give the slower nodes a short grace before settling (GRACE_FLOOR_MS)
   * ('with-grace', for release: its count is complete on healthy nodes, while a hung node costs
   * a round trip, not the node timeout; the command reached it anyway and runs when it can), or
   * wait for every node ('never'), or settle once a quorum said the same, yes or no, or too many
   * failed for either ('either-way', for a read such as isLocked, whose no must be a quorum's too).
   */
  readonly decideEarly: 'at-once' | 'with-grace' | 'never' | 'either-way';
  /** Ask one node; resolves to its vote. A rejection counts as a node error. */
  ask(node: LockNode): Promise<Vote<V>>;
}

/**
 * How long a release waits for slower nodes once its outcome is decided: twice what the decision
 * took, at least GRACE_FLOOR_MS (healthy nodes answer within it even on a loaded machine, so the
 * count is complete) and at most a quarter of the node timeout (what a hung node may cost).
 */
const GRACE_FLOOR_MS = 10;

/**
 * Rule 3: fan out to every node in parallel, each with its own reply timeout, and resolve as
 * soon as the outcome is decided (rule 4) — so an even split or a hung node cannot stall it.
 * Replies that arrive after the decision are ignored; no timer of the round outlives it.
 */
export function runRound<V>(spec: RoundSpec<V>): Promise<RoundOutcome<V>> {
  const { nodes, timeoutMs, clock } = spec;
  const quorum = spec.quorum ?? quorumOf(nodes.length);
  return new Promise((resolve) => {
    let yes = 0;
    let no = 0;
    const errors: NodeError[] = [];
    const values: (V | undefined)[] = new Array<V | undefined>(nodes.length).fill(undefined);
    const timers = new Set<Timer>();
    let decided = false;
    let hearAll = false;
    let graceStarted = false;
    const startedAt = clock.now();

    const settle = () => {
      decided = true;
      for (const timer of timers) timer.cancel();
      timers.clear();
      resolve({ yes, no, errors, pending: nodes.length - yes - no - errors.length, values, quorum });
    };
    const afterVote = () => {
      if (decided) return;
      const answered = yes + no + errors.length;
      if (answered === nodes.length) return settle();
      if (spec.decideEarly === 'either-way') {
        if (yes >= quorum || no >= quorum || errors.length > nodes.length - quorum) settle();
        return;
      }
      const cannotWin = no + errors.length > nodes.length - quorum;
      if (!(yes >= quorum || (cannotWin && !hearAll)) || spec.decideEarly === 'never') return;
      if (spec.decideEarly === 'at-once') return settle();
      if (graceStarted) return;
      graceStarted = true;
      const grace = clock.setTimer(() => {
        timers.delete(grace);
        if (!decided) settle();
      }, Math.min(Math.max(GRACE_FLOOR_MS, 2 * (clock.now() - startedAt)), timeoutMs / 4));
      timers.add(grace);
    };

    // One timer for the round: every node was asked at the same moment with the same timeout.
    const answeredBy: boolean[] = new Array<boolean>(nodes.length).fill(false);
    const timeout = clock.setTimer(() => {
      timers.delete(timeout);
      // After the event loop was blocked (GC pause, a burst of synchronous work) the timers
      // phase runs before the poll phase that reads replies already waiting in the sockets.
      // Judge the timeout one turn later, after that I/O, so a node that did answer in time
      // is not counted as failed. (Validity is measured from t0 either way.)
      setImmediate(() => {
        nodes.forEach((node, position) => {
          if (answeredBy[position] || decided) return;
          answeredBy[position] = true;
          node.noteTimeout?.(timeoutMs);
          errors.push({ node: node.index, address: node.address, message: `no reply within ${timeoutMs} ms` });
          afterVote();
        });
      });
    }, timeoutMs);
    timers.add(timeout);

    nodes.forEach((node, position) => {
      let reply: Promise<Vote<V>>;
      try {
        reply = spec.ask(node);
      } catch (error) {
        reply = Promise.reject(error);
      }
      reply.then(
        (vote) => {
          if (answeredBy[position] || decided) return;
          answeredBy[position] = true;
          values[position] = vote.value;
          if (vote.hearAll) hearAll = true;
          if (vote.yes) yes += 1;
          else no += 1;
          afterVote();
        },
        (error: unknown) => {
          if (answeredBy[position] || decided) return;
          answeredBy[position] = true;
          errors.push(nodeErrorOf(node, error));
          afterVote();
        },
      );
    });
  });
}

function nodeErrorOf(node: LockNode, error: unknown): NodeError {
  const message = error instanceof Error ? error.message : String(error);
  const countsAgainInMs = (error as { countsAgainInMs?: unknown } | null)?.countsAgainInMs;
  return typeof countsAgainInMs === 'number'
    ? { node: node.index, address: node.address, message, countsAgainInMs }
    : { node: node.index, address: node.address, message };
}
